"""Hostile input files read by both readers on the line core: the labeled readers (``train``, ``evaluate``)
and the prediction input reader (``predict``) must give the same one-line error naming the file and line,
or skip and count the bad row, for every file below. Files are generated in ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewclf.errors import ReviewclfError
from reviewclf.io import lines
from reviewclf.io.labeled import read_labeled
from reviewclf.io.prediction_io import InputReader

READERS = ["labeled", "predict"]


def texts(reader: str, path: Path, **options: object) -> tuple[list[str], int]:
    """The texts one reader gives for ``path`` and how many bad rows it skipped."""
    if reader == "labeled":
        data = read_labeled(path, **options)
        return data.texts, data.skipped
    source = InputReader([str(path)], **options)
    return [text for group in source for text in group.texts], source.skipped


def error(reader: str, path: Path, **options: object) -> str:
    with pytest.raises(ReviewclfError) as caught:
        texts(reader, path, **options)
    return str(caught.value)


def jsonl(path: Path, *middle: str) -> Path:
    """A JSONL file of a good review, the ``middle`` lines, and another good review."""
    good = ['{"text": "good food", "label": "positive"}', '{"text": "cold soup", "label": "negative"}']
    path.write_text("\n".join([good[0], *middle, good[1]]) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------- JSONL


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(("line", "problem"), [
    pytest.param("[" * 100_000, "nested deeper than 100 levels", id="past-the-recursion-limit"),
    pytest.param('{"text": "deep", "label": "positive", "x": ' + "[" * 101 + "]" * 101 + "}",
                 "nested deeper than 100 levels", id="past-our-depth-limit"),
    pytest.param('{"text": "big", "label": "positive", "n": ' + "9" * 5000 + "}",
                 "a number longer than 4300 digits", id="5000-digit-integer"),
    pytest.param('{"text": "half \\ud800 pair", "label": "positive"}', "half of a surrogate pair",
                 id="lone-surrogate"),
])
def test_jsonl_lines_the_parser_or_the_output_cannot_take_are_bad_rows(reader: str, line: str, problem: str,
                                                                        tmp_path: Path):
    path = jsonl(tmp_path / "in.jsonl", line)
    message = error(reader, path)
    assert message.startswith(f"{path}:2: bad JSON (") and problem in message
    assert texts(reader, path, on_error="skip") == (["good food", "cold soup"], 1)


@pytest.mark.parametrize("reader", READERS)
def test_jsonl_nesting_to_the_limit_and_surrogate_pairs_are_fine(reader: str, tmp_path: Path):
    nested = "[" * 99 + "]" * 99  # inside an object: 100 levels
    path = jsonl(tmp_path / "in.jsonl", f'{{"text": "pizza \\ud83c\\udf55", "label": "positive", "x": {nested}}}')
    assert texts(reader, path)[0] == ["good food", "pizza 🍕", "cold soup"]


# --------------------------------------------------------------------------------------------- CSV quotes


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("on_error", ["raise", "skip"])
@pytest.mark.parametrize(("name", "content"), [
    pytest.param("in.csv", 'text,label\ngood food,positive\n"cold soup,negative\nnice,positive\n', id="ragged"),
    pytest.param("in.csv", 'label,text\npositive,good food\nnegative,"cold soup\npositive,nice\n', id="last-field"),
    pytest.param("in.tsv", 'label\ttext\npositive\tgood food\nnegative\t"cold soup', id="tsv-no-line-end"),
])
def test_a_quote_that_never_closes_is_refused_at_its_row_even_under_skip(reader: str, on_error: str, name: str,
                                                                         content: str, tmp_path: Path):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert error(reader, path, on_error=on_error) == (
        f"{path}:3: a quoted field in the row starting here never closes (the rest of the file would be one field)")


@pytest.mark.parametrize("reader", READERS)
def test_a_quoted_field_past_the_field_limit_is_refused_at_its_row(reader: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(lines, "CSV_FIELD_LIMIT", 2 << 20)
    path = tmp_path / "in.csv"
    path.write_text('text,label\ngood,positive\n"' + "never closed\n" * 200_000 + 'x",negative\n', encoding="utf-8")
    assert error(reader, path, on_error="skip") == (
        f"{path}:3: a quoted field in the row starting here runs past 2 MB (a quote that never closes?)")


@pytest.mark.parametrize("reader", READERS)
def test_quoted_fields_that_close_are_fine_up_to_the_last_byte(reader: str, tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_text('text,label\n"good\nfood",positive\n"a ""quoted""\nword",negative', encoding="utf-8")
    assert texts(reader, path)[0] == ["good\nfood", 'a "quoted"\nword']


# ----------------------------------------------------------------------------------------------- headers


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_a_duplicated_column_name_that_is_read_is_refused(reader: str, on_error: str, tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_text("text,label,text\ngood food,positive,cold soup\n", encoding="utf-8")
    assert error(reader, path, on_error=on_error) == f"{path}:1: duplicate column names in the header: text"


@pytest.mark.parametrize("reader", READERS)
def test_two_names_that_differ_only_in_case_are_refused_unless_one_is_named(reader: str, tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_text("Text,TEXT,label\ngood food,cold soup,positive\n", encoding="utf-8")
    assert error(reader, path) == (
        f"{path}:1: columns 'Text', 'TEXT' differ only in case; name one exactly with --text-column")
    assert texts(reader, path, text_column="TEXT")[0] == ["cold soup"]


@pytest.mark.parametrize("reader", READERS)
def test_an_unreadable_header_is_refused_even_under_skip(reader: str, tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_bytes(b"te\xffxt,label\ngood food,positive\n")
    assert error(reader, path, on_error="skip").startswith(f"{path}:1: cannot decode byte 0xff (column 3)")


def test_the_labeled_readers_ignore_a_duplicated_name_they_do_not_read(tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_text("text,label,,\ngood food,positive,,\n", encoding="utf-8")  # a spreadsheet's empty columns
    assert read_labeled(path).texts == ["good food"]
