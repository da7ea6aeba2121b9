"""Accuracy that holds on reviews nobody tuned for: every system on the same train/val/test rows of each data set
in ../shared/data and of transfer tasks (train on one set, test on another of the same kind), one table.

Systems (``--systems``, default all):

* ``perceptron``, ``mlp``, ``ngram``: reviewclf with its defaults, as ``reviewclf train --model X`` (``fit_once``:
  early stopping on the validation part, scored on test in torch; export reproduces those probabilities).
* ``autotune``: reviewclf ``--autotune`` with each budget of ``--budgets`` (seconds; ``autotune_fit``).
* ``tfidf-lr``: compare.py's TF-IDF(1,2) + LogisticRegression with C chosen on validation.
* ``fasttext``: fastText's defaults (wordNgrams 1, epoch 5, lr 0.1, dim 100), compare.py's text preparation.
* ``fasttext-autotune``: fastText's ``autotuneValidationFile`` on the same validation part, same budgets.

Tasks (``--tasks``; ``--quick``: the small ones with budget 30 s): in-domain data sets, test = a stratified 20%
(seed 1337) unless the set has its own test part; transfer tasks train on the first set (validation carved from
it) and test on all of the second. Validation = stratified 10% of train for every system (SST-2: stsa.binary.dev).
Columns: test accuracy and macro-F1 (the project's metrics for every system), train seconds (fit only; search
included for autotune and for sklearn's choice of C). The summary gives each system's worst gap to the best
peer (TF-IDF+LR, fastText, fastText autotune) over the tasks run.

Run:
    python benchmarks/generalization.py --quick
    python benchmarks/generalization.py --tasks cr,yelp10k-augpe --budgets 60,300 --out benchmarks/results/g.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import compare
import fasttext_autotune
from common import DATA, fasttext_normalize, log, machine, markdown_table, scratch_dir, write_fasttext_file, write_json
from compare import POLARITY, SEED, STARS, Split, TaskData, Texts, as_split, pick, timed

SUFFIX_NAMES = {"neg": "negative", "pos": "positive"}
UCI_NAMES = {"0": "negative", "1": "positive"}
TEST_FRACTION = 0.20
REVIEWCLF = ("perceptron", "mlp", "ngram")
PEERS = ("tfidf-lr", "fasttext", "fasttext-autotune")
SYSTEMS = (*REVIEWCLF, "autotune", *PEERS)
QUICK_TASKS = ("uci", "cr", "mr")


def relabel(part: Texts, names: dict[str, str]) -> Texts:
    return part[0], [names[label] for label in part[1]]


def held_out(part: Texts) -> TaskData:
    """An in-domain task: a stratified 20% test part (seed 1337); validation is carved from the rest later."""
    from reviewclf.training.splits import stratified_split

    rows = stratified_split(part[1], 0.0, TEST_FRACTION, SEED)
    return tuple(pick(rows["train"], *part)), None, tuple(pick(rows["test"], *part))


def lines(data_dir: Path, folder: str, names: tuple[str, str], encoding: str = "utf-8") -> Texts:
    """A one-text-per-line data set labelled by file suffix (.neg / .pos)."""
    from reviewclf.io.labeled import read_many

    data = read_many([data_dir / folder / name for name in names], encoding=encoding)
    return relabel((data.texts, data.labels), SUFFIX_NAMES)


def uci(data_dir: Path) -> Texts:
    from reviewclf.io.labeled import read_many

    files = ("amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt")
    data = read_many([data_dir / "uci-sentences" / f for f in files], format="tabbed")
    return relabel((data.texts, data.labels), UCI_NAMES)


def imdb_named(data_dir: Path) -> TaskData:
    train, _, test = compare.imdb(data_dir)
    return relabel(train, SUFFIX_NAMES), None, relabel(test, SUFFIX_NAMES)


def yelp_both(data_dir: Path) -> Texts:
    a, b = compare.yelp_sets(data_dir, POLARITY)
    return a[0] + b[0], a[1] + b[1]


def cr(data_dir: Path) -> Texts:
    return lines(data_dir, "customer-reviews", ("custrev.neg", "custrev.pos"))


def sst2(data_dir: Path) -> TaskData:
    folder = data_dir / "sst2"
    return tuple(compare.stsa(folder / f"stsa.binary.{name}") for name in ("train", "dev", "test"))  # type: ignore


TASKS: dict[str, Callable[[Path], TaskData]] = {
    "imdb": imdb_named,
    "yelp10k-polarity": lambda d: held_out(compare.yelp_sets(d, POLARITY)[0]),
    "yelp10k-stars": lambda d: held_out(compare.yelp_sets(d, STARS)[0]),
    "augpe-polarity": lambda d: held_out(compare.yelp_sets(d, POLARITY)[1]),
    "sst2": sst2,
    "mr": lambda d: held_out(lines(d, "rt-polarity", ("rt-polarity.neg", "rt-polarity.pos"), "latin-1")),
    "cr": lambda d: held_out(cr(d)),
    "uci": lambda d: held_out(uci(d)),
    # transfer: another Yelp sample and year, products, movies
    "yelp10k-augpe": lambda d: (compare.yelp_sets(d, POLARITY)[0], None, compare.yelp_sets(d, POLARITY)[1]),
    "augpe-yelp10k": lambda d: (compare.yelp_sets(d, POLARITY)[1], None, compare.yelp_sets(d, POLARITY)[0]),
    "yelp-cr": lambda d: (yelp_both(d), None, cr(d)),
    "yelp-imdb": lambda d: (yelp_both(d), None, imdb_named(d)[2]),
}


# ---------------------------------------------------------------- systems (in this process)


def report_scores(report: dict[str, Any]) -> dict[str, float]:
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def parse_variant(name: str) -> tuple[str, dict[str, Any]]:
    """``ngram:weight_decay=1e-5,ngrams=2`` -> ("ngram", {...}), values typed as TrainConfig's (compare.py's)."""
    from reviewclf.training.config import TrainConfig

    kind, _, spec = name.partition(":")
    defaults = TrainConfig(model=kind).to_dict()
    values = {}
    for item in filter(None, spec.split(",")):
        key, _, raw = item.partition("=")
        values[key] = compare.typed(raw, defaults[key])
    return kind, values


def run_reviewclf(name: str, split: Split, args: argparse.Namespace) -> dict[str, Any]:
    """A model kind with its defaults, or a variant of them (``--variants``)."""
    from reviewclf.training.config import TrainConfig
    from reviewclf.training.run import fit_once

    kind, overrides = parse_variant(name)
    # a variant may set the seed too (a second seed measures the noise of a setting)
    config = TrainConfig(**{"model": kind, "seed": SEED, "device": "cpu", "epochs": args.epochs, **overrides})
    outcome, seconds = timed(fit_once, config, *split.train, *split.val, *split.test, lambda _: None)
    return {**report_scores(outcome.metrics["test"]), "train_s": seconds,
            "extra": {"epochs_run": outcome.metrics["epochs_run"], "best_epoch": outcome.metrics["best_epoch"]}}


def run_autotune(budget: float, split: Split, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The search (and with ``--refit`` its refit on train + val: the two choices of final model)."""
    from reviewclf.training.autotune import autotune_fit
    from reviewclf.training.config import TrainConfig
    from reviewclf.training.prepare import Preparer

    config = TrainConfig(autotune=True, autotune_budget=budget, seed=SEED, device="cpu", epochs=args.epochs)
    prepare = Preparer.of_lists(*split.train, *split.val, *split.test, lambda _: None)
    tuned, seconds = timed(autotune_fit, config, prepare, log=lambda _: None)
    chosen = {key: getattr(tuned.config, key) for key in ("model", "lr", "batch_size", "weight_decay", "min_freq",
                                                          "word_dropout", "dropout", "dim", "ngrams", "buckets")}
    summary = {k: tuned.summary[k] for k in ("trials", "pruned", "best_trial", "top_trial", "chosen_by", "stopped_by")}
    result = {**report_scores(tuned.outcome.metrics["test"]), "train_s": seconds,
              "extra": {**summary, "chosen": chosen}}  # a summary, not every trial: thousands at 300 s
    if not args.refit:
        return [result]
    return [result, refit(tuned, split, seconds)]


def refit(tuned: Any, split: Split, search_s: float) -> dict[str, Any]:
    """The other choice for the final model: the chosen settings refitted on train + val for the chosen trial's
    best epoch count (no early stopping: val is in the training data; the lr schedule still watches it)."""
    from dataclasses import replace

    from reviewclf.training.run import fit_once

    epochs = max(int(tuned.outcome.metrics["best_epoch"] or 1), 1)
    config = replace(tuned.config, autotune=False, epochs=epochs, patience=0)
    texts, labels = split.train[0] + split.val[0], split.train[1] + split.val[1]
    outcome, seconds = timed(fit_once, config, texts, labels, *split.val, *split.test, lambda _: None)
    return {**report_scores(outcome.metrics["test"]), "train_s": search_s + seconds, "extra": {"epochs": epochs}}


def run_sklearn(split: Split, args: argparse.Namespace) -> dict[str, Any]:
    best_c, val_accuracy, search_s = compare.choose_c(split)
    pipe = compare.sklearn_pipeline(best_c, len(split.labels))
    _, fit_s = timed(pipe.fit, *split.train)
    predicted = [str(p) for p in pipe.predict(split.test[0])]
    return {**compare.scores(split, predicted), "train_s": search_s + fit_s,
            "extra": {"C": best_c, "val_accuracy_by_C": val_accuracy}}


def run_fasttext(split: Split, work: Path, args: argparse.Namespace, budget: float | None = None
                 ) -> dict[str, Any] | str:
    """fastText defaults (``budget`` None, compare.py's runner) or its autotune on our validation part (in a child
    process with a memory cap: the reason it has no result when it went over)."""
    if budget is None:
        result = compare.run_fasttext(1, split, work, {"threads": args.threads, "fasttext_raw": False})
        return {**compare.scores(split, result["predicted"]), "train_s": result["train_s"], "extra": {}}
    prepare = fasttext_normalize
    started = time.perf_counter()
    train = write_fasttext_file(work / "train.ft.txt", *split.train, SEED, prepare)
    val = write_fasttext_file(work / "val.ft.txt", *split.val, SEED, prepare)
    written = time.perf_counter() - started
    searched = fasttext_autotune.autotune(train, val, budget, args.threads, work / f"autotune-{budget:g}.bin")
    if isinstance(searched, str):
        return searched
    model, seconds = searched
    args_of = model.f.getArgs()
    chosen = {name: getattr(args_of, name) for name in ("epoch", "lr", "dim", "wordNgrams", "minCount", "bucket")}
    return {**compare.scores(split, compare.fasttext_labels(model, split.test[0])), "train_s": written + seconds,
            "extra": {"chosen": chosen}}


def warm_up() -> None:
    """One tiny fit first, so that torch's one-time start-up is not charged to the first system timed."""
    from reviewclf.training.config import TrainConfig
    from reviewclf.training.run import fit_once

    texts, labels = ["good", "bad"] * 8, ["positive", "negative"] * 8
    fit_once(TrainConfig(epochs=1, device="cpu"), texts, labels, texts, labels, [], [], lambda _: None)


def run_system(system: str, split: Split, work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One system on one split: one result per budget for the searches."""
    work.mkdir(parents=True, exist_ok=True)
    if system.split(":")[0] in REVIEWCLF:
        return [{"system": system, **run_reviewclf(system, split, args)}]
    if system == "autotune":
        names = ("autotune-{:g}", "autotune-{:g}-refit")
        return [{"system": names[i].format(b), **r} for b in args.budgets
                for i, r in enumerate(run_autotune(b, split, args))]
    if system == "tfidf-lr":
        return [{"system": system, **run_sklearn(split, args)}]
    if system == "fasttext":
        return [{"system": system, **run_fasttext(split, work, args)}]
    searches = [(f"fasttext-autotune-{b:g}", run_fasttext(split, work, args, b)) for b in args.budgets]
    return [{"system": name, **r} if isinstance(r, dict) else {"system": name, "failed": r} for name, r in searches]


# ---------------------------------------------------------------- orchestration and tables


def run_task(task: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    split = as_split(task, TASKS[task](args.data_dir), args.limit)
    n = {"train": len(split.train[0]), "val": len(split.val[0]), "test": len(split.test[0])}
    log(f"=== {task}: train {n['train']}, val {n['val']}, test {n['test']}, labels {split.labels}, "
        f"load {os.getloadavg()[0]:.1f}")
    rows, failed = [], []
    for system in args.systems:
        for result in run_system(system, split, work / task / system, args):
            if "failed" in result:
                log(f"  {result['system']:<24} no result: {result['failed']}")
                failed.append(result)
                continue
            log(f"  {result['system']:<24} acc {result['accuracy']:.4f}  macro-F1 {result['macro_f1']:.4f}  "
                f"{result['train_s']:.1f}s  (load {os.getloadavg()[0]:.1f})")
            rows.append({**result, "load": os.getloadavg()[0]})
    return {"task": task, "labels": split.labels, "n": n, "results": rows, "failed": failed}


def task_table(report: dict[str, Any]) -> str:
    n = report["n"]
    head = (f"#### {report['task']} (train {n['train']:,}, val {n['val']:,}, test {n['test']:,}; labels: "
            f"{', '.join(report['labels'])})\n\n")
    rows = [[r["system"], 100 * r["accuracy"], 100 * r["macro_f1"], r["train_s"], r["load"]]
            for r in report["results"]]
    failed = "".join(f"\n\n{r['system']}: no result, {r['failed']}" for r in report.get("failed", []))
    return head + markdown_table(["system", "test acc %", "macro-F1 %", "train s", "load"], rows) + failed


def summary_table(reports: list[dict[str, Any]]) -> str:
    """Test accuracy of every system on every task, and its worst gap to the best peer on the same task."""
    systems = list(dict.fromkeys(r["system"] for report in reports for r in report["results"]))
    by_task = {rep["task"]: {r["system"]: r for r in rep["results"]} for rep in reports}
    rows = []
    for system in systems:
        cells, gaps = [], []
        for task, results in by_task.items():
            result = results.get(system)
            peers = [r["accuracy"] for name, r in results.items() if name.startswith(PEERS)]
            cells.append(None if result is None else 100 * result["accuracy"])
            if result is not None and peers:
                gaps.append((100 * (result["accuracy"] - max(peers)), task))
        worst = min(gaps) if gaps else None
        rows.append([system, *cells, f"{worst[0]:+.2f}" if worst else None, worst[1] if worst else None])
    return markdown_table(["system", *by_task, "worst gap to best peer (points)", "worst task"], rows)


def lodo_table(reports: list[dict[str, Any]], candidates: list[str]) -> str:
    """Leave one task out: the candidate with the best mean test accuracy on the other tasks, scored on the
    task left out, against the best peer there. A default is good if it is good where it was not chosen."""
    accuracy = {rep["task"]: {r["system"]: r["accuracy"] for r in rep["results"]} for rep in reports}
    tasks = [t for t, results in accuracy.items() if all(c in results for c in candidates)]
    rows = []
    for held in tasks:
        others = [t for t in tasks if t != held]
        if not others:
            continue
        chosen = max(candidates, key=lambda c: sum(accuracy[t][c] for t in others) / len(others))
        peers = [a for name, a in accuracy[held].items() if name.startswith(PEERS)]
        best_peer = max(peers) if peers else None
        gap = None if best_peer is None else f"{100 * (accuracy[held][chosen] - best_peer):+.2f}"
        rows.append([held, chosen, 100 * accuracy[held][chosen], None if best_peer is None else 100 * best_peer, gap])
    table = markdown_table(["task left out", "chosen on the others", "its test acc %", "best peer %", "gap"], rows)
    gaps = [float(r[4]) for r in rows if r[4] is not None]
    return table + (f"\n\nworst case: {min(gaps):+.2f} points" if gaps else "")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated: {','.join(TASKS)}")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated: {','.join(SYSTEMS)}")
    parser.add_argument("--budgets", default="60,300", help="seconds, comma-separated (autotune, fastText autotune)")
    parser.add_argument("--quick", action="store_true", help=f"tasks {','.join(QUICK_TASKS)}, budget 30 s")
    parser.add_argument("--limit", type=int, default=None, help="subsample each task's train and test to N rows")
    parser.add_argument("--epochs", type=int, default=50, help="reviewclf's epoch cap (early stopping ends sooner)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch and fastText threads")
    parser.add_argument("--variants", default="", metavar="KIND:K=V,..;..",
                        help="more reviewclf systems: settings against the defaults, e.g. 'ngram:ngrams=2;ngram:"
                             "weight_decay=1e-5' (candidates of the leave-one-task-out choice)")
    parser.add_argument("--refit", action="store_true", help="also score autotune's choice refitted on train+val")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (fastText files)")
    parser.add_argument("--out", default=None, help="also write the tables to this markdown file")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.budgets = ",".join(QUICK_TASKS), "30"
    args.tasks = compare.split_names(parser, args.tasks, tuple(TASKS), "tasks")
    args.systems = compare.split_names(parser, args.systems, SYSTEMS, "systems")
    variants = [v.strip() for v in args.variants.split(";") if v.strip()]
    for variant in variants:
        if variant.split(":")[0] not in REVIEWCLF:
            parser.error(f"--variants: {variant!r} does not start with a model kind ({', '.join(REVIEWCLF)})")
    at = max((i + 1 for i, name in enumerate(args.systems) if name in REVIEWCLF), default=0)
    args.systems[at:at] = variants
    args.budgets = [float(b) for b in args.budgets.split(",") if b.strip()]
    return args


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    warm_up()
    started, reports, text = time.perf_counter(), [], []
    with scratch_dir("generalization-", args.keep) as work:
        for task in args.tasks:
            reports.append(run_task(task, args, work))
            text.append(task_table(reports[-1]))
            print("\n" + text[-1], flush=True)
    text.append("#### all tasks: test accuracy %, and the worst case\n\n" + summary_table(reports))
    candidates = [name for name in args.systems if name.split(":")[0] in REVIEWCLF]
    ngrams = [name for name in candidates if name.startswith("ngram")]
    for title, group in (("the default model", candidates), ("the ngram settings", ngrams)):
        if len(group) > 1 and len(reports) > 2:
            text.append(f"#### leave one task out: {title} ({', '.join(group)})\n\n" + lodo_table(reports, group))
    print("\n" + "\n\n".join(text[len(reports):]))
    note = (f"{machine()['cpus']} CPUs, {args.threads} threads, load average at the end "
            f"{os.getloadavg()[0]:.1f}; {time.perf_counter() - started:.0f} s in all; budgets {args.budgets} s; "
            f"limit {args.limit}; command: python benchmarks/generalization.py {' '.join(sys.argv[1:])}")
    print("\n" + note)
    if args.out:
        Path(args.out).write_text("\n\n".join(text + [note]) + "\n")
    write_json(args.json, {"benchmark": "generalization", "machine": machine(), "args": {
        k: v for k, v in vars(args).items() if k != "data_dir"}, "tasks": reports})


if __name__ == "__main__":
    main()
