"""How a stream of texts is cut for the model: windows of texts sorted by length, and batches within a window
capped by rows and by token slots. Light (numpy only), so the CLI can show the defaults without loading
ONNX Runtime."""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

# Rows per batch at most. Short texts fill a batch with rows long before the token cap below: more rows per
# ONNX Runtime call then cost less per row (benchmarks/results/predict.md).
DEFAULT_BATCH_SIZE = 1024
# A batch also holds at most this many token slots (rows x longest row), so a batch of long reviews is cut
# smaller: ONNX Runtime's working memory follows the batch shape, and long inputs must not grow it.
TOKENS_PER_BATCH = 1 << 16
# Texts are sorted by length inside a window of at most this many batches and ``WINDOW_CHARS`` characters, so
# a batch holds texts of similar length and little padding is computed; results still come back in input
# order. The character cap keeps a window of long reviews (and the memory it holds) as small as one of
# sentences.
SORT_WINDOW_BATCHES = 8
WINDOW_CHARS = 1 << 21


def token_budget_batches(sorted_lengths: np.ndarray, batch_size: int) -> list[slice]:
    """Cut rows sorted by length into consecutive batches of at most ``batch_size`` rows and at most
    ``TOKENS_PER_BATCH`` token slots (a single longer row still gets a batch of its own).

    Rows are sorted ascending, so a batch's slots (rows x its last row's length) grow with each row added
    and one ``searchsorted`` per batch finds where it must end.
    """
    lengths = np.maximum(np.asarray(sorted_lengths, dtype=np.int64), 1)
    batches, start = [], 0
    while start < len(lengths):
        candidates = lengths[start : start + batch_size]
        slots = np.arange(1, len(candidates) + 1) * candidates
        size = max(int(np.searchsorted(slots, TOKENS_PER_BATCH, side="right")), 1)
        batches.append(slice(start, start + size))
        start += size
    return batches


def text_windows(groups: Iterable[Sequence[str]], max_texts: int) -> Iterator[list[str]]:
    """Consecutive lists of at most ``max_texts`` texts and about ``WINDOW_CHARS`` characters (a window ends
    with the text that reaches the cap), cut from groups of texts by slicing, not a step per text."""
    window: list[str] = []
    chars = 0
    for group in groups:
        start = 0
        while start < len(group):
            take = group[start : start + max_texts - len(window)]
            reached = list(itertools.accumulate(map(len, take), initial=chars))[1:]
            cut = min(bisect_left(reached, WINDOW_CHARS) + 1, len(take))
            window.extend(take[:cut])
            chars, start = reached[cut - 1], start + cut
            if len(window) == max_texts or chars >= WINDOW_CHARS:
                yield window
                window, chars = [], 0
    if window:
        yield window
