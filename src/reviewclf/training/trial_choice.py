"""Which trial ``--autotune`` keeps: the default model's, unless the best trial beats it on the same validation
rows by more than the luck of being the best of many.

The best of dozens of scores on a few hundred validation rows is partly luck, and the default was chosen across
many data sets. So the two are compared row by row (a paired bootstrap of the metric's difference, which counts
only the rows where they disagree), and the margin needed grows with the number of trials compared (a
Bonferroni correction of a one-sided 5% test): a search that tried more settings has had more chances to be
lucky.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from ..metrics import per_label_scores

ALPHA = 0.05
RESAMPLES = 1000
# resample rows held at once (resamples x validation rows): the bootstrap's memory stays small on large splits
CHUNK_CELLS = 1 << 22


def needed_z(trials: int) -> float:
    """The z the best trial's gain must reach when it is the best of ``trials`` (the default among them)."""
    return NormalDist().inv_cdf(1.0 - ALPHA / max(trials - 1, 1))


def weighted_scores(weights: np.ndarray, y: np.ndarray, pred: np.ndarray, metric: str, n_labels: int) -> np.ndarray:
    """The metric of ``pred`` on each resample (a row of ``weights``: how often each validation row is drawn),
    from that resample's confusion matrix, scored as ``classification_report`` scores one."""
    cells = np.zeros((len(y), n_labels * n_labels))
    cells[np.arange(len(y)), np.asarray(y) * n_labels + np.asarray(pred)] = 1.0
    matrices = (weights @ cells).reshape(len(weights), n_labels, n_labels)
    if metric == "accuracy":
        return np.trace(matrices, axis1=1, axis2=2) / np.maximum(matrices.sum(axis=(1, 2)), 1e-12)
    return per_label_scores(matrices)[2].mean(axis=-1)


def paired_z(y: np.ndarray, best: np.ndarray, default: np.ndarray, metric: str, n_labels: int, seed: int) -> float:
    """How many bootstrap standard deviations the best trial's metric lies above the default's on the same rows
    (Poisson resampling of the rows, seeded: the same predictions always give the same z)."""
    observed = weighted_scores(np.ones((1, len(y))), y, best, metric, n_labels) - \
        weighted_scores(np.ones((1, len(y))), y, default, metric, n_labels)
    rng = np.random.default_rng(seed)
    step = max(CHUNK_CELLS // max(len(y), 1), 1)
    diffs = []
    for start in range(0, RESAMPLES, step):
        weights = rng.poisson(1.0, size=(min(step, RESAMPLES - start), len(y))).astype(np.float64)
        diffs.append(weighted_scores(weights, y, best, metric, n_labels)
                     - weighted_scores(weights, y, default, metric, n_labels))
    spread = float(np.concatenate(diffs).std())
    if spread == 0.0:  # the two agree on every row (or differ on every resample alike)
        return 0.0 if observed[0] <= 0 else math.inf
    return float(observed[0]) / spread


def keep_best(z: float, trials: int) -> tuple[bool, str]:
    """Whether the best trial replaces the default's, and why, in words."""
    needed = needed_z(trials)
    if z > needed:
        return True, (f"the best validation score: {z:.2f} paired standard errors above the default model's "
                      f"trial, more than the {needed:.2f} the best of {trials} trials needs")
    return False, (f"the default model's trial: the best is {z:.2f} paired standard errors above it, not the "
                   f"{needed:.2f} the best of {trials} trials needs")
