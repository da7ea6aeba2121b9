"""Where the runtime's time goes: CPU microseconds per review for each step of scoring, one thread each.

Measures, on the same texts (IMDB test by default, or one review per line from ``--texts``), the process CPU
time and the wall time per review of:

* ``TextEncoder.encode_ragged`` before (``tokenizers`` only) and after (the fast path for the texts it is
  exact on, ``tokenizers`` for the rest), and the fast path alone on the texts it takes;
* ``tokenizers`` with the bundle's own tokenizer.json, and with the same vocabulary behind lighter pipelines:
  no normalizer and a ``\\S+`` split, a bare whitespace split, and no pipeline at all (one token per text:
  the per-text cost of the library);
* padding the ids of each batch into a matrix (``Ragged.padded``, as the Predictor does);
* ONNX Runtime on the bundle's model.onnx, one intra-op thread, length-sorted batches of 256.

``RAYON_NUM_THREADS`` is 1 unless set before the run, so every figure is single-core work; with it unset
``tokenizers`` spreads a batch over every core, which lowers its wall time, not its CPU time. Best of
``--repeat`` runs, CPU and wall each.

``--corpora`` instead reads every corpus in ../shared/data whole and prints, per corpus, the fraction of texts
the fast path takes, whether its ids equal ``tokenizers``' on every one of them (exit status 1 if not), and
the CPU µs per text of ``TextEncoder.encode_ragged`` before and after.

Run (from the project root, with an IMDB ngram bundle):
    python benchmarks/tokenize_cost.py bundles/imdb
    python benchmarks/tokenize_cost.py bundles/imdb --corpora
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from common import DATA, markdown_table  # noqa: E402
from tokenizers import Regex, Tokenizer, pre_tokenizers  # noqa: E402

from reviewclf.io.labeled import read_labeled, read_many  # noqa: E402
from reviewclf.runtime.batching import DEFAULT_BATCH_SIZE, SORT_WINDOW_BATCHES  # noqa: E402
from reviewclf.runtime.bundle import TOKENIZER, load_bundle  # noqa: E402
from reviewclf.runtime.encoding import TextEncoder  # noqa: E402
from reviewclf.runtime.predictor import Predictor  # noqa: E402

# ``--corpora`` encodes a corpus in the Predictor's windows, so a whole corpus of results is never alive at once.
WINDOW = DEFAULT_BATCH_SIZE * SORT_WINDOW_BATCHES

CORPORA: dict[str, Callable[[], list[str]]] = {
    "imdb (train + test)": lambda: read_labeled(DATA / "imdb" / "aclImdb.tar.gz").texts,
    "yelp-10k": lambda: read_labeled(DATA / "yelp-10k" / "yelp.csv.zip", text_column="text").texts,
    "yelp-augpe-dev": lambda: read_labeled(DATA / "yelp-augpe-dev" / "dev.csv", text_column="text",
                                           label_column="label2").texts,
    "yelp-shen-sentences": lambda: read_many(sorted((DATA / "yelp-shen-sentences").glob("sentiment.*"))).texts,
    "rt-polarity (latin-1)": lambda: read_many(sorted((DATA / "rt-polarity").glob("rt-polarity.*")),
                                               encoding="latin-1").texts,
    "customer-reviews": lambda: read_many(sorted((DATA / "customer-reviews").glob("custrev.*"))).texts,
    "sst2 (train_full.tsv)": lambda: read_labeled(DATA / "sst2" / "train_full.tsv").texts,
    "uci-sentences": lambda: read_many(sorted((DATA / "uci-sentences").glob("*_labelled.txt"))).texts,
}


def us_per_text(step: Callable[[list[str]], object], texts: list[str], repeat: int) -> tuple[float, float]:
    """Best-of-``repeat`` process CPU time and wall time of ``step(texts)``, in microseconds per text."""
    cpu = wall = float("inf")
    for _ in range(repeat):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        step(texts)
        cpu = min(cpu, time.process_time() - started_cpu)
        wall = min(wall, time.perf_counter() - started_wall)
    return cpu / len(texts) * 1e6, wall / len(texts) * 1e6


def variant(base: Tokenizer, pre_tokenizer=None) -> Tokenizer:
    """The bundle's vocabulary with no normalizer and the given pre-tokenizer (None: the text is one token)."""
    tokenizer = Tokenizer.from_str(base.to_str())
    tokenizer.normalizer = None
    tokenizer.pre_tokenizer = pre_tokenizer
    return tokenizer


def encoder_steps(tokenizer_json: str, texts: list[str]) -> tuple[dict[str, Callable[[list[str]], object]], list[str]]:
    """Before and after for ``TextEncoder``, the fast path alone, and the lighter ``tokenizers`` pipelines."""
    before = TextEncoder.from_str(tokenizer_json, fast_path=False)
    after = TextEncoder.from_str(tokenizer_json)
    if after.fast_path is None:
        sys.exit("the bundle's tokenizer.json is not one the fast path recognises")
    taken = [t for t in texts if after.fast_path.applies(t)]
    base = before.tokenizer

    def tokenize_with(tokenizer: Tokenizer):
        return lambda batch: tokenizer.encode_batch_fast(batch, add_special_tokens=False)

    return {
        "TextEncoder before: tokenizers only": before.encode_ragged,
        f"TextEncoder after: fast path ({len(taken) / len(texts):.1%} of texts) + tokenizers": after.encode_ragged,
        "fast path alone, on the texts it takes (per text taken)": after.fast_path.encode_where_exact,
        "tokenizers, the bundle's pipeline": tokenize_with(base),
        "tokenizers, no normalizer, \\S+ split": tokenize_with(
            variant(base, pre_tokenizers.Split(Regex(r"\S+"), behavior="removed", invert=True))),
        "tokenizers, no normalizer, whitespace split": tokenize_with(variant(base, pre_tokenizers.WhitespaceSplit())),
        "tokenizers, no pipeline (one token per text)": tokenize_with(variant(base)),
    }, taken


def steps_table(bundle: Path, texts: list[str], repeat: int) -> None:
    tokenizer_json = load_bundle(bundle).read(TOKENIZER).decode("utf-8")
    steps, taken = encoder_steps(tokenizer_json, texts)
    rows = []
    for name, step in steps.items():
        measured = taken if name.startswith("fast path alone") else texts
        rows.append([name, *us_per_text(step, measured, repeat)])
    predictor = Predictor.load(bundle, threads=1)
    ragged = predictor.encoder.encode_flat(texts)
    order = np.argsort(ragged.lengths, kind="stable")
    batches = [order[s : s + 256] for s in range(0, len(ragged), 256)]
    padded = [ragged.padded(b) for b in batches]
    rows.append(["padding the ids (Ragged.padded)",
                 *us_per_text(lambda _: [ragged.padded(b) for b in batches], texts, repeat)])
    rows.append(["ONNX Runtime, model.onnx, 1 thread", *us_per_text(
        lambda _: [predictor.proba_from_ids(m) for m in padded], texts, repeat)])
    tokens = float(ragged.lengths.mean())
    print(f"\n### µs per review, RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']} ({len(texts):,} texts, "
          f"{tokens:.0f} tokens each on average, best of {repeat})\n")
    print(markdown_table(["step", "CPU µs per review", "wall µs per review"], rows))


def windowed(encode: Callable[[list[str]], object]) -> Callable[[list[str]], None]:
    def run(texts: list[str]) -> None:
        for start in range(0, len(texts), WINDOW):
            encode(texts[start : start + WINDOW])
    return run


def corpora_table(bundle: Path, repeat: int) -> bool:
    """Fast-path fraction, identity and cost on every text of every corpus; whether all ids were identical."""
    tokenizer_json = load_bundle(bundle).read(TOKENIZER).decode("utf-8")
    before, after = TextEncoder.from_str(tokenizer_json, fast_path=False), TextEncoder.from_str(tokenizer_json)
    assert after.fast_path is not None
    rows, identical = [], True
    for name, read in CORPORA.items():
        texts = read()
        fast_rows, others = after.fast_path.encode_where_exact(texts)
        left, fast_rows = set(others), fast_rows.rows()
        taken = [i for i in range(len(texts)) if i not in left]
        reference = before.encode_ragged([texts[i] for i in taken])
        mismatches = sum(fast_rows[i] != ids for i, ids in zip(taken, reference))
        identical = identical and mismatches == 0
        cost_before = us_per_text(windowed(before.encode_ragged), texts, repeat)[0]
        cost_after = us_per_text(windowed(after.encode_ragged), texts, repeat)[0]
        rows.append([name, len(texts), f"{len(taken) / len(texts):.2%}", len(taken) - mismatches, mismatches,
                     cost_before, cost_after])
    print(f"\n### The fast path on every corpus in ../shared/data (every text; TextEncoder.encode_ragged in windows of "
          f"{WINDOW}, CPU µs per text, RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']}, best of {repeat})\n")
    print(markdown_table(["corpus", "texts", "fast path takes", "identical ids", "different ids",
                          "CPU µs before", "CPU µs after"], rows))
    return identical


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--texts", type=Path, default=None, help="one review per line (default: IMDB test)")
    parser.add_argument("--limit", type=int, default=5000, help="texts measured")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpora", action="store_true", help="the fast path on every corpus, whole")
    args = parser.parse_args()
    if args.corpora:
        sys.exit(0 if corpora_table(args.bundle, args.repeat) else 1)
    if args.texts:
        texts = args.texts.read_text(encoding="utf-8").splitlines()[: args.limit]
    else:
        data = read_labeled(DATA / "imdb" / "aclImdb.tar.gz")
        texts = [t for t, s in zip(data.texts, data.splits or []) if s == "test"][: args.limit]
    steps_table(args.bundle, texts, args.repeat)


if __name__ == "__main__":
    main()
