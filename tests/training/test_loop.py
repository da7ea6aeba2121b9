"""The training loop: the best epoch restored, L1, weight decay, dropout, optimizers, divergence, devices, class
weights, the epoch hook."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import reviewclf.training.loop as loop
from reviewclf.errors import ReviewclfError
from reviewclf.io.label_map import parse_label_map
from reviewclf.io.labeled import read_labeled, read_many
from reviewclf.runtime.encoding import TextEncoder
from reviewclf.runtime.ragged import Ragged
from reviewclf.training.config import TrainConfig
from reviewclf.training.encoded_set import EncodedSet
from reviewclf.training.loop import (
    class_weights,
    loss_and_accuracy,
    make_optimizer,
    resolve_device,
    train_model,
)
from reviewclf.training.models import build_model
from reviewclf.training.run import DEMO_LABEL_MAP, demo_paths, train_run
from reviewclf.training.splits import stratified_split
from reviewclf.training.vocabulary import fit_encoder
from tests.training.support import CPU, load_run_model, quiet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_tabbed(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")
    return path


def noisy_rows(n: int, seed: int) -> list[tuple[str, str]]:
    """Texts whose word 'good'/'bad' matches the label 70% of the time, padded with memorisable noise words."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        label = int(rng.integers(0, 2))
        signal = ("bad", "good")[label if rng.random() < 0.7 else 1 - label]
        noise = " ".join(f"w{k}" for k in rng.integers(0, 60, size=int(rng.integers(3, 9))))
        rows.append((f"{signal} {noise}", str(label)))
    return rows


def synthetic_sets(seed: int = 0) -> tuple[EncodedSet, EncodedSet]:
    rng = np.random.default_rng(seed)

    def one(n: int) -> EncodedSet:
        y = rng.integers(0, 2, size=n)
        rows = [[int(2 + (t if rng.random() < 0.7 else 1 - t))] + rng.integers(4, 60, size=rng.integers(3, 9)).tolist()
                for t in y]
        return EncodedSet.build(Ragged.from_rows(rows), y, CPU)

    return one(40), one(40)


def test_training_stops_early_and_restores_the_best_epoch():
    train, val = synthetic_sets()
    config = TrainConfig(epochs=60, lr=0.01, patience=2, batch_size=8, seed=3)
    torch.manual_seed(0)
    model = build_model("perceptron", 60, 1, {})
    start = {k: v.clone() for k, v in model.state_dict().items()}
    result = train_model(model, train, val, config, log=quiet)
    losses = [h["val_loss"] for h in result.history]
    assert result.stopped_by == "early-stopping"
    assert len(result.history) < config.epochs
    assert len(result.history) == result.best_epoch + config.patience
    assert result.best_epoch == int(np.argmin(losses)) + 1
    restored_loss, _ = loss_and_accuracy(model, val, config.batch_size * 4, False)
    assert restored_loss == pytest.approx(losses[result.best_epoch - 1], abs=1e-7)
    assert restored_loss < losses[-1]  # not the weights of the last epoch
    # the same training cut at best_epoch ends at exactly the restored weights
    replay = build_model("perceptron", 60, 1, {})
    replay.load_state_dict(start)
    cut = TrainConfig(**{**config.to_dict(), "epochs": result.best_epoch})
    assert train_model(replay, train, val, cut, log=quiet).stopped_by == "epochs"
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, replay.state_dict()[name]), name


def test_run_directory_checkpoint_is_the_best_epoch(tmp_path):
    data = write_tabbed(tmp_path / "tiny.txt", noisy_rows(120, seed=1))
    config = TrainConfig(data=[str(data)], epochs=60, lr=0.05, patience=2, batch_size=8, min_freq=1,
                         val_fraction=0.25, test_fraction=0.25, out=str(tmp_path / "run"))
    outcome = train_run(config, log=quiet)
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    with open(run / "history.csv", newline="") as handle:
        history = list(csv.DictReader(handle))
    assert metrics["stopped_by"] == "early-stopping"
    assert metrics["epochs_run"] == len(history) == metrics["best_epoch"] + 2 < 60
    # rebuild the validation split and score it with the checkpoint read back from disk
    labeled = read_labeled(data)
    val_rows = stratified_split(labeled.labels, 0.25, 0.25, config.seed)["val"]
    encoder = TextEncoder.from_file(run / "tokenizer.json")
    index = {label: i for i, label in enumerate(outcome.labels)}
    val = EncodedSet.build(encoder.encode_flat([labeled.texts[i] for i in val_rows]),
                           np.array([index[labeled.labels[i]] for i in val_rows]), CPU)
    model = load_run_model(run)
    loss, _ = loss_and_accuracy(model, val, config.batch_size * 4, False)
    assert loss == pytest.approx(float(history[metrics["best_epoch"] - 1]["val_loss"]), abs=1e-6)
    assert loss < float(history[-1]["val_loss"])


@pytest.fixture(scope="module")
def demo_sets() -> tuple[EncodedSet, EncodedSet, int]:
    data = read_many(demo_paths(), format="tabbed", label_map=parse_label_map(DEMO_LABEL_MAP))
    parts = stratified_split(data.labels, 0.15, 0.15, 1337)
    encoder = fit_encoder([data.texts[i] for i in parts["train"]], 2, 512)
    labels = sorted(set(data.labels))

    def encoded(name: str) -> EncodedSet:
        rows = parts[name]
        return EncodedSet.build(encoder.encode_flat([data.texts[i] for i in rows]),
                                np.array([labels.index(data.labels[i]) for i in rows]), CPU)

    return encoded("train"), encoded("val"), encoder.vocab_size


def fit_demo(demo_sets, kind: str = "perceptron", **settings: object):
    train, val, vocab = demo_sets
    config = TrainConfig(**{"epochs": 3, "lr": 0.01, "batch_size": 64, "patience": 0, **settings})
    torch.manual_seed(0)
    model = build_model(kind, vocab, 1, {"hidden": 16, "activation": "relu", "dropout": config.dropout})
    before, _ = loss_and_accuracy(model, train, 512, False)
    result = train_model(model, train, val, config, log=quiet)
    after, _ = loss_and_accuracy(model, train, 512, False)
    return model, result, before, after


@pytest.fixture(scope="module")
def baseline(demo_sets):
    return fit_demo(demo_sets)


def near_zero_share(weight: torch.Tensor) -> float:
    return float((weight.detach().abs() < 1e-3).float().mean())


def test_l1_makes_the_first_layer_sparse(demo_sets, baseline):
    plain = baseline[0].first_layer_weight().detach()
    model, *_ = fit_demo(demo_sets, l1=1e-3)
    sparse = model.first_layer_weight().detach()
    assert sparse.abs().sum() < 0.5 * plain.abs().sum()
    assert near_zero_share(sparse) > 5 * near_zero_share(plain) + 0.02


def test_weight_decay_shrinks_the_weights(demo_sets, baseline):
    plain = baseline[0].first_layer_weight().detach()
    model, *_ = fit_demo(demo_sets, weight_decay=1e-2)
    assert model.first_layer_weight().detach().norm() < 0.7 * plain.norm()


def test_dropout_changes_the_training_trajectory(demo_sets):
    first = fit_demo(demo_sets, "mlp", epochs=1)[1].history[0]
    again = fit_demo(demo_sets, "mlp", epochs=1)[1].history[0]
    dropped = fit_demo(demo_sets, "mlp", epochs=1, dropout=0.5)[1].history[0]
    assert first["train_loss"] == again["train_loss"]  # deterministic, so the difference below is dropout's
    assert dropped["train_loss"] != first["train_loss"]


def test_word_dropout_only_touches_training_batches(demo_sets, monkeypatch):
    train, val, _ = demo_sets
    calls: list[int] = []
    real = loop.word_dropout

    def spy(ids, p, generator=None):
        calls.append(ids.shape[0])
        return real(ids, p, generator)

    monkeypatch.setattr(loop, "word_dropout", spy)
    model, result, _, _ = fit_demo(demo_sets, epochs=2, word_dropout=0.5)
    assert sum(calls) == 2 * len(train)  # every training row twice, no validation row
    calls.clear()
    val_loss, _ = loss_and_accuracy(model, val, 512, False)
    assert calls == []
    assert val_loss == pytest.approx(result.history[result.best_epoch - 1]["val_loss"], abs=1e-7)


def test_adam_reduces_the_training_loss(baseline):
    _, result, before, after = baseline
    assert after < 0.9 * before
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_sgd_with_momentum_reduces_the_training_loss(demo_sets):
    model, result, before, after = fit_demo(demo_sets, optimizer="sgd", lr=0.1, momentum=0.9)
    assert after < 0.9 * before
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    optimizer = make_optimizer(model, TrainConfig(optimizer="sgd", momentum=0.8, weight_decay=0.1))
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.param_groups[0]["momentum"] == 0.8 and optimizer.param_groups[0]["weight_decay"] == 0.1
    with pytest.raises(ReviewclfError, match="unknown optimizer"):
        make_optimizer(model, TrainConfig(optimizer="lbfgs"))


def test_a_nan_loss_stops_training_with_a_clear_error(monkeypatch, tmp_path):
    real = loop.loss_fn
    monkeypatch.setattr(loop, "loss_fn", lambda *args: real(*args) * float("nan"))
    train, val = synthetic_sets()
    with pytest.raises(ReviewclfError, match="diverged"):
        train_model(build_model("perceptron", 60, 1, {}), train, val, TrainConfig(epochs=3), log=quiet)
    data = write_tabbed(tmp_path / "tiny.txt", noisy_rows(40, seed=2))
    out = tmp_path / "run"
    with pytest.raises(ReviewclfError, match="diverged"):
        train_run(TrainConfig(data=[str(data)], epochs=3, min_freq=1, out=str(out)), log=quiet)
    assert not out.exists()


@pytest.mark.parametrize(("cuda", "mps", "expected"), [
    (True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == torch.device(expected)


def test_resolve_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ReviewclfError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ReviewclfError, match="MPS is not available"):
        resolve_device("mps")
    with pytest.raises(ReviewclfError, match="unknown device"):
        resolve_device("tpu")


def test_balanced_class_weights_are_the_inverse_class_frequency():
    targets = torch.tensor([0, 0, 0, 1])
    weight = class_weights(targets, 2, "balanced")
    torch.testing.assert_close(weight, torch.tensor([4 / (2 * 3), 4 / (2 * 1)]))
    assert float(weight[targets].mean()) == pytest.approx(1.0)  # the rows' weights average 1
    torch.testing.assert_close(class_weights(torch.tensor([0, 1, 1, 2, 2, 2]), 3, "balanced"),
                               torch.tensor([2.0, 1.0, 2 / 3]))
    assert class_weights(targets, 2, "none") is None
    with pytest.raises(ReviewclfError, match="unknown class weighting 'even'"):
        class_weights(targets, 2, "even")


def test_the_weighted_loss_is_the_weighted_mean_of_the_row_losses():
    targets = torch.tensor([0, 0, 0, 1])
    weight = class_weights(targets, 2, "balanced")
    logits = torch.tensor([[0.5], [-1.0], [2.0], [0.1]])
    rows = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], targets.float(), reduction="none")
    expected = (rows * weight[targets]).sum() / weight[targets].sum()
    assert float(loop.loss_fn(logits, targets, weight)) == pytest.approx(float(expected), rel=1e-6)
    assert float(loop.loss_fn(logits, targets, torch.ones(2))) == pytest.approx(float(loop.loss_fn(logits, targets)))
    many, three = torch.randn(6, 3), torch.tensor([0, 1, 1, 2, 2, 2])
    weight3 = class_weights(three, 3, "balanced")
    per_row = torch.nn.functional.cross_entropy(many, three, reduction="none") * weight3[three]
    assert float(loop.loss_fn(many, three, weight3)) == pytest.approx(float(per_row.sum() / weight3[three].sum()))


def test_the_epoch_hook_sees_each_epoch_and_can_end_training():
    train, val = synthetic_sets()
    seen = []

    def hook(record):
        seen.append(record)
        return "pruned" if record["epoch"] == 3 else None

    model = build_model("perceptron", 60, 1, {})
    result = train_model(model, train, val, TrainConfig(epochs=10, lr=0.01, batch_size=8), log=quiet, on_epoch=hook)
    assert result.stopped_by == "pruned" and [r["epoch"] for r in seen] == [1, 2, 3]
    assert seen == result.history and 0.0 <= seen[-1]["val_macro_f1"] <= 1.0
    loss, _ = loss_and_accuracy(model, val, 32, False)
    assert loss == pytest.approx(min(r["val_loss"] for r in seen), abs=1e-6)  # the best epoch restored
