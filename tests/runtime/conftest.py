"""Fixtures of the runtime tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def bundle(demo_bundle: Path, tmp_path: Path) -> Path:
    """A private copy of the demo bundle directory, free to tamper with."""
    return Path(shutil.copytree(demo_bundle, tmp_path / "bundle"))
