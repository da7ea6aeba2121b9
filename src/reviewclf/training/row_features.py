"""The ngram model's sparse table rows of every row of a split, computed once for a fit.

Without word dropout a review's sparse features (its distinct words and hashed n-grams, mapped to the rows
of the compact table) are the same in every epoch, but the model computed them at every batch: a sort, the
hashes and a gather from the 8M-entry hashed-row map, a third of a CPU training step. Computed once, only the
rows with naive-Bayes evidence are kept (the others add zero), and they are held like the ids: in memory,
or read back by row from their file when large (``EncodedSet.open``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from .encoded_set import EncodedSet
from .models import NGram

PASS_ROWS = 1024


def precomputable(model: torch.nn.Module, word_dropout: float, compiled: bool) -> bool:
    """Whether a fit can take its features from ``with_row_features``: the ngram model training its compact
    table on ids that are the same every epoch (word dropout changes them; a compiled model keeps its graph)."""
    return isinstance(model, NGram) and model.compact_row.numel() > 0 and word_dropout <= 0 and not compiled


@torch.no_grad()
def with_row_features(model: NGram, data: EncodedSet, path: Path) -> EncodedSet:
    """``data`` carrying its rows' ``model.table_rows`` (without the zeros), written to the file ``path``.
    Valid while the model's compact table is; a fit's own copy of the split, not one to keep."""
    offsets = np.zeros(len(data), dtype=np.int64)
    lengths = np.zeros(len(data), dtype=np.int64)
    written = 0
    with open(path, "wb") as out:
        for index in data.passes(PASS_ROWS):
            ids, _ = data.batch(index)
            features = model.table_rows(ids)
            kept = features != 0
            counts = kept.sum(dim=1).cpu().numpy()
            rows = index.cpu().numpy()
            lengths[rows] = counts
            offsets[rows] = written + np.cumsum(counts) - counts
            out.write(features[kept].to(torch.int32).cpu().numpy().tobytes())
            written += int(counts.sum())
        out.write(np.zeros(1, dtype=np.int32).tobytes())  # the padding id a batch's gather may point at
    features = EncodedSet.open(path, lengths, data.targets, data.device, offsets)  # the split's own targets
    return dataclasses.replace(data, features=features)
