"""Rows of token ids of different lengths, kept as one flat array and the rows' lengths.

The fast path produces ids this way, and a batch is padded from it with two numpy gathers, so no Python
list per text is built between the text and the model's input matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain

import numpy as np

PAD_ID = 0


def starts_of(lengths: np.ndarray) -> np.ndarray:
    """Where each of consecutive runs of these lengths starts in their concatenation."""
    return np.cumsum(lengths) - lengths


@dataclass(frozen=True)
class Ragged:
    """Row ``i`` holds ``ids[offsets[i] : offsets[i] + lengths[i]]`` (int64)."""

    ids: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[int]]) -> Ragged:
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        return cls(np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum())), lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    @cached_property
    def offsets(self) -> np.ndarray:
        return starts_of(self.lengths)

    def rows(self) -> list[list[int]]:
        return [row.tolist() for row in np.split(self.ids, np.cumsum(self.lengths)[:-1])] if len(self) else []

    def filled(self, positions: Sequence[int], rows: Sequence[Sequence[int]]) -> Ragged:
        """This with the (empty) rows at ``positions`` replaced by ``rows``."""
        if not len(positions):
            return self
        lengths = self.lengths.copy()
        lengths[list(positions)] = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        ids = np.empty(int(lengths.sum()), dtype=np.int64)
        starts = starts_of(lengths)
        mine = np.repeat(starts - self.offsets, self.lengths) + np.arange(len(self.ids))
        ids[mine] = self.ids
        for position, row in zip(positions, rows):
            ids[starts[position] : starts[position] + len(row)] = row
        return Ragged(ids, lengths)

    def padded(self, index: np.ndarray | None = None) -> np.ndarray:
        """The rows at ``index`` (default: all), right-padded with ``PAD_ID`` into one int64 matrix with at
        least one column."""
        lengths = self.lengths if index is None else self.lengths[index]
        starts = self.offsets if index is None else self.offsets[index]
        width = int(lengths.max(initial=0)) or 1
        columns = np.arange(width)
        inside = columns < lengths[:, None]
        out = np.zeros((len(lengths), width), dtype=np.int64)
        out[inside] = self.ids[(starts[:, None] + columns)[inside]]
        return out

