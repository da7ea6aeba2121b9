"""The run directory: the files train writes, staged atomically, and one reader that names a missing or damaged file."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner

from reviewclf.cli import main
from reviewclf.errors import ReviewclfError
from reviewclf.runtime.encoding import TextEncoder
from reviewclf.training.config import TrainConfig
from reviewclf.training.run import demo_paths
from reviewclf.training.rundir import RunDir

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_open_reads_what_train_wrote(demo_run: Path):
    run = RunDir.open(demo_run)
    assert run.labels == ["negative", "positive"] and run.heldout_texts
    assert run.model_info["vocab_size"] > 2 and "val" in run.metrics
    assert run.load_model().n_outputs == 1


@pytest.mark.parametrize("missing", ["tokenizer.json", "checkpoint.pt", "model.json"])
def test_export_of_a_run_missing_a_file_is_one_line_and_leaves_no_bundle(missing: str, demo_run: Path,
                                                                        tmp_path: Path):
    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    (run / missing).unlink()
    result = CliRunner().invoke(main, ["export", str(run), "-o", str(tmp_path / "out" / "bundle")])
    assert result.exit_code == 1
    assert result.stderr == f"error: {run}: not a run directory (no {missing})\n"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("damage", [("model.json", b"{not json"), ("checkpoint.pt", b"garbage"),
                                    ("tokenizer.json", b"[]")])
def test_a_damaged_file_is_named(damage: tuple[str, bytes], demo_run: Path, tmp_path: Path):
    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    name, data = damage
    (run / name).write_bytes(data)
    with pytest.raises(ReviewclfError) as caught:
        RunDir.open(run)
    message = str(caught.value)
    assert message.startswith(f"{run / name}: ") and "\n" not in message


def test_run_directory_files(demo_run):
    names = {p.name for p in demo_run.iterdir()}
    assert names >= {"config.json", "model.json", "tokenizer.json", "checkpoint.pt", "metrics.json",
                     "history.csv", "curves.png", "confusion.png", "heldout.json"}
    config = json.loads((demo_run / "config.json").read_text())
    assert config["epochs"] == 4 and config["model"] == "perceptron"
    assert config["data"] == demo_paths()  # recorded resolved: the demo files actually used
    assert TrainConfig.from_dict(config).to_dict() == config
    info = json.loads((demo_run / "model.json").read_text())
    assert info["labels"] == ["negative", "positive"] and info["n_outputs"] == 1
    assert info["vocab_size"] == TextEncoder.from_file(demo_run / "tokenizer.json").vocab_size
    for png in ("curves.png", "confusion.png"):
        raw = (demo_run / png).read_bytes()
        assert raw[:8] == PNG_MAGIC
        image = matplotlib.image.imread(demo_run / png)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # not a blank picture


def test_run_history_and_metrics(demo_run):
    metrics = json.loads((demo_run / "metrics.json").read_text())
    with open(demo_run / "history.csv", newline="") as handle:
        history = list(csv.DictReader(handle))
    assert list(history[0]) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_macro_f1", "lr",
                                "seconds"]
    assert [int(h["epoch"]) for h in history] == list(range(1, metrics["epochs_run"] + 1))
    val_losses = [float(h["val_loss"]) for h in history]
    assert metrics["best_epoch"] == int(np.argmin(val_losses)) + 1
    for split in ("val", "test"):
        report = metrics[split]
        matrix = np.array(report["confusion_matrix"])
        assert matrix.shape == (2, 2) and matrix.sum() == report["n"] == metrics["rows"][split]
        assert report["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
        f1s = []
        for i, label in enumerate(report["labels"]):
            m = report["per_label"][label]
            assert m["support"] == matrix[i].sum()
            assert m["precision"] == pytest.approx(matrix[i, i] / matrix[:, i].sum())
            assert m["recall"] == pytest.approx(matrix[i, i] / matrix[i].sum())
            assert m["f1"] == pytest.approx(2 * m["precision"] * m["recall"] / (m["precision"] + m["recall"]))
            f1s.append(m["f1"])
        assert report["macro_f1"] == pytest.approx(np.mean(f1s))
        assert report["accuracy"] > 0.6
    assert float(history[metrics["best_epoch"] - 1]["val_acc"]) == pytest.approx(metrics["val"]["accuracy"])


