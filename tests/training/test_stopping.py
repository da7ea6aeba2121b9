"""EarlyStopping's patience and min_delta, and BestCheckpoint's detached copy of the best weights."""

from __future__ import annotations

import pytest
import torch

from reviewclf.training.stopping import BestCheckpoint, EarlyStopping

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_early_stopping_unit():
    stopper = EarlyStopping(patience=2)
    assert stopper.step(1.0) is True
    assert stopper.step(0.9) is True
    assert stopper.step(0.95) is False and not stopper.should_stop
    assert stopper.step(0.8) is True and stopper.bad_epochs == 0  # an improvement resets the count
    assert stopper.step(0.8) is False  # equal is not better
    assert stopper.step(0.85) is False and stopper.should_stop
    assert stopper.best == 0.8
    strict = EarlyStopping(patience=1, min_delta=0.05)
    assert strict.step(1.0) is True
    assert strict.step(0.97) is False and strict.should_stop  # better, but by less than min_delta
    never = EarlyStopping(patience=0)
    for loss in (1.0, 2.0, 3.0, 4.0):
        never.step(loss)
    assert not never.should_stop


def test_best_checkpoint_keeps_a_copy():
    model = torch.nn.Linear(3, 1)
    best = BestCheckpoint()
    best.restore(model)  # nothing saved: a no-op
    best.save(model, epoch=4)
    saved = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    assert torch.equal(best.state["weight"], saved)  # not a view of the live weights
    best.restore(model)
    assert torch.equal(model.weight, saved) and best.epoch == 4
    with torch.no_grad():
        model.weight.add_(1.0)
    assert torch.equal(best.state["weight"], saved)  # restoring did not hand out the stored tensors
