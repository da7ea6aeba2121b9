"""The texts of a training run, held so that they can be read more than once without being held in memory.

The tokenizer is fitted on the training split before anything can be encoded, so the texts are needed twice;
a file of millions of reviews does not fit in memory as Python strings, and standard input cannot be read
twice. ``TextSpool`` writes them once, as UTF-8 one after another in a file, and reads them back in blocks.
``TextList`` gives texts already in memory (the Python API's lists) the same interface.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..runtime.ragged import starts_of

BLOCK_ROWS = 1024
# a review read back as it was written, even one carrying a lone surrogate a decoder let through
_ERRORS = "surrogatepass"


class TextSource(Protocol):
    def __len__(self) -> int: ...

    def blocks(self, rows: np.ndarray, size: int = BLOCK_ROWS) -> Iterator[list[str]]:
        """The texts of ``rows``, in that order, as lists of at most ``size``."""
        ...


@dataclass
class TextList:
    texts: Sequence[str]

    def __len__(self) -> int:
        return len(self.texts)

    def blocks(self, rows: np.ndarray, size: int = BLOCK_ROWS) -> Iterator[list[str]]:
        for start in range(0, len(rows), size):
            yield [self.texts[i] for i in rows[start : start + size].tolist()]


class TextSpool:
    """Texts appended to ``path`` (``add``), then read back by row (``blocks``) once ``close`` is called."""

    def __init__(self, path: Path):
        self.path = path
        self._writer = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed by close()
        self._sizes = array("q")
        self.lengths = np.zeros(0, dtype=np.int64)
        self.offsets = np.zeros(0, dtype=np.int64)

    def add(self, text: str) -> None:
        data = text.encode("utf-8", _ERRORS)
        self._writer.write(data)
        self._sizes.append(len(data))

    def close(self) -> TextSpool:
        self._writer.close()
        self.lengths = np.frombuffer(self._sizes, dtype=np.int64).copy()
        self.offsets = starts_of(self.lengths)
        return self

    def __len__(self) -> int:
        return len(self._sizes)

    def blocks(self, rows: np.ndarray, size: int = BLOCK_ROWS) -> Iterator[list[str]]:
        """One read per block, of the bytes from its first row to its last: the splits' rows are sorted, so
        a block's span holds little besides its own texts."""
        with open(self.path, "rb") as reader:
            for start in range(0, len(rows), size):
                chunk = rows[start : start + size]
                if not len(chunk):
                    continue
                low, high = int(chunk.min()), int(chunk.max())
                first = int(self.offsets[low])
                reader.seek(first)
                data = reader.read(int(self.offsets[high] + self.lengths[high]) - first)
                begins = (self.offsets[chunk] - first).tolist()
                yield [data[b : b + n].decode("utf-8", _ERRORS) for b, n in zip(begins, self.lengths[chunk].tolist())]
