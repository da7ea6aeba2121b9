"""The resume state of a fit: everything that decides the epochs still to come, written after every completed
epoch so that an interrupted run can be continued to the result an uninterrupted one would have reached.

The state is one ``torch.save`` of tensors and plain containers (weights, Adam moments, the schedule, the
early-stopping counters, the best checkpoint, the history, the random generators), so it loads with
``torch.load(weights_only=True)``: resuming never unpickles code.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..errors import ReviewclfError
from ..io.atomic import staging_file

if TYPE_CHECKING:
    from .encoded_set import EncodedSet
    from .loop import Fit, Progress

# 2: an ngram state holds the trained rows only (``NGram.keep_rows_with_evidence``), not the full table
STATE_FORMAT = 2
STATE_KEYS = ("format", "epoch", "data", "model", "optimizer", "scheduler", "early_stopping", "best", "history",
              "rng")


def data_digest(train: EncodedSet, val: EncodedSet) -> str:
    """A digest of the training and validation rows' lengths and labels: cheap, and enough to tell that the
    files named in config.json no longer hold the data the run began on."""
    digest = hashlib.sha256()
    for part in (train, val):
        for tensor in (part.lengths, part.targets):
            digest.update(tensor.cpu().numpy().tobytes())
    return digest.hexdigest()


def rng_states(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The generators the coming epochs draw from: the fit's own (batch order, word dropout) and torch's
    default one of the training device (dropout)."""
    states = {"generator": generator.get_state(), "torch": torch.get_rng_state()}
    if generator.device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(generator.device)
    elif generator.device.type == "mps":
        states["mps"] = torch.mps.get_rng_state()
    return states


def set_rng_states(generator: torch.Generator, states: dict[str, torch.Tensor]) -> None:
    generator.set_state(states["generator"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], generator.device)
    if "mps" in states:
        torch.mps.set_rng_state(states["mps"])


def snapshot(fit: Fit, progress: Progress, epoch: int, digest: str) -> dict[str, Any]:
    """The state after ``epoch`` completed epochs (0: before the first)."""
    return {"format": STATE_FORMAT, "epoch": epoch, "data": digest,
            "model": fit.model.state_dict(), "optimizer": fit.optimizer.state_dict(),
            "scheduler": progress.scheduler.state_dict(),
            "early_stopping": {"best": progress.stopper.best, "bad_epochs": progress.stopper.bad_epochs},
            "best": {"state": progress.best.state, "epoch": progress.best.epoch},
            "history": progress.history, "rng": rng_states(fit.generator)}


def restore(fit: Fit, progress: Progress, state: dict[str, Any]) -> int:
    """Put ``state`` back into a freshly started fit; the number of epochs it had completed."""
    fit.model.load_state_dict(state["model"])
    fit.optimizer.load_state_dict(state["optimizer"])
    progress.scheduler.load_state_dict(state["scheduler"])
    progress.stopper.best = float(state["early_stopping"]["best"])
    progress.stopper.bad_epochs = int(state["early_stopping"]["bad_epochs"])
    progress.best.state, progress.best.epoch = state["best"]["state"], state["best"]["epoch"]
    progress.history[:] = [dict(record) for record in state["history"]]
    set_rng_states(fit.generator, state["rng"])
    return int(state["epoch"])


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` over ``path`` atomically (io.atomic's staging file, renamed over it), so an interrupt
    during the write leaves the previous epoch's state whole. Not fsync'd: the state lives in the run's work
    area, which only a clean interrupt of this process keeps; a crash takes the work area with it."""
    with staging_file(path) as (temp, stream):
        torch.save(state, stream)
        stream.flush()
        os.replace(temp, path)


def _first_sentence(exc: BaseException) -> str:
    """The start of an error from torch, whose messages run over several lines of advice."""
    text = " ".join(str(exc).split())
    return text.split(". ")[0].rstrip(".") if text else type(exc).__name__


def read_state(path: Path) -> dict[str, Any]:
    """Load and check a resume state (weights only); one ``ReviewclfError`` naming ``path`` if it is missing
    or damaged."""
    if not path.is_file():
        raise ReviewclfError(f"{path}: no resume state (a run has one only when it was interrupted)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ReviewclfError(f"{path}: cannot load the resume state (it holds more than tensors and plain "
                             "values, refused by the weights-only load)") from None
    except Exception as exc:
        raise ReviewclfError(f"{path}: cannot load the resume state ({_first_sentence(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ReviewclfError(f"{path}: not a resume state of format {STATE_FORMAT}")
    missing = [key for key in STATE_KEYS if key not in state]
    if missing:
        raise ReviewclfError(f"{path}: damaged resume state (no {', '.join(missing)})")
    return state


@dataclass
class Resume:
    """A fit's resume state: where it is written after every epoch (``path``; None: nowhere), and the state
    of an interrupted run to continue from (``state``, read from ``source``)."""

    path: Path | None = None
    state: dict[str, Any] | None = None
    source: Path | None = None
    digest: str = ""

    def start(self, fit: Fit, progress: Progress, train: EncodedSet, val: EncodedSet) -> int:
        """Restore ``state`` if there is one, write the starting state, and return the epochs already done."""
        self.digest = data_digest(train, val)
        done = 0
        if self.state is not None:
            if self.state["data"] != self.digest:
                raise ReviewclfError(f"{self.source}: the data read from the run's config.json is not the data "
                                     "the run was trained on; cannot resume")
            try:
                done = restore(fit, progress, self.state)
            except Exception as exc:
                raise ReviewclfError(f"{self.source}: cannot resume from it ({_first_sentence(exc)})") from None
        self.save(fit, progress, done)
        return done

    def save(self, fit: Fit, progress: Progress, epoch: int) -> None:
        if self.path is not None:
            write_state(self.path, snapshot(fit, progress, epoch, self.digest))
