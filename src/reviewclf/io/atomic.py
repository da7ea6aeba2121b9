"""Atomic outputs: a prediction file, a run directory and a bundle are built beside their target and swapped in
whole.

A failed or interrupted ``train`` or ``export`` must never leave a half-written output, and a successful one
with ``--force`` must not remove the old output before the new one is complete.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TypeVar

from ..errors import ReviewclfError
from .opener import STDIO

T = TypeVar("T")


def _create_beside(out: Path, suffix: str, create: Callable[[Path], T]) -> tuple[Path, T]:
    """Create a new temporary entry next to ``out`` with ``create`` and return its path and what create gave.

    The name is drawn before the entry is made, inside the cleanup's reach: a name returned by ``mkstemp`` or
    ``mkdtemp`` comes back only after the entry exists, and an interrupt in between would leave it behind.
    """
    while True:
        temp = out.parent / f".{out.name}.{secrets.token_hex(6)}{suffix}"
        try:
            return temp, create(temp)
        except FileExistsError:
            continue  # someone else's: never removed, another name is drawn
        except BaseException:
            if temp.is_dir():
                shutil.rmtree(temp, ignore_errors=True)
            else:
                with suppress(OSError):
                    temp.unlink()
            raise


@contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """A new, world-readable directory next to ``out`` (same file system, so renames are atomic), removed if
    the block fails; the block moves it into place (``replace_path``) when it succeeds.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp, _ = _create_beside(out, "", lambda path: path.mkdir())
    try:
        tmp.chmod(0o755)  # the output is readable by others, as any directory the user makes
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_path(source: Path, out: Path) -> None:
    """Rename ``source`` (file or directory) to ``out``; an existing ``out`` is moved aside first and deleted
    only once ``source`` is in its place."""
    if not out.exists():
        source.rename(out)
        return
    old = out.with_name(f".{out.name}.old")
    out.rename(old)
    source.rename(out)
    shutil.rmtree(old) if old.is_dir() else old.unlink()


@contextmanager
def open_output(path: str | None) -> Iterator[IO[str]]:
    """A UTF-8 text stream to stdout (``None``/``-``) or, atomically, to the file ``path``.

    The file is written under a temporary name in the same directory and renamed over ``path`` only when
    the block ends without an exception; on any error, Ctrl-C included, the temporary file is removed.
    Created with mode 0o666, the file gets the permissions the umask gives any new file.
    """
    if path is None or path == STDIO:
        with _stdout_text() as stream:
            yield stream
        return
    target = Path(path)
    if target.is_dir():
        raise ReviewclfError(f"{target}: is a directory (give an output file name)")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        temp, fd = _create_beside(target, ".tmp", lambda path: os.open(path, flags, 0o666))
    except FileNotFoundError:
        raise ReviewclfError(f"{target}: the directory {target.parent} does not exist") from None
    except OSError as exc:
        raise ReviewclfError(f"{target}: cannot write here ({exc.strerror or exc})") from None
    try:
        with open(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(temp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


@contextmanager
def _stdout_text() -> Iterator[IO[str]]:
    """stdout as UTF-8 without newline translation (CSV writes its own line ends), left open afterwards."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    sys.stdout.flush()
    stream = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    try:
        yield stream
    finally:
        with suppress(ValueError, OSError):
            stream.flush()
        stream.detach()
