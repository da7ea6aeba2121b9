"""Training speed and accuracy of reviewclf's models on IMDB (aclImdb, canonical 25k train / 25k test).

For each model kind it reports the device, the epochs run (early stopping on a validation part carved from
train with the project's own ``carve_validation``, 15% stratified, seed 1337), the mean seconds per epoch
(``history``), the whole ``fit_once`` time on train and validation (tokenizer fitting, encoding, NB init,
training with its validation passes), then the seconds to encode and score the test reviews, and test
accuracy and macro-F1 of the best checkpoint (eager PyTorch).

It calls ``reviewclf.training.run.fit_once`` directly, which writes nothing (no run directory, so no
matplotlib), and needs only the project and torch: the same command runs on a CUDA machine unchanged
(``--device auto`` picks the GPU). Hyper-parameters are the CLI's defaults (``TrainConfig`` with its
per-model defaults).

Run (full size, from the project root):
    python benchmarks/train_imdb.py                          # perceptron, mlp, ngram; --device auto
    python benchmarks/train_imdb.py --models ngram --bf16 --compile --json benchmarks/results/imdb-gpu.json
Quick trial:
    python benchmarks/train_imdb.py --limit 2000 --epochs 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import (
    DATA,
    comma_list,
    fasttext_normalize,
    log,
    machine,
    markdown_table,
    pick,
    subsample,
    write_fasttext_file,
    write_json,
)

from reviewclf.allocator import reuse_freed_memory
from reviewclf.io.labeled import read_labeled
from reviewclf.runtime.encoding import TextEncoder
from reviewclf.training.config import TrainConfig
from reviewclf.training.encoded_set import EncodedSet
from reviewclf.training.loop import resolve_device
from reviewclf.training.run import RunOutcome, fit_once, split_report
from reviewclf.training.splits import carve_validation

MODELS = ("perceptron", "mlp", "ngram")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: perceptron,mlp,ngram")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--epochs", type=int, default=None, help="default: TrainConfig's (20, early stopping)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: TrainConfig's (128)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--limit", type=int, default=None, help="subsample train and test to N reviews each")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--fasttext", action="store_true",
                        help="also fastText (wordNgrams 2, dim 10, epoch 5, 2 threads) on the same rows")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args()
    args.models = comma_list(args.models)
    unknown = set(args.models) - set(MODELS)
    if unknown:
        parser.error(f"unknown models: {', '.join(sorted(unknown))}")
    return args


def load_imdb(data_dir: Path, limit: int | None, seed: int) -> dict[str, tuple[list[str], list[str]]]:
    """Train and test (texts, labels) of the canonical split, optionally subsampled."""
    started = time.perf_counter()
    data = read_labeled(data_dir / "imdb" / "aclImdb.tar.gz")
    parts = {}
    for split in ("train", "test"):
        rows = [i for i, s in enumerate(data.splits or []) if s == split]
        rows = [rows[i] for i in subsample(len(rows), limit, seed)]
        parts[split] = tuple(pick(rows, data.texts, data.labels))
    log(f"read IMDB in {time.perf_counter() - started:.1f}s: "
        f"train {len(parts['train'][0])}, test {len(parts['test'][0])}")
    return parts


def make_config(model: str, args: argparse.Namespace) -> TrainConfig:
    config = TrainConfig(model=model, device=args.device, bf16=args.bf16, compile=args.compile, seed=args.seed)
    if args.epochs is not None:
        config.epochs = args.epochs
    if args.batch_size is not None:
        config.batch_size = args.batch_size
    return config


def split_train(parts: dict, config: TrainConfig) -> tuple[list[str], list[str], list[str], list[str]]:
    """Train and validation (texts, labels) carved from the canonical train split."""
    texts, labels = parts["train"]
    train_rows, val_rows = carve_validation(labels, np.arange(len(labels)), config.val_fraction, config.seed)
    return (*pick(train_rows, texts, labels), *pick(val_rows, texts, labels))  # type: ignore[return-value]


def train_one(model: str, parts: dict, args: argparse.Namespace) -> dict:
    """Fit one model with the project's training code and return its row of the table."""
    config = make_config(model, args)
    train_texts, train_labels, val_texts, val_labels = split_train(parts, config)
    log(f"--- {model}: train {len(train_texts)}, val {len(val_texts)}, test {len(parts['test'][0])}")
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    # the fit on its own (train and validation), as fastText's seconds are; the test set is scored after it
    outcome = fit_once(config, train_texts, train_labels, val_texts, val_labels, [], [], log)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    test = test_report(outcome, *parts["test"], config)
    test_seconds = time.perf_counter() - started
    metrics = outcome.metrics
    return {
        "model": model,
        "device": device_name(config.device),
        "epochs": metrics["epochs_run"],
        "best_epoch": metrics["best_epoch"],
        "stopped_by": metrics["stopped_by"],
        "seconds_per_epoch": metrics.get("seconds_per_epoch"),
        "train_seconds": seconds,
        "test_seconds": test_seconds,
        "test_accuracy": test["accuracy"],
        "test_macro_f1": test["macro_f1"],
        "vocab_size": outcome.model_info["vocab_size"],
        "config": {k: v for k, v in config.to_dict().items() if k not in ("data", "test_data")},
    }


def test_report(outcome: RunOutcome, texts: list[str], labels: list[str], config: TrainConfig) -> dict:
    """The trained model's classification report on the test texts, encoded with the run's tokenizer."""
    encoder = TextEncoder.from_str(outcome.tokenizer_json)
    index = {label: i for i, label in enumerate(outcome.labels)}
    targets = np.array([index[label] for label in labels], dtype=np.int64)
    test = EncodedSet.build(encoder.encode_flat(texts), targets, torch.device("cpu"))
    return split_report(outcome.model, test, outcome.labels, config)


def train_fasttext(parts: dict, args: argparse.Namespace) -> dict:
    """fastText's fast setting on the same training rows (its own normalization), timed from its file."""
    import fasttext  # the bench extra: only this row needs it

    train_texts, train_labels, _, _ = split_train(parts, make_config("ngram", args))
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        path = write_fasttext_file(Path(work) / "train.txt", train_texts, train_labels, args.seed, fasttext_normalize)
        model = fasttext.train_supervised(input=str(path), wordNgrams=2, dim=10, epoch=5, thread=2, verbose=0,
                                          seed=args.seed)
        seconds = time.perf_counter() - started
    test_texts, test_labels = parts["test"]
    found, _ = model.predict([fasttext_normalize(t) for t in test_texts], k=1)
    predicted = [f[0].removeprefix("__label__") if f else "" for f in found]
    accuracy = float(np.mean([p == t for p, t in zip(predicted, test_labels)]))
    return {"model": "fastText (wordNgrams 2, dim 10, 5 epochs, 2 threads)", "device": "cpu", "epochs": 5,
            "best_epoch": 5, "stopped_by": "epochs", "seconds_per_epoch": None, "train_seconds": seconds,
            "test_seconds": None, "test_accuracy": accuracy, "test_macro_f1": None, "vocab_size": len(model.words),
            "config": {}}


def device_name(requested: str) -> str:
    device = resolve_device(requested)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    n_train = "limit " + str(args.limit) if args.limit else "25k/25k"
    print(f"\n### IMDB ({n_train}), torch {torch.__version__}, bf16={args.bf16}, compile={args.compile}\n")
    headers = ["model", "device", "epochs (best)", "s/epoch", "fit s", "test s", "test acc", "macro-F1"]
    print(markdown_table(headers, [
        [r["model"], r["device"], f"{r['epochs']} ({r['best_epoch']})", r["seconds_per_epoch"],
         r["train_seconds"], r["test_seconds"], r["test_accuracy"], r["test_macro_f1"]]
        for r in rows
    ]))
    print("\nfit s = fit_once wall clock on train + val: tokenizer fit + encoding + (NB init) + epochs (each with its"
          " validation pass) + the final validation report; fastText: writing its training file + training."
          " test s = encoding and scoring the test reviews after the fit.")
    fasttext = next((r for r in rows if r["model"].startswith("fastText")), None)
    for row in rows:
        if fasttext is not None and row is not fasttext:
            print(f"{row['model']} / fastText fit: {row['train_seconds'] / fasttext['train_seconds']:.2f}x")


def main() -> None:
    args = parse_args()
    reuse_freed_memory()  # as `reviewclf train` does: this process is a training run too
    if args.threads:
        torch.set_num_threads(args.threads)
    device = device_name(args.device)
    log(f"device: {device}; torch {torch.__version__}; {torch.get_num_threads()} CPU threads")
    parts = load_imdb(args.data_dir, args.limit, args.seed)
    rows = [train_fasttext(parts, args)] if args.fasttext else []
    rows += [train_one(model, parts, args) for model in args.models]
    print_table(rows, args)
    write_json(args.json, {"benchmark": "train_imdb", "machine": machine(), "torch": torch.__version__,
                           "device": device, "limit": args.limit, "results": rows})


if __name__ == "__main__":
    main()
