"""Shared fixtures: the real data sets in ../shared/data, and one small trained run and bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_configure(config: pytest.Config) -> None:
    # The tests read real reviews; a missing data folder is a broken checkout, not a reason to skip.
    if not DATA.is_dir():
        raise pytest.UsageError(f"the shared review data sets are missing: expected them at {DATA}")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
