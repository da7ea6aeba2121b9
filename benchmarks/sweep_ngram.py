"""Hyper-parameter sweep of the ngram model on compare.py's splits: one JSON line per (task, settings) fit.

Settings are chosen on the validation accuracy it prints; test accuracy is printed beside it to report, not
to choose with. Built for a GPU, where an IMDB fit takes ~12 s (about 2.5 min on this 2-core CPU): the plan
runs in order until ``--budget`` seconds have passed, so the first entries should be the important ones.
``imdb-cli`` is IMDB with the 15% validation part ``reviewclf train`` carves, instead of compare.py's 10%.

Run (from the project root):
    python benchmarks/sweep_ngram.py PLAN.json --device cuda --budget 200 --out sweep.jsonl
PLAN.json: ``[["imdb", {}], ["imdb", {"batch_size": 512}], ["sst2", {"seed": 1}], ...]`` (TrainConfig fields).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import compare
import torch
from common import DATA, log

from reviewclf.training.config import TrainConfig
from reviewclf.training.run import fit_once


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("plan", type=Path, help="JSON list of [task, {TrainConfig overrides}]")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--budget", type=float, default=600.0, help="start no fit after this many seconds")
    parser.add_argument("--limit", type=int, default=None, help="subsample each part (quick trials)")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=None, help="also append the JSON lines to this file")
    return parser.parse_args()


def load(task: str, data_dir: Path, limit: int | None) -> compare.Split:
    """compare.py's split of the task; ``imdb-cli`` carves the validation fraction `reviewclf train` uses."""
    if task == "imdb-cli":
        return compare.load_task("imdb", data_dir, limit, TrainConfig.val_fraction)
    return compare.load_task(task, data_dir, limit)


def main() -> None:
    args = parse_args()
    plan = [(task, dict(overrides)) for task, overrides in json.loads(args.plan.read_text())]
    deadline = time.monotonic() + args.budget
    splits: dict[str, compare.Split] = {}
    for done, (task, overrides) in enumerate(plan):
        if time.monotonic() > deadline:
            log(f"budget spent: {len(plan) - done} of {len(plan)} fits not run")
            break
        if task not in splits:
            splits[task] = load(task, args.data_dir, args.limit)
        split = splits[task]
        config = TrainConfig(model="ngram", device=args.device,
                             **{**compare.REVIEWCLF["ngram"], "seed": compare.SEED, **overrides})
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        metrics = fit_once(config, *split.train, *split.val, *split.test, lambda _: None).metrics
        line = json.dumps({"task": task, "overrides": overrides, "val": metrics["val"]["accuracy"],
                           "test": metrics["test"]["accuracy"], "test_macro_f1": metrics["test"]["macro_f1"],
                           "epochs": metrics["epochs_run"], "best_epoch": metrics["best_epoch"],
                           "seconds_per_epoch": metrics.get("seconds_per_epoch"),
                           "seconds": time.perf_counter() - started})
        print(line, flush=True)
        if args.out:
            with args.out.open("a") as handle:
                handle.write(line + "\n")


if __name__ == "__main__":
    main()
