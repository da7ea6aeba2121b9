"""Prediction input and output files.

The input reader reads blocks of bytes: rows, line numbers and bad-line handling must not depend on where a
block ends. Each case is read with blocks of a few bytes (every line crosses a boundary) and with the real
block size, and the two must agree with each other and with what the file says. The output is written
atomically, and an interrupt at any point leaves no temporary file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from reviewclf.errors import ReviewclfError
from reviewclf.io import lines
from reviewclf.io.prediction_io import BlankRows, InputReader


def read(path: Path, block: int, monkeypatch: pytest.MonkeyPatch, **options) -> tuple[list, int]:
    monkeypatch.setattr(lines, "BLOCK_BYTES", block)
    reader = InputReader([str(path)], include_text=True, **options)
    rows = [pair for group in reader for pair in zip(group.texts, group.carried)]
    return rows, reader.skipped


def error(path: Path, block: int, monkeypatch: pytest.MonkeyPatch, **options) -> str:
    monkeypatch.setattr(lines, "BLOCK_BYTES", block)
    with pytest.raises(ReviewclfError) as caught:
        list(InputReader([str(path)], **options))
    return str(caught.value)


@pytest.mark.parametrize("block", [1, 3, 7, 64, 1 << 20])
def test_txt_rows_do_not_depend_on_the_block_size(block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rng = random.Random(block)
    lines = ["", "good food", "  spaced  ", "é ünïcode ✓", "x" * 150, "tab\there", "cr\rinside"]
    picked = [rng.choice(lines) for _ in range(300)]
    source = tmp_path / "in.txt"
    source.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(picked).encode() + b"\r\n")
    rows, skipped = read(source, block, monkeypatch)
    assert [text for text, _ in rows] == picked and skipped == 0
    assert rows[1][1] == {"text": picked[1]}


def test_txt_last_line_without_a_line_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = tmp_path / "in.txt"
    source.write_bytes(b"first\nsecond\nlast")
    assert [text for text, _ in read(source, 4, monkeypatch)[0]] == ["first", "second", "last"]


@pytest.mark.parametrize("block", [5, 1 << 20])
def test_bad_lines_in_a_later_block_are_named_and_skipped(block: int, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    source = tmp_path / "in.txt"
    good = [f"review number {k}" for k in range(40)]
    content = "\n".join(good).encode() + b"\ncaf\xe9\n" + b"more\nba\x00d\nend\n"
    source.write_bytes(content)
    assert error(source, block, monkeypatch).startswith(f"{source}:41: cannot decode byte 0xe9")
    rows, skipped = read(source, block, monkeypatch, on_error="skip")
    assert [text for text, _ in rows] == good + ["more", "end"] and skipped == 2


@pytest.mark.parametrize("block", [3, 16, 1 << 20])
@pytest.mark.parametrize("overlong", [25, 300])  # ends inside the block that reaches the cap, or blocks later
def test_overlong_lines_are_named_and_skipped(block: int, overlong: int, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 20)
    source = tmp_path / "in.txt"
    source.write_bytes(b"one\n" + b"y" * 20 + b"\n" + b"x" * overlong + b"\nthree\n" + b"z" * overlong)
    assert f"{source}:3: line longer than" in error(source, block, monkeypatch)
    rows, skipped = read(source, block, monkeypatch, on_error="skip")
    assert [text for text, _ in rows] == ["one", "y" * 20, "three"] and skipped == 2


@pytest.mark.parametrize("block", [2, 9, 1 << 20])
def test_csv_and_jsonl_rows_cross_block_boundaries(block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    table = tmp_path / "in.csv"
    table.write_text('id,text\n1,"spans\nlines, and ""quotes"""\n2,plain\r\n', encoding="utf-8")
    rows, _ = read(table, block, monkeypatch)
    assert [text for text, _ in rows] == ['spans\nlines, and "quotes"', "plain"]
    assert [carried["id"] for _, carried in rows] == ["1", "2"]
    records = tmp_path / "in.jsonl"
    records.write_text('{"id": 1, "text": "a ✓"}\n\n{"id": 2, "text": "b"}\n', encoding="utf-8")
    assert [(text, carried["id"]) for text, carried in read(records, block, monkeypatch)[0]] == [("a ✓", 1), ("b", 2)]




@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "cp1252", "cp437"])
def test_txt_rows_are_the_same_decoded_per_block_or_per_line(encoding: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    """utf-8, latin-1 and cp1252 blocks are decoded whole, cp437 line by line: the same rows either way."""
    picked = ["", "caf\u00e9 ok", "cr\rinside", "last\r", "x" * 40] * 30
    source = tmp_path / "in.txt"
    source.write_bytes("\r\n".join(picked).encode(encoding))
    monkeypatch.setattr(lines, "BLOCK_BYTES", 64)
    reader = InputReader([str(source)], encoding=encoding)
    groups = list(reader)
    assert [text for group in groups for text in group.texts] == picked[:-1] + ["x" * 40]
    assert all(len(group.carried) == len(group.texts) for group in groups)


def test_rows_that_carry_nothing_hold_no_dict_per_row():
    blank = BlankRows(3)
    assert len(blank) == 3 and blank[0] == {} and blank[-1] == {} and list(blank) == [{}, {}, {}]
    assert len(blank[1:]) == 2 and isinstance(blank[1:], BlankRows)
    with pytest.raises(IndexError):
        blank[3]
