#!/usr/bin/env node
// predict.mjs BUNDLE [FILE] [--ids]: label,probability for each line of FILE (or stdin), from a reviewclf
// bundle directory, with onnxruntime-node and Hugging Face's `tokenizers` (the Rust core, so the ids are the
// Python runtime's). Implements docs/bundle-format.md: the reader's checks, text -> ids, the decision rule.
// --ids prints one JSON object per line instead: label, probability, every probability, and the ids.
import { createHash } from "node:crypto";
import { createReadStream, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import tokenizers from "tokenizers";

const MANIFEST = "manifest.json";
const KNOWN_FILES = new Set(["model.onnx", "tokenizer.json", "model.torchscript.pt", "model.int8.onnx",
  "model.pt2", "verification.json"]);
const MAX_MANIFEST_BYTES = 4 << 20;
const BATCH = 256;

class BundleError extends Error {}

function fail(message) {
  process.stderr.write(`predict.mjs: ${message}\n`);
  process.exit(1);
}

function require_(condition, message) {
  if (!condition) throw new BundleError(message);
}

function checkManifest(m) {
  require_(m && typeof m === "object" && !Array.isArray(m), "manifest.json is not a JSON object");
  require_(m.format === "reviewclf-bundle", "manifest.json is not a reviewclf bundle manifest");
  require_(m.format_major === 1, `format_major ${m.format_major} is not supported (this reader knows 1)`);
  const labels = m.labels;
  require_(Array.isArray(labels) && labels.length >= 2 && labels.every((l) => typeof l === "string" && l)
    && new Set(labels).size === labels.length, "'labels' must be at least two distinct non-empty strings");
  const d = m.decision ?? {};
  if (labels.length === 2) {
    require_(d.type === "threshold" && typeof d.threshold === "number" && d.threshold >= 0 && d.threshold <= 1
      && d.positive_label === labels[1], "'decision' must be a threshold in [0, 1] on labels[1]");
  } else {
    require_(d.type === "argmax", "'decision' must be argmax for more than two labels");
  }
  const vocab = m.input?.vocab_size;
  require_(Number.isInteger(vocab) && vocab > 0, "'input.vocab_size' must be a positive integer");
  require_(typeof m.input.name === "string" && typeof m.output?.name === "string",
    "'input.name' and 'output.name' must be strings");
  require_(m.files && typeof m.files === "object", "'files' must be an object");
  for (const [name, entry] of Object.entries(m.files)) {
    require_(KNOWN_FILES.has(name), `'files' lists ${JSON.stringify(name)}, not a bundle file`);
    require_(/^[0-9a-f]{64}$/.test(entry?.sha256 ?? "") && Number.isInteger(entry.bytes) && entry.bytes >= 0,
      `'files.${name}' must have a sha256 (64 lowercase hex digits) and a byte count`);
  }
  require_("model.onnx" in m.files && "tokenizer.json" in m.files, "'files' must list model.onnx and tokenizer.json");
}

// Every entry a plain top-level file, every file listed and every listed file present with its size and hash.
function readBundle(dir) {
  const names = readdirSync(dir);
  for (const name of names) {
    require_(lstatSync(join(dir, name)).isFile(), `${name} is not a plain file`);
  }
  require_(names.includes(MANIFEST), "no manifest.json");
  const manifestBytes = readFileSync(join(dir, MANIFEST));
  require_(manifestBytes.length <= MAX_MANIFEST_BYTES, "manifest.json is larger than 4 MiB");
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(manifestBytes));
  } catch (error) {
    throw new BundleError(`manifest.json is not UTF-8 JSON (${error.message})`);
  }
  checkManifest(manifest);
  const files = {};
  for (const name of names.filter((n) => n !== MANIFEST)) {
    require_(name in manifest.files, `${name} is not listed in manifest.files`);
  }
  for (const [name, entry] of Object.entries(manifest.files)) {
    require_(names.includes(name), `${name} is listed in manifest.files but missing`);
    require_(lstatSync(join(dir, name)).size === entry.bytes, `${name} is not ${entry.bytes} bytes`);
    const bytes = readFileSync(join(dir, name)); // hashed as read, and only those bytes are used
    const digest = createHash("sha256").update(bytes).digest("hex");
    require_(bytes.length === entry.bytes && digest === entry.sha256, `${name} does not match its sha256`);
    if (name === "model.onnx" || name === "tokenizer.json") files[name] = bytes;
  }
  return { manifest, files };
}

// The decision rule, in float32: the probabilities are float32, so the threshold is rounded to float32 too.
function decide(manifest, probs) {
  const d = manifest.decision;
  if (d.type === "threshold") return probs[1] >= Math.fround(d.threshold) ? 1 : 0;
  let best = 0;
  for (let j = 1; j < probs.length; j++) if (probs[j] > probs[best]) best = j; // the first on a tie
  return best;
}

// Lines split on \n only; the line end (\n or \r\n) removed; a blank line is an empty review; a BOM dropped.
async function* lines(stream) {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let pending = Buffer.alloc(0);
  let number = 0;
  const decode = (bytes) => {
    number += 1;
    let text;
    try {
      text = decoder.decode(bytes);
    } catch {
      fail(`line ${number} is not valid UTF-8`);
    }
    if (number === 1 && text.startsWith("\ufeff")) text = text.slice(1);
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  };
  for await (const chunk of stream) {
    pending = Buffer.concat([pending, chunk]);
    let end;
    while ((end = pending.indexOf(0x0a)) !== -1) {
      yield decode(pending.subarray(0, end));
      pending = pending.subarray(end + 1);
    }
  }
  if (pending.length) yield decode(pending);
}

class Model {
  static async load(manifest, files) {
    const model = new Model();
    model.manifest = manifest;
    model.vocabSize = manifest.input.vocab_size;
    model.tokenizer = tokenizers.Tokenizer.fromString(files["tokenizer.json"].toString("utf-8"));
    require_(model.tokenizer.getVocabSize(true) === model.vocabSize,
      "the tokenizer's vocabulary does not match input.vocab_size");
    model.session = await ort.InferenceSession.create(files["model.onnx"]);
    const probe = await model.run([[model.vocabSize - 1, 0]]);
    require_(probe.length === 1 && probe[0].length === manifest.labels.length && probe[0].every(Number.isFinite),
      "the model does not give one finite probability per label");
    return model;
  }

  async ids(texts) {
    const encodings = await this.tokenizer.encodeBatch(texts, { addSpecialTokens: false });
    const rows = encodings.map((encoding) => encoding.getIds());
    for (const row of rows) {
      for (const id of row) require_(Number.isInteger(id) && id >= 0 && id < this.vocabSize, `token id ${id} is out of range`);
    }
    return rows;
  }

  // Right-pad with 0 to the longest row (at least one column); probabilities as one array per row.
  async run(rows) {
    const width = Math.max(1, ...rows.map((row) => row.length));
    const data = new BigInt64Array(rows.length * width);
    rows.forEach((row, i) => row.forEach((id, j) => { data[i * width + j] = BigInt(id); }));
    const input = new ort.Tensor("int64", data, [rows.length, width]);
    const output = (await this.session.run({ [this.manifest.input.name]: input }))[this.manifest.output.name];
    const n = output.dims[1];
    return rows.map((_, i) => Array.from(output.data.subarray(i * n, (i + 1) * n)));
  }
}

async function predict(model, texts, showIds) {
  const rows = await model.ids(texts);
  const probs = await model.run(rows);
  const labels = model.manifest.labels;
  return probs.map((p, i) => {
    const k = decide(model.manifest, p);
    if (showIds) return JSON.stringify({ label: labels[k], probability: p[k], probabilities: p, ids: rows[i] });
    const label = /[",\r\n]/.test(labels[k]) ? `"${labels[k].replaceAll('"', '""')}"` : labels[k];
    return `${label},${p[k]}`;
  }).join("\n") + "\n";
}

async function main() {
  const args = process.argv.slice(2);
  const showIds = args.includes("--ids");
  const [bundleDir, file, ...rest] = args.filter((a) => a !== "--ids");
  if (!bundleDir || rest.length) fail("usage: predict.mjs BUNDLE [FILE] [--ids]");
  let model;
  try {
    const { manifest, files } = readBundle(bundleDir);
    model = await Model.load(manifest, files);
  } catch (error) {
    fail(`${bundleDir}: ${error instanceof BundleError ? error.message : String(error.message ?? error).split("\n")[0]}`);
  }
  const input = file && file !== "-" ? createReadStream(file) : process.stdin;
  input.on("error", (error) => fail(`${file}: ${error.message}`));
  let batch = [];
  for await (const text of lines(input)) {
    batch.push(text);
    if (batch.length === BATCH) {
      process.stdout.write(await predict(model, batch, showIds));
      batch = [];
    }
  }
  if (batch.length) process.stdout.write(await predict(model, batch, showIds));
}

main().catch((error) => fail(error instanceof BundleError ? error.message : String(error.stack ?? error)));
