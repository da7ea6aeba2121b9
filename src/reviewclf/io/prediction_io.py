"""Streaming readers of prediction inputs and atomic writers of prediction outputs (stdlib + numpy only).

``reviewclf predict`` scores files of any size, so inputs are read row by row and outputs written window by
window: memory stays flat whatever the input size. Every failure a user can cause is a one-line
``ReviewclfError`` naming the file and line. Decisions worth knowing:

* **Plain text** (``txt``): one review per line. Blank lines are kept as empty reviews so that output row N
  is the prediction for input line N (``paste`` and ``diff`` keep working). Only the line end (``\\n`` or
  ``\\r\\n``) is removed; the tokenizer handles the rest of the whitespace.
* **CSV/TSV** (with a header) and **JSONL**: the text comes from one column/field; every other column/field
  is carried through to the output (an id, a timestamp...). Blank lines are not rows there.
* Carried columns come first in the output, then ``label`` and ``probability``. A carried column whose name
  an output column already uses is renamed ``input_<name>`` (a labeled CSV's own ``label`` survives).
* Bytes are read in 1 MiB blocks, split on ``\\n`` and decoded line by line (``lines.LineSource``, shared
  with the labeled readers), so an undecodable byte names its line; a UTF-8 BOM is dropped. A single line
  is capped at ``MAX_LINE_BYTES`` so a file with no line breaks cannot exhaust memory (long reviews are
  fine: the tokenizer truncates them to the model's max length). UTF-16/32 files and classic Mac line ends
  are handled under the splitter (``byte_stream``), so a Mac file gives one output row per line too.
* ``on_error="skip"`` skips bad rows (undecodable, NUL bytes, too long, ragged, bad JSON) and counts them;
  a bad header, a quote that never closes and a broken UTF-16 sequence are refused even then.
* Output files are written to a temporary file beside the target and renamed over it at the end: an error
  or Ctrl-C leaves no half-written output, and the output may even replace one of the inputs.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from ..errors import ReviewclfError, located
from .lines import LineSource, check_options, strip_line_end
from .opener import STDIO, display_name, open_input, read_errors
from .records import TEXT_COLUMNS, refuse_duplicates, require_column

if TYPE_CHECKING:  # a type only: the I/O floor does not import the runtime
    from ..runtime.predictor import Scores

PARQUET = "parquet"  # read and written by io/parquet*.py (the [parquet] extra), dispatched here
INPUT_FORMATS = ("txt", "csv", "tsv", "jsonl", PARQUET)
OUTPUT_FORMATS = ("csv", "tsv", "jsonl")
TXT_TEXT_COLUMN = "text"  # the column name of a plain-text line with ``include_text``

_SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": PARQUET}
_GROUP_ROWS = 1024


def input_format_of(name: str) -> str:
    """The input format a file name implies: ``.csv``, ``.tsv``, ``.jsonl``/``.ndjson``, else plain text."""
    return _SUFFIX_FORMATS.get(PurePath(name).suffix.lower(), "txt")


def output_format_of(name: str | None) -> str:
    """The output format an ``-o`` name implies; stdout (``None``/``-``) defaults to CSV."""
    if name is None or name == STDIO:
        return "csv"
    fmt = _SUFFIX_FORMATS.get(PurePath(name).suffix.lower())
    if fmt is None:
        raise ReviewclfError(
            f"cannot tell the output format from {name!r}; name it .csv, .tsv, .jsonl or .parquet, or pass "
            "--output-format"
        )
    return fmt


# --------------------------------------------------------------------------------------------------- input


class BlankRows(Sequence[dict[str, Any]]):
    """The carried columns of rows that carry none, without a dict per row."""

    def __init__(self, size: int):
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return BlankRows(len(range(self.size)[index]))
        range(self.size)[index]  # raises IndexError past the end
        return {}


# Codecs in which a \n byte is always a line end and decoding keeps no state across lines: a block of lines
# decodes whole to what its lines decode to one by one.
_BLOCK_CODECS = {"utf-8", "ascii", "iso8859-1", "cp1252", "iso8859-15"}


@dataclass
class Rows:
    """Consecutive reviews to score: their texts and, per text, the input columns carried to the output.

    Rows come in groups (a block of a plain-text file, ``_GROUP_ROWS`` of a CSV/JSONL one) because a Python
    object per row, passed through the CLI's generators, cost more than tokenizing a short review.
    """

    texts: list[str]
    carried: list[dict[str, Any]]


@dataclass
class _File(LineSource):
    """One input being read (decoding, line cap and bad-row policy inherited) and the rows it gave."""

    rows: int = 0


@dataclass
class InputReader:
    """Groups of rows (``Rows``) of one or more inputs, in order, as a generator; counts skipped rows and bytes
    read.

    ``text_column`` names the CSV/TSV column or JSONL field holding the text (default: the first of
    ``TEXT_COLUMNS`` present). ``input_format`` overrides detection by file extension (stdin: plain text).
    """

    inputs: Sequence[str]
    input_format: str | None = None
    text_column: str | None = None
    encoding: str = "utf-8"
    on_error: str = "raise"
    include_text: bool = False
    skipped: int = 0
    _done_bytes: int = 0
    _current: LineSource | None = None

    @property
    def bytes_read(self) -> int:
        """Bytes read so far from every input (for a progress bar)."""
        return self._done_bytes + (self._current.bytes_read if self._current is not None else 0)

    def __post_init__(self) -> None:
        if self.input_format is not None and self.input_format not in INPUT_FORMATS:
            raise ReviewclfError(f"unknown input format {self.input_format!r}; one of {', '.join(INPUT_FORMATS)}")
        check_options(self.encoding, self.on_error)

    def total_bytes(self) -> int | None:
        """The summed size of the input files, or ``None`` when one of them is stdin (for a progress bar)."""
        if not self.inputs or STDIO in self.inputs:
            return None
        with suppress(OSError):
            return sum(os.path.getsize(name) for name in self.inputs)
        return None

    def __iter__(self) -> Iterator[Rows]:
        for name in self.inputs or [STDIO]:
            yield from self._read_one(name)

    def _read_one(self, name: str) -> Iterator[Rows]:
        if (self.input_format or (input_format_of(name) if name != STDIO else "txt")) == PARQUET:
            yield from self._read_parquet(name)
            return
        file = _File(display_name(name), self.encoding, self.on_error)
        self._current = file
        with read_errors(file.path), open_input(name) as (stream, inner):
            fmt = self.input_format or (input_format_of(inner) if name != STDIO else "txt")
            blocks = file.blocks(stream)
            if fmt == "txt":
                yield from self._txt_rows(file, blocks)
            else:
                lines = file.decode(chain.from_iterable(blocks))
                rows = self._jsonl_rows(file, lines) if fmt == "jsonl" else \
                    self._csv_rows(file, lines, "\t" if fmt == "tsv" else ",")
                while group := list(islice(rows, _GROUP_ROWS)):
                    yield Rows([text for text, _ in group], [carried for _, carried in group])
        self.skipped += file.skipped
        self._done_bytes += file.bytes_read
        self._current = None
        if not file.rows:
            note = f" ({file.skipped} bad rows skipped)" if file.skipped else ""
            raise located(file.path, None, f"no input rows{note}")

    def _read_parquet(self, name: str) -> Iterator[Rows]:
        from .parquet import ParquetSource  # pyarrow is imported only when a Parquet file is read

        source = ParquetSource(display_name(name), self.text_column, self.on_error, self.include_text)
        self._current = source  # type: ignore[assignment]  # it counts bytes_read as a LineSource does
        yield from source
        self.skipped += source.skipped
        self._done_bytes += source.bytes_read
        self._current = None

    def _txt_rows(self, file: _File, blocks: Iterable[list[bytes]]) -> Iterator[Rows]:
        """One review per line; blank lines are empty reviews so output row N matches input line N.

        A block of lines that all decode, hold no NUL and fit is turned into rows in one pass; another goes
        through the line-by-line checks, which name the bad line. Per-line generators had cost more than
        the tokenizer on short reviews.
        """
        number = 0
        for raw_lines in blocks:
            texts = self._clean_texts(file, raw_lines, number)
            if texts is None:
                numbered = file.decode(raw_lines, number + 1)
                texts = [text for _, text in file.good_lines(numbered, keep_blank=True)]
            number += len(raw_lines)
            file.rows += len(texts)
            yield Rows(texts, [{TXT_TEXT_COLUMN: text} for text in texts] if self.include_text else
                       BlankRows(len(texts)))

    def _clean_texts(self, file: _File, raw_lines: list[bytes], before: int) -> list[str] | None:
        """The lines without their ends, or None when one of them needs the line-by-line checks.

        A block in a stateless codec is decoded whole and split on ``\n`` (a ``\n`` byte is always a line end
        in these); per-line decoding and stripping cost more than tokenizing a short review.
        """
        if file.overlong and max(file.overlong) > before:
            return None
        whole = codecs.lookup(file.line_encoding).name in _BLOCK_CODECS
        try:
            texts = [b"".join(raw_lines).decode(file.line_encoding)] if whole else [
                raw.decode(file.line_encoding) for raw in raw_lines]
        except UnicodeDecodeError:
            return None
        if (before == 0 and texts[0].startswith("\ufeff")) or any("\x00" in text for text in texts):
            return None
        if not whole:
            return [strip_line_end(text) for text in texts]
        joined = texts[0]
        texts = joined.split("\n")
        if raw_lines[-1].endswith(b"\n"):
            texts.pop()  # the empty string after the block's last line end
        return [strip_line_end(text) for text in texts] if "\r" in joined else texts

    def _jsonl_rows(self, file: _File, lines: Iterable[tuple[int, str]]) -> Iterator[tuple[str, dict[str, Any]]]:
        """One JSON object per line; the text field is named or found in the first object."""
        key: str | None = None
        for number, record in file.json_objects(lines):
            if key is None:
                names = list(record)
                key = names[require_column(file.path, number, names, self.text_column, TEXT_COLUMNS, "text")]
            text = record.get(key)
            if not isinstance(text, str):
                file.bad(number, f"field {key!r} is missing or not a string")
                continue
            file.rows += 1
            yield text, self._carried(record, key)

    def _csv_rows(
        self, file: _File, lines: Iterable[tuple[int, str]], delimiter: str
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """A delimited file with a header row; quoted fields may span lines."""
        header: list[str] | None = None
        text_at = -1
        for start, row in file.csv_rows(lines, delimiter):
            if header is None and (row or file.last_bad_line >= start):
                header = file.header(start, row)
                refuse_duplicates(file.path, start, header, header)  # every column is carried to the output
                text_at = require_column(file.path, start, header, self.text_column, TEXT_COLUMNS, "text")
                continue
            if file.last_bad_line >= start:
                file.bad(start, "bad line")
                continue
            if header is None or not row or (len(header) > 1 and row == [""]):
                continue
            if len(row) != len(header):
                file.bad(start, f"expected {len(header)} fields, found {len(row)}")
                continue
            file.rows += 1
            yield row[text_at], self._carried(dict(zip(header, row)), header[text_at])

    def _carried(self, record: dict[str, Any], text_key: str) -> dict[str, Any]:
        if self.include_text:
            return record
        return {k: v for k, v in record.items() if k != text_key}


# -------------------------------------------------------------------------------------------------- output


def shortest_decimals(probs: np.ndarray) -> np.ndarray:
    """Each float32 as the shortest decimal string that round-trips it (no float64 noise digits in the
    output), converted in one numpy call rather than one Python call per number."""
    return np.asarray(probs, dtype=np.float32).astype(str)


class PredictionWriter:
    """Writes rows of carried columns + decision + optional top-k and per-label probabilities.

    CSV/TSV columns are fixed by the first row; a later row with fields the first lacked (possible with
    JSONL input) has them left out and counted in ``rows_with_extra_fields``. JSONL keeps every field.
    A window is formatted column by column and written with one ``writerows``: per-row formatting was a
    third of the time of scoring short reviews.
    """

    def __init__(
        self,
        stream: IO[str],
        output_format: str,
        labels: Sequence[str],
        *,
        all_probs: bool = False,
        top_k: int = 0,
    ):
        if output_format not in OUTPUT_FORMATS:
            raise ReviewclfError(f"unknown output format {output_format!r}; one of {', '.join(OUTPUT_FORMATS)}")
        self.stream = stream
        self.format = output_format
        self.labels = list(labels)
        self.all_probs = all_probs
        self.top_k = top_k
        self.rows_with_extra_fields = 0
        self._renames: dict[str, str] = {}
        self._columns: list[str] | None = None
        self._csv: Any = None

    def result_columns(self) -> list[str]:
        """The flat column names that follow the carried ones (CSV/TSV)."""
        columns = ["label", "probability"]
        for k in range(1, self.top_k + 1):
            columns += [f"label_{k}", f"probability_{k}"]
        if self.all_probs:
            columns += [f"p_{label}" for label in self.labels]
        return columns

    def _reserved(self) -> set[str]:
        if self.format == "jsonl":
            return {"label", "probability", "top_k", "probabilities"}
        return set(self.result_columns())

    def _out_name(self, name: str) -> str:
        """The output name of a carried column: itself, or ``input_<name>`` where a result column has it."""
        if name not in self._renames:
            out = name
            while out in self._reserved():
                out = f"input_{out}"
            self._renames[name] = out
        return self._renames[name]

    def write(self, carried: Sequence[dict[str, Any]], scores: Scores) -> None:
        """One group of rows: carried columns per row and the Predictor's row-aligned ``Scores``."""
        if not len(carried):
            return
        probs, chosen, ranked = scores.probabilities, scores.chosen, scores.ranked[:, : self.top_k]
        rows = np.arange(len(carried))
        labels = np.asarray(self.labels, dtype=object)
        chosen_decimals = shortest_decimals(probs[rows, chosen])
        decimals = shortest_decimals(probs) if self.top_k or self.all_probs else None
        if self.format == "jsonl":
            self._write_json(carried, decimals, labels[chosen], chosen_decimals, ranked)
        else:
            columns = [labels[chosen], chosen_decimals]
            for k in range(self.top_k):
                columns += [labels[ranked[:, k]], decimals[rows, ranked[:, k]]]
            if self.all_probs:
                columns += list(decimals.T)
            self._write_delimited(carried, columns)

    def _write_json(self, carried: Sequence[dict[str, Any]], decimals: np.ndarray | None, chosen_labels: np.ndarray,
                    chosen_decimals: np.ndarray, ranked: np.ndarray | None) -> None:
        lines = []
        for i, fields in enumerate(carried):
            record = {self._out_name(name): value for name, value in fields.items()}
            record["label"] = chosen_labels[i]
            record["probability"] = float(chosen_decimals[i])
            if self.top_k:
                record["top_k"] = [{"label": self.labels[j], "probability": float(decimals[i, j])} for j in ranked[i]]
            if self.all_probs:
                record["probabilities"] = {label: float(p) for label, p in zip(self.labels, decimals[i])}
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.write("".join(lines))

    def _write_delimited(self, carried: Sequence[dict[str, Any]], results: list[np.ndarray]) -> None:
        if self._columns is None:
            self._columns = list(carried[0])
            delimiter = "\t" if self.format == "tsv" else ","
            self._csv = csv.writer(self.stream, delimiter=delimiter, lineterminator="\n")
            self._csv.writerow([self._out_name(name) for name in self._columns] + self.result_columns())
        known = set(self._columns)
        if not isinstance(carried, BlankRows):
            self.rows_with_extra_fields += sum(1 for fields in carried if not fields.keys() <= known)
        columns = [[_cell(fields.get(name)) for fields in carried] for name in self._columns]
        self._csv.writerows(zip(*columns, *(column.tolist() for column in results)))


def _cell(value: Any) -> str:
    """A carried value as a CSV cell: strings as they are, JSON values (from JSONL input) as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
