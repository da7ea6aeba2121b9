"""Tampering with a bundle copy, and the check that every reader refuses the result the same way."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewclf.cli import main
from reviewclf.errors import ReviewclfError
from reviewclf.runtime.bundle import MANIFEST, load_bundle


def edit_manifest(bundle: Path, change: Callable[[dict], None]) -> None:
    manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    change(manifest)
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def zip_bundle(source: Path, out: Path, extra: dict[str, bytes] | None = None) -> Path:
    """The files of a bundle directory as flat members of one zip, plus any ``extra`` members."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.iterdir()):
            archive.write(path, arcname=path.name)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out


def assert_refused(path: Path, *words: str) -> str:
    """``load_bundle`` and ``reviewclf verify``/``info`` all refuse ``path`` with the same one-line error."""
    with pytest.raises(ReviewclfError) as refused:
        load_bundle(path)
    message = str(refused.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    for command in ("verify", "info"):
        result = CliRunner().invoke(main, [command, str(path)])
        assert result.exit_code != 0
        assert isinstance(result.exception, SystemExit), result.exception  # handled, not a crash
        assert "Traceback" not in result.output
        assert result.stderr.strip() == f"error: {message}"
    return message


def flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
