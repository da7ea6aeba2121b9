"""``reviewclf train --resume``: a run stopped by SIGINT in epoch 3 and resumed ends exactly where the same run
uninterrupted ends; a missing, damaged or mismatched resume state is one line naming the file, and changes
nothing."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import reviewclf.training.loop as loop
from reviewclf.cli import main
from reviewclf.training.resume import STATE_FORMAT
from tests.cli.test_train_command import assert_one_line_error

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Every source of randomness in play: dropout (torch's generator), word dropout and the batch order (the
# fit's generator). On the demo set these settings give a best epoch 2, a worse epoch 3, the rate halved after
# epoch 4 and early stopping after epoch 5, so what the schedule and early stopping carry over decides the run.
SETTINGS = ["--model", "mlp", "--hidden", "16", "--dropout", "0.3", "--augment", "word-dropout=0.2", "--epochs", "6",
            "--lr", "0.03", "--batch-size", "16", "--lr-patience", "1", "--patience", "3", "--seed", "7"]
INTERRUPTED_BATCH = 5


def train(*args: str):
    return CliRunner().invoke(main, ["train", *args])


def sigint_in(monkeypatch: pytest.MonkeyPatch, epoch: int, batch: int) -> None:
    """Send this process a real SIGINT right after training step ``batch`` of ``epoch``: deterministic, and
    late enough that the weights and the optimizer have moved on from the last completed epoch."""
    real_epoch, real_step = loop.train_epoch, loop.train_step
    where = {"epoch": 0, "step": 0}

    def train_epoch(fit, train, n):
        where.update(epoch=n, step=0)
        return real_epoch(fit, train, n)

    def train_step(fit, inputs, targets):
        result = real_step(fit, inputs, targets)
        where["step"] += 1
        if (where["epoch"], where["step"]) == (epoch, batch):
            signal.raise_signal(signal.SIGINT)
        return result

    monkeypatch.setattr(loop, "train_epoch", train_epoch)
    monkeypatch.setattr(loop, "train_step", train_step)


@contextlib.contextmanager
def default_sigint() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str | int, Path]:
    """The same demo run uninterrupted ("whole"), and interrupted by SIGINT in epoch 3 and in epoch 4 (3, 4)
    (not yet resumed): in epoch 4 the early-stopping and schedule counters it carries are not zero."""
    root = tmp_path_factory.mktemp("resume")
    result = train(*SETTINGS, "--out", str(root / "whole"))
    assert result.exit_code == 0, result.output
    runs: dict[str | int, Path] = {"whole": root / "whole"}
    for epoch in (3, 4):
        runs[epoch] = root / f"interrupted-{epoch}"
        # SIGINT must raise KeyboardInterrupt, as in a fresh interpreter, whatever handler a library installed
        with pytest.MonkeyPatch.context() as monkeypatch, default_sigint():
            sigint_in(monkeypatch, epoch, INTERRUPTED_BATCH)
            result = train(*SETTINGS, "--out", str(runs[epoch]))
        assert result.exit_code == 0, result.output
        assert "interrupted: keeping the best checkpoint so far" in result.stderr
        assert f"reviewclf train --resume {runs[epoch]}" in result.stdout
    return runs


def resumable(runs: dict[str | int, Path], epoch: int, tmp_path: Path) -> Path:
    """A copy of the run interrupted in ``epoch``, to resume (or to damage)."""
    return Path(shutil.copytree(runs[epoch], tmp_path / "run"))


@pytest.fixture
def interrupted(runs: dict[str | int, Path], tmp_path: Path) -> Path:
    return resumable(runs, 3, tmp_path)


def history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_interrupted_run_keeps_the_state_of_its_last_completed_epoch(runs):
    run = runs[3]
    assert metrics(run)["stopped_by"] == "interrupted" and metrics(run)["epochs_run"] == 2
    state = torch.load(run / "resume.pt", map_location="cpu", weights_only=True)  # tensors and plain values only
    assert state["format"] == STATE_FORMAT and state["epoch"] == 2
    assert [r["epoch"] for r in state["history"]] == [1, 2]
    assert set(state["rng"]) == {"generator", "torch"}
    assert all("exp_avg" in s and "exp_avg_sq" in s for s in state["optimizer"]["state"].values())  # Adam
    counters = torch.load(runs[4] / "resume.pt", map_location="cpu", weights_only=True)
    assert counters["early_stopping"]["bad_epochs"] == 1 and counters["scheduler"]["num_bad_epochs"] == 1
    assert not (runs["whole"] / "resume.pt").exists()  # a complete run keeps no resume state


@pytest.mark.parametrize("epoch", [3, 4])
def test_a_resumed_run_ends_where_the_uninterrupted_run_ends(runs, epoch, tmp_path):
    whole, interrupted = runs["whole"], resumable(runs, epoch, tmp_path)
    assert history(interrupted) == history(whole)[: epoch - 1]
    result = train("--resume", str(interrupted))
    assert result.exit_code == 0, result.output
    assert f"resuming after epoch {epoch - 1} of 6" in result.stderr
    assert result.stdout.splitlines()[0] == f"run written to {interrupted}"
    done, expected = metrics(interrupted), metrics(whole)
    for key in ("val", "test", "best_epoch", "epochs_run", "stopped_by", "rows", "top_words"):
        assert done[key] == expected[key], key
    assert history(interrupted) == history(whole)  # every epoch's losses, accuracies and learning rate
    assert done["best_epoch"] == 2 and done["stopped_by"] == "early-stopping"  # the settings do what they say
    assert len({row["lr"] for row in history(whole)}) == 2
    resumed, reference = weights(interrupted), weights(whole)
    assert resumed.keys() == reference.keys()
    for name, tensor in reference.items():
        assert torch.equal(resumed[name], tensor), name
    assert not (interrupted / "resume.pt").exists()
    config = json.loads((interrupted / "config.json").read_text())
    assert config == {**json.loads((whole / "config.json").read_text()), "out": str(interrupted)}
    assert [p.name for p in interrupted.parent.iterdir()] == ["run"]  # no work area left behind


def test_epochs_sets_a_new_total_for_the_resumed_run(runs, interrupted):
    result = train("--resume", str(interrupted), "--epochs", "4")
    assert result.exit_code == 0, result.output
    assert json.loads((interrupted / "config.json").read_text())["epochs"] == 4
    assert history(interrupted) == history(runs["whole"])[:4]  # what the same run with --epochs 4 gives
    assert metrics(interrupted)["stopped_by"] == "epochs"


def test_epochs_below_the_epochs_done_is_refused(interrupted):
    before = contents(interrupted)
    result = train("--resume", str(interrupted), "--epochs", "2")
    assert_one_line_error(result, "--epochs: must be more than the 2 epochs")
    assert contents(interrupted) == before


def damage_truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def damage_unsafe(path: Path) -> None:
    torch.save({"format": STATE_FORMAT, "epoch": argparse.Namespace()}, path)  # not loadable weights-only


def damage_incomplete(path: Path) -> None:
    state = torch.load(path, map_location="cpu", weights_only=True)
    del state["optimizer"]
    torch.save(state, path)


def assert_resume_refused(run: Path, words: str) -> None:
    """``--resume run`` is one line naming its resume state, and leaves the run and its folder as they were."""
    before = contents(run)
    assert_one_line_error(train("--resume", str(run)), f"{run / 'resume.pt'}: {words}")
    assert contents(run) == before
    assert [p.name for p in run.parent.iterdir()] == ["run"]


@pytest.mark.parametrize(("damage", "words"), [
    (damage_truncated, "cannot load the resume state (PytorchStreamReader failed reading zip archive"),
    (damage_unsafe, "cannot load the resume state (it holds more than tensors and plain values"),
    (damage_incomplete, "damaged resume state (no optimizer)"),
])
def test_a_damaged_resume_state_is_one_line_and_changes_nothing(interrupted, damage, words):
    damage(interrupted / "resume.pt")
    assert_resume_refused(interrupted, words)


def test_data_that_no_longer_matches_the_state_is_refused(interrupted):
    config = json.loads((interrupted / "config.json").read_text())
    (interrupted / "config.json").write_text(json.dumps({**config, "val_fraction": 0.2}))
    assert_resume_refused(interrupted, "the data read from the run's config.json")


def test_a_complete_run_has_nothing_to_resume(runs):
    before = contents(runs["whole"])
    result = train("--resume", str(runs["whole"]))
    assert_one_line_error(result, f"{runs['whole'] / 'resume.pt'}: no resume state")
    assert contents(runs["whole"]) == before
