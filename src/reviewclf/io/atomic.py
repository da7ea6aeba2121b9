"""Atomic outputs: a prediction file, a run directory and a bundle are built beside their target and swapped in
whole.

A failed or interrupted ``train``, ``export`` or ``predict`` must never leave a half-written output, must never
overwrite one of its inputs, and a successful one with ``--force`` must not remove the old output before the
new one is complete. Each temporary entry is locked (``flock``) while its writer lives, so the leftovers of a
killed writer are told from a running one's and swept by the next writer of the same target.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from ..errors import ReviewclfError
from .opener import STDIO

TOKEN_HEX = 12
_TEMP_TAIL = re.compile(rf"[0-9a-f]{{{TOKEN_HEX}}}(\.zip)?(\.tmp|\.old)?|old")


def _temp_name(out: Path, suffix: str) -> Path:
    return out.parent / f".{out.name}.{secrets.token_hex(TOKEN_HEX // 2)}{suffix}"


def _create_beside(out: Path, suffix: str, create: Callable[[Path], int]) -> tuple[Path, int]:
    """Create a new temporary entry next to ``out`` with ``create`` (which returns a descriptor of it), lock
    it, and return its path and the descriptor (closing it releases the lock).

    The name is drawn before the entry is made, inside the cleanup's reach: a name returned by ``mkstemp`` or
    ``mkdtemp`` comes back only after the entry exists, and an interrupt in between would leave it behind.
    """
    while True:
        temp = _temp_name(out, suffix)
        try:
            fd = create(temp)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return temp, fd
        except FileExistsError:
            continue  # someone else's: never removed, another name is drawn
        except BaseException:
            _remove(temp)
            raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(OSError):
            path.unlink()


def _in_use(path: Path) -> bool:
    """Whether a live writer holds ``path``'s lock (an entry that cannot be opened counts as in use)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def sweep_stale(out: Path) -> None:
    """Remove the temporary siblings of ``out`` that writers killed mid-way left (``kill -9``, a power cut).

    An entry a live writer holds is kept, and so is a moved-aside old output while ``out`` is missing: it is
    then the only copy.
    """
    prefix = f".{out.name}."
    with suppress(OSError):
        for entry in list(out.parent.iterdir()):
            tail = entry.name[len(prefix):] if entry.name.startswith(prefix) else None
            if tail is None or not _TEMP_TAIL.fullmatch(tail) or entry.is_symlink():
                continue
            if tail.endswith("old") and not out.exists():
                continue
            if not _in_use(entry):
                _remove(entry)


@contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """A new, world-readable directory next to ``out`` (same file system, so renames are atomic), removed if
    the block fails; the block moves it into place (``replace_path``) when it succeeds.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(out)

    def make(path: Path) -> int:
        path.mkdir()
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY)

    tmp, lock = _create_beside(out, "", make)
    try:
        tmp.chmod(0o755)  # the output is readable by others, as any directory the user makes
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(lock)


@contextmanager
def staging_file(out: Path, suffix: str = ".tmp") -> Iterator[tuple[Path, IO[bytes]]]:
    """A new locked file next to ``out``, open for binary writing, removed if the block fails; the block
    moves it into place (``replace_path``) before it ends, while the lock is still held."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        temp, fd = _create_beside(out, suffix, lambda path: os.open(path, flags, 0o666))
    except OSError as exc:
        raise ReviewclfError(f"{out}: cannot write here ({exc.strerror or exc})") from None
    try:
        with io.BufferedWriter(_CheckedWrites(fd, out)) as stream:
            yield temp, stream
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


def replace_path(source: Path, out: Path) -> None:
    """Rename ``source`` (file or directory) to ``out``; an existing ``out`` is moved aside first and deleted
    only once ``source`` is in its place."""
    if not out.exists():
        source.rename(out)
        return
    old = _temp_name(out, ".old")
    out.rename(old)
    source.rename(out)
    _remove(old)


class _CheckedWrites(io.FileIO):
    """A file descriptor whose write errors (a full disk, a file-size limit) are one line naming the output;
    a closed pipe stays a ``BrokenPipeError``, which the CLI treats as the reader having had enough."""

    def __init__(self, fd: int, shown_as: object, closefd: bool = True):
        super().__init__(fd, "w", closefd=closefd)
        self.shown_as = shown_as

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            return super().write(data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise ReviewclfError(f"{self.shown_as}: cannot write ({exc.strerror or exc})") from None


def _text(raw: io.RawIOBase) -> io.TextIOWrapper:
    """UTF-8 without newline translation: CSV writes its own line ends."""
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8", newline="")


def refuse_inputs(target: Path, inputs: Sequence[str]) -> None:
    """An output that is one of the inputs (the same file, also through a link) would destroy it: refuse."""
    for name in inputs:
        if name != STDIO and target.exists():
            with suppress(OSError):
                if os.path.samefile(name, target):
                    raise ReviewclfError(f"{target}: is also an input; write the output to another file")


@contextmanager
def open_output(path: str | None, inputs: Sequence[str] = ()) -> Iterator[IO[str]]:
    """A UTF-8 text stream to stdout (``None``/``-``) or, atomically, to the file ``path``.

    The file is written under a temporary name in the same directory and renamed over ``path`` only when
    the block ends without an exception; on any error, Ctrl-C included, the temporary file is removed.
    A link is followed (the file it names is replaced, the link stays); a character device or FIFO is
    written directly, since renaming over it would replace the node. Created with mode 0o666, the file gets
    the permissions the umask gives any new file.
    """
    if path is None or path == STDIO:
        with _stdout_text() as stream:
            yield stream
        return
    target = Path(os.path.realpath(path))
    refuse_inputs(target, inputs)
    mode = target.stat().st_mode if target.exists() else None
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        with _text(_CheckedWrites(os.open(target, os.O_WRONLY), path)) as stream:
            yield stream
        return
    if mode is not None and stat.S_ISDIR(mode):
        raise ReviewclfError(f"{path}: is a directory (give an output file name)")
    if mode is not None and not stat.S_ISREG(mode):
        raise ReviewclfError(f"{path}: is not a regular file; refusing to replace it")
    if not target.parent.is_dir():
        raise ReviewclfError(f"{path}: the directory {target.parent} does not exist")
    sweep_stale(target)
    with staging_file(target) as (temp, binary):
        stream = io.TextIOWrapper(binary, encoding="utf-8", newline="", write_through=False)
        yield stream
        stream.flush()
        os.fsync(binary.fileno())  # the data is on disk before the name says it is complete
        stream.detach()
        os.replace(temp, target)


@contextmanager
def _stdout_text() -> Iterator[IO[str]]:
    """stdout as UTF-8 text, left open afterwards; a write error (a full disk) is an error, not silence."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):  # not a real file (a test runner's capture)
        fd = None
    if fd is None:
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield stream
        finally:
            stream.flush()
            stream.detach()  # the capture stays open for its owner
        return
    stream = _text(_CheckedWrites(fd, "stdout", closefd=False))
    try:
        yield stream
        stream.flush()
    finally:
        with suppress(Exception):  # the block's own error, if any, is the one to report
            stream.close()
