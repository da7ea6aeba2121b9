"""Line mechanics shared by the labeled-data readers (``readers``) and the prediction input reader (``textio``).

Both read user files whose every bad byte or row must become a one-line ``ReviewclfError`` naming the file
and line, or, under ``on_error="skip"``, a counted skip. Keeping the decoding, the bad-row policy, the CSV and
JSON Lines row loops and the column lookup here gives the two readers one behaviour (standard library only).

* Bytes are decoded line by line (split on ``\\n`` bytes only), so a decoding error names its line and a
  character such as U+0085 (NEL) never splits a line. A UTF-8 byte-order mark on line 1 is dropped.
* A bad *line* (undecodable, or whatever the caller marks) raises at once, or is remembered in
  ``last_bad_line`` so that the row holding it is skipped: a CSV row may span lines, so the line and the row
  are told apart.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ReviewclfError, located

TEXT_COLUMNS = ("text", "review", "sentence", "content")  # tried in order when no text column is named
# The longest CSV field either reader accepts (csv's default, 128 KiB, is shorter than some reviews). The
# csv module holds one limit per process, so both readers set this same value rather than each its own.
CSV_FIELD_LIMIT = 10 * 1024 * 1024


def check_options(encoding: str, on_error: str) -> None:
    """Refuse an unknown codec or policy up front, as one line, instead of at the first byte read."""
    if on_error not in ("raise", "skip"):
        raise ReviewclfError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ReviewclfError(f"unknown encoding {encoding!r}") from None


def strip_line_end(line: str) -> str:
    """``line`` without its ``\\n`` or ``\\r\\n``; other trailing whitespace may be part of the text."""
    if line.endswith("\n"):
        line = line[:-1]
    return line[:-1] if line.endswith("\r") else line


def find_column(names: list[str], wanted: str | None, defaults: Sequence[str]) -> int | None:
    """Index of ``wanted`` (exact, else case-insensitive), or when none is named, of the first default present.

    Exports vary the case of their headers (``Sentence``, ``TEXT``); an exact match still wins so that
    ``text`` and ``Text`` in one header stay distinguishable. The caller words the error for ``None``.
    """
    folded = [name.lower() for name in names]
    for name in [wanted] if wanted is not None else defaults:
        if name in names:
            return names.index(name)
        if name.lower() in folded:
            return folded.index(name.lower())
    return None


@dataclass
class LineSource:
    """One input being read: where it is, how to decode it, its bad-row policy and its skip counter."""

    path: str | Path
    encoding: str
    on_error: str
    skipped: int = 0
    last_bad_line: int = 0  # the latest line marked bad (only under on_error="skip")

    def bad(self, line: int | None, message: str) -> None:
        """A bad row: raise a located error, or count it and go on."""
        if self.on_error == "raise":
            raise located(self.path, line, message) from None
        self.skipped += 1

    def mark(self, line: int, message: str) -> None:
        """A bad line: raise a located error, or remember it so that the row holding it is skipped."""
        if self.on_error == "raise":
            raise located(self.path, line, message) from None
        self.last_bad_line = line

    def decode(self, raw_lines: Iterable[bytes], hint: str, first: int = 1) -> Iterator[tuple[int, str]]:
        """Lines numbered from ``first`` (line ends kept), decoded one by one; ``hint`` ends an undecodable
        line's message.

        A marked line is yielded decoded with replacement characters, so that a CSV reader keeps its place;
        the row reader then skips the row that contains it.
        """
        for number, raw in enumerate(raw_lines, first):
            try:
                text = raw.decode(self.encoding)
            except UnicodeDecodeError as exc:
                self.mark(
                    number,
                    f"cannot decode byte 0x{raw[exc.start]:02x} (column {exc.start + 1}) as {self.encoding}; " + hint,
                )
                text = raw.decode(self.encoding, "replace")
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
                if not text:  # a file holding only a byte-order mark is empty
                    return
            yield number, text

    def good_lines(self, lines: Iterable[tuple[int, str]], *, keep_blank: bool = False) -> Iterator[tuple[int, str]]:
        """Lines without their line end for the line-per-row formats; marked lines are skipped and counted."""
        for number, line in lines:
            if self.last_bad_line == number:
                self.bad(number, "bad line")  # reached only under on_error="skip": counts it
                continue
            line = strip_line_end(line)
            if keep_blank or line.strip():
                yield number, line

    def csv_rows(
        self, lines: Iterable[tuple[int, str]], delimiter: str
    ) -> Iterator[tuple[int, list[str]]]:
        """Rows of a delimited file with the line each starts on (quoted fields may span lines).

        A malformed row is bad; rows holding a marked line are left to the caller, which may treat a
        header differently.
        """
        csv.field_size_limit(CSV_FIELD_LIMIT)
        reader = csv.reader((line for _, line in lines), delimiter=delimiter)
        kind = "TSV" if delimiter == "\t" else "CSV"
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.bad(reader.line_num, f"bad {kind} row ({exc})")
                continue
            yield start, row

    def json_objects(self, lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, dict[str, Any]]]:
        """JSON Lines: one object per non-blank line; bad JSON and non-objects are bad rows."""
        for number, line in self.good_lines(lines):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                self.bad(number, f"bad JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(record, dict):
                self.bad(number, f"expected a JSON object, found {type(record).__name__}")
                continue
            yield number, record
