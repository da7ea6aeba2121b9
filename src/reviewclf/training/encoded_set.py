"""One split as the training loop draws it: token ids, row lengths and label indices, batches gathered and
padded when they are drawn."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..runtime.ragged import Ragged, starts_of

if TYPE_CHECKING:
    from .row_features import RowFeatures

# a split's ids file up to this size is read into memory (a batch is then one indexing op, not a read per
# row); a larger one is read by row, so that the memory of a run stays flat however large its data
IN_MEMORY_BYTES = 1 << 26
# the padded ids of one evaluation or counting batch: its activations (a long review's n-grams times the
# embedding width) stay a few tens of MB however long the reviews
PASS_TOKENS = 1 << 18


class FileRows:
    """Rows of flat int32 ids read from a file by position, one ``pread`` per row: a memory map of the file
    would count the whole file in the resident set (the kernel maps much more than the pages a batch reads),
    while reads leave it to the page cache, which gives memory back under pressure."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "rb")  # noqa: SIM115 - lives as long as the split
        self.size = os.fstat(self._file.fileno()).st_size // 4

    def padded(self, offsets: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
        out = np.zeros((len(offsets), width), dtype=np.int32)
        fd = self._file.fileno()
        for row, (start, length) in enumerate(zip(offsets.tolist(), lengths.tolist())):
            if length:
                out[row, :length] = np.frombuffer(_read(self._file, fd, 4 * start, 4 * length), dtype=np.int32)
        return out


def _read(file: object, fd: int, at: int, size: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, at)
    file.seek(at)  # type: ignore[attr-defined]  # Windows: no pread
    return file.read(size)  # type: ignore[attr-defined]


@dataclass
class EncodedSet:
    """Token ids, row lengths and label indices of one split, on one device. The ids stay flat (int32, no
    padding: a corpus padded to its longest review would hold several times its tokens) and a batch is
    gathered and padded, as the int64 the models take, when it is drawn.

    The ids are a tensor on the device (``ids``), or, for a stored split over ``IN_MEMORY_BYTES`` trained from
    on the CPU, rows of its file (``rows``), so that the memory of a run does not grow with its data."""

    ids: torch.Tensor | None
    offsets: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor
    rows: FileRows | None = None
    # what the ngram model reads of each row, computed once for a fit (``row_features``); None: the ids
    features: RowFeatures | None = None

    @classmethod
    def build(cls, rows: Ragged, targets: np.ndarray, device: torch.device) -> EncodedSet:
        # one trailing padding id, so the gather of a batch's padding positions stays inside the array
        flat = np.append(rows.ids, 0).astype(np.int32)
        return cls.of(torch.from_numpy(flat).to(device), rows.lengths, targets, device)

    @classmethod
    def of(cls, ids: torch.Tensor | None, lengths: np.ndarray, targets: np.ndarray | torch.Tensor, device: torch.device,
           rows: FileRows | None = None, offsets: np.ndarray | None = None) -> EncodedSet:
        """From flat int32 ``ids`` that end with one padding id (or their file), the rows' lengths and their
        label indices; ``offsets``: where each row starts, when the rows are not one after another in order."""
        lengths = np.asarray(lengths, dtype=np.int64)
        offsets = starts_of(lengths) if offsets is None else np.asarray(offsets, dtype=np.int64)
        return cls(ids=ids, offsets=torch.from_numpy(offsets).to(device),
                   lengths=torch.from_numpy(lengths).to(device),
                   targets=torch.as_tensor(targets, dtype=torch.int64).to(device), rows=rows)

    @classmethod
    def open(cls, path: Path, lengths: np.ndarray, targets: np.ndarray | torch.Tensor, device: torch.device,
             offsets: np.ndarray | None = None) -> EncodedSet:
        """The rows of an ids file (flat int32, one trailing padding id): in the accelerator's memory, in the
        CPU's up to ``IN_MEMORY_BYTES``, else read by row from the file."""
        if device.type != "cpu" or path.stat().st_size <= IN_MEMORY_BYTES:
            ids = torch.from_numpy(np.fromfile(path, dtype=np.int32)).to(device)
            return cls.of(ids, lengths, targets, device, offsets=offsets)
        return cls.of(None, lengths, targets, device, FileRows(path), offsets=offsets)

    @property
    def device(self) -> torch.device:
        return self.targets.device

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def passes(self, max_rows: int, max_tokens: int = PASS_TOKENS) -> list[torch.Tensor]:
        """Every row once, in batches of similar lengths, each at most ``max_rows`` rows and ``max_tokens``
        padded ids (one row at least): the batches of a pass that needs no random order (evaluation,
        counting), whose memory then does not depend on which rows happen to share a batch with the longest."""
        order = torch.argsort(self.lengths, stable=True)
        lengths = self.lengths[order].cpu().numpy()
        batches, start = [], 0
        while start < len(order):
            rows = min(max_rows, len(order) - start)
            while rows > 1 and rows * int(lengths[start + rows - 1]) > max_tokens:
                rows = max(1, min(rows - 1, max_tokens // max(int(lengths[start + rows - 1]), 1)))
            batches.append(order[start : start + rows])
            start += rows
        return batches

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = self.lengths[index]
        width = max(int(lengths.max()), 1) if len(index) else 1
        if self.rows is not None:
            padded = self.rows.padded(self.offsets[index].numpy(), lengths.numpy(), width)
            return torch.from_numpy(padded).long(), self.targets[index]
        assert self.ids is not None
        columns = torch.arange(width, device=self.ids.device)
        inside = columns < lengths[:, None]
        positions = torch.where(inside, self.offsets[index, None] + columns, len(self.ids) - 1)
        return torch.take(self.ids, positions).long(), self.targets[index]  # take: a third faster than ids[...]

    def inputs(self, index: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """The model's inputs for these rows, and their targets: ``(ids,)``, or the ``RowFeatures`` the split
        carries (``NGram.forward_rows``'s)."""
        if self.features is not None:
            return self.features.batch(index), self.targets[index]
        ids, targets = self.batch(index)
        return (ids,), targets
