"""Where the runtime's time goes: CPU microseconds per review for each step of scoring, one thread each.

Measures, on the same texts (IMDB test by default, or one review per line from ``--texts``), the process CPU
time per review of:

* ``tokenizers`` with the bundle's own tokenizer.json (what ``reviewclf predict`` runs), and with the same
  vocabulary behind lighter pipelines: no normalizer and a ``\\S+`` split, a bare whitespace split, and no
  pipeline at all (one token per text: the per-text cost of the library);
* padding the ids into a matrix (``encoding.pad_rows``);
* ONNX Runtime on the bundle's model.onnx, one intra-op thread, length-sorted batches of 256.

``RAYON_NUM_THREADS=1`` is set before ``tokenizers`` is imported, so every figure is single-core work;
two cores halve the wall time at best. Best of ``--repeat`` runs.

Run (from the project root, with an IMDB ngram bundle):
    python benchmarks/tokenize_cost.py bundles/imdb
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
from common import DATA, markdown_table  # noqa: E402
from tokenizers import Regex, Tokenizer, pre_tokenizers  # noqa: E402

from reviewclf.runtime.bundle import TOKENIZER, load_bundle  # noqa: E402
from reviewclf.runtime.encoding import pad_rows  # noqa: E402
from reviewclf.runtime.predictor import Predictor  # noqa: E402


def cpu_us_per_text(step, texts: list, repeat: int) -> float:
    """Best-of-``repeat`` process CPU time of ``step(texts)``, in microseconds per text."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        step(texts)
        best = min(best, time.process_time() - started)
    return best / len(texts) * 1e6


def variant(base: Tokenizer, pre_tokenizer=None) -> Tokenizer:
    """The bundle's vocabulary with no normalizer and the given pre-tokenizer (None: the text is one token)."""
    tokenizer = Tokenizer.from_str(base.to_str())
    tokenizer.normalizer = None
    tokenizer.pre_tokenizer = pre_tokenizer
    return tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--texts", type=Path, default=None, help="one review per line (default: IMDB test)")
    parser.add_argument("--limit", type=int, default=5000, help="texts measured")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.texts:
        texts = args.texts.read_text(encoding="utf-8").splitlines()[: args.limit]
    else:
        from reviewclf.io.labeled import read_labeled

        data = read_labeled(DATA / "imdb" / "aclImdb.tar.gz")
        texts = [t for t, s in zip(data.texts, data.splits or []) if s == "test"][: args.limit]
    base = Tokenizer.from_str(load_bundle(args.bundle).read(TOKENIZER).decode("utf-8"))

    def tokenize_with(tokenizer: Tokenizer):
        return lambda batch: tokenizer.encode_batch_fast(batch, add_special_tokens=False)

    steps = {
        "tokenizers, the bundle's pipeline": tokenize_with(base),
        "tokenizers, no normalizer, \\S+ split": tokenize_with(
            variant(base, pre_tokenizers.Split(Regex(r"\S+"), behavior="removed", invert=True))),
        "tokenizers, no normalizer, whitespace split": tokenize_with(variant(base, pre_tokenizers.WhitespaceSplit())),
        "tokenizers, no pipeline (one token per text)": tokenize_with(variant(base)),
    }
    rows = [[name, cpu_us_per_text(step, texts, args.repeat)] for name, step in steps.items()]

    predictor = Predictor.load(args.bundle, threads=1)
    ids = predictor.encoder.encode_ragged(texts)
    order = np.argsort([len(r) for r in ids], kind="stable")
    batches = [[ids[i] for i in order[s : s + 256]] for s in range(0, len(ids), 256)]
    padded = [pad_rows(b) for b in batches]
    rows.append(["padding the ids (pad_rows)", cpu_us_per_text(lambda _: [pad_rows(b) for b in batches], texts,
                                                                args.repeat)])
    rows.append(["ONNX Runtime, model.onnx, 1 thread", cpu_us_per_text(
        lambda _: [predictor.proba_from_ids(m) for m in padded], texts, args.repeat)])
    tokens = sum(len(r) for r in ids) / len(ids)
    print(f"\n### CPU µs per review, one thread ({len(texts):,} texts, {tokens:.0f} tokens each on average)\n")
    print(markdown_table(["step", "CPU µs per review"], rows))


if __name__ == "__main__":
    main()
