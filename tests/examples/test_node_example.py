"""examples/node/predict.mjs, a Node.js consumer of a bundle, agrees with the Python runtime: identical ids and
labels, probabilities within 1e-5, on edge cases and on 1,000 real reviews from ../shared/data; and it refuses a
bundle whose checksums do not hold.

Runs wherever ``node`` is on PATH (here and in CI). The npm packages are installed by scripts/setup.sh
(``npm ci --ignore-scripts`` in examples/node); without them the tests fail, saying so, rather than skip.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest

from reviewclf.io.labeled import read_labeled, read_many
from reviewclf.runtime.bundle import MANIFEST, ONNX_MODEL
from reviewclf.runtime.predictor import Predictor
from tests.support import DATA

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not on PATH")
TOLERANCE = 1e-5

# Where a consumer's text -> ids goes wrong: Unicode classes, casing, special tokens, breaks, truncation.
EDGE_CASES = [
    "", "   ", "\t", "great food!", "GREAT FOOD!!!", "x[PAD]y", "[UNK]", "[pad] [unk]", "didn't", "didn’t",
    "café, très bon", "caf\u00e9,", "ΣΟΦΟΣ", "ΣΑΣ σας", "İstanbul", "straße STRASSE", "ﬁne ﬂavour",
    "ｆｕｌｌ ｗｉｄｔｈ", "a\u200db", "a\ufeffb", "a\u0085b", "a\u00a0b", "a\u2028b", "a\u3000b", "a\x1cb\x1fc",
    "a\x00b", "a\x7fb",
    "<br />x<BR>y<br/>z< br >w<b r>", "<br\t/>", "x<\x1cbr>y", "2nd 1,000 ½ ² ³ ٣", "__init__ snake_case",
    "e\u0301 combining", "emoji 😀👍🏽 ok", "日本語のレビュー", "مطعم رائع", "עברית", "हिन्दी", "x\u0300\u0301y",
    ":-) ;-( ...!?", "—–‐ “quotes” «guillemets»", "tab\tsep\vvt\fff", "mixed\r inside", "\u00ad soft hyphen",
    "ǅ ǈ titlecase", "ﬀ ligature", "Ⅻ roman", "℃ ℉", "µ micro", "K kelvin Å angstrom", "\u0130\u0131",
    "word " * 3000, "!" * 5000,
]


@functools.cache
def npm_ready() -> None:
    missing = [name for name in ("onnxruntime-node", "tokenizers") if not (EXAMPLE / "node_modules" / name).is_dir()]
    if missing:
        pytest.fail(f"examples/node lacks {', '.join(missing)}: run scripts/setup.sh "
                    f"(it runs `npm ci --ignore-scripts` in examples/node)", pytrace=False)


def node_predict(bundle: Path, texts: list[str], tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    npm_ready()
    source = tmp_path / "reviews.txt"
    source.write_text("".join(f"{text}\n" for text in texts), encoding="utf-8", newline="")
    return subprocess.run([str(NODE), str(EXAMPLE / "predict.mjs"), str(bundle), str(source), *flags],
                          capture_output=True, text=True, timeout=300)


def assert_node_agrees(bundle: Path, texts: list[str], tmp_path: Path) -> float:
    """Ids, labels and probabilities of predict.mjs against the Python runtime; the largest |Δp|."""
    assert not any("\n" in text or text.endswith("\r") for text in texts)  # one review per line
    done = node_predict(bundle, texts, tmp_path, "--ids")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    predictor = Predictor.load(bundle)
    assert [row["ids"] for row in rows] == predictor.encoder.encode_ragged(texts)
    expected = predictor.predict(texts)
    assert [row["label"] for row in rows] == [p.label for p in expected]
    node_probs = np.array([row["probabilities"] for row in rows])
    python_probs = np.array([list(p.probabilities.values()) for p in expected])
    plain = node_predict(bundle, texts, tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert [line.rsplit(",", 1)[0] for line in plain.stdout.splitlines()] == [p.label for p in expected]
    delta = float(np.abs(node_probs - python_probs).max())
    print(f"node vs python on {bundle.name}: {len(texts)} texts, max |Δp| {delta:.2e}")
    assert delta <= TOLERANCE
    return delta


def imdb_reviews(limit: int) -> list[str]:
    texts: list[str] = []
    with tarfile.open(DATA / "imdb" / "aclImdb.tar.gz", "r|gz") as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".txt") and member.name.count("/") == 3:
                texts.append(archive.extractfile(member).read().decode("utf-8"))  # type: ignore[union-attr]
                if len(texts) == limit:
                    return texts
    return texts


@functools.cache
def real_reviews() -> tuple[str, ...]:
    """1,000 reviews: Yelp (the hidden-set style), IMDB with <br />, Latin-1 snippets, SST-2, customer reviews;
    line breaks inside a review become spaces."""
    augpe = read_labeled(DATA / "yelp-augpe-dev" / "dev.csv", text_column="text", label_column="label2").texts
    yelp = read_labeled(DATA / "yelp-10k" / "yelp.csv.zip", text_column="text").texts
    rt = read_many(sorted((DATA / "rt-polarity").glob("rt-polarity.*")), encoding="latin-1").texts
    sst2 = read_labeled(DATA / "sst2" / "dev.tsv").texts
    cr = read_many(sorted((DATA / "customer-reviews").glob("custrev.*"))).texts
    texts = augpe[:350] + yelp[:150] + imdb_reviews(200) + rt[::107][:100] + sst2[:100] + cr[::38][:100]
    return tuple(text.replace("\r", " ").replace("\n", " ") for text in texts)


def test_node_agrees_with_python_on_edge_cases_and_the_bundles_own_texts(demo_bundle: Path, tmp_path: Path) -> None:
    verification = json.loads((demo_bundle / "verification.json").read_text(encoding="utf-8"))["texts"]
    texts = EDGE_CASES + [t.replace("\r", " ").replace("\n", " ") for t in verification]
    assert_node_agrees(demo_bundle, texts, tmp_path)


def test_node_agrees_with_python_on_1000_real_reviews(demo_bundle: Path, tmp_path: Path) -> None:
    texts = list(real_reviews())
    assert len(texts) == 1000
    assert_node_agrees(demo_bundle, texts, tmp_path)


def test_node_applies_the_argmax_rule_of_a_three_label_bundle(demo_bundle: Path, tmp_path: Path) -> None:
    """A three-label model (an embedding sum and a softmax written with onnx) behind the demo tokenizer."""
    bundle = three_label_bundle(demo_bundle, tmp_path / "three")
    assert_node_agrees(bundle, EDGE_CASES + list(real_reviews()[:300]), tmp_path)


@pytest.mark.parametrize("name", ["tokenizer.json", "model.onnx", "verification.json"])
def test_node_refuses_a_bundle_whose_checksum_fails(demo_bundle: Path, tmp_path: Path, name: str) -> None:
    """One byte changed, size kept: refused in one line before anything is scored (also a file it does not use)."""
    bundle = Path(shutil.copytree(demo_bundle, tmp_path / "bundle"))
    data = bytearray((bundle / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / name).write_bytes(bytes(data))
    done = node_predict(bundle, ["great food"], tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [f"predict.mjs: {bundle}: {name} does not match its sha256"]


def three_label_bundle(demo_bundle: Path, out: Path) -> Path:
    """The demo bundle with model.onnx replaced by softmax(sum of 3-wide embeddings), padding row zero."""
    from onnx import TensorProto, helper, numpy_helper

    bundle = Path(shutil.copytree(demo_bundle, out))
    manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    vocab_size, labels = manifest["input"]["vocab_size"], ["bad", "meh", "good"]
    table = np.random.default_rng(0).normal(size=(vocab_size, 3)).astype(np.float32)
    table[0] = 0.0  # padding adds nothing, so a row's result does not depend on the batch's width
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["embedded"]),
         helper.make_node("ReduceSum", ["embedded", "axis"], ["logits"], keepdims=0),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)],
        "three_labels",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array([1], dtype=np.int64), "axis")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    data = model.SerializeToString()
    (bundle / ONNX_MODEL).write_bytes(data)
    for name in ("model.torchscript.pt", "verification.json", "model.int8.onnx"):
        (bundle / name).unlink(missing_ok=True)
        manifest["files"].pop(name, None)
    manifest["files"][ONNX_MODEL] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest["labels"] = manifest["output"]["columns"] = labels
    manifest["output"]["shape"] = ["batch", 3]
    manifest["model"].update(n_outputs=3, int8=False)
    manifest["decision"] = {"type": "argmax", "description": "the label with the highest probability"}
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return bundle
