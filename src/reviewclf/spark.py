"""Score a Spark DataFrame column with a bundle: ``spark_udf`` gives a pandas UDF, as MLflow's
``mlflow.pyfunc.spark_udf`` does for its models.

    udf = spark_udf(spark, "bundles/yelp")
    df.withColumn("prediction", udf("text"))      # struct<label: string, probability: float>

The UDF is of the iterator form: each Python worker builds its Predictor once (checksumming the bundle it
was given) and reuses it for every Arrow batch and every task it runs. The bundle reaches the executors as a
copy sent with ``SparkContext.addFile`` (the default), or, with ``ship=False``, by its path, which every
executor must then be able to read (shared storage mounted at the same path). Needs ``reviewclf[spark]``.

No ``from __future__ import annotations`` here: pandas_udf reads the worker function's type hints to pick
the iterator form, and they must be real objects.
"""

import atexit
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .engines import WORKER_THREADS, ScoringSpec, result_names, score_groups, worker_predictor
from .errors import ReviewclfError
from .extras import require
from .runtime.batching import DEFAULT_BATCH_SIZE
from .runtime.bundle import ONNX_INT8_MODEL, load_bundle
from .runtime.predictor import Decision

FEATURE = "reviewclf.spark"


@dataclass(frozen=True)
class _Source:
    """Where a worker finds the bundle: the name ``addFile`` registered, or a path every executor reads;
    ``shown`` is how messages name it (the user's path, not the worker's copy)."""

    shipped: str | None
    path: str
    shown: str

    def local_path(self) -> str:
        if self.shipped is None:
            return self.path
        from pyspark import SparkFiles

        return SparkFiles.get(self.shipped)


def spark_udf(spark: Any, bundle: str | Path, *, all_probs: bool = False, threshold: float | None = None,
              int8: bool = False, threads: int | None = WORKER_THREADS, batch_size: int = DEFAULT_BATCH_SIZE,
              ship: bool = True) -> Any:
    """A pandas UDF of one string column giving ``struct<label: string, probability: float>`` (plus one
    ``p_<label>`` float field per label with ``all_probs``); a null text gives null fields.

    The bundle's manifest is read here, on the driver, so a missing bundle or a bad option fails before the
    job starts; its checksums are checked by each worker that loads it. ``threads`` is ONNX Runtime's
    intra-op threads per worker (``None``: every core of the executor), one by default because Spark already
    runs one worker per core.
    """
    for module in ("pyspark", "pyarrow", "pandas"):
        require(module, "spark", FEATURE)
    import pandas as pd
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import FloatType, StringType, StructField, StructType

    labels = _check_on_driver(bundle, threshold, int8)
    source = _ship(spark, Path(bundle)) if ship else _Source(None, str(bundle), str(bundle))
    spec = ScoringSpec("", int8, threads, batch_size, threshold, all_probs)
    fields = [StructField(name, StringType() if name == "label" else FloatType())
              for name in result_names(labels, all_probs)]

    def predict(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        return _score(source, spec, batches)

    return pandas_udf(predict, returnType=StructType(fields))


def _check_on_driver(bundle: str | Path, threshold: float | None, int8: bool) -> list[str]:
    """The bundle's labels, after the checks that need no model: it exists, its manifest is sound, it has the
    model asked for, and the threshold fits its decision rule."""
    loaded = load_bundle(bundle, verify_all=False)
    if int8 and ONNX_INT8_MODEL not in loaded.names:
        raise ReviewclfError(f"{loaded.path}: bundle has no {ONNX_INT8_MODEL} (export it with --quantize)")
    Decision(loaded.labels, loaded.manifest["decision"]).check(threshold)
    return loaded.labels


def _ship(spark: Any, bundle: Path) -> _Source:
    """Send the bundle to every executor as one zip archive registered under a name drawn for this call.

    SparkFiles keys files by name and refuses a second file of the same name, so each call gets its own;
    a directory bundle becomes the flat archive the runtime reads, its bytes unchanged (stored, not
    compressed), so the workers' checksums test what the user gave.
    """
    staging = Path(tempfile.mkdtemp(prefix="reviewclf-spark-"))
    atexit.register(shutil.rmtree, staging, ignore_errors=True)
    archive = staging / f"{staging.name}.zip"
    if bundle.is_dir():
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as out:
            for member in sorted(bundle.iterdir()):
                out.write(member, arcname=member.name)
    else:
        shutil.copyfile(bundle, archive)
    spark.sparkContext.addFile(str(archive))
    return _Source(archive.name, str(archive), str(bundle))


def _score(source: _Source, spec: ScoringSpec, batches: Iterator[Any]) -> Iterator[Any]:
    """On a worker: the process's Predictor for this bundle, then one result frame per Arrow batch."""
    import pandas as pd

    local = source.local_path()
    spec = replace(spec, bundle=local)
    try:
        predictor = worker_predictor(spec)
        for _, columns in score_groups(predictor, spec, ((None, texts) for texts in batches)):
            yield pd.DataFrame(columns)
    except ReviewclfError as exc:
        raise ReviewclfError(str(exc).replace(local, source.shown)) from None
