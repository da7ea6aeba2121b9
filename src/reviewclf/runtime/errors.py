"""The one exception type users see.

Every failure caused by input (a bad file, a bad bundle, a bad option) raises ``ReviewclfError`` with a
message that fits on one line and names the file (and line) at fault; the CLI prints it without a traceback.
"""

from __future__ import annotations


class ReviewclfError(Exception):
    """A user-facing error: the message is complete and fits on one line."""


def located(path: object, line: int | None, message: str) -> ReviewclfError:
    """Build an error that names where it happened, as ``file:line: message``."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    return ReviewclfError(f"{where}: {message}")
