"""The C allocator's settings for the CLI's own process (a library caller's process is never touched)."""

from __future__ import annotations

import ctypes
import sys

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_BLOCKS_UP_TO = 64 << 20
KEEP_FREE_TOP = 256 << 20


def reuse_freed_memory() -> None:
    """Have glibc keep freed blocks for reuse rather than hand them back to the kernel.

    Scoring allocates the same few-MB numpy temporaries for every window, training the same tensors for every
    batch; returned to the kernel, each came back as fresh pages to fault in and zero, again and again
    (benchmarks/results/predict.md, train_imdb.md). Elsewhere than glibc on Linux this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, KEEP_BLOCKS_UP_TO)
    mallopt(M_TRIM_THRESHOLD, KEEP_FREE_TOP)
