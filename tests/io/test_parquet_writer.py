"""The Parquet prediction writer and its atomic output: one schema for the whole file whatever the inputs,
result columns typed as the model gives them, and the output refusals ``open_output`` makes for text."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from reviewclf.errors import ReviewclfError
from reviewclf.io.parquet import CarriedColumns
from reviewclf.io.parquet_writer import ParquetPredictionWriter, parquet_output
from reviewclf.runtime.predictor import Scores

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
LABELS = ["negative", "positive"]


def scores(n: int) -> Scores:
    positive = np.linspace(0, 1, n, dtype=np.float32)
    probs = np.stack([1 - positive, positive], axis=1)
    chosen = (positive >= 0.5).astype(np.int64)
    return Scores(probs, chosen, np.argsort(-probs, axis=1, kind="stable"))


def written(groups: list, **options: object) -> tuple[object, ParquetPredictionWriter]:
    stream = io.BytesIO()
    writer = ParquetPredictionWriter(stream, LABELS, **options)  # type: ignore[arg-type]
    for carried in groups:
        writer.write(carried, scores(len(carried)))
    writer.close()
    return pq.read_table(pa.BufferReader(stream.getvalue())), writer


def test_arrow_groups_of_another_input_are_cast_to_the_first_schema():
    first = pa.record_batch({"id": pa.array([1, 2], pa.int32()), "note": ["a", "b"]})
    second = pa.record_batch({"id": pa.array([3], pa.int64()), "extra": ["x"]})  # wider id, new column, no note
    table, writer = written([CarriedColumns(first), CarriedColumns(second)], all_probs=True)
    assert table.column_names == ["id", "note", "label", "probability", "p_negative", "p_positive"]
    assert table.schema.field("id").type == pa.int32()
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.column("note").to_pylist() == ["a", "b", None]
    assert writer.rows_with_extra_fields == 1  # the new column is left out and its rows counted, as in CSV
    assert table.schema.field("p_positive").type == pa.float32()


def test_a_column_that_cannot_be_cast_is_one_line():
    first = CarriedColumns(pa.record_batch({"id": pa.array([1], pa.int64())}))
    second = CarriedColumns(pa.record_batch({"id": pa.array([[1, 2]], pa.list_(pa.int64()))}))
    with pytest.raises(ReviewclfError, match="column 'id' is list<item: int64> here but int64 in the first input"):
        written([first, second])


def test_json_rows_keep_their_types_and_extra_fields_are_counted():
    rows = [{"id": 1, "meta": {"city": "Phoenix"}, "tags": ["a"]}, {"id": 2, "meta": {"city": "Tempe"}, "tags": []}]
    later = [{"id": 3, "meta": {"city": "Mesa"}, "tags": ["b"], "new": True}]
    table, writer = written([rows, later], top_k=1)
    assert table.column("meta").to_pylist()[2] == {"city": "Mesa"}
    assert table.schema.field("id").type == pa.int64()
    assert table.column_names[-2:] == ["label_1", "probability_1"]
    assert writer.rows_with_extra_fields == 1
    with pytest.raises(ReviewclfError, match="do not fit one Parquet schema"):
        written([rows, [{"id": "three", "meta": {}, "tags": []}]])


def test_no_rows_still_gives_the_result_columns():
    table, _ = written([])
    assert table.column_names == ["label", "probability"] and table.num_rows == 0


@pytest.mark.parametrize("case", ["input", "directory", "no parent"])
def test_the_output_refusals_of_text_outputs(tmp_path: Path, case: str):
    source = tmp_path / "in.parquet"
    source.write_bytes(b"x")
    target = {"input": source, "directory": tmp_path, "no parent": tmp_path / "missing" / "out.parquet"}[case]
    with pytest.raises(ReviewclfError) as refused, parquet_output(str(target), [str(source)]):
        pass
    assert "\n" not in str(refused.value)
    assert source.read_bytes() == b"x"
