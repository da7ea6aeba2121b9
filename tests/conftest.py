"""Shared fixtures: the real data sets in ../shared/data, and one small trained run and bundle."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import DATA, make_bundle, make_run

pytest_plugins = ["tests.torchless"]


def pytest_configure(config: pytest.Config) -> None:
    # The tests read real reviews; a missing data folder is a broken checkout, not a reason to skip.
    if not DATA.is_dir():
        raise pytest.UsageError(f"the shared review data sets are missing: expected them at {DATA}")


@pytest.fixture(scope="session", autouse=True)
def token_store_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The training cache of the whole session in its temporary folder, never the user's ~/.cache (the
    variable reaches the CLI's subprocesses too)."""
    folder = tmp_path_factory.mktemp("cache")
    os.environ["REVIEWCLF_CACHE_DIR"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """For modules of tiny models: one intra-op thread is as fast, and far faster on a busy machine (an idle
    second thread waking up costs about a millisecond per operation there)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A perceptron trained for a few epochs on the demo sentences (binary: negative/positive)."""
    return make_run(tmp_path_factory.mktemp("runs") / "perceptron")


@pytest.fixture(scope="session")
def demo_bundle(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo run exported as a bundle directory, with the int8 model."""
    return make_bundle(demo_run, tmp_path_factory.mktemp("bundles") / "perceptron", quantize=True)
