"""Progress bars for the long steps of a run (reading, tokenizing, each epoch), with rows per second.

Drawn on standard error and only when it is a terminal: a log file or a CI run gets the one-line summaries
the run prints anyway, not the bars' redraws.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm


def bar(what: str, total: int | None = None, keep: bool = False, rows: Iterable[Any] | None = None) -> Any:
    """A bar counting rows (those of ``rows`` as they are iterated, if given); ``keep``: leave it on screen when
    it ends (the epochs' bars give way to the epoch's summary line)."""
    return tqdm(rows, total=total, desc=what, unit=" rows", unit_scale=True, leave=keep, file=sys.stderr,
                disable=not sys.stderr.isatty(), dynamic_ncols=True, mininterval=0.5)
