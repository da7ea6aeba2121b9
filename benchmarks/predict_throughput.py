"""End-to-end batch scoring throughput: ``reviewclf predict`` next to fastText, from raw file to output file.

Measured, per data set, on the same plain-text file (one review per line):

* ``reviewclf predict BUNDLE input.txt -o out.csv``, run as a child process: wall clock of the whole process
  (start-up, bundle load, read, tokenize, ONNX Runtime, write) and its peak RSS.
* fastText (``fasttext-community``) in two settings, each trained on the same texts: *fast* (dim 10,
  wordNgrams 2, the setting fastText recommends for speed) and *default* (``train_supervised`` defaults: dim 100,
  wordNgrams 1, epoch 5). fastText is fed its own normalization (``common.fasttext_normalize``, its
  classification example's ``normalize_text``), applied to its input file before the clock starts. Its child
  process loads the ``.bin``, reads the file, ``model.predict(list_of_lines)``, writes one label per line.
  Same clock, same RSS measure (``common.run_child``: a small launcher reads its one child's ``ru_maxrss``).
  fastText's ``predict`` on a list is single-threaded; reviewclf uses ``--threads`` (default: all cores).

Every measurement is interleaved: each of the ``--repeat`` rounds runs every system once, in turn, so a
change in the machine's load falls on all of them alike; the median per system is reported.

Data sets: (a) Yelp sentences (``yelp-shen-sentences/sentiment.{dev,test}.{0,1}`` concatenated, 190,153
short lowercased sentences) and (b) IMDB test (25,000 long reviews, newlines replaced by spaces).

Models (unless ``--bundle`` is given, which is then used for both data sets): both systems are trained on the
same in-domain texts: for Yelp on yelp-10k stars 1-2 = negative, 4-5 = positive (3 dropped); for IMDB on the
25k IMDB train reviews. reviewclf trains ``--model ngram`` through the CLI (``reviewclf train`` +
``reviewclf export``) for ``--train-epochs`` epochs (accuracy is not what is measured here).

Also reported: the fraction of each data set's texts the bundle's fast text -> ids path takes
(``runtime.fast_encoding``; the others go to ``tokenizers``), the start-up time of
``reviewclf predict BUNDLE one-line.txt`` (median of 5 whole-process runs), the same for the fastText child,
and ``python -c "import torch"`` and ``python -c pass`` for reference.

Run (full size, from the project root):
    python benchmarks/predict_throughput.py --repeat 3 --json benchmarks/results/predict.json
    python benchmarks/predict_throughput.py --bundle bundles/imdb-ngram --threads 1
Quick trial:
    python benchmarks/predict_throughput.py --limit 3000 --train-epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from common import (
    DATA,
    check,
    comma_list,
    fasttext_normalize,
    log,
    machine,
    markdown_table,
    measure_child,
    measure_children,
    one_line,
    pick,
    run_child,
    scratch_dir,
    subsample,
    write_fasttext_file,
    write_json,
)

FASTTEXT_WORKER = "--fasttext-worker"  # hidden mode: this script, run as the fastText child process
SHEN_FILES = ("sentiment.dev.0", "sentiment.dev.1", "sentiment.test.0", "sentiment.test.1")
YELP_POLARITY = "1=negative,2=negative,4=positive,5=positive"
STARTUP_RUNS = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="yelp,imdb", help="comma-separated: yelp,imdb")
    parser.add_argument("--bundle", default=None, help="a reviewclf bundle to use for both data sets "
                                                       "(default: train one ngram bundle per data set)")
    parser.add_argument("--threads", type=int, default=None, help="reviewclf predict --threads (default: all)")
    parser.add_argument("--batch-size", type=int, default=256, help="reviewclf predict --batch-size")
    parser.add_argument("--limit", type=int, default=None, help="at most N texts per data set (train and score)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the median is reported")
    parser.add_argument("--train-epochs", type=int, default=3, help="reviewclf training epochs for the bundle")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (inputs, models, outputs)")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args()
    args.datasets = comma_list(args.datasets)
    if set(args.datasets) - {"yelp", "imdb"}:
        parser.error("--datasets takes yelp and/or imdb")
    return args


# ---------------------------------------------------------------- the fastText child process


def fasttext_worker(model_path: str, input_path: str, output_path: str) -> None:
    """Load the model, read the file, predict every line, write one label per line."""
    import fasttext

    model = fasttext.load_model(model_path)
    with open(input_path, encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line in handle]
    labels, _ = model.predict(lines, k=1)
    with open(output_path, "w", encoding="utf-8") as handle:
        handle.writelines((found[0] if found else "") + "\n" for found in labels)


# ---------------------------------------------------------------- data


def reviewclf_command() -> list[str]:
    """The installed console script beside this interpreter (the way operators run it)."""
    script = Path(sys.executable).parent / "reviewclf"
    if script.exists():
        return [str(script)]
    found = shutil.which("reviewclf")
    if not found:
        raise SystemExit("reviewclf is not installed in this environment (pip install -e .)")
    return [found]


def yelp_data(data_dir: Path, limit: int | None, seed: int) -> tuple[list[str], tuple[list[str], list[str]]]:
    """(Shen sentences to score, (yelp-10k polarity texts, labels) to train on)."""
    from reviewclf.io.label_map import parse_label_map
    from reviewclf.io.labeled import read_labeled

    lines: list[str] = []
    for name in SHEN_FILES:
        with open(data_dir / "yelp-shen-sentences" / name, encoding="utf-8") as handle:
            lines.extend(line.rstrip("\n") for line in handle)
    train = read_labeled(data_dir / "yelp-10k" / "yelp.csv.zip", text_column="text", label_column="stars",
                         label_map=parse_label_map(YELP_POLARITY))
    score_rows = subsample(len(lines), limit, seed)
    train_rows = subsample(len(train.texts), limit, seed)
    return [lines[i] for i in score_rows], tuple(pick(train_rows, train.texts, train.labels))


def imdb_data(data_dir: Path, limit: int | None, seed: int) -> tuple[list[str], tuple[list[str], list[str]]]:
    """(IMDB test reviews to score, (IMDB train texts, labels) to train on)."""
    from reviewclf.io.labeled import read_labeled

    data = read_labeled(data_dir / "imdb" / "aclImdb.tar.gz")
    splits = data.splits or []
    parts = {}
    for split in ("train", "test"):
        rows = [i for i, s in enumerate(splits) if s == split]
        rows = [rows[i] for i in subsample(len(rows), limit, seed)]
        parts[split] = pick(rows, data.texts, data.labels)
    return parts["test"][0], tuple(parts["train"])


def write_lines(path: Path, texts: list[str]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(one_line(t) + "\n" for t in texts)
    return path


def write_jsonl(path: Path, texts: list[str], labels: list[str]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for text, label in zip(texts, labels):
            handle.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
    return path


# ---------------------------------------------------------------- models


def train_bundle(work: Path, texts: list[str], labels: list[str], epochs: int) -> Path:
    """``reviewclf train --model ngram`` + ``reviewclf export``, through the CLI."""
    cli = reviewclf_command()
    data = write_jsonl(work / "train.jsonl", texts, labels)
    run, bundle = work / "run", work / "bundle"
    log(f"training a reviewclf ngram bundle on {len(texts)} texts ({epochs} epochs)")
    for command in ([*cli, "train", str(data), "--model", "ngram", "--epochs", str(epochs), "--out", str(run),
                     "--force"],
                    [*cli, "export", str(run), "-o", str(bundle), "--force"]):
        check(run_child(command, quiet=False), command)
    return bundle


FASTTEXT_SETTINGS = {"fast": {"dim": 10, "wordNgrams": 2}, "default": {}}


def train_fasttext(work: Path, texts: list[str], labels: list[str], seed: int) -> dict[str, Path]:
    """One fastText model per setting, on its own normalization of the texts."""
    import fasttext

    data = write_fasttext_file(work / "train.ft.txt", texts, labels, seed, fasttext_normalize)
    models = {}
    for name, setting in FASTTEXT_SETTINGS.items():
        log(f"training fastText ({name}: {setting or 'defaults'}) on {len(texts)} texts")
        model = fasttext.train_supervised(input=str(data), thread=os.cpu_count() or 1, verbose=0, seed=seed,
                                          **setting)
        models[name] = work / f"fasttext-{name}.bin"
        model.save_model(str(models[name]))
    return models


# ---------------------------------------------------------------- measurements


def predict_commands(bundle: Path, models: dict[str, Path], source: Path, ft_source: Path, work: Path,
                     args: argparse.Namespace) -> dict:
    """The end-to-end commands, by system name."""
    reviewclf = [*reviewclf_command(), "predict", str(bundle), str(source), "-o", str(work / "out.reviewclf.csv"),
                 "--batch-size", str(args.batch_size)]
    if args.threads:
        reviewclf += ["--threads", str(args.threads)]
    threads = args.threads or os.cpu_count()
    from reviewclf.runtime.bundle import load_bundle

    kind = load_bundle(bundle, verify_all=False).manifest["model"]["kind"]
    commands = {f"reviewclf predict ({kind}, ORT, {threads} threads)": reviewclf}
    for name, model in models.items():
        setting = ", ".join(f"{k} {v}" for k, v in FASTTEXT_SETTINGS[name].items()) or "dim 100, wordNgrams 1"
        commands[f"fastText {name} ({setting}; 1 thread)"] = [
            sys.executable, str(Path(__file__).resolve()), FASTTEXT_WORKER, str(model), str(ft_source),
            str(work / f"out.fasttext-{name}.txt")]
    return commands


def fast_path_fraction(bundle: Path, texts: list[str]) -> float:
    """Share of the texts whose ids the bundle's fast path makes (the rest go to ``tokenizers``)."""
    from reviewclf.runtime.encoding import TextEncoder

    fast = TextEncoder.from_file(bundle / "tokenizer.json").fast_path
    return 0.0 if fast is None else sum(map(fast.applies, texts)) / max(len(texts), 1)


def startup_times(bundle: Path, model: Path, work: Path) -> list[list]:
    """Median whole-process wall clock of each command on a one-line input."""
    one = write_lines(work / "one.txt", ["The food was great and the staff were friendly."])
    commands = {
        "reviewclf predict BUNDLE one.txt -o one.csv": [*reviewclf_command(), "predict", str(bundle), str(one),
                                                          "-o", str(work / "one.csv")],
        "fastText fast child: import, load .bin, predict one line": [sys.executable, str(Path(__file__).resolve()),
                                                                FASTTEXT_WORKER, str(model), str(one),
                                                                str(work / "one.ft.txt")],
        'python -c "import torch" (reference)': [sys.executable, "-c", "import torch"],
        'python -c "pass" (interpreter alone)': [sys.executable, "-c", "pass"],
    }
    return [[name, measure_child(command, STARTUP_RUNS)["seconds"]] for name, command in commands.items()]


def bench_dataset(name: str, args: argparse.Namespace, work: Path) -> tuple[list[dict], Path, Path]:
    """Prepare one data set's input files and models, then time every system on it."""
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    loader = yelp_data if name == "yelp" else imdb_data
    score_texts, (train_texts, train_labels) = loader(args.data_dir, args.limit, args.seed)
    source = write_lines(work / "input.txt", score_texts)
    ft_source = write_lines(work / "input.ft.txt", [fasttext_normalize(t) for t in score_texts])
    log(f"{name}: {len(score_texts)} texts to score, {len(train_texts)} to train on "
        f"({time.perf_counter() - started:.1f}s to prepare)")
    bundle = Path(args.bundle) if args.bundle else train_bundle(work, train_texts, train_labels, args.train_epochs)
    models = train_fasttext(work, train_texts, train_labels, args.seed)
    label = {"yelp": "Yelp sentences (Shen)", "imdb": "IMDB test"}[name]
    fraction = fast_path_fraction(bundle, score_texts)
    log(f"timing {label}: {args.repeat} interleaved rounds; fast path takes {fraction:.2%} of the texts")
    results = measure_children(predict_commands(bundle, models, source, ft_source, work, args), args.repeat)
    rows = [{"system": system, "dataset": label, "reviews": len(score_texts), "fast_path_fraction": fraction,
             "input_mb": source.stat().st_size / 2**20, **result,
             "reviews_per_s": len(score_texts) / result["seconds"]} for system, result in results.items()]
    return rows, bundle, models["fast"]


def print_tables(rows: list[dict], startup: list[list], args: argparse.Namespace) -> None:
    first = {r["dataset"]: r["reviews_per_s"] for r in rows if r["system"].startswith("reviewclf")}
    print(f"\n### End-to-end prediction throughput (raw text file in, label file out; median of {args.repeat})\n")
    print(markdown_table(["system", "data set", "reviews", "seconds", "reviews/s", "reviewclf ÷ row", "peak RSS MB"], [
        [r["system"], r["dataset"], r["reviews"], r["seconds"], r["reviews_per_s"],
         f"{first[r['dataset']] / r['reviews_per_s']:.2f}x", r["peak_rss_mb"]] for r in rows
    ]))
    print("\nfast text -> ids path: " + ", ".join(
        f"{r['dataset']} {r['fast_path_fraction']:.2%} of texts" for r in rows if r["system"].startswith("reviewclf")))
    print("\nseconds = wall clock of the whole child process, start-up included; peak RSS = its ru_maxrss. "
          "reviewclf ÷ row = reviewclf's reviews/s over the row's (above 1: reviewclf is faster).")
    print(f"\n### Start-up (median of {STARTUP_RUNS} whole-process runs, one-line input)\n")
    print(markdown_table(["command", "seconds"], startup))


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == FASTTEXT_WORKER:
        fasttext_worker(*sys.argv[2:])
        return
    args = parse_args()
    with scratch_dir("predict-", args.keep) as work:
        rows: list[dict] = []
        for name in args.datasets:
            found, bundle, model = bench_dataset(name, args, work / name)
            rows.extend(found)
        log("timing start-up")
        startup = startup_times(bundle, model, work)
        print_tables(rows, startup, args)
        write_json(args.json, {"benchmark": "predict_throughput", "machine": machine(), "limit": args.limit,
                               "threads": args.threads, "batch_size": args.batch_size, "results": rows,
                               "startup_seconds": dict(startup)})


if __name__ == "__main__":
    main()
