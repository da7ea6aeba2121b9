"""Parquet in ``reviewclf predict`` and ``evaluate``, on real Yelp reviews: the same labels and probabilities as
the in-process Predictor, input order and the other columns (with their Arrow types) kept, memory flat over
row groups, and every bad input one line with no output file left behind."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from reviewclf.cli import main
from reviewclf.errors import ReviewclfError
from reviewclf.io import parquet
from reviewclf.io.labeled import read_labeled
from reviewclf.runtime.predictor import Predictor
from tests.support import DATA, POLARITY

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

YELP = DATA / "yelp-10k" / "yelp.csv.zip"
ROWS = 3000


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def ok(*args: object) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    return result


def failed(*args: object, output: Path | None = None) -> str:
    """Run a command that must fail cleanly; return its single error line (and check no output is left)."""
    result = invoke(*args)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    if output is not None:
        assert not output.exists()
        assert not [p for p in output.parent.iterdir() if p.name.startswith(f".{output.name}.")]
    return lines[0]


@pytest.fixture(scope="module")
def yelp() -> tuple[list[str], list[str]]:
    data = read_labeled(YELP, text_column="text", label_column="stars")
    return data.texts[:ROWS], data.labels[:ROWS]


@pytest.fixture(scope="module")
def predictor(demo_bundle: Path) -> Predictor:
    return Predictor.load(demo_bundle)


@pytest.fixture(scope="module")
def table(yelp: tuple[list[str], list[str]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real reviews with typed columns around the text, in several row groups."""
    texts, stars = yelp
    columns = {
        "id": pa.array(np.arange(len(texts)) * 7, pa.int64()),
        "stars": pa.array([int(s) for s in stars], pa.int8()),
        "review": pa.array(texts, pa.large_string()),
        "when": pa.array(np.arange(len(texts)) + 1_600_000_000, pa.timestamp("s")),
        "tags": pa.array([[s, "yelp"] for s in stars], pa.list_(pa.string())),
        "label": pa.array(["gold"] * len(texts)),  # would clash with the prediction: kept as input_label
    }
    path = tmp_path_factory.mktemp("parquet") / "reviews.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=700)
    return path


def expected(predictor: Predictor, texts: list[str], **options: object) -> tuple[list[str], np.ndarray]:
    scores = predictor.score(texts, **options)
    chosen = scores.probabilities[np.arange(len(texts)), scores.chosen]
    return [predictor.labels[i] for i in scores.chosen], chosen


# ------------------------------------------------------------------------------------------ predict


def test_parquet_to_parquet_matches_the_predictor_and_keeps_the_columns(
        demo_bundle: Path, predictor: Predictor, table: Path, yelp: tuple[list[str], list[str]], tmp_path: Path):
    out = tmp_path / "out.parquet"
    ok("predict", demo_bundle, table, "--text-column", "review", "-o", out, "--all-probs")
    result = pq.read_table(out)
    source = pq.read_table(table)
    assert result.column_names == ["id", "stars", "when", "tags", "input_label", "label", "probability",
                                   "p_negative", "p_positive"]
    for name in ("id", "stars", "when", "tags"):
        assert result.column(name).equals(source.column(name)), name  # same values, same Arrow types, in order
    assert result.schema.field("probability").type == pa.float32()
    labels, probability = expected(predictor, yelp[0])
    assert result.column("label").to_pylist() == labels
    np.testing.assert_allclose(result.column("probability").to_numpy(), probability, rtol=0, atol=1e-6)
    full = predictor.predict_proba(yelp[0])
    np.testing.assert_allclose(result.column("p_positive").to_numpy(), full[:, 1], rtol=0, atol=1e-6)


def test_parquet_to_csv_and_jsonl_carry_json_values(demo_bundle: Path, predictor: Predictor, table: Path,
                                                    yelp: tuple[list[str], list[str]], tmp_path: Path):
    rows = list(csv.DictReader(io.StringIO(ok("predict", demo_bundle, table, "--include-text").stdout)))
    assert list(rows[0]) == ["id", "stars", "review", "when", "tags", "input_label", "label", "probability"]
    assert [r["review"] for r in rows] == yelp[0]
    assert rows[1]["id"] == "7" and rows[1]["when"] == "2020-09-13T12:26:41"
    assert json.loads(rows[1]["tags"])[1] == "yelp"
    assert [r["label"] for r in rows] == expected(predictor, yelp[0])[0]
    out = tmp_path / "out.jsonl"
    ok("predict", demo_bundle, table, "-o", out)
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["stars"] == int(yelp[1][0]) and first["tags"] == [yelp[1][0], "yelp"]


def test_csv_to_parquet_and_output_format_option(demo_bundle: Path, predictor: Predictor, tmp_path: Path):
    source = tmp_path / "in.csv"
    source.write_text("id,text\nr1,Great tacos!\nr2,Cold fries and rude staff.\nr3,\n", encoding="utf-8")
    out = tmp_path / "predictions.data"
    ok("predict", demo_bundle, source, "-o", out, "--output-format", "parquet", "--top-k", "2")
    result = pq.read_table(out)
    assert result.column_names == ["id", "label", "probability", "label_1", "probability_1", "label_2",
                                   "probability_2"]
    assert result.column("id").to_pylist() == ["r1", "r2", "r3"]
    assert result.column("label").to_pylist() == expected(predictor, ["Great tacos!", "Cold fries and rude staff.",
                                                                      ""])[0]
    txt = tmp_path / "in.txt"
    txt.write_text("good\n\nbad\n", encoding="utf-8")
    ok("predict", demo_bundle, txt, "-o", tmp_path / "plain.parquet")
    plain = pq.read_table(tmp_path / "plain.parquet")
    assert plain.column_names == ["label", "probability"] and plain.num_rows == 3


def test_several_parquet_inputs_in_order_and_many_row_groups(demo_bundle: Path, table: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    from reviewclf.io import parquet_writer

    monkeypatch.setattr(parquet_writer, "ROW_GROUP_ROWS", 1000)
    out = tmp_path / "out.parquet"
    ok("predict", demo_bundle, table, table, "--text-column", "review", "-o", out)
    result = pq.ParquetFile(out)
    assert result.metadata.num_rows == 2 * ROWS
    assert result.metadata.num_row_groups >= 6
    ids = result.read(columns=["id"]).column("id").to_pylist()
    assert ids == list(range(0, 7 * ROWS, 7)) * 2


def reading_peak(path: Path) -> int:
    """The most Arrow memory held at once while a ParquetSource reads ``path``."""
    source = parquet.ParquetSource(path, text_column="review")
    before, peak = pa.total_allocated_bytes(), 0
    for group in source:
        assert len(group.texts) <= parquet.GROUP_ROWS
        peak = max(peak, pa.total_allocated_bytes() - before)
    return peak


def test_reading_memory_does_not_grow_with_the_file(table: Path, tmp_path: Path):
    """Twice the rows in twice the row groups, and the same memory: a batch and a row group, not the file."""
    reviews = pq.read_table(table)
    peaks = []
    for copies in (4, 8):
        path = tmp_path / f"x{copies}.parquet"
        pq.write_table(pa.concat_tables([reviews] * copies), path, row_group_size=700)
        peaks.append(reading_peak(path))
    assert peaks[1] < 1.2 * peaks[0], peaks
    assert peaks[1] < 8 * reviews.nbytes / 3, (peaks, 8 * reviews.nbytes)  # a fraction of the bigger table


def test_null_texts_are_bad_rows(demo_bundle: Path, tmp_path: Path):
    source = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "text": ["fine", None, "good"]}), source)
    out = tmp_path / "out.parquet"
    assert failed("predict", demo_bundle, source, "-o", out, output=out).endswith(
        f"{source}: row 2: the text ('text') is null")
    result = invoke("predict", demo_bundle, source, "-o", out, "--on-error", "skip")
    assert result.exit_code == 0 and "1 bad rows skipped" in result.stderr
    assert pq.read_table(out).column("id").to_pylist() == [1, 3]


@pytest.mark.parametrize("case", ["no column", "not text", "not parquet", "duplicates", "stdin", "stdout"])
def test_bad_parquet_input_or_output_is_one_line(demo_bundle: Path, tmp_path: Path, case: str):
    source = tmp_path / "in.parquet"
    out: Path | None = tmp_path / "out.parquet"
    args: list[object] = ["predict", demo_bundle, source, "-o", out]
    if case == "no column":
        pq.write_table(pa.table({"body": ["x"]}), source)
        want = "no text column (one of text, review, sentence, content"
    elif case == "not text":
        pq.write_table(pa.table({"text": [1, 2]}), source)
        want = "column 'text' holds int64, not text"
    elif case == "not parquet":
        source.write_text("id,text\n1,hello\n", encoding="utf-8")
        want = f"{source}: cannot read the Parquet file"
    elif case == "duplicates":
        pq.write_table(pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])], names=["text", "text"]), source)
        want = "duplicate column names: text"
    elif case == "stdin":
        args, want = ["predict", demo_bundle, "-", "--input-format", "parquet", "-o", out], "read from stdin"
    else:
        pq.write_table(pa.table({"text": ["x"]}), source)
        args, out, want = ["predict", demo_bundle, source, "--output-format", "parquet"], None, "give -o FILE.parquet"
    assert want in failed(*args, output=out)


def test_a_failure_after_the_first_row_group_leaves_no_output(demo_bundle: Path, tmp_path: Path):
    source = tmp_path / "late.parquet"
    texts = ["good food"] * (parquet.GROUP_ROWS + 10) + [None]
    pq.write_table(pa.table({"text": texts}), source, row_group_size=1000)
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous")
    assert "is null" in failed("predict", demo_bundle, source, "-o", out)
    assert out.read_bytes() == b"previous"  # the old output survives; no temporary file is left
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


# ----------------------------------------------------------------------------------------- evaluate


def test_evaluate_reads_parquet_as_it_reads_the_csv(demo_bundle: Path, tmp_path: Path):
    data = read_labeled(YELP, text_column="text", label_column="stars")
    source = tmp_path / "yelp.parquet"
    pq.write_table(pa.table({"stars": pa.array([int(s) for s in data.labels], pa.int64()), "text": data.texts}),
                   source, row_group_size=2500)
    from_parquet = json.loads(ok("evaluate", demo_bundle, source, "--label-map", POLARITY, "--json").stdout)
    from_csv = json.loads(ok("evaluate", demo_bundle, YELP, "--text-column", "text", "--label-column", "stars",
                             "--label-map", POLARITY, "--json").stdout)
    assert from_parquet == from_csv
    assert from_parquet["n"] == 8539  # yelp-10k without its 1,461 three-star reviews


def test_labeled_parquet_splits_and_bad_rows(tmp_path: Path):
    source = tmp_path / "labeled.parquet"
    pq.write_table(pa.table({"Review": ["a", "b", None, "d"], "rating": [1.0, None, 3.0, 4.0],
                             "split": ["train", "test", "val", "TEST"]}), source)
    with pytest.raises(ReviewclfError, match=r"row 2: the label \('rating'\) is null"):
        read_labeled(source)
    data = read_labeled(source, on_error="skip")
    assert (data.texts, data.labels, data.splits, data.skipped) == (["a", "d"], ["1.0", "4.0"], ["train", "test"], 2)


# ------------------------------------------------------------------------------------- the base install


BLOCKER = "raise ModuleNotFoundError('No module named ' + repr(__name__), name=__name__)\n"
WRAPPER = """
import sys
from reviewclf.cli import main
try:
    main(args=sys.argv[1:], prog_name="reviewclf", standalone_mode=False)
except SystemExit as exc:
    sys.exit(exc.code)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"pyarrow", "pandas", "pyspark", "ray"})
sys.exit("imported: " + ", ".join(loaded) if loaded else 0)
"""


def test_without_pyarrow_text_formats_work_and_parquet_says_how_to_install(demo_bundle: Path, table: Path,
                                                                           tmp_path: Path):
    for name in ("pyarrow", "pandas", "pyspark", "ray"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(BLOCKER)
    (tmp_path / "run_cli.py").write_text(WRAPPER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    source = tmp_path / "in.txt"
    source.write_text("great\n", encoding="utf-8")

    def run(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(tmp_path / "run_cli.py"), *map(str, args)], env=env,
                              capture_output=True, text=True, timeout=120)

    done = run("predict", demo_bundle, source)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "label,probability"
    done = run("predict", demo_bundle, table)
    assert done.returncode == 1
    assert done.stderr.strip() == "error: Parquet needs pyarrow: pip install 'reviewclf[parquet]'"
