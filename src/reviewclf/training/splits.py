"""Stratified, seeded train/val/test splits and K folds, as index arrays over the rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import OptionError, ReviewclfError


def _by_label(labels: Sequence[str], rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled row indices of each label, labels in sorted order (so the result depends on the seed only)."""
    array = np.asarray(labels)
    return [rng.permutation(np.flatnonzero(array == label)) for label in sorted(set(labels))]


def stratified_split(
    labels: Sequence[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Split row indices into train/val/test keeping each label's share; deterministic for a seed."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise OptionError("val_fraction", f"val and test fractions must be in [0, 1) and sum to less than 1, "
                          f"not {val_fraction} and {test_fraction}")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for rows in _by_label(labels, rng):
        n_test = int(round(len(rows) * test_fraction))
        n_val = int(round(len(rows) * val_fraction))
        parts["test"].append(rows[:n_test])
        parts["val"].append(rows[n_test : n_test + n_val])
        parts["train"].append(rows[n_test + n_val :])
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def predefined_split(splits: Sequence[str]) -> dict[str, np.ndarray]:
    """Row indices of a split the data file defines (``train``/``val``/``test`` per row)."""
    array = np.asarray(splits)
    unknown = set(array.tolist()) - {"train", "val", "test"}
    if unknown:
        raise ReviewclfError(f"unknown split names in data: {', '.join(sorted(unknown))}")
    return {name: np.flatnonzero(array == name) for name in ("train", "val", "test")}


def carve_validation(
    labels: Sequence[str], train_rows: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Take a stratified validation set out of training rows (for files that define train/test only)."""
    sub = stratified_split([labels[i] for i in train_rows], val_fraction, 0.0, seed)
    return train_rows[sub["train"]], train_rows[sub["val"]]


def stratified_folds(labels: Sequence[str], k: int, seed: int) -> list[np.ndarray]:
    """K disjoint folds covering every row, each with about the same label shares."""
    if k < 2:
        raise OptionError("folds", f"must be at least 2, not {k}")
    rng = np.random.default_rng(seed)
    folds: list[list[np.ndarray]] = [[] for _ in range(k)]
    for rows in _by_label(labels, rng):
        for i, chunk in enumerate(np.array_split(rows, k)):
            folds[i].append(chunk)
    return [np.sort(np.concatenate(chunks)) for chunks in folds]
