"""Flat ids with row lengths: the same rows, padding and filling as lists would give."""

from __future__ import annotations

import numpy as np

from reviewclf.runtime.ragged import Ragged, starts_of

ROWS = [[5, 6, 7], [], [8], [9, 10]]


def test_rows_round_trip_and_pad() -> None:
    ragged = Ragged.from_rows(ROWS)
    assert ragged.rows() == ROWS and len(ragged) == 4
    assert ragged.offsets.tolist() == [0, 3, 3, 4]
    assert ragged.padded().tolist() == [[5, 6, 7], [0, 0, 0], [8, 0, 0], [9, 10, 0]]
    assert ragged.padded(np.array([3, 2])).tolist() == [[9, 10], [8, 0]]
    assert ragged.padded(np.array([1])).tolist() == [[0]]  # at least one column
    assert Ragged.from_rows([]).padded().shape == (0, 1) and Ragged.from_rows([]).rows() == []
    assert starts_of(np.array([2, 0, 3])).tolist() == [0, 2, 2]


def test_filled_puts_rows_in_their_places() -> None:
    holes = Ragged.from_rows([[5, 6, 7], [], [8], []])
    assert holes.filled([1, 3], [[1, 2], [3]]).rows() == [[5, 6, 7], [1, 2], [8], [3]]
    assert holes.filled([], []) is holes
