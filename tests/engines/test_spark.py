"""``reviewclf.spark.spark_udf`` in a local[2] Spark session, on real Yelp reviews: the same labels and
probabilities as the in-process Predictor, rows and other columns kept, and a bad bundle failing the job with
the runtime's one-line error."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reviewclf.errors import ReviewclfError
from reviewclf.runtime.predictor import Predictor
from tests.engines.conftest import chosen_labels

pytest.importorskip("pyspark")
from reviewclf.spark import spark_udf  # noqa: E402

PARTITIONS = 3


def test_spark_udf_matches_the_predictor(spark: Any, demo_bundle: Path, reviews: Any, in_process: Any):
    """Labels and probabilities as in process, rows in order with their other columns; a null text (the last
    row) gives null fields."""
    schema = "id long, stars string, text string"
    with_null = spark.createDataFrame([(-1, "3", None)], schema=schema)
    df = spark.createDataFrame(reviews, schema=schema).coalesce(PARTITIONS).union(with_null)
    scored = df.withColumn("prediction", spark_udf(spark, demo_bundle)("text"))
    assert scored.schema["prediction"].dataType.simpleString() == "struct<label:string,probability:float>"
    result = scored.select("id", "stars", "text", "prediction.*").toPandas()
    assert result["id"].tolist() == reviews["id"].tolist() + [-1]  # input order
    assert result["stars"].tolist()[:-1] == reviews["stars"].tolist()
    assert result["text"].tolist()[:-1] == reviews["text"].tolist()
    assert result["label"].tolist()[:-1] == chosen_labels(demo_bundle, in_process)
    rows = np.arange(len(reviews))
    expected = in_process.probabilities[rows, in_process.chosen]
    np.testing.assert_allclose(result["probability"].to_numpy()[:-1], expected, rtol=0, atol=1e-6)
    assert result[["label", "probability"]].iloc[-1].isna().all()


def test_all_probs_by_shared_path_and_a_threshold_on_int8(spark: Any, demo_bundle: Path, reviews: Any,
                                                          in_process: Any):
    df = spark.createDataFrame(reviews, schema="id long, stars string, text string").coalesce(PARTITIONS)
    every = df.select(spark_udf(spark, demo_bundle, all_probs=True, ship=False)("text").alias("p")).select("p.*")
    assert every.columns == ["label", "probability", "p_negative", "p_positive"]
    np.testing.assert_allclose(every.toPandas()["p_positive"].to_numpy(), in_process.probabilities[:, 1], rtol=0,
                               atol=1e-6)
    strict = df.select(spark_udf(spark, demo_bundle, threshold=0.6, int8=True)("text").alias("p")).select("p.label")
    int8 = Predictor.load(demo_bundle, int8=True).score(reviews["text"].tolist(), threshold=0.6)
    assert strict.toPandas()["label"].tolist() == chosen_labels(demo_bundle, int8)


def job_error(spark: Any, udf: Any) -> str:
    df = spark.createDataFrame([(1, "great tacos"), (2, "cold fries")], schema="id long, text string")
    with pytest.raises(Exception) as failed:
        df.withColumn("prediction", udf("text")).collect()
    message = str(failed.value)
    assert "ReviewclfError" in message
    assert "pickl" not in message.lower() and "deserializ" not in message.lower()
    return message


def test_a_tampered_bundle_fails_the_job_with_the_runtime_error(spark: Any, tampered: tuple[Path, str]):
    path, error = tampered
    message = job_error(spark, spark_udf(spark, path))  # the manifest is sound: only a worker's checksum tells
    assert "checksum mismatch for model.onnx" in error and error in message  # named as the user's path


def test_a_bundle_the_executors_cannot_read_fails_the_job(spark: Any, demo_bundle: Path, tmp_path: Path):
    path = Path(shutil.copytree(demo_bundle, tmp_path / "shared"))
    udf = spark_udf(spark, path, ship=False)  # read by path on each executor, as on shared storage
    shutil.rmtree(path)
    assert f"{path}: no such bundle" in job_error(spark, udf)


def test_a_bad_bundle_or_option_fails_on_the_driver_at_once(spark: Any, demo_bundle: Path, tmp_path: Path):
    with pytest.raises(ReviewclfError, match="no such bundle"):
        spark_udf(spark, tmp_path / "nothing")
    without_int8 = Path(shutil.copytree(demo_bundle, tmp_path / "fp32"))
    (without_int8 / "model.int8.onnx").unlink()
    with pytest.raises(ReviewclfError, match="missing file model.int8.onnx"):
        spark_udf(spark, without_int8, int8=True)
