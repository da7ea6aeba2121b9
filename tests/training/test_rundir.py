"""The run directory is read by one reader: a missing or damaged file is one line naming it, before any export."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewclf.cli import main
from reviewclf.errors import ReviewclfError
from reviewclf.training.rundir import RunDir


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
