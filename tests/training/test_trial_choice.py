"""Which trial autotune keeps: the default's, unless the best beats it row by row by more than the best of that
many trials needs."""

from __future__ import annotations

import numpy as np
import pytest

from reviewclf.metrics import classification_report
from reviewclf.training.trial_choice import keep_best, needed_z, paired_z, weighted_scores


def predictions(rows: int, default_right: int, gains: int, losses: int = 0, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Binary targets; the default right on ``default_right`` rows; the best right on ``gains`` of the default's
    mistakes and wrong on ``losses`` of the rows the default has right."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    default = y.copy()
    order = rng.permutation(rows)
    wrong, right = order[: rows - default_right], order[rows - default_right :]
    default[wrong] = 1 - y[wrong]
    best = default.copy()
    best[wrong[:gains]] = y[wrong[:gains]]
    best[right[:losses]] = 1 - y[right[:losses]]
    return y, best, default


def test_the_weighted_scores_with_unit_weights_are_the_plain_metrics():
    y = np.array([0, 0, 1, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 0, 0])
    ones = np.ones((1, len(y)))
    assert weighted_scores(ones, y, pred, "accuracy", 3)[0] == pytest.approx(3 / 6)
    # F1 per label: 0 -> 2*1/(2+1+2)=0.4, 1 -> 2*2/(4+2)=2/3, 2 -> 0
    assert weighted_scores(ones, y, pred, "macro_f1", 3)[0] == pytest.approx((0.4 + 2 / 3 + 0) / 3)
    report = classification_report(y, pred, ["a", "b", "c"])
    assert weighted_scores(ones, y, pred, "macro_f1", 3)[0] == pytest.approx(report["macro_f1"])
    doubled = np.array([[2.0, 1, 1, 1, 1, 1]])  # a resample that draws the first row twice
    assert weighted_scores(doubled, y, pred, "accuracy", 3)[0] == pytest.approx(4 / 7)


def test_a_small_gain_keeps_the_default_and_a_large_one_the_best():
    y, best, default = predictions(400, 320, 14, 10)  # one point better on 400 rows: within the noise
    z = paired_z(y, best, default, "accuracy", 2, seed=1)
    assert 0 < z < needed_z(3) and not keep_best(z, 3)[0]
    y, best, default = predictions(400, 320, 50, 10)  # ten points
    z = paired_z(y, best, default, "accuracy", 2, seed=1)
    keep, reason = keep_best(z, 3)
    assert z > needed_z(3) and keep and reason.startswith("the best validation score")


def test_the_same_gain_needs_more_when_it_is_the_best_of_more_trials():
    y, best, default = predictions(400, 320, 30, 15)
    z = paired_z(y, best, default, "accuracy", 2, seed=1)
    assert needed_z(3) < z < needed_z(200)
    assert keep_best(z, 3)[0] and not keep_best(z, 200)[0]
    assert needed_z(2) < needed_z(3) < needed_z(30) < needed_z(200)


def test_gains_and_losses_on_other_rows_cancel_in_the_paired_comparison():
    y, best, default = predictions(400, 320, 20, 20)  # 20 rows gained, 20 others lost
    assert paired_z(y, best, default, "accuracy", 2, seed=1) == pytest.approx(0.0, abs=0.2)


def test_macro_f1_rewards_the_rare_label():
    y = np.array([0] * 360 + [1] * 40)
    default = np.zeros(400, dtype=np.int64)  # never predicts the rare label
    best = default.copy()
    best[360:390] = 1  # finds 30 of the 40
    assert paired_z(y, best, default, "macro_f1", 2, seed=1) > needed_z(50)


def test_the_bootstrap_is_seeded_and_identical_predictions_give_zero():
    y, best, default = predictions(300, 240, 15, 6)
    assert paired_z(y, best, default, "accuracy", 2, seed=5) == paired_z(y, best, default, "accuracy", 2, seed=5)
    assert paired_z(y, default, default, "accuracy", 2, seed=5) == 0.0
