"""The atomic writer: staging directories and files are removed on failure and readable on success."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reviewclf.io import atomic


def test_staging_dir_is_removed_when_the_block_fails_and_readable_when_it_succeeds(tmp_path):
    from reviewclf.io.atomic import replace_path, staging_dir

    out = tmp_path / "run"
    with pytest.raises(RuntimeError), staging_dir(out) as tmp:
        (tmp / "half.json").write_text("{")
        raise RuntimeError("failed mid-way")
    assert list(tmp_path.iterdir()) == []
    with staging_dir(out) as tmp:
        (tmp / "done.json").write_text("{}")
        replace_path(tmp, out)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert out.stat().st_mode & 0o777 == 0o755


def test_staging_dir_interrupted_just_after_it_is_made_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C between the directory's creation and its name reaching the cleanup (a window mkdtemp had)."""
    from reviewclf.io.atomic import staging_dir

    real_mkdir = os.mkdir

    def mkdir_then_interrupt(path, *args, **kwargs):
        real_mkdir(path, *args, **kwargs)
        if os.path.basename(path).startswith(".run."):
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "mkdir", mkdir_then_interrupt)
    with pytest.raises(KeyboardInterrupt), staging_dir(tmp_path / "run"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_output_file_gets_the_umask_permissions_and_no_temporary_file_stays(tmp_path: Path):
    out = tmp_path / "out.csv"
    with atomic.open_output(str(out)) as stream:
        stream.write("label\n")
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_interrupt_just_after_the_temporary_file_is_created_leaves_nothing(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch):
    """Ctrl-C between the file's creation and its name reaching the cleanup (a window ``mkstemp`` had)."""
    real_open = os.open

    def open_then_interrupt(path, flags, mode=0o777):
        os.close(real_open(path, flags, mode))
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt), atomic.open_output(str(tmp_path / "out.csv")):
        pass
    assert list(tmp_path.iterdir()) == []
