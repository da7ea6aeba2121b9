"""``--autotune`` on the embedded demo set: the search space holds the defaults, seeds reproduce the trials,
pruned and interrupted trials are recorded, the budget ends the search, and an autotuned run exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner

import reviewclf.training.autotune as autotune
import reviewclf.training.loop as loop
from reviewclf.cli import main
from reviewclf.training.config import AUTOTUNE_METRICS, TrainConfig
from reviewclf.training.models import MODEL_KINDS
from reviewclf.training.prepare import Preparer
from reviewclf.training.run import load_data, split_rows, train_run
from tests.support import make_bundle
from tests.training.support import quiet

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SETTINGS = list(autotune.SETTINGS)


def tune(out: Path, **options: object) -> Path:
    """An autotuned run on the demo sentences, two epochs per trial."""
    settings = {"autotune": True, "epochs": 2, "out": str(out), **options}
    train_run(TrainConfig.from_dict(settings), log=quiet)
    return out


def trials_of(run: Path) -> list[dict[str, str]]:
    with open(run / "trials.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("metric", AUTOTUNE_METRICS)
@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_the_first_trials_are_exactly_the_defaults(kind: str, metric: str):
    params = autotune.default_params(kind, metric)
    chosen, default = autotune.trial_config(TrainConfig(model="mlp", lr=0.05), params), TrainConfig(model=kind)
    assert chosen.to_dict() == default.to_dict()
    assert ("class_weight" in params) == (metric == "macro_f1")
    assert set(params) <= set(SETTINGS)


def test_a_default_outside_the_search_space_is_refused(monkeypatch):
    monkeypatch.setattr(autotune, "BATCH_SIZES", (32, 64))
    with pytest.raises(ValueError, match="batch_size=128 of perceptron is outside the search space"):
        autotune.default_params("perceptron", "accuracy")


def test_the_same_seed_gives_the_same_trials(tmp_path, monkeypatch):
    monkeypatch.setattr(autotune, "FIRST_TRIALS", ())  # every trial sampled: the seed decides them all
    settings = {}
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        rows = trials_of(tune(tmp_path / name, seed=seed, autotune_trials=3))
        assert [r["trial"] for r in rows] == ["0", "1", "2"]
        settings[name] = [[r[key] for key in SETTINGS] for r in rows]
    assert settings["a"] == settings["b"]
    assert settings["a"] != settings["c"]


def test_pruned_trials_are_marked_and_one_of_them_is_kept_by_the_selection_rule():
    config = TrainConfig(autotune=True, autotune_trials=3, epochs=3, out="unused")
    data, _ = load_data(config, quiet)
    parts = split_rows(data, config, False)
    splits = [[seq[i] for i in parts[name]] for name in ("train", "val", "test") for seq in (data.texts, data.labels)]
    always = optuna.pruners.ThresholdPruner(lower=1.01)  # no validation accuracy reaches it: every trial is pruned
    tuned = autotune.autotune_fit(config, Preparer.of_lists(*splits, quiet), log=quiet, pruner=always)
    assert [r["state"] for r in tuned.trials] == ["pruned"] * 3
    assert all(r["epochs_run"] == 1 and r["stopped_by"] == "pruned" for r in tuned.trials)
    best = max(tuned.trials, key=lambda r: r["val_accuracy"])
    default = next(r for r in tuned.trials if r["model"] == config.model)  # the defaults are the first trials
    kept = best if tuned.summary["chosen_by"].startswith("the best") else default
    assert tuned.summary["best_trial"] == kept["trial"] and tuned.config.model == kept["model"]
    assert tuned.summary["top_trial"] == best["trial"]
    assert tuned.outcome.metrics["val"]["accuracy"] == kept["val_accuracy"]
    assert "test" in tuned.outcome.metrics and tuned.summary["pruned"] == 3


def test_ctrl_c_in_a_trial_keeps_the_best_trial_so_far_and_the_run_exports(tmp_path, monkeypatch):
    real, first_epochs = loop.train_epoch, []

    def interrupted_in_the_third_trial(fit, train, epoch):
        first_epochs.extend([epoch] if epoch == 1 else [])
        if len(first_epochs) == 3:
            raise KeyboardInterrupt
        return real(fit, train, epoch)

    monkeypatch.setattr(loop, "train_epoch", interrupted_in_the_third_trial)
    run = tune(tmp_path / "run", autotune_trials=5)
    rows = trials_of(run)
    assert [r["state"] for r in rows] == ["complete", "complete", "interrupted"]
    assert [r["model"] for r in rows] == ["perceptron", "mlp", "ngram"]  # the defaults, in order
    best = max(rows[:2], key=lambda r: float(r["val_accuracy"]))
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert config["model"] == best["model"] and config["autotune"] is True
    assert metrics["val"]["accuracy"] == pytest.approx(float(best["val_accuracy"]))
    assert metrics["autotune"]["stopped_by"] == "interrupted"
    assert metrics["autotune"]["best_trial"] == int(best["trial"])
    assert (run / "trials.png").read_bytes().startswith(b"\x89PNG")
    bundle = make_bundle(run, tmp_path / "bundle")
    verified = CliRunner().invoke(main, ["verify", str(bundle)])
    assert verified.exit_code == 0, verified.output


def test_the_budget_ends_the_search_inside_the_first_trial(tmp_path):
    run = tune(tmp_path / "run", autotune_budget=0.01, epochs=5)
    rows = trials_of(run)
    assert len(rows) == 1 and rows[0]["stopped_by"] == "budget" and rows[0]["epochs_run"] == "1"
    assert json.loads((run / "metrics.json").read_text())["autotune"]["stopped_by"] == "budget"


def test_autotune_with_folds_is_one_error_line(tmp_path):
    result = CliRunner().invoke(main, ["train", "--autotune", "--folds", "3", "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: --autotune: cannot be combined with --folds (each trial needs one validation split)"]
