"""Training at growing data sizes: peak memory and seconds of ``reviewclf train --model ngram --epochs 1``.

The data are IMDB-like reviews built from the 50k reviews of ``../shared/data/imdb``: copy ``k`` of review
``i`` misses one word drawn at random for that copy, so no two rows are the same text while the vocabulary
stays IMDB's. Each size is one CSV file (text,label); each run is a fresh process (``--no-cache``, CPU),
measured by a launcher that times the run's log lines as they come and reads the run's peak RSS:

* read s: start-up and reading the file (until the run logs its split sizes),
* tokenize s: fitting the vocabulary and encoding every split into the token store (until it logs the
  vocabulary), epoch s: the epoch with its validation (the run's own history), total s: the whole process.

For the largest size one more pair of runs with the cache on shows what a second run on the same data costs.

Run (from the project root):
    python benchmarks/train_scale.py                       # 25k, 50k, 100k, 200k, 500k
    python benchmarks/train_scale.py --sizes 2000,4000     # a quick trial
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from common import DATA, comma_list, log, machine, markdown_table, scratch_dir, write_json

from reviewclf.io.labeled import read_labeled

SIZES = "25000,50000,100000,200000,500000"

# Runs the command as its only child, stamps each line it prints, and reports the child's peak RSS.
_LAUNCHER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
lines = [(time.perf_counter() - started, line.rstrip()) for line in child.stdout]
code = child.wait()
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "code": code, "lines": lines}))
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=SIZES, help=f"comma-separated row counts (default {SIZES})")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--json", default=None, help="also write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (data files, runs)")
    return parser.parse_args()


def write_reviews(path: Path, texts: list[str], labels: list[str], rows: int, seed: int) -> None:
    """``rows`` IMDB-like reviews: review ``i % len(texts)`` (in a seeded order) without one random word."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "label"])
        for n in range(rows):
            i = int(order[n % len(texts)])
            words = texts[i].split(" ")
            del words[int(rng.integers(len(words)))]
            writer.writerow([" ".join(words), labels[i]])


def train_once(data: Path, out: Path, cache: Path, use_cache: bool) -> dict:
    command = [sys.executable, "-m", "reviewclf", "train", str(data), "--model", "ngram", "--epochs", "1",
               "--device", "cpu", "--out", str(out), "--force", "--cache" if use_cache else "--no-cache"]
    env = {**os.environ, "REVIEWCLF_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], stdout=subprocess.PIPE, text=True, env=env,
                          check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if report["code"] != 0:
        tail = "\n".join(line for _, line in report["lines"][-5:])
        raise SystemExit(f"reviewclf train failed ({report['code']}):\n{tail}")
    return report


def phases(report: dict, out: Path) -> dict:
    """Seconds of each phase from the stamped log lines and the run's history; peak RSS in MiB."""
    stamps = {}
    for at, line in report["lines"]:
        for key, start in (("read", "rows: "), ("tokenize", "vocabulary: "), ("cached", "token store: ")):
            if line.startswith(start) and key not in stamps:
                stamps[key] = at
    metrics = json.loads((out / "metrics.json").read_text())
    read = stamps.get("read", stamps.get("cached", 0.0))
    return {"read_s": read, "tokenize_s": stamps["tokenize"] - read, "epoch_s": metrics["seconds_per_epoch"],
            "total_s": report["seconds"], "peak_rss_mb": report["rss_kib"] / 1024,
            "test_accuracy": metrics["test"]["accuracy"], "cached": "cached" in stamps}


def main() -> None:
    args = parse_args()
    sizes = [int(s) for s in comma_list(args.sizes)]
    imdb = read_labeled(DATA / "imdb" / "aclImdb.tar.gz")
    log(f"IMDB: {len(imdb.texts)} reviews")
    results = []
    with scratch_dir("train_scale-", args.keep) as work:
        for rows in sizes:
            data = work / f"reviews-{rows}.csv"
            write_reviews(data, imdb.texts, imdb.labels, rows, args.seed)
            log(f"{rows} rows: {data.stat().st_size / 1e6:.0f} MB; training")
            runs = [("no cache", False)] + ([("cache, 1st", True), ("cache, 2nd", True)] if rows == sizes[-1] else [])
            for name, use_cache in runs:
                out = work / f"run-{rows}"
                result = {"rows": rows, "file_mb": data.stat().st_size / 1e6, "mode": name,
                          **phases(train_once(data, out, work / "cache", use_cache), out)}
                log(f"  {name}: {result['total_s']:.1f}s, peak {result['peak_rss_mb']:.0f} MiB")
                results.append(result)
            data.unlink()
    headers = ["rows", "file MB", "mode", "peak RSS MiB", "read s", "tokenize s", "epoch s", "total s",
               "µs/row (total)", "test acc"]
    table = [[r["rows"], r["file_mb"], r["mode"], r["peak_rss_mb"], r["read_s"], r["tokenize_s"], r["epoch_s"],
              r["total_s"], r["total_s"] / r["rows"] * 1e6, r["test_accuracy"]] for r in results]
    print(f"### reviewclf train --model ngram --epochs 1 (CPU, {machine()['cpus']} cores)\n")
    print(markdown_table(headers, table))
    plain = {r["rows"]: r for r in results if r["mode"] == "no cache"}
    if 50000 in plain and len(plain) > 1:
        largest = max(plain)
        print(f"\npeak RSS at {largest:,} rows / at 50,000: "
              f"{plain[largest]['peak_rss_mb'] / plain[50000]['peak_rss_mb']:.2f}x")
    write_json(args.json, {"machine": machine(), "results": results})


if __name__ == "__main__":
    main()
