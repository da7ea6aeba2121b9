"""Parquet outputs of ``reviewclf predict``: the writer (``write(carried, scores)``, as ``PredictionWriter``)
and the atomic file it writes into.

Columns: the carried ones first (their Arrow types kept from a Parquet input; strings from CSV/TSV; JSON
values from JSONL), then ``label`` (string) and ``probability`` (float32, the model's own precision), the
top-k and ``p_<label>`` columns as the CSV writer names them. Rows are gathered into row groups of about
``ROW_GROUP_ROWS`` rows before they are written, so memory stays flat and readers get sensible row groups.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from ..errors import ReviewclfError
from .atomic import refuse_inputs, replace_path, staging_file, sweep_stale
from .opener import STDIO
from .parquet import CarriedColumns, arrow

if TYPE_CHECKING:  # a type only: the I/O floor does not import the runtime
    from ..runtime.predictor import Scores

ROW_GROUP_ROWS = 1 << 16
ROW_GROUP_BYTES = 64 << 20


def result_columns(labels: Sequence[str], all_probs: bool, top_k: int) -> list[str]:
    """The columns after the carried ones, named as in the CSV output."""
    columns = ["label", "probability"]
    for k in range(1, top_k + 1):
        columns += [f"label_{k}", f"probability_{k}"]
    return columns + ([f"p_{label}" for label in labels] if all_probs else [])


class ParquetPredictionWriter:
    """Writes groups of carried columns + decision + optional top-k and per-label probabilities to Parquet.

    The schema is fixed by the first group: a later group's carried columns are cast to it (a column the
    first group lacked is left out and its rows counted in ``rows_with_extra_fields``; one that changes type
    in a way Arrow cannot cast is an error). ``close`` writes the last row group and the footer.
    """

    def __init__(self, stream: IO[bytes], labels: Sequence[str], *, all_probs: bool = False, top_k: int = 0,
                 shown_as: object = "the output"):
        self.pa, self.pq = arrow()
        self.stream = stream
        self.labels = list(labels)
        self.top_k = top_k
        self.shown_as = shown_as
        self.results = result_columns(labels, all_probs, top_k)
        self.rows_with_extra_fields = 0
        self._carried_schema: Any = None
        self._writer: Any = None
        self._pending: list[Any] = []
        self._pending_rows = self._pending_bytes = 0

    def write(self, carried: Sequence[dict[str, Any]], scores: Scores) -> None:
        """One group of rows: carried columns per row and the Predictor's row-aligned ``Scores``."""
        if not len(carried):
            return
        kept = self._carried_table(carried)
        names = [self._carried_name(name) for name in kept.column_names] + self.results
        table = self.pa.Table.from_arrays(list(kept.columns) + self._result_arrays(scores), names=names)
        if self._writer is None:
            self._writer = self.pq.ParquetWriter(self.stream, table.schema)
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self._pending_bytes += table.nbytes
        if self._pending_rows >= ROW_GROUP_ROWS or self._pending_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def close(self) -> None:
        """Write what is pending and the file's footer (a file of no rows still gets the result columns)."""
        if self._writer is None:
            fields = [self.pa.field(name, self.pa.string() if name.startswith("label") else self.pa.float32())
                      for name in self.results]
            self._writer = self.pq.ParquetWriter(self.stream, self.pa.schema(fields))
        self._flush()
        self._writer.close()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(self.pa.concat_tables(self._pending), row_group_size=ROW_GROUP_ROWS)
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def _result_arrays(self, scores: Scores) -> list[Any]:
        pa = self.pa
        probs, chosen, ranked = scores.probabilities, scores.chosen, scores.ranked[:, : self.top_k]
        rows = np.arange(len(chosen))
        labels = pa.array(self.labels, pa.string())
        arrays = [labels.take(chosen), pa.array(probs[rows, chosen], pa.float32())]
        for k in range(self.top_k):
            arrays += [labels.take(ranked[:, k]), pa.array(probs[rows, ranked[:, k]], pa.float32())]
        if len(self.results) > len(arrays):  # all_probs
            arrays += [pa.array(probs[:, j], pa.float32()) for j in range(len(self.labels))]
        return arrays

    def _carried_table(self, carried: Sequence[dict[str, Any]]) -> Any:
        """The group's carried columns as an Arrow table with the first group's schema."""
        pa = self.pa
        try:
            if isinstance(carried, CarriedColumns):
                table = pa.Table.from_batches([carried.batch])
            elif self._carried_schema is None and not any(carried[0]):  # plain-text rows carry nothing
                table = pa.schema([]).empty_table()
            else:
                table = pa.Table.from_pylist(list(carried), schema=self._carried_schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ReviewclfError(f"{self.shown_as}: the carried columns do not fit one Parquet schema "
                                 f"({' '.join(str(exc).split())}); write CSV or JSONL instead") from None
        if self._carried_schema is None:
            self._carried_schema = table.schema
        if not isinstance(carried, CarriedColumns):
            known = set(self._carried_schema.names)
            self.rows_with_extra_fields += sum(1 for fields in carried if not fields.keys() <= known)
        return self._conform(table)

    def _conform(self, table: Any) -> Any:
        """A later Parquet input's columns in the first one's order and types (missing ones null)."""
        schema = self._carried_schema
        if table.schema.equals(schema):
            return table
        if set(table.column_names) - set(schema.names):
            self.rows_with_extra_fields += table.num_rows
        columns = []
        for field in schema:
            if field.name not in table.column_names:
                columns.append(self.pa.nulls(table.num_rows, field.type))
                continue
            try:
                columns.append(table.column(field.name).cast(field.type))
            except (self.pa.ArrowInvalid, self.pa.ArrowNotImplementedError, self.pa.ArrowTypeError):
                raise ReviewclfError(f"{self.shown_as}: column {field.name!r} is {table.column(field.name).type} "
                                     f"here but {field.type} in the first input; write one output per input") from None
        return self.pa.Table.from_arrays(columns, schema=schema)

    def _carried_name(self, name: str) -> str:
        """A carried column keeps its name unless a result column has it: then ``input_<name>``, as in CSV."""
        while name in self.results:
            name = f"input_{name}"
        return name


@contextmanager
def parquet_output(path: str | None, inputs: Sequence[str] = ()) -> Iterator[IO[bytes]]:
    """A binary stream to the file ``path``, written under a temporary name beside it and renamed over it only
    when the block ends without an exception (as ``atomic.open_output`` does for text)."""
    if path is None or path == STDIO:
        raise ReviewclfError("Parquet is not written to stdout (its index goes at the end): give -o FILE.parquet")
    target = Path(os.path.realpath(path))
    refuse_inputs(target, inputs)
    mode = target.stat().st_mode if target.exists() else None
    if mode is not None and stat.S_ISDIR(mode):
        raise ReviewclfError(f"{path}: is a directory (give an output file name)")
    if mode is not None and not stat.S_ISREG(mode):
        raise ReviewclfError(f"{path}: is not a regular file; refusing to replace it")
    if not target.parent.is_dir():
        raise ReviewclfError(f"{path}: the directory {target.parent} does not exist")
    sweep_stale(target)
    with staging_file(target) as (temp, stream):
        yield stream
        stream.flush()
        os.fsync(stream.fileno())  # the data is on disk before the name says it is complete
        replace_path(temp, target)
