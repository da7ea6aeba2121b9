"""Parquet inputs with pyarrow: prediction rows streamed batch by batch, and labeled rows for ``evaluate``.

Tables of reviews at scale live in Parquet, so ``reviewclf predict`` reads them as it reads CSV: the text
from one column (found as in every other format), every other column carried to the output, memory flat
whatever the file size (batches of a row group at a time, never the whole table). Carried columns stay Arrow
columns, so a Parquet output keeps their types. pyarrow is the ``[parquet]`` extra and is imported only when
a Parquet file is read or written. Errors are one line naming the file, as for the text formats.
"""

from __future__ import annotations

import base64
import datetime
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import ReviewclfError
from ..extras import require
from .lines import check_options
from .opener import STDIO
from .prediction_io import Rows
from .records import TEXT_COLUMNS, require_column

PARQUET_SUFFIX = ".parquet"
GROUP_ROWS = 4096  # rows handed on at a time: enough to amortize per-group costs, small next to a row group
READ_BUFFER = 1 << 20


def arrow() -> tuple[Any, Any]:
    """pyarrow and pyarrow.parquet, or the one line that says how to install them."""
    return require("pyarrow", "parquet", "Parquet"), require("pyarrow.parquet", "parquet", "Parquet")


@contextmanager
def parquet_errors(path: object) -> Iterator[None]:
    """pyarrow's errors on a file that is not Parquet or is damaged, as one line naming it."""
    pa, _ = arrow()
    try:
        yield
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise ReviewclfError(f"{path}: no such file") from None
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ReviewclfError(f"{path}: cannot read the Parquet file ({detail})") from None


def open_table(path: object) -> Any:
    """A ``pyarrow.parquet.ParquetFile`` with unique column names (carried columns are looked up by name)."""
    _, pq = arrow()
    if str(path) in (STDIO, "<stdin>"):
        raise ReviewclfError("Parquet cannot be read from stdin (its index is at the end): give the file name")
    with parquet_errors(path):
        # pre-buffering would read ahead across row groups; unbuffered, a reader holds about one row group
        table = pq.ParquetFile(str(path), pre_buffer=False, buffer_size=READ_BUFFER)
    names = table.schema_arrow.names
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ReviewclfError(f"{path}: duplicate column names: {', '.join(duplicates)}")
    return table


def _column(path: object, table: Any, wanted: str | None, defaults: Sequence[str], role: str) -> str:
    names = table.schema_arrow.names
    return names[require_column(path, None, names, wanted, defaults, role)]


def _text_column(path: object, table: Any, wanted: str | None) -> str:
    """The name of the column holding the reviews, which must hold strings."""
    name = _column(path, table, wanted, TEXT_COLUMNS, "text")
    kind = table.schema_arrow.field(name).type
    if not _is_text(kind):
        raise ReviewclfError(f"{path}: column {name!r} holds {kind}, not text")
    return name


def _is_text(kind: Any) -> bool:
    pa, _ = arrow()
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


@dataclass
class ParquetSource:
    """The prediction rows of one Parquet file, as ``Rows`` groups; counts rows, skipped rows, bytes read.

    A null text is a bad row: an error, or skipped and counted with ``on_error="skip"``.
    """

    path: object
    text_column: str | None = None
    on_error: str = "raise"
    include_text: bool = False
    rows: int = 0
    skipped: int = 0
    bytes_read: int = 0

    def __iter__(self) -> Iterator[Rows]:
        pa, _ = arrow()
        check_options("utf-8", self.on_error)
        table = open_table(self.path)
        text = _text_column(self.path, table, self.text_column)
        size, total, seen = table.metadata.serialized_size, max(table.metadata.num_rows, 1), 0
        with parquet_errors(self.path):
            for batch in table.iter_batches(batch_size=GROUP_ROWS):
                seen += batch.num_rows
                batch = self._good_rows(batch, text, seen - batch.num_rows)
                self.bytes_read = int(size + (_file_size(self.path) - size) * seen / total)
                if not batch.num_rows:
                    continue
                self.rows += batch.num_rows
                texts = batch.column(text).cast(pa.string()).to_pylist()
                carried = batch if self.include_text else batch.drop_columns([text])
                yield Rows(texts, CarriedColumns(carried))
        if not self.rows:
            note = f" ({self.skipped} bad rows skipped)" if self.skipped else ""
            raise ReviewclfError(f"{self.path}: no input rows{note}")

    def _good_rows(self, batch: Any, text: str, before: int) -> Any:
        column = batch.column(text)
        if not column.null_count:
            return batch
        if self.on_error == "raise":
            row = before + column.is_null().to_pylist().index(True) + 1
            raise ReviewclfError(f"{self.path}: row {row}: the text ({text!r}) is null")
        self.skipped += column.null_count
        return batch.filter(column.is_valid())


def _file_size(path: object) -> int:
    try:
        return os.path.getsize(str(path))
    except OSError:
        return 0


class CarriedColumns(Sequence[dict[str, Any]]):
    """The carried columns of a group of Parquet rows: an Arrow record batch for a Parquet output (types
    kept), and per-row dicts of JSON values for the CSV/TSV/JSONL writer (converted once, when first read)."""

    def __init__(self, batch: Any):
        self.batch = batch
        self._rows: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return self.batch.num_rows

    def __getitem__(self, index: Any) -> Any:
        if self._rows is None:
            self._rows = [{name: _jsonable(value) for name, value in row.items()} for row in self.batch.to_pylist()]
        return self._rows[index]


def _jsonable(value: Any) -> Any:
    """A value from ``to_pylist`` as JSON can hold it: times as ISO 8601, bytes as base64, nested values
    converted throughout, anything else (decimals, durations) as its string."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            return {str(key): _jsonable(item) for key, item in value}  # an Arrow map is a list of pairs
        return [_jsonable(item) for item in value]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def read_labeled_parquet(job: Any) -> None:
    """The labeled rows of a Parquet file into a ``labeled._Job``: text and label columns found as for CSV,
    a ``split`` column honoured; a label may be a string or an integer or float (stars)."""
    from .labeled import LABEL_COLUMNS

    table = open_table(job.path)
    text = _text_column(job.path, table, job.text_column)
    label = _column(job.path, table, job.label_column, LABEL_COLUMNS, "label")
    folded = [name.lower() for name in table.schema_arrow.names]
    split = table.schema_arrow.names[folded.index("split")] if "split" in folded else None
    job.has_splits = split is not None
    columns = [text, label] + ([split] if split else [])
    done = 0
    with parquet_errors(job.path):
        for batch in table.iter_batches(batch_size=GROUP_ROWS, columns=columns):
            values = zip(*(batch.column(name).to_pylist() for name in columns))
            for row, (review, stars, *part) in enumerate(values, start=done + 1):
                if review is None:
                    job.bad(None, f"row {row}: the text ({text!r}) is null")
                elif stars is None or isinstance(stars, bool) or not isinstance(stars, (str, int, float)):
                    job.bad(None, f"row {row}: the label ({label!r}) is null or not a string or number")
                else:
                    job.add(row, review, str(stars), str(part[0]).strip().lower() if part and part[0] else None)
            done += batch.num_rows
