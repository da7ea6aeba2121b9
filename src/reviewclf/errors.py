"""The one exception type users see.

Every failure caused by input (a bad file, a bad bundle, a bad option) raises ``ReviewclfError`` with a
message that fits on one line and names the file (and line) at fault; the CLI prints it without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class ReviewclfError(Exception):
    """A user-facing error: the message is complete and fits on one line."""


class OptionError(ReviewclfError):
    """A bad argument to a library call, named by its parameter (``threshold``, ``val_fraction``).

    The CLI shows the flag that sets the parameter instead (``--threshold``), so each layer speaks its own terms.
    """

    def __init__(self, param: str, problem: str):
        self.param = param
        self.problem = problem
        super().__init__(f"{param}: {problem}")

    def naming(self, name: str) -> str:
        """The message with ``name`` (e.g. a CLI flag) in place of the parameter."""
        return f"{name}: {self.problem}"


def located(path: object, line: int | None, message: str) -> ReviewclfError:
    """Build an error that names where it happened, as ``file:line: message``."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    return ReviewclfError(f"{where}: {message}")


@contextmanager
def file_errors(path: object, directory_note: str = "") -> Iterator[None]:
    """Opening or reading ``path`` inside this block: an OS error becomes one ``ReviewclfError`` naming it.

    Shared by the labeled-data readers and the prediction input reader, so a missing, unreadable or damaged
    file reads the same to a user whichever command met it. ``directory_note`` ends the is-a-directory error.
    """
    try:
        yield
    except FileNotFoundError:
        raise located(path, None, "no such file") from None
    except IsADirectoryError:
        raise located(path, None, f"is a directory{directory_note}") from None
    except PermissionError:
        raise located(path, None, "permission denied") from None
    except OSError as exc:  # also gzip's BadGzipFile, whose message is its only detail
        detail = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
        raise located(path, None, f"cannot read the file ({detail})") from None
