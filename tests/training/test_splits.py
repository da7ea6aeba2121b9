"""Stratified, predefined and carved splits and K folds, and how a run applies them: disjoint, covering, seeded."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from reviewclf.errors import ReviewclfError
from reviewclf.io.labeled import read_labeled
from reviewclf.training.config import TrainConfig
from reviewclf.training.run import split_rows, train_run
from reviewclf.training.splits import (
    carve_validation,
    predefined_split,
    stratified_folds,
    stratified_split,
)
from tests.training.support import quiet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def shares_ok(labels: list[str], parts: dict[str, np.ndarray]) -> None:
    """Each label's count in each part is within one row of the part's size times the overall share."""
    total = Counter(labels)
    for name, rows in parts.items():
        counts = Counter(labels[i] for i in rows)
        for label, n in total.items():
            expected = len(rows) * n / len(labels)
            assert abs(counts[label] - expected) <= 1, (name, label, counts[label], expected)


def is_partition(parts: list[np.ndarray], universe: np.ndarray) -> None:
    joined = np.concatenate(parts)
    assert len(joined) == len(set(joined.tolist())), "parts overlap"
    assert sorted(joined.tolist()) == sorted(universe.tolist()), "parts do not cover every row"


SPLIT_LABELS = ["a"] * 503 + ["b"] * 211 + ["c"] * 86
np.random.default_rng(0).shuffle(SPLIT_LABELS)


def test_stratified_split_is_stratified_disjoint_and_covering():
    parts = stratified_split(SPLIT_LABELS, 0.15, 0.2, seed=5)
    assert set(parts) == {"train", "val", "test"}
    is_partition(list(parts.values()), np.arange(len(SPLIT_LABELS)))
    shares_ok(SPLIT_LABELS, parts)
    assert abs(len(parts["val"]) - 0.15 * 800) <= 3
    assert abs(len(parts["test"]) - 0.2 * 800) <= 3
    for rows in parts.values():
        assert rows.dtype.kind == "i"


def test_stratified_split_depends_on_the_seed_only():
    first = stratified_split(SPLIT_LABELS, 0.15, 0.15, seed=1)
    again = stratified_split(list(SPLIT_LABELS), 0.15, 0.15, seed=1)
    other = stratified_split(SPLIT_LABELS, 0.15, 0.15, seed=2)
    for name in ("train", "val", "test"):
        assert np.array_equal(first[name], again[name])
        assert len(first[name]) == len(other[name])
    assert not np.array_equal(first["test"], other["test"])
    assert not np.array_equal(first["val"], other["val"])


def test_stratified_split_without_test_and_bad_fractions():
    parts = stratified_split(SPLIT_LABELS, 0.25, 0.0, seed=3)
    assert len(parts["test"]) == 0
    is_partition([parts["train"], parts["val"]], np.arange(800))
    shares_ok(SPLIT_LABELS, {"train": parts["train"], "val": parts["val"]})
    for val, test in ((0.5, 0.5), (-0.1, 0.1), (0.1, 1.0), (1.0, 0.0)):
        with pytest.raises(ReviewclfError, match="fraction"):
            stratified_split(SPLIT_LABELS, val, test, seed=3)


def test_predefined_split_from_a_book_file_is_honoured(tmp_path):
    rows = []
    for i in range(60):
        split = ("train", "train", "val", "test", "train")[i % 5]
        rows.append(f"{('negative', 'positive')[i % 2]},review number {i} is {'bad' if i % 2 == 0 else 'good'},{split}")
    path = tmp_path / "reviews_with_splits.csv"
    path.write_text("rating,review,split\n" + "\n".join(rows) + "\n", encoding="utf-8")
    data = read_labeled(path)
    assert data.splits is not None
    parts = predefined_split(data.splits)
    for name in ("train", "val", "test"):
        assert parts[name].tolist() == [i for i in range(60) if data.splits[i] == name]
    # the run keeps the file's split: row counts and the held-out texts are the file's test rows
    config = TrainConfig(data=[str(path)], epochs=1, min_freq=1, out=str(tmp_path / "run"))
    outcome = train_run(config, log=quiet)
    assert outcome.metrics["rows"] == {"train": 36, "val": 12, "test": 12}
    assert outcome.heldout["texts"] == [data.texts[i] for i in parts["test"]]
    with pytest.raises(ReviewclfError, match="unknown split names in data: dev"):
        predefined_split(["train", "dev"])


def test_a_file_with_train_and_test_only_gets_a_carved_validation_set(tmp_path):
    lines = [f"{('negative', 'positive')[i % 2]},text {i},{'test' if i % 4 == 0 else 'train'}" for i in range(80)]
    path = tmp_path / "b.csv"
    path.write_text("rating,review,split\n" + "\n".join(lines) + "\n", encoding="utf-8")
    data = read_labeled(path)
    parts = split_rows(data, TrainConfig(val_fraction=0.25), has_test_file=False)
    file_train = np.array([i for i in range(80) if i % 4 != 0])
    assert parts["test"].tolist() == [i for i in range(80) if i % 4 == 0]
    is_partition([parts["train"], parts["val"]], file_train)
    assert abs(len(parts["val"]) - 0.25 * 60) <= 1


def test_carve_validation():
    train_rows = np.arange(0, 800, 2)
    kept, val = carve_validation(SPLIT_LABELS, train_rows, 0.2, seed=9)
    is_partition([kept, val], train_rows)
    sub_labels = [SPLIT_LABELS[i] for i in train_rows]
    for label, n in Counter(sub_labels).items():
        assert abs(sum(SPLIT_LABELS[i] == label for i in val) - 0.2 * n) <= 1
    again = carve_validation(SPLIT_LABELS, train_rows, 0.2, seed=9)
    assert np.array_equal(again[0], kept) and np.array_equal(again[1], val)


def test_stratified_folds():
    folds = stratified_folds(SPLIT_LABELS, 5, seed=4)
    assert len(folds) == 5
    is_partition(folds, np.arange(800))
    total = Counter(SPLIT_LABELS)
    for fold in folds:
        counts = Counter(SPLIT_LABELS[i] for i in fold)
        for label, n in total.items():
            assert abs(counts[label] - n / 5) <= 1
    assert all(np.array_equal(a, b) for a, b in zip(folds, stratified_folds(SPLIT_LABELS, 5, seed=4)))
    assert not np.array_equal(folds[0], stratified_folds(SPLIT_LABELS, 5, seed=5)[0])
    with pytest.raises(ReviewclfError, match="at least 2"):
        stratified_folds(SPLIT_LABELS, 1, seed=4)
