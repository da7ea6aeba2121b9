"""The C allocator: the CLI's own setting for its process, and handing back freed memory between phases."""

from __future__ import annotations

import ctypes
import sys
from typing import Any

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_BLOCKS_UP_TO = 64 << 20
KEEP_FREE_TOP = 256 << 20


def _glibc() -> Any | None:
    """The process's C library where it is glibc's on Linux (it has ``mallopt`` and ``malloc_trim``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def reuse_freed_memory() -> None:
    """Have glibc keep freed blocks for reuse rather than hand them back to the kernel.

    Scoring allocates the same few-MB numpy temporaries for every window, training the same tensors for every
    batch; returned to the kernel, each came back as fresh pages to fault in and zero, again and again
    (benchmarks/results/predict.md, train_imdb.md). Elsewhere than glibc on Linux this does nothing.
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, KEEP_BLOCKS_UP_TO)
        libc.mallopt(M_TRIM_THRESHOLD, KEEP_FREE_TOP)


def give_back_freed_memory() -> None:
    """Return the memory freed so far to the kernel (glibc's malloc_trim): fitting the vocabulary leaves tens of
    MB that its threads freed but glibc keeps, and training must not start with them on top of its own
    (benchmarks/results/train_scale.md). It changes no setting, so it is safe in any process."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
