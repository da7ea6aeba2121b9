"""Batch scoring through the engines: ``reviewclf predict`` next to Spark (``reviewclf.spark.spark_udf``) and
Ray Data (``reviewclf.ray.BundlePredictor``) with 1 and 2 workers, on the same Parquet file, in one run.

Every system reads one Parquet file per data set (``id``, ``text``; written once with pyarrow before any
clock starts, in ``--chunks`` row groups so that the engines can split it) and writes Parquet (``id``,
``label``, ``probability``):

* ``reviewclf predict BUNDLE in.parquet --text-column text -o out.parquet`` as a child process, wall clock
  start-up included, with the default threads (every core) and with ``--threads 1``.
* Spark: a ``SparkSession`` in ``local[N]``; the job reads the file (split into about ``--chunks`` partitions),
  ``withColumn("prediction", udf("text"))``, drops the text and writes Parquet. The session's start-up is
  timed apart from the job (the first session's includes the JVM's launch).
* Ray: ``ray.init(num_cpus=2)`` once; ``read_parquet`` cut into ``--chunks`` blocks, ``map_batches(
  BundlePredictor)`` on a pool of N actors, drop the text, ``write_parquet``. Every job starts its own actors,
  so the bundle load is inside each job's time. Each actor reserves half a CPU (``ACTOR_CPUS``) so that the
  read and write tasks can run beside 2 actors, and Ray reads the Parquet footer with one actor, not 32
  (``RAY_DATA_PARQUET_FOOTER_NUM_ACTORS``, unless set).

Each engine job runs once to warm up (Spark starts its Python workers and loads the bundle there), then
``--repeat`` times; the median is reported, with the first run beside it. Inside an engine each worker runs
ONNX Runtime on ``--worker-threads`` intra-op threads (default: 1, the engines' default, and 2 to show why).
Every engine's output is checked against the CLI's (same labels, probabilities within 1e-6); a difference
stops the benchmark.

Data sets: Yelp sentences (``yelp-shen-sentences/sentiment.{dev,test}.{0,1}``, 190,153 short sentences) and
IMDB test (25,000 long reviews). Without ``--bundle`` one ``ngram`` bundle is trained through the CLI on
yelp-10k polarity (as ``predict_throughput.py`` does) and used for both.

Run (full size, from the project root, on an otherwise idle machine):
    python benchmarks/distributed.py --bundle BUNDLE --repeat 3 --json benchmarks/results/distributed.json
Quick trial:
    python benchmarks/distributed.py --bundle BUNDLE --limit 2000 --repeat 1
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import DATA, check, comma_list, log, machine, markdown_table, run_child, scratch_dir, subsample, write_json
from predict_throughput import SHEN_FILES, reviewclf_command, train_bundle, yelp_data

WORKERS = (1, 2)
RAY_CPUS = 2
# Ray's books, not a thread count: with whole CPUs, 2 actors take both of RAY_CPUS and the read and write tasks
# never get one (the job hangs); at half a CPU each, one CPU stays free for them
ACTOR_CPUS = 0.5
FOOTER_ACTORS = "RAY_DATA_PARQUET_FOOTER_NUM_ACTORS"
ATOL = 1e-6
DATASET_NAMES = {"yelp": "Yelp sentences (Shen)", "imdb": "IMDB test"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=None,
                        help="the bundle to score with (default: train an ngram bundle on yelp-10k)")
    parser.add_argument("--datasets", default="yelp,imdb", help="comma-separated: yelp,imdb")
    parser.add_argument("--systems", default="cli,spark,ray", help="comma-separated: cli,spark,ray")
    parser.add_argument("--worker-threads", default="1,2", help="ONNX Runtime threads per engine worker to measure")
    parser.add_argument("--limit", type=int, default=None, help="at most N texts per data set")
    parser.add_argument("--chunks", type=int, default=16,
                        help="row groups, Spark partitions and Ray blocks per data set (a few tasks per worker)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up; the median is reported")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (inputs, outputs)")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args()
    args.datasets, args.systems = comma_list(args.datasets), comma_list(args.systems)
    args.worker_threads = [int(t) for t in comma_list(args.worker_threads)]
    if set(args.datasets) - set(DATASET_NAMES) or set(args.systems) - {"cli", "spark", "ray"}:
        parser.error("--datasets takes yelp and/or imdb, --systems cli, spark and/or ray")
    if args.repeat < 1 or args.chunks < 1:
        parser.error("--repeat and --chunks take a number from 1")
    if "cli" not in args.systems:
        parser.error("--systems needs cli: it is the reference every engine's output is checked against")
    return args


# ---------------------------------------------------------------- data


def load_texts(name: str, data_dir: Path, limit: int | None, seed: int) -> list[str]:
    """The texts to score, subsampled to ``limit``."""
    if name == "yelp":
        lines: list[str] = []
        for file in SHEN_FILES:
            with open(data_dir / "yelp-shen-sentences" / file, encoding="utf-8") as handle:
                lines.extend(line.rstrip("\n") for line in handle)
        return [lines[i] for i in subsample(len(lines), limit, seed)]
    from reviewclf.io.labeled import read_labeled

    data = read_labeled(data_dir / "imdb" / "aclImdb.tar.gz")
    rows = [i for i, split in enumerate(data.splits or []) if split == "test"]
    return [data.texts[rows[i]] for i in subsample(len(rows), limit, seed)]


def write_input(path: Path, texts: list[str], chunks: int) -> Path:
    """The one input file every system reads, in ``chunks`` row groups (the engines split a file by them)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": pa.array(np.arange(len(texts), dtype=np.int64)), "text": pa.array(texts, pa.string())})
    pq.write_table(table, path, row_group_size=max(1, math.ceil(len(texts) / chunks)))
    return path


def read_predictions(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) of an output file or directory, in ``id`` order; Spark's struct flattened."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if "prediction" in table.column_names:
        table = table.flatten().rename_columns([n.removeprefix("prediction.") for n in table.flatten().column_names])
    order = np.argsort(table["id"].to_numpy())
    labels = np.asarray(table["label"].to_pylist(), dtype=object)[order]
    return labels, table["probability"].to_numpy().astype(np.float64)[order]


def check_same(reference: tuple[np.ndarray, np.ndarray], path: Path, what: str) -> None:
    """Stop the benchmark if an engine's output differs from the CLI's: a fast wrong answer is no result."""
    labels, probs = read_predictions(path)
    if len(labels) != len(reference[0]):
        raise SystemExit(f"{what}: {len(labels)} rows out, the CLI wrote {len(reference[0])}")
    differ = int((labels != reference[0]).sum())
    gap = float(np.max(np.abs(probs - reference[1]), initial=0.0))
    if differ or not gap <= ATOL:
        raise SystemExit(f"{what}: {differ} labels differ from the CLI's, max |Δp| {gap:.2e} (allowed {ATOL})")


# ---------------------------------------------------------------- timing


def timed_runs(job: Callable[[Path], None], out: Path, repeat: int) -> tuple[float, float, Path]:
    """(first run's seconds, median of the next ``repeat``, last output): the first one warms up."""
    seconds = []
    for run in range(repeat + 1):
        target = out.with_name(f"{out.name}.{run}")
        started = time.perf_counter()
        job(target)
        seconds.append(time.perf_counter() - started)
        if run:
            shutil.rmtree(out.with_name(f"{out.name}.{run - 1}"), ignore_errors=True)
    return seconds[0], statistics.median(seconds[1:]), target


def result(engine: str, system: str, workers: int, threads: int, dataset: str, reviews: int, first: float,
           seconds: float) -> dict[str, Any]:
    """One row of the table (``engine``: cli, spark or ray, the key the ratios group by)."""
    return {"engine": engine, "system": system, "workers": workers, "threads": threads, "dataset": dataset,
            "reviews": reviews, "first_seconds": first, "seconds": seconds, "reviews_per_s": reviews / seconds}


def bench_cli(bundle: Path, source: Path, work: Path, dataset: str, reviews: int, repeat: int
              ) -> tuple[list[dict[str, Any]], tuple[np.ndarray, np.ndarray]]:
    """``reviewclf predict`` as an operator runs it, every core and one thread; its output is the reference."""
    rows = []
    for threads in (None, 1):
        out = work / f"cli-{threads or 'all'}.parquet"
        command = [*reviewclf_command(), "predict", str(bundle), str(source), "--text-column", "text", "-o",
                   str(out)] + (["--threads", str(threads)] if threads else [])
        runs = [check(run_child(command), command).seconds for _ in range(repeat + 1)]
        rows.append(result("cli", "reviewclf predict", 1, threads or os.cpu_count() or 1, dataset, reviews, runs[0],
                           statistics.median(runs[1:])))
    reference = read_predictions(work / "cli-all.parquet")
    check_same(reference, work / "cli-1.parquet", "reviewclf predict --threads 1")
    return rows, reference


# ---------------------------------------------------------------- Spark


def spark_session(workers: int) -> tuple[Any, float]:
    """A ``local[workers]`` session like the engine tests' (no UI, Arrow on), and its start-up seconds."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    started = time.perf_counter()
    session = (
        SparkSession.builder.master(f"local[{workers}]").appName("reviewclf-distributed")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session, time.perf_counter() - started


def bench_spark(bundle: Path, inputs: dict[str, dict[str, Any]], args: argparse.Namespace, work: Path
                ) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Every worker count and worker thread count on every data set; one session per worker count."""
    from reviewclf.spark import spark_udf

    rows, startup = [], {}
    for workers in WORKERS:
        spark, startup[f"Spark session local[{workers}]"] = spark_session(workers)
        try:
            for threads in args.worker_threads:
                udf = spark_udf(spark, bundle, threads=threads)
                for name, data in inputs.items():
                    size = data["source"].stat().st_size
                    spark.conf.set("spark.sql.files.maxPartitionBytes", str(max(1, math.ceil(size / args.chunks))))
                    frame = spark.read.parquet(str(data["source"]))

                    def job(out: Path, frame: Any = frame, udf: Any = udf) -> None:
                        frame.withColumn("prediction", udf("text")).drop("text").write.parquet(str(out))

                    what = f"Spark local[{workers}], {threads} ORT thread(s), {name}"
                    log(f"timing {what} ({frame.rdd.getNumPartitions()} partitions)")
                    first, seconds, out = timed_runs(job, work / name / f"spark-{workers}-{threads}", args.repeat)
                    check_same(data["reference"], out, what)
                    rows.append(result("spark", f"Spark local[{workers}]", workers, threads, name,
                                       data["reviews"], first, seconds))
        finally:
            spark.stop()
    return rows, startup


# ---------------------------------------------------------------- Ray


def ray_start() -> tuple[Any, float]:
    """Local Ray with ``RAY_CPUS`` CPUs and quiet logs, and its start-up seconds."""
    # Ray 2.60 reads Parquet footers through a pool of actors started for every read, 32 by default: on a
    # 2-CPU local Ray their start-up, not the scoring, would be timed; one actor reads one file's footer
    os.environ.setdefault(FOOTER_ACTORS, "1")
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=RAY_CPUS, include_dashboard=False, configure_logging=False, log_to_driver=False)
    seconds = time.perf_counter() - started
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray, seconds


def bench_ray(bundle: Path, inputs: dict[str, dict[str, Any]], args: argparse.Namespace, work: Path
              ) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Every actor count and worker thread count on every data set, in one Ray instance."""
    from reviewclf.ray import BundlePredictor

    ray, seconds = ray_start()
    rows = []
    try:
        for workers in WORKERS:
            for threads in args.worker_threads:
                settings = {"bundle": str(bundle), "text_column": "text", "threads": threads}
                for name, data in inputs.items():
                    block_rows = max(1, math.ceil(data["reviews"] / args.chunks))

                    def job(out: Path, source: Path = data["source"], rows: int = block_rows,
                            workers: int = workers, settings: dict = settings) -> None:
                        ds = ray.data.read_parquet(str(source)).repartition(target_num_rows_per_block=rows)
                        ds = ds.map_batches(BundlePredictor, fn_constructor_kwargs=settings, batch_format="pandas",
                                            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=ACTOR_CPUS)
                        ds.drop_columns(["text"]).write_parquet(str(out))

                    what = f"Ray, {workers} actor(s), {threads} ORT thread(s), {name}"
                    log(f"timing {what}")
                    first, median, out = timed_runs(job, work / name / f"ray-{workers}-{threads}", args.repeat)
                    check_same(data["reference"], out, what)
                    rows.append(result("ray", f"Ray Data, {workers} actor(s)", workers, threads, name, data["reviews"],
                                       first, median))
    finally:
        ray.shutdown()
    return rows, {f"ray.init(num_cpus={RAY_CPUS})": seconds}


# ---------------------------------------------------------------- report


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Speed-up over the same engine's 1-worker row, and over the CLI given the same cores (1, or all)."""
    cores = os.cpu_count() or 1
    cli = {(r["dataset"], r["threads"]): r["reviews_per_s"] for r in rows if r["engine"] == "cli"}
    one = {(r["engine"], r["threads"], r["dataset"]): r["reviews_per_s"] for r in rows if r["workers"] == 1}
    for r in rows:
        engine = r["engine"] != "cli"
        r["vs_1_worker"] = r["reviews_per_s"] / one[(r["engine"], r["threads"], r["dataset"])] if engine else None
        used = 1 if r["workers"] * r["threads"] == 1 else cores
        r["vs_cli"] = r["reviews_per_s"] / cli[(r["dataset"], used)] if engine else None


def print_tables(rows: list[dict[str, Any]], startup: dict[str, float], args: argparse.Namespace) -> None:
    def ratio(value: float | None) -> str | None:
        return None if value is None else f"{value:.2f}x"

    print(f"\n### Batch scoring through the engines (Parquet in and out; median of {args.repeat} after a warm-up)\n")
    print(markdown_table(
        ["system", "workers", "ORT threads/worker", "data set", "reviews", "first run s", "seconds", "reviews/s",
         "vs 1 worker", "vs CLI"],
        [[r["system"], r["workers"], r["threads"], DATASET_NAMES[r["dataset"]], r["reviews"], r["first_seconds"],
          r["seconds"], r["reviews_per_s"], ratio(r["vs_1_worker"]), ratio(r["vs_cli"])]
         for r in sorted(rows, key=lambda r: args.datasets.index(r["dataset"]))]))
    print("\nseconds: the CLI's whole process (start-up included); an engine's job from reading the file to the "
          "written output, its session already up. vs 1 worker: over the same system and threads with 1 worker. "
          "vs CLI: over `reviewclf predict` given the same cores (1 thread for a 1-core row, else every core). "
          f"Machine: {os.cpu_count()} cores.")
    print("\n### Start-up (once per session, not in the seconds above)\n")
    print(markdown_table(["what", "seconds"], [[name, seconds] for name, seconds in startup.items()]))
    if len([name for name in startup if name.startswith("Spark")]) > 1:
        print("\nThe first Spark session's start-up includes the JVM's launch; the later ones reuse that JVM.")


def default_bundle(args: argparse.Namespace, work: Path) -> Path:
    """An ngram bundle trained through the CLI on yelp-10k polarity, as predict_throughput.py trains one."""
    _, (texts, labels) = yelp_data(args.data_dir, None, args.seed)
    return train_bundle(work, texts, labels, epochs=3)


def main() -> None:
    args = parse_args()
    with scratch_dir("distributed-", args.keep) as work:
        bundle = args.bundle or default_bundle(args, work)
        rows: list[dict[str, Any]] = []
        inputs: dict[str, dict[str, Any]] = {}
        for name in args.datasets:
            (work / name).mkdir()
            texts = load_texts(name, args.data_dir, args.limit, args.seed)
            source = write_input(work / name / "input.parquet", texts, args.chunks)
            log(f"{name}: {len(texts)} texts; timing reviewclf predict")
            found, reference = bench_cli(bundle, source, work / name, name, len(texts), args.repeat)
            rows.extend(found)
            inputs[name] = {"source": source, "reviews": len(texts), "reference": reference}
        startup: dict[str, float] = {}
        for system, bench in (("spark", bench_spark), ("ray", bench_ray)):
            if system in args.systems:
                found, started = bench(bundle, inputs, args, work)
                rows.extend(found)
                startup.update(started)
        add_ratios(rows)
        print_tables(rows, startup, args)
        write_json(args.json, {"benchmark": "distributed", "machine": machine(), "bundle": str(bundle),
                               "limit": args.limit, "repeat": args.repeat, "chunks": args.chunks,
                               "ray_actor_cpus": ACTOR_CPUS, FOOTER_ACTORS: os.environ.get(FOOTER_ACTORS),
                               "results": rows, "startup_seconds": startup})


if __name__ == "__main__":
    main()
