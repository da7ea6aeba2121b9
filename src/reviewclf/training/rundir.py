"""The run directory (docs/run-directory.md): the one writer (``write_run_dir``) and the one reader
(``RunDir.open``) of what ``reviewclf train`` leaves and ``reviewclf export`` reads.

``RunDir.open`` checks every required file up front, so a missing or damaged run is one error naming the file
before any export work starts.
"""

from __future__ import annotations

import csv
import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ReviewclfError
from ..io.atomic import replace_path, staging_dir
from ..runtime.encoding import TextEncoder
from .models import Classifier, build_model

RUN_CONFIG = "config.json"
RUN_MODEL = "model.json"
RUN_TOKENIZER = "tokenizer.json"
RUN_CHECKPOINT = "checkpoint.pt"
RUN_METRICS = "metrics.json"
RUN_HISTORY = "history.csv"
RUN_HELDOUT = "heldout.json"
RUN_CURVES = "curves.png"
RUN_CONFUSION = "confusion.png"
RUN_TRIALS = "trials.csv"  # autotuned runs only, as RUN_TRIALS_PLOT
RUN_TRIALS_PLOT = "trials.png"
RUN_RESUME = "resume.pt"  # interrupted runs only: what ``reviewclf train --resume`` continues from
REQUIRED_FILES = (RUN_CONFIG, RUN_MODEL, RUN_TOKENIZER, RUN_CHECKPOINT, RUN_METRICS, RUN_HELDOUT)
MODEL_FIELDS = ("kind", "hyperparameters", "labels", "vocab_size", "n_outputs", "max_length")
HISTORY_FIELDS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_macro_f1", "lr", "seconds"]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReviewclfError(f"{path.parent}: not a run directory (no {path.name})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReviewclfError(f"{path}: cannot read the file ({type(exc).__name__})") from None


def _read_json(path: Path, kind: type) -> Any:
    try:
        value = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise ReviewclfError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(value, kind):
        raise ReviewclfError(f"{path}: expected a JSON {kind.__name__}")
    return value


@dataclass
class RunDir:
    """A checked run directory: its JSON files parsed, its tokenizer and model loaded."""

    path: Path
    config: dict[str, Any]
    model_info: dict[str, Any]
    metrics: dict[str, Any]
    heldout_texts: list[str]
    tokenizer_json: str
    _model: Classifier = field(repr=False)

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """Read and check every required file; raise one ``ReviewclfError`` naming the first bad one."""
        path = Path(path)
        if not path.is_dir():
            why = "no such directory" if not path.exists() else "not a directory"
            raise ReviewclfError(f"{path}: not a run directory ({why})")
        for name in REQUIRED_FILES:
            if not (path / name).is_file():
                raise ReviewclfError(f"{path}: not a run directory (no {name})")
        model_info = _read_json(path / RUN_MODEL, dict)
        missing = [key for key in MODEL_FIELDS if key not in model_info]
        if missing:
            raise ReviewclfError(f"{path / RUN_MODEL}: missing {', '.join(missing)}")
        heldout = _read_json(path / RUN_HELDOUT, dict)
        if not (isinstance(heldout.get("texts"), list) and all(isinstance(t, str) for t in heldout["texts"])):
            raise ReviewclfError(f"{path / RUN_HELDOUT}: needs 'texts', a list of strings")
        tokenizer_json = _read_text(path / RUN_TOKENIZER)
        try:
            TextEncoder.from_str(tokenizer_json)
        except ReviewclfError as exc:
            raise ReviewclfError(f"{path / RUN_TOKENIZER}: {exc}") from None
        return cls(path, _read_json(path / RUN_CONFIG, dict), model_info, _read_json(path / RUN_METRICS, dict),
                   list(heldout["texts"]), tokenizer_json, _load_model(path / RUN_CHECKPOINT, model_info))

    @property
    def labels(self) -> list[str]:
        return list(self.model_info["labels"])

    def load_model(self) -> Classifier:
        """The trained classifier (CPU, eval mode, in its exported form), rebuilt from model.json and the
        weights-only checkpoint when the run was opened."""
        return self._model


def _load_model(checkpoint: Path, model_info: dict[str, Any]) -> Classifier:
    try:
        model = build_model(model_info["kind"], model_info["vocab_size"], model_info["n_outputs"],
                            model_info["hyperparameters"])
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        model.prepare_for_export()
    except Exception as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ReviewclfError(f"{checkpoint}: cannot load checkpoint ({detail})") from None
    return model.eval()


def refuse_existing(out: Path, force: bool) -> None:
    """A non-empty run directory is only replaced with ``--force`` (checked before training and again
    before writing)."""
    if out.exists() and not out.is_dir():
        raise ReviewclfError(f"{out} exists and is not a directory; give the run directory another name")
    if out.exists() and any(out.iterdir()) and not force:
        raise ReviewclfError(f"{out} already exists; pass --force to replace it")


def write_run_dir(
    out: Path, *, config: dict[str, Any], model_info: dict[str, Any], tokenizer_json: str, model: nn.Module,
    metrics: dict[str, Any], heldout_texts: list[str], history: list[dict[str, float]], force: bool,
    trials: list[dict[str, Any]] | None = None, trials_metric: str = "val_accuracy", work: Path | None = None,
) -> None:
    """Write the run directory atomically: into a temporary sibling (``work``, the run's work area, or a new
    one), renamed into place at the end. ``trials`` (an autotuned run): one row per trial in trials.csv, and
    ``trials_metric`` plotted by trial. The resume state in ``work`` stays only in an interrupted run."""
    refuse_existing(out, force)
    with ExitStack() as stack:
        tmp = work if work is not None else stack.enter_context(staging_dir(out))
        if metrics.get("stopped_by") != "interrupted":
            (tmp / RUN_RESUME).unlink(missing_ok=True)
        (tmp / RUN_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        (tmp / RUN_MODEL).write_text(json.dumps(model_info, indent=2) + "\n")
        (tmp / RUN_TOKENIZER).write_text(tokenizer_json)
        torch.save(model.state_dict(), tmp / RUN_CHECKPOINT)
        (tmp / RUN_METRICS).write_text(json.dumps(metrics, indent=2) + "\n")
        (tmp / RUN_HELDOUT).write_text(json.dumps({"texts": heldout_texts}, ensure_ascii=False) + "\n")
        _write_csv(tmp / RUN_HISTORY, HISTORY_FIELDS, history)
        if trials:
            _write_csv(tmp / RUN_TRIALS, list(trials[0]), trials)
        from . import plots  # looked up at call time: matplotlib is only imported by a run that writes

        plots.plot_curves(history, tmp / RUN_CURVES)
        if trials:
            plots.plot_trials(trials, trials_metric, tmp / RUN_TRIALS_PLOT)
        report = metrics.get("test") or metrics.get("val")
        if report:
            plots.plot_confusion(report, tmp / RUN_CONFUSION)
        replace_path(tmp, out)


def _write_csv(path: Path, fieldnames: list[str], rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
