"""Shared fixtures: the real data sets in ../shared/data, and one small trained run and bundle."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """For modules of tiny models: one intra-op thread is as fast, and far faster on a busy machine (an idle
    second thread waking up costs about a millisecond per operation there)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_run(out: Path, **overrides: object) -> Path:
    """Train a small, fast model on the embedded demo sentences into ``out`` and return the run directory."""
    from reviewclf.training.config import TrainConfig
    from reviewclf.training.run import train_run

    settings: dict[str, object] = {"epochs": 4, "lr": 0.01, "out": str(out), "batch_size": 64}
    if overrides.get("model") == "ngram":
        settings.update(dim=16, buckets=4096, dropout=0.1)
    if overrides.get("model") == "mlp":
        settings.update(hidden=16, dropout=0.1)
    settings.update(overrides)
    train_run(TrainConfig.from_dict(settings), log=lambda _: None)
    return out


def make_bundle(run_dir: Path, out: Path, **options: object) -> Path:
    from reviewclf.export.bundle_writer import export_bundle

    export_bundle(run_dir, out, log=lambda _: None, **options)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A perceptron trained for a few epochs on the demo sentences (binary: negative/positive)."""
    return make_run(tmp_path_factory.mktemp("runs") / "perceptron")


@pytest.fixture(scope="session")
def demo_bundle(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo run exported as a bundle directory, with the int8 model."""
    return make_bundle(demo_run, tmp_path_factory.mktemp("bundles") / "perceptron", quantize=True)
