"""Fixtures of the engine tests: real Yelp reviews, what the in-process Predictor says of them, a tampered
bundle, and one Spark session and one local Ray instance for the whole test session (each costs seconds)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reviewclf.errors import ReviewclfError
from reviewclf.io.labeled import read_labeled
from reviewclf.runtime.predictor import Predictor
from tests.runtime.tampering import flip_byte
from tests.support import DATA

ROWS = 2000
WORKERS = 2


@pytest.fixture(scope="session")
def reviews() -> Any:
    """The first reviews of yelp-10k with an id and their stars, plus one empty review."""
    pd = pytest.importorskip("pandas")
    data = read_labeled(DATA / "yelp-10k" / "yelp.csv.zip", text_column="text", label_column="stars")
    texts = data.texts[: ROWS - 1] + [""]
    return pd.DataFrame({"id": np.arange(ROWS, dtype=np.int64) * 3, "stars": data.labels[:ROWS], "text": texts})


@pytest.fixture(scope="session")
def in_process(demo_bundle: Path, reviews: Any) -> Any:
    """The reference: the in-process Predictor's scores of ``reviews``."""
    return Predictor.load(demo_bundle).score(reviews["text"].tolist())


def chosen_labels(demo_bundle: Path, scores: Any) -> list[str]:
    labels = Predictor.load(demo_bundle).labels
    return [labels[i] for i in scores.chosen]


@pytest.fixture
def tampered(demo_bundle: Path, tmp_path: Path) -> tuple[Path, str]:
    """A copy of the demo bundle with one byte of model.onnx flipped, and the runtime's error for it."""
    copy = Path(shutil.copytree(demo_bundle, tmp_path / "tampered"))
    flip_byte(copy / "model.onnx", 100)
    with pytest.raises(ReviewclfError) as refused:
        Predictor.load(copy)
    return copy, str(refused.value)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark session with two worker slots and small Arrow batches (several per partition)."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master(f"local[{WORKERS}]").appName("reviewclf-tests")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", str(WORKERS))
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "300")
        # the JVM's quick-start compiler: the tests' Spark work is small, and start-up dominates it
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def ray_local() -> Iterator[Any]:
    """Ray on this machine, two CPUs, results in input order."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")

    ray.init(num_cpus=WORKERS, include_dashboard=False, configure_logging=False, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    yield ray
    ray.shutdown()
