"""reviewclf next to fastText and scikit-learn on the same splits, in the same run, one table per task.

Systems (``--models``, default all):

* ``perceptron``, ``mlp``, ``ngram``: reviewclf through its Python API: ``fit_once`` (early stopping on the
  validation part), ``write_run`` + ``export_bundle`` (ONNX, verified), then ``Predictor`` (ONNX Runtime) on
  the raw test texts. Hyper-parameters: ``REVIEWCLF`` below (``ngram``: ``TrainConfig``'s defaults,
  overridable with ``--ngram-args key=value,...``).
* ``fasttext-1``, ``fasttext-2``: ``fasttext.train_supervised`` (fasttext-community) with wordNgrams 1 / 2,
  other settings fastText's defaults (epoch 5, lr 0.1, dim 100; 2M hash buckets for bigrams). Texts go
  through fastText's own recipe first (``normalize_text`` of its classification-example.sh: lowercase,
  punctuation split off, ``<br />`` removed), in training and, timed, in prediction; ``--fasttext-raw`` skips it.
* ``tfidf-lr``: scikit-learn ``TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)`` +
  ``LogisticRegression`` (liblinear for two labels, saga multinomial for more), C chosen from
  ``SKLEARN_C_GRID`` by validation accuracy; the reported training time is the final fit (the search is in
  the JSON).

Same data for everyone: each task's training part minus a stratified 10% validation part (seed 1337) trains
every system; reviewclf early-stops on the validation part, sklearn picks C on it, fastText ignores it.
SST-2 is the exception: its validation part is stsa.binary.dev (872 sentences). GLUE's training rows are
phrases cut from the same sentences, so a random 10% of them scores memorized sentences, not new ones.

Columns: test accuracy and macro-F1 (the project's ``classification_report`` for every system); train s (fit
only, in-process wall clock); predict reviews/s (raw test texts in, labels out, in memory, model loaded);
size (reviewclf: the bundle's model.onnx + tokenizer.json; fastText: the saved .bin; sklearn: the skl2onnx
ONNX export, or the pickle if conversion fails, marked); peak RSS (each system runs in its own fresh Python
process that loads the pickled split, trains, exports and predicts; its ru_maxrss; the "data only" row is a
process that only loads the split, i.e. the floor).

Tasks (``--tasks``, default all): ``imdb`` (aclImdb canonical 25k/25k), ``yelp-polarity`` (yelp-10k +
yelp-augpe-dev, stars 1-2 negative / 4-5 positive, stratified 20% test, seed 1337), ``yelp-stars`` (same
reviews, 5 labels), ``sst2`` (GLUE train_full.tsv -> stsa.binary.test, the labeled 1,821 test sentences).

Run (full size, from the project root; needs the bench extra: fasttext-community, scikit-learn, skl2onnx):
    python benchmarks/compare.py --json benchmarks/results/compare.json
    python benchmarks/compare.py --tasks imdb --models ngram,fasttext-2,tfidf-lr --ngram-args dim=32,epochs=10
Quick trial:
    python benchmarks/compare.py --limit 2000 --epochs 2
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    DATA,
    check,
    fasttext_normalize,
    log,
    machine,
    markdown_table,
    one_line,
    pick,
    run_child,
    scratch_dir,
    subsample,
    write_fasttext_file,
    write_json,
)

SEED = 1337
VAL_FRACTION = 0.10
YELP_TEST_FRACTION = 0.20
SST_NAMES = {"0": "negative", "1": "positive"}
POLARITY = {"1": "negative", "2": "negative", "4": "positive", "5": "positive"}  # Yelp stars -> polarity
STARS = {str(k): str(k) for k in range(1, 6)}

Texts = tuple[list[str], list[str]]  # (texts, labels)
TaskData = tuple[Texts, Texts | None, Texts]  # train, val (None: carve it from train), test

# reviewclf hyper-parameters per model kind (TrainConfig fields). min_freq 2 for all (the book's perceptron
# used 25); everything not named here is TrainConfig's default.
REVIEWCLF: dict[str, dict[str, Any]] = {
    "perceptron": {"min_freq": 2, "optimizer": "adam", "lr": 1e-3, "batch_size": 128, "patience": 5},
    "mlp": {"min_freq": 2, "hidden": 128, "activation": "relu", "dropout": 0.0, "lr": 1e-3, "batch_size": 128,
            "patience": 5},
    "ngram": {},  # TrainConfig's model defaults (MODEL_DEFAULTS in reviewclf.training.config)
}
# The ngram model's settings are chosen on the validation part, as sklearn's C is, between the defaults
# (trigrams, batch 512, word dropout 0.3) and bigrams in batches of 256 without word dropout. In GPU sweeps the
# defaults won on IMDB (25k long reviews) and the light regularization on the 9k Yelp polarity reviews.
NGRAM_CANDIDATES = ({}, {"ngrams": 2, "batch_size": 256, "word_dropout": 0.0})
# Per task, as the README's commands: IMDB's training reviews hold 1.26M distinct bigrams and 3.71M trigrams; 8M
# buckets per order (fewer hash collisions) measured +0.1-0.2 points on validation and test for twice the size.
NGRAM_TASK_SETTINGS: dict[str, dict[str, Any]] = {"imdb": {"buckets": 1 << 23}}
FASTTEXT = {"epoch": 5, "lr": 0.1, "dim": 100}  # fastText's supervised defaults, written out
SKLEARN_C_GRID = (1.0, 4.0, 16.0)

SYSTEMS = {
    "perceptron": "reviewclf perceptron",
    "mlp": "reviewclf mlp",
    "ngram": "reviewclf ngram",
    "fasttext-1": "fastText (wordNgrams 1)",
    "fasttext-2": "fastText (wordNgrams 2)",
    "tfidf-lr": "sklearn TF-IDF 1-2gram + LR",
}
TASKS = ("imdb", "yelp-polarity", "yelp-stars", "sst2")
WORKER = "--worker"  # hidden mode: this script, run as one system's fresh process


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated: {','.join(TASKS)}")
    parser.add_argument("--models", default=",".join(SYSTEMS), help=f"comma-separated: {','.join(SYSTEMS)}")
    parser.add_argument("--limit", type=int, default=None, help="subsample each task's train and test to N")
    parser.add_argument("--epochs", type=int, default=None, help="cap reviewclf's epochs (quick trials)")
    parser.add_argument("--ngram-args", default="", metavar="K=V,...",
                        help="TrainConfig overrides for ngram, e.g. dim=32,lr=0.002,buckets=262144")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for torch, ONNX Runtime and fastText (default: all cores)")
    parser.add_argument("--fasttext-raw", action="store_true", help="give fastText the raw text (no normalize)")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (splits, models, bundles)")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args()
    args.tasks = split_names(parser, args.tasks, TASKS, "tasks")
    args.models = split_names(parser, args.models, tuple(SYSTEMS), "models")
    args.ngram_overrides = parse_overrides(parser, args.ngram_args)
    return args


def split_names(parser: argparse.ArgumentParser, value: str, known: tuple[str, ...], what: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def parse_overrides(parser: argparse.ArgumentParser, spec: str) -> dict[str, Any]:
    """``dim=32,lr=0.002`` -> typed values, by the type of TrainConfig's default for each key."""
    from reviewclf.training.config import TrainConfig

    defaults = {f.name: getattr(TrainConfig(), f.name) for f in fields(TrainConfig)}
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, _, raw = item.partition("=")
        if key not in defaults:
            parser.error(f"--ngram-args: {key!r} is not a TrainConfig field")
        values[key] = typed(raw, defaults[key])
    return values


def typed(raw: str, default: Any) -> Any:
    """A command-line string as the type of a TrainConfig default (None defaults: int, or none)."""
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes")
    if isinstance(default, int) or (default is None and raw.lower() != "none"):
        return int(float(raw))
    if isinstance(default, float):
        return float(raw)
    return None if raw.lower() == "none" else raw


# ---------------------------------------------------------------- tasks


@dataclass
class Split:
    """One task's data: the same train/val/test for every system."""

    task: str
    labels: list[str]
    train: tuple[list[str], list[str]]
    val: tuple[list[str], list[str]]
    test: tuple[list[str], list[str]]


def imdb(data_dir: Path) -> TaskData:
    from reviewclf.io.labeled import read_labeled

    data = read_labeled(data_dir / "imdb" / "aclImdb.tar.gz")
    rows = {s: [i for i, x in enumerate(data.splits or []) if x == s] for s in ("train", "test")}
    return (tuple(pick(rows["train"], data.texts, data.labels)), None,
            tuple(pick(rows["test"], data.texts, data.labels)))


def yelp_sets(data_dir: Path, label_map: dict[str, str]) -> tuple[Texts, Texts]:
    """yelp-10k and yelp-augpe-dev (another Yelp sample, another year), each with its stars mapped."""
    from reviewclf.io.labeled import read_labeled

    a = read_labeled(data_dir / "yelp-10k" / "yelp.csv.zip", text_column="text", label_column="stars",
                     label_map=label_map)
    b = read_labeled(data_dir / "yelp-augpe-dev" / "dev.csv", text_column="text", label_column="label2",
                     label_map=label_map)
    return (a.texts, a.labels), (b.texts, b.labels)


def yelp(data_dir: Path, label_map: dict[str, str]) -> TaskData:
    """yelp-10k + yelp-augpe-dev, mapped; a stratified 20% test part with a fixed seed."""
    from reviewclf.training.splits import stratified_split

    a, b = yelp_sets(data_dir, label_map)
    texts, labels = a[0] + b[0], a[1] + b[1]
    parts = stratified_split(labels, 0.0, YELP_TEST_FRACTION, SEED)
    return tuple(pick(parts["train"], texts, labels)), None, tuple(pick(parts["test"], texts, labels))


def stsa(path: Path) -> Texts:
    """A stsa.binary file: "<0|1> <sentence>" per line."""
    texts, labels = [], []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            label, _, text = line.strip().partition(" ")
            if text:
                texts.append(text)
                labels.append(SST_NAMES[label])
    return texts, labels


def sst2(data_dir: Path) -> TaskData:
    """GLUE's train_full.tsv (67k phrases and sentences); stsa.binary.dev validates, stsa.binary.test tests."""
    from reviewclf.io.labeled import read_labeled

    train = read_labeled(data_dir / "sst2" / "train_full.tsv", format="tsv", text_column="sentence",
                         label_column="label", label_map=SST_NAMES)
    return ((train.texts, train.labels), stsa(data_dir / "sst2" / "stsa.binary.dev"),
            stsa(data_dir / "sst2" / "stsa.binary.test"))


def load_task(task: str, data_dir: Path, limit: int | None, val_fraction: float = VAL_FRACTION) -> Split:
    """Read a task, subsample it for quick trials, and carve the validation part out of train unless the task
    has its own."""
    loaders = {"imdb": lambda: imdb(data_dir), "yelp-polarity": lambda: yelp(data_dir, POLARITY),
               "yelp-stars": lambda: yelp(data_dir, STARS), "sst2": lambda: sst2(data_dir)}
    return as_split(task, loaders[task](), limit, val_fraction)


def as_split(task: str, parts: TaskData, limit: int | None, val_fraction: float = VAL_FRACTION) -> Split:
    """Subsample train and test to ``limit`` rows (and a given val), or carve val from train (stratified)."""
    from reviewclf.training.splits import carve_validation

    train, val, test = parts
    train, test = (tuple(pick(subsample(len(part[0]), limit, SEED), *part)) for part in (train, test))
    if val is None:
        fit_rows, val_rows = carve_validation(train[1], np.arange(len(train[1])), val_fraction, SEED)
        train, val = tuple(pick(fit_rows, *train)), tuple(pick(val_rows, *train))
    else:
        val = tuple(pick(subsample(len(val[0]), limit, SEED), *val))
    return Split(task, sorted(set(train[1])), train, val, test)


# ---------------------------------------------------------------- systems (each runs in a worker process)


def scores(split: Split, predicted: list[str]) -> dict[str, float]:
    """Accuracy and macro-F1 with the project's metrics, the same code for every system."""
    from reviewclf.metrics import classification_report

    index = {label: i for i, label in enumerate(split.labels)}
    y_true = np.array([index[label] for label in split.test[1]])
    y_pred = np.array([index.get(label, 0) for label in predicted])
    report = classification_report(y_true, y_pred, split.labels)
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def timed(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - started


def run_reviewclf(kind: str, split: Split, work: Path, job: dict) -> dict:
    """fit_once -> run dir -> verified bundle -> Predictor on the raw test texts."""
    import torch

    from reviewclf.export.bundle_writer import export_bundle
    from reviewclf.runtime.predictor import Predictor
    from reviewclf.training.config import TrainConfig
    from reviewclf.training.run import fit_once, write_run

    torch.set_num_threads(job["threads"])
    candidates = NGRAM_CANDIDATES if kind == "ngram" and not job["ngram_overrides"] else ({},)
    fits = []
    for candidate in candidates:
        params = {**REVIEWCLF[kind], **candidate}
        if kind == "ngram":
            params.update({**NGRAM_TASK_SETTINGS.get(split.task, {}), **job["ngram_overrides"]})
        if job["epochs"] is not None:
            params["epochs"] = min(job["epochs"], params.get("epochs", TrainConfig.epochs))
        config = TrainConfig(model=kind, seed=SEED, device="cpu", out=str(work / "run"), **params)
        outcome, train_s = timed(fit_once, config, *split.train, *split.val, [], [], log)
        fits.append((outcome.metrics["val"]["accuracy"], train_s, config, outcome))
    search = [{"val_accuracy": f[0], "train_s": f[1], "ngrams": f[2].ngrams, "batch_size": f[2].batch_size,
               "word_dropout": f[2].word_dropout}
              for f in fits]
    _, train_s, config, outcome = max(fits, key=lambda f: f[0])
    write_run(work / "run", config, outcome, force=True)
    _, export_s = timed(export_bundle, work / "run", work / "bundle", log=log)
    predictor = Predictor.load(work / "bundle", threads=job["threads"])
    predictions, predict_s = timed(predictor.predict, split.test[0])
    size = sum((work / "bundle" / name).stat().st_size for name in ("model.onnx", "tokenizer.json"))
    return {"train_s": train_s, "predict_s": predict_s, "size_bytes": size, "size_note": "model.onnx + tokenizer",
            "predicted": [p.label for p in predictions],
            "extra": {"export_s": export_s, "epochs_run": outcome.metrics["epochs_run"], "search": search,
                      "best_epoch": outcome.metrics["best_epoch"], "vocab_size": outcome.model_info["vocab_size"],
                      "config": {k: v for k, v in config.to_dict().items() if k not in ("data", "test_data", "out")}}}


def run_fasttext(word_ngrams: int, split: Split, work: Path, job: dict) -> dict:
    import fasttext

    prepare = one_line if job["fasttext_raw"] else fasttext_normalize
    path = work / "train.ft.txt"

    def train() -> Any:
        write_fasttext_file(path, *split.train, SEED, prepare)
        return fasttext.train_supervised(input=str(path), wordNgrams=word_ngrams, thread=job["threads"],
                                         verbose=0, **FASTTEXT)

    model, train_s = timed(train)
    model.save_model(str(work / "model.bin"))
    predicted, predict_s = timed(fasttext_labels, model, split.test[0], prepare)
    return {"train_s": train_s, "predict_s": predict_s, "size_bytes": (work / "model.bin").stat().st_size,
            "size_note": ".bin", "predicted": predicted,
            "extra": {"normalized": not job["fasttext_raw"], "wordNgrams": word_ngrams, **FASTTEXT}}


def fasttext_labels(model: Any, texts: list[str], prepare: Any = fasttext_normalize) -> list[str]:
    """fastText's label for each text (prepared as in training)."""
    found, _ = model.predict([prepare(t) for t in texts], k=1)
    fallback = model.labels[0]  # an empty text gets no label: count it as the most frequent one
    return [(f[0] if f else fallback).removeprefix("__label__") for f in found]


def sklearn_pipeline(c: float, n_labels: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    solver = "liblinear" if n_labels == 2 else "saga"
    return Pipeline([("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
                     ("lr", LogisticRegression(C=c, solver=solver, max_iter=1000))])


def choose_c(split: Split) -> tuple[float, dict[str, float], float]:
    """The C with the best validation accuracy (vectorizer fitted once, one LR per C)."""
    started = time.perf_counter()
    pipe = sklearn_pipeline(1.0, len(split.labels))
    features = pipe.named_steps["tfidf"].fit_transform(split.train[0])
    val_features = pipe.named_steps["tfidf"].transform(split.val[0])
    accuracy = {}
    for c in SKLEARN_C_GRID:
        model = pipe.named_steps["lr"].set_params(C=c).fit(features, split.train[1])
        accuracy[str(c)] = float(np.mean(model.predict(val_features) == np.array(split.val[1])))
    best = max(SKLEARN_C_GRID, key=lambda c: accuracy[str(c)])
    return best, accuracy, time.perf_counter() - started


def sklearn_size(pipe: Any, texts: list[str], work: Path) -> tuple[int, str]:
    """Bytes of the skl2onnx export (checked in ONNX Runtime), else of the pickle, with a note saying which."""
    try:
        import onnxruntime as ort
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import StringTensorType
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        options = {TfidfVectorizer: {"locale": "C.UTF-8"}, LogisticRegression: {"zipmap": False}}
        model = to_onnx(pipe, initial_types=[("input", StringTensorType([None, 1]))], options=options)
        data = model.SerializeToString()
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        sample = texts[:500]
        labels = session.run(None, {"input": np.array(sample, dtype=object).reshape(-1, 1)})[0]
        agree = float(np.mean(np.asarray(labels) == pipe.predict(sample)))
        (work / "model.onnx").write_bytes(data)
        return len(data), f"skl2onnx ONNX (labels agree with sklearn on {100 * agree:.1f}% of {len(sample)})"
    except Exception as exc:  # any conversion or runtime failure: fall back to the pickle
        path = work / "model.pkl"
        path.write_bytes(pickle.dumps(pipe, protocol=pickle.HIGHEST_PROTOCOL))
        reason = " ".join(str(exc).split())[:120]
        return path.stat().st_size, f"pickle (skl2onnx failed: {type(exc).__name__}: {reason})"


def run_sklearn(split: Split, work: Path, job: dict) -> dict:
    best_c, val_accuracy, search_s = choose_c(split)
    pipe = sklearn_pipeline(best_c, len(split.labels))
    _, train_s = timed(pipe.fit, *split.train)
    predicted, predict_s = timed(pipe.predict, split.test[0])
    size, note = sklearn_size(pipe, split.test[0], work)
    return {"train_s": train_s, "predict_s": predict_s, "size_bytes": size, "size_note": note,
            "predicted": [str(p) for p in predicted],
            "extra": {"C": best_c, "val_accuracy_by_C": val_accuracy, "search_s": search_s,
                      "solver": pipe.named_steps["lr"].solver, "features": len(pipe.named_steps["tfidf"].vocabulary_)}}


def run_worker(job_path: str) -> None:
    """One system on one task, in this fresh process; writes its result JSON."""
    job = json.loads(Path(job_path).read_text())
    with open(job["split"], "rb") as handle:
        split: Split = pickle.load(handle)
    system, work = job["system"], Path(job["work"])
    work.mkdir(parents=True, exist_ok=True)
    if system == "data-only":
        result: dict[str, Any] = {}
    elif system in REVIEWCLF:
        result = run_reviewclf(system, split, work, job)
    elif system.startswith("fasttext-"):
        result = run_fasttext(int(system.split("-")[1]), split, work, job)
    else:
        result = run_sklearn(split, work, job)
    if "predicted" in result:
        result.update(scores(split, result.pop("predicted")))
        result["reviews_per_s"] = len(split.test[0]) / result["predict_s"]
    Path(job["result"]).write_text(json.dumps(result))


# ---------------------------------------------------------------- orchestration


def run_system(system: str, split_path: Path, work: Path, args: argparse.Namespace) -> dict:
    """Start the worker for one system and return its result with the worker's peak RSS."""
    job = {"system": system, "split": str(split_path), "work": str(work / system),
           "result": str(work / f"{system}.json"), "threads": args.threads, "epochs": args.epochs,
           "ngram_overrides": args.ngram_overrides, "fasttext_raw": args.fasttext_raw}
    job_path = work / f"{system}.job.json"
    job_path.write_text(json.dumps(job))
    command = [sys.executable, str(Path(__file__).resolve()), WORKER, str(job_path)]
    log(f"--- {split_path.stem}: {system}")
    child = check(run_child(command, quiet=False), command)
    return {"system": system, **json.loads(Path(job["result"]).read_text()), "peak_rss_mb": child.peak_rss_mb}


def run_task(task: str, args: argparse.Namespace, work: Path) -> dict:
    split, load_s = timed(load_task, task, args.data_dir, args.limit)
    log(f"=== {task}: train {len(split.train[0])}, val {len(split.val[0])}, test {len(split.test[0])}, "
        f"labels {split.labels} (read in {load_s:.1f}s)")
    task_dir = work / task
    task_dir.mkdir(parents=True)
    split_path = task_dir / f"{task}.pkl"
    with open(split_path, "wb") as handle:
        pickle.dump(split, handle, protocol=pickle.HIGHEST_PROTOCOL)
    rows = [run_system(system, split_path, task_dir, args) for system in ["data-only", *args.models]]
    return {"task": task, "labels": split.labels,
            "n": {"train": len(split.train[0]), "val": len(split.val[0]), "test": len(split.test[0])},
            "results": rows}


def print_task(report: dict) -> None:
    n = report["n"]
    print(f"\n### {report['task']} (train {n['train']:,}, val {n['val']:,}, test {n['test']:,}; "
          f"labels: {', '.join(report['labels'])})\n")
    headers = ["system", "test acc", "macro-F1", "train s", "predict reviews/s", "size MB", "peak RSS MB"]
    rows, notes = [], []
    for r in report["results"]:
        if r["system"] == "data-only":
            rows.append(["(data only: the floor)", None, None, None, None, None, r["peak_rss_mb"]])
            continue
        name = SYSTEMS[r["system"]]
        if r["size_note"].startswith("pickle"):
            name += " *"
            notes.append(f"* size of the pickle: {r['size_note']}")
        rows.append([name, r["accuracy"], r["macro_f1"], r["train_s"], r["reviews_per_s"],
                     r["size_bytes"] / 2**20, r["peak_rss_mb"]])
    print(markdown_table(headers, rows))
    for r in report["results"]:
        if r["system"] == "tfidf-lr":
            extra = r["extra"]
            notes.append(f"sklearn: C={extra['C']} chosen on val (search {extra['search_s']:.1f}s, not in train s), "
                         f"{extra['solver']}, {extra['features']:,} features; size: {r['size_note']}")
        if r["system"] == "ngram" and len(r["extra"].get("search", [])) > 1:
            tried = ", ".join(f"{c['ngrams']}-grams/batch {c['batch_size']}/word dropout {c['word_dropout']}: "
                              f"val {c['val_accuracy']:.4f}" for c in r["extra"]["search"])
            notes.append(f"reviewclf ngram: settings chosen on val ({tried}); train s is the chosen fit")
    for note in notes:
        print(f"\n{note}")


def print_methods(args: argparse.Namespace) -> None:
    notes = [
        f"All systems train on the same train part (val = stratified {VAL_FRACTION:.0%} of train, seed {SEED}; "
        "SST-2: stsa.binary.dev).",
        f"{args.threads} threads for torch (reviewclf trains on the CPU), ONNX Runtime and fastText training.",
        "train s = fit only (reviewclf: tokenizer + encoding + epochs; fastText: write file + train; "
        "sklearn: final pipeline fit).",
        "predict reviews/s = raw texts in memory -> labels, model loaded (fastText's normalization included; "
        "sklearn single-threaded).",
        "peak RSS = ru_maxrss of a fresh process per system (data loading + training + export + prediction).",
    ]
    print("\n" + "\n".join(f"- {note}" for note in notes))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == WORKER:
        run_worker(sys.argv[2])
        return
    args = parse_args()
    with scratch_dir("compare-", args.keep) as work:
        reports = []
        for task in args.tasks:
            reports.append(run_task(task, args, work))
            print_task(reports[-1])
            sys.stdout.flush()
        print_methods(args)
        write_json(args.json, {"benchmark": "compare", "machine": machine(), "limit": args.limit,
                               "epochs_cap": args.epochs, "threads": args.threads, "reviewclf": REVIEWCLF,
                               "ngram_overrides": args.ngram_overrides, "fasttext": FASTTEXT,
                               "fasttext_normalized": not args.fasttext_raw,
                               "sklearn_c_grid": SKLEARN_C_GRID, "tasks": reports})


if __name__ == "__main__":
    main()
