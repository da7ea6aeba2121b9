"""Atomic directory outputs: a run directory and a bundle are built beside their target and swapped in whole.

A failed or interrupted ``train`` or ``export`` must never leave a half-written output, and a successful one
with ``--force`` must not remove the old output before the new one is complete.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


def sibling_tempdir(out: Path) -> Path:
    """A new, world-readable temporary directory next to ``out`` (same file system, so renames are atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would make the output readable by its creator only
    return tmp


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
