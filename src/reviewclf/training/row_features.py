"""What the ngram model reads of each review, computed once for a fit instead of at every batch.

Without word dropout a review's inputs are the same in every epoch, but the model derived them at every step:
a sort, the hashes and a gather from the 8M-entry hashed-row map for its sparse features, and an embedding
row per token for its mean word vector. Computed once, a review keeps its sparse table rows with naive-Bayes
evidence (the others add zero) and its distinct words with their counts (about half its tokens), held like
the ids: in memory, or read back by row from their files when large (``EncodedSet.open``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .encoded_set import EncodedSet
from .models import NGram, unique_mask

PASS_ROWS = 1024


@dataclass
class RowFeatures:
    """Per review of a split: its sparse table rows (``features``) and its distinct words interleaved with
    their counts (``words``: word, count, word, count, ...; one file, so one read per review)."""

    features: EncodedSet
    words: EncodedSet

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``NGram.forward_rows``'s inputs for these reviews: words, their weights (count / tokens), rows."""
        pairs, _ = self.words.batch(index)
        words, counts = pairs[:, 0::2], pairs[:, 1::2].float()
        weights = counts / counts.sum(dim=1, keepdim=True).clamp(min=1.0)
        return words, weights, self.features.batch(index)[0]


def precomputable(model: torch.nn.Module, word_dropout: float, compiled: bool) -> bool:
    """Whether a fit can take its inputs from ``with_row_features``: the ngram model training its compact
    table on ids that are the same every epoch (word dropout changes them; a compiled model keeps its graph)."""
    return isinstance(model, NGram) and model.compact_row.numel() > 0 and word_dropout <= 0 and not compiled


def words_and_counts(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's distinct non-padding ids interleaved with how often each occurs, flat in row order, and
    how many distinct ids each row has."""
    sorted_ids, _ = torch.sort(ids, dim=1)
    first = unique_mask(sorted_ids)
    rows, columns = first.nonzero(as_tuple=True)
    # a run of equal ids ends where the row's next distinct id starts, or at the row's end (padding sorts first)
    same_row = torch.roll(rows, -1) == rows
    if len(same_row):
        same_row[-1] = False
    ends = torch.where(same_row, torch.roll(columns, -1), ids.shape[1])
    pairs = torch.stack([sorted_ids[rows, columns], ends - columns], dim=1).flatten()
    return pairs, first.sum(dim=1)


class _RaggedWriter:
    """Rows of int32 written to a file in any row order, with where each starts and how long it is."""

    def __init__(self, path: Path, n_rows: int):
        self.path, self.out, self.written = path, open(path, "wb"), 0  # noqa: SIM115 - closed by ``open``
        self.offsets = np.zeros(n_rows, dtype=np.int64)
        self.lengths = np.zeros(n_rows, dtype=np.int64)

    def add(self, rows: np.ndarray, flat: torch.Tensor, counts: np.ndarray) -> None:
        self.lengths[rows] = counts
        self.offsets[rows] = self.written + np.cumsum(counts) - counts
        self.out.write(flat.to(torch.int32).cpu().numpy().tobytes())
        self.written += int(counts.sum())

    def open(self, targets: torch.Tensor, device: torch.device) -> EncodedSet:
        self.out.write(np.zeros(1, dtype=np.int32).tobytes())  # the padding id a batch's gather may point at
        self.out.close()
        return EncodedSet.open(self.path, self.lengths, targets, device, self.offsets)


@torch.no_grad()
def with_row_features(model: NGram, data: EncodedSet, folder: Path, name: str) -> EncodedSet:
    """``data`` carrying its rows' ``RowFeatures``, written to files named ``name`` in ``folder``. Valid while
    the model's compact table is; a fit's own copy of the split, not one to keep."""
    features = _RaggedWriter(folder / f"{name}.features.bin", len(data))
    words = _RaggedWriter(folder / f"{name}.words.bin", len(data))
    for index in data.passes(PASS_ROWS):
        ids, _ = data.batch(index)
        rows = index.cpu().numpy()
        table_rows = model.table_rows(ids)
        kept = table_rows != 0
        features.add(rows, table_rows[kept], kept.sum(dim=1).cpu().numpy())
        pairs, distinct = words_and_counts(ids)
        words.add(rows, pairs, 2 * distinct.cpu().numpy())
    opened = RowFeatures(features.open(data.targets, data.device), words.open(data.targets, data.device))
    return dataclasses.replace(data, features=opened)
