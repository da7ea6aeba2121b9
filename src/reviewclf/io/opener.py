"""One way to open an input: a path, ``-`` for stdin, a ``.gz``, or a ``.zip`` of one file; and one mapping of
the errors reading can raise to a one-line ``ReviewclfError`` naming the file."""

from __future__ import annotations

import csv
import gzip
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

from ..errors import file_errors, located

STDIO = "-"
STDIN_NAME = "<stdin>"


def display_name(name: str | Path) -> str | Path:
    """How an input is named in messages (stdin has no file name)."""
    return STDIN_NAME if str(name) == STDIO else name


@contextmanager
def open_input(path: str | Path) -> Iterator[tuple[IO[bytes], str]]:
    """Open a data file for reading bytes, looking inside a ``.zip`` of one file or a ``.gz``.

    Yields the stream and the name of the file inside (used for detection and for ``lines`` labels).
    """
    if str(path) == STDIO:
        yield sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin, STDIN_NAME  # type: ignore[misc]
        return
    path = Path(path)
    lower = path.name.lower()
    if lower.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir()
                and not info.filename.startswith("__MACOSX/")
                and not PurePosixPath(info.filename).name.startswith(".")
            ]
            if len(members) != 1:
                names = ", ".join(m.filename for m in members[:5]) or "nothing"
                raise located(path, None, f"a .zip must hold exactly one data file, this one holds {names}")
            with archive.open(members[0]) as stream:
                yield stream, PurePosixPath(members[0].filename).name
    elif lower.endswith(".gz"):
        with gzip.open(path, "rb") as stream:
            yield stream, path.name[:-3]
    else:
        with open(path, "rb") as stream:
            yield stream, path.name


@contextmanager
def read_errors(path: str | Path, directory_note: str = "") -> Iterator[None]:
    """Turn the exceptions that reading a bad or missing file raises into one-line ``ReviewclfError``s: the
    OS errors as every reader words them (``file_errors``), plus the archive and CSV ones."""
    try:
        with file_errors(path, directory_note):
            yield
    except zipfile.BadZipFile:
        raise located(path, None, "not a valid .zip file") from None
    except (EOFError, zlib.error, tarfile.TarError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise located(path, None, f"cannot read the file ({detail})") from None
    except csv.Error as exc:
        raise located(path, None, f"bad CSV ({exc})") from None


def inner_name(path: str | Path) -> str:
    """The name of the data file itself: inside a ``.zip``, or without ``.gz``."""
    if str(path) == STDIO:
        return STDIN_NAME
    path = Path(path)
    if path.name.lower().endswith(".zip"):
        with open_input(path) as (_, name):
            return name
    return path.name[:-3] if path.name.lower().endswith(".gz") else path.name


