"""The line core every reader stands on: bytes in blocks, split on ``\\n``, capped, decoded line by line.

Every bad byte or row of a user file must become a one-line ``ReviewclfError`` naming the file and line, or,
under ``on_error="skip"``, a counted skip; doing it here once gives every command the same words for it.

* Lines are split on ``\\n`` bytes only, so a character such as U+0085 (NEL) never splits a line, and an
  undecodable byte names its line. A UTF-8 byte-order mark on line 1 is dropped. The bytes come through
  ``byte_stream.ByteStream`` first: UTF-16/32 is recoded (or refused), classic Mac line ends are mended.
* One line is capped at ``MAX_LINE_BYTES`` so a file with no line breaks cannot exhaust memory.
* A bad *line* (undecodable, NUL, too long) raises at once, or is remembered in ``last_bad_line`` so that the
  row holding it is skipped: a CSV row may span lines, so the line and the row are told apart.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, Any

from ..errors import OptionError, located
from .byte_stream import ByteStream

MAX_LINE_BYTES = 10 * 1024 * 1024  # one line longer than this is refused; long reviews are far shorter
# The longest CSV field accepted (csv's default, 128 KiB, is shorter than some reviews); the csv module keeps
# one limit per process, so every reader sets this one value.
CSV_FIELD_LIMIT = MAX_LINE_BYTES
DECODE_HINT = "pass the file's encoding (--encoding, e.g. latin-1) or skip bad rows (--on-error skip)"
BLOCK_BYTES = 1 << 20
_LINE = re.compile(rb"[^\n]*\n")  # a line and its end, split on \n only (not on a lone \r)
MAX_JSON_DEPTH = 100  # far below the interpreter's recursion limit, far above any real record's nesting
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \uD800-\uDFFF: maybe half of a pair, checked then


def check_options(encoding: str, on_error: str) -> None:
    """Refuse an unknown codec or policy up front, as one line, instead of at the first byte read."""
    if on_error not in ("raise", "skip"):
        raise OptionError("on_error", f"must be 'raise' or 'skip', not {on_error!r}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise OptionError("encoding", f"unknown encoding {encoding!r}") from None


def strip_line_end(line: str) -> str:
    """``line`` without its ``\\n`` or ``\\r\\n``; other trailing whitespace may be part of the text."""
    if line.endswith("\n"):
        line = line[:-1]
    return line[:-1] if line.endswith("\r") else line


@dataclass
class LineSource:
    """One input being read: where it is, how to decode it, its bad-row policy, its counters, and the numbers
    of its lines longer than ``MAX_LINE_BYTES`` (found when read, marked bad when their turn comes)."""

    path: str | Path
    encoding: str
    on_error: str
    skipped: int = 0
    last_bad_line: int = 0  # the latest line marked bad (only under on_error="skip")
    last_bad_message: str = ""  # and why
    bytes_read: int = 0
    line_encoding: str = ""  # what the line splitter gives (UTF-8 where ByteStream recodes); set by blocks
    overlong: set[int] = field(default_factory=set)

    def bad(self, line: int | None, message: str) -> None:
        """A bad row: raise a located error, or count it and go on."""
        if self.on_error == "raise":
            raise located(self.path, line, message) from None
        self.skipped += 1

    def mark(self, line: int, message: str) -> None:
        """A bad line: raise a located error, or remember it so that the row holding it is skipped."""
        if self.on_error == "raise":
            raise located(self.path, line, message) from None
        self.last_bad_line, self.last_bad_message = line, message

    def header(self, start: int, row: list[str]) -> list[str]:
        """A header row's column names. A marked line in it is refused even under ``on_error="skip"``: every
        row is read through the header, so none could be trusted."""
        if self.last_bad_line >= start:
            raise located(self.path, self.last_bad_line, self.last_bad_message) from None
        return [name.strip() for name in row]

    def blocks(self, stream: IO[bytes]) -> Iterator[list[bytes]]:
        """The byte lines (ends kept) of each block read; a line longer than ``MAX_LINE_BYTES`` is drained,
        noted in ``overlong`` and given as an empty line, which keeps line numbers and a CSV reader in step.

        The bytes come through ``ByteStream``: UTF-16/32 recoded (or refused), classic Mac line ends mended.
        """
        source = ByteStream(stream, self.path, self.encoding, BLOCK_BYTES)
        self.line_encoding = source.line_encoding
        number, partial, draining = 0, b"", False
        while block := source.read(BLOCK_BYTES):
            self.bytes_read = source.raw_bytes
            data = partial + block
            end = data.rfind(b"\n") + 1
            lines, partial = _LINE.findall(data, 0, end), data[end:]
            if draining:  # the rest of a line already given as an empty one
                if not lines:
                    partial = b""
                    continue
                del lines[0]
                draining = False
            if end > MAX_LINE_BYTES:  # else no line here can be too long
                for at, line in enumerate(lines):
                    if len(line) > MAX_LINE_BYTES + 1:
                        lines[at] = b"\n"
                        self.overlong.add(number + at + 1)
            if len(partial) > MAX_LINE_BYTES:
                lines.append(b"\n")
                self.overlong.add(number + len(lines))
                partial, draining = b"", True
            number += len(lines)
            if lines:
                yield lines
        self.bytes_read = source.raw_bytes
        if partial and not draining:
            yield [partial]

    def lines(self, stream: IO[bytes]) -> Iterator[tuple[int, str]]:
        """Every line of ``stream``, numbered from 1 and decoded (line ends kept), checked as ``decode`` does."""
        return self.decode(chain.from_iterable(self.blocks(stream)))

    def decode(self, raw_lines: Iterable[bytes], first: int = 1) -> Iterator[tuple[int, str]]:
        """Lines numbered from ``first`` (line ends kept), decoded one by one; an undecodable line, one with a
        NUL byte, or one that was too long is marked bad.

        A marked line is yielded decoded with replacement characters, so that a CSV reader keeps its place;
        the row reader then skips the row that contains it.
        """
        for number, raw in enumerate(raw_lines, first):
            try:
                text = raw.decode(self.line_encoding)
            except UnicodeDecodeError as exc:
                self.mark(number, f"cannot decode byte 0x{raw[exc.start]:02x} (column {exc.start + 1}) as "
                                  f"{self.encoding}; {DECODE_HINT}")
                text = raw.decode(self.line_encoding, "replace")
            if number in self.overlong:
                self.mark(number, f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MB")
            elif "\x00" in text:
                self.mark(number, f"NUL byte at column {text.index(chr(0)) + 1} (is this a binary file?)")
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
        header differently. A quote that never closes is refused even under ``on_error="skip"``: it
        swallows the rest of the file (or ``CSV_FIELD_LIMIT`` of it) into one field, and no row after it
        can be trusted to start where it seems to.
        """
        csv.field_size_limit(CSV_FIELD_LIMIT)
        ended: list[bool] = []
        reader = csv.reader(_csv_lines(lines, ended), delimiter=delimiter)
        kind = "TSV" if delimiter == "\t" else "CSV"
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field limit" in str(exc):
                    raise located(self.path, start, f"a quoted field in the row starting here runs past "
                                                    f"{CSV_FIELD_LIMIT // (1024 * 1024)} MB "
                                                    f"(a quote that never closes?)") from None
                self.bad(reader.line_num, f"bad {kind} row ({exc})")
                continue
            if ended:  # the file ended before the row did, which only an open quote allows
                raise located(self.path, start, "a quoted field in the row starting here never closes "
                                                "(the rest of the file would be one field)") from None
            yield start, row

    def json_objects(self, lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, dict[str, Any]]]:
        """JSON Lines: one object per non-blank line; bad JSON and non-objects are bad rows (``parse_json``)."""
        for number, line in self.good_lines(lines):
            record, problem = parse_json(line)
            if problem is None and not isinstance(record, dict):
                problem = f"expected a JSON object, found {type(record).__name__}"
            if problem is not None:
                self.bad(number, problem)
                continue
            yield number, record


def _csv_lines(lines: Iterable[tuple[int, str]], ended: list[bool]) -> Iterator[str]:
    """The text of numbered lines for ``csv.reader``, a line end after the last, and ``ended`` set after that.

    The reader ends a row at a line end outside quotes, so a row that it ends only once the lines have
    run out was still inside a quoted field.
    """
    line = "\n"
    for _, line in lines:
        yield line
    if not line.endswith("\n"):
        yield "\n"
    ended.append(True)


def parse_json(line: str) -> tuple[Any, str | None]:
    """One JSON value and ``None``, or ``None`` and why the line is a bad row.

    Besides malformed JSON, a bad row is one Python's parser gives up on (nesting past the interpreter's
    recursion limit, an integer past its digit limit) and one the later steps would trip over: nesting
    deeper than ``MAX_JSON_DEPTH`` (writing it back out recurses too) or a ``\\u`` escape that decodes to
    half a surrogate pair (no UTF-8 output or tokenizer takes one).
    """
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"bad JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return None, f"bad JSON (nested deeper than {MAX_JSON_DEPTH} levels)"
    except ValueError:  # the only other one json raises: an integer longer than the interpreter converts
        return None, f"bad JSON (a number longer than {sys.get_int_max_str_digits()} digits)"
    if line.count("[") + line.count("{") > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        return None, f"bad JSON (nested deeper than {MAX_JSON_DEPTH} levels)"
    if _SURROGATE_ESCAPE.search(line) and _has_lone_surrogate(value):
        return None, "bad JSON (a \\u escape gives half of a surrogate pair, not a character)"
    return value, None


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit``, found without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
