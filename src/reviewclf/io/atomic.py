"""Atomic directory outputs: a run directory and a bundle are built beside their target and swapped in whole.

A failed or interrupted ``train`` or ``export`` must never leave a half-written output, and a successful one
with ``--force`` must not remove the old output before the new one is complete.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """A new, world-readable directory next to ``out`` (same file system, so renames are atomic), removed if
    the block fails; the block moves it into place (``replace_path``) when it succeeds.

    Its name is drawn before it is made, inside the cleanup's reach: with ``mkdtemp`` an interrupt between
    the directory's creation and its name's return left it behind (the same window as the prediction
    output's, which a stress of Ctrl-C's hit).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = out.parent / f".{out.name}.{secrets.token_hex(6)}"
        try:
            tmp.mkdir()
            break
        except FileExistsError:
            continue  # someone else's: never removed, another name is drawn
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
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
