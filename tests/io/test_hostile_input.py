"""Hostile input files read by both readers on the line core: the labeled readers (``train``, ``evaluate``)
and the prediction input reader (``predict``) must give the same one-line error naming the file and line,
or skip and count the bad row, for every file below. Files are generated in ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewclf.errors import ReviewclfError
from reviewclf.io import byte_stream, lines
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


# ----------------------------------------------------------------------------------- UTF-16 and UTF-32

CSV_TEXT = 'text,label\ngood food,positive\n"é ✓ 🍕, and\na second line",negative\ncold soup,negative\n'
CSV_TEXTS = ["good food", "é ✓ 🍕, and\na second line", "cold soup"]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("on_error", ["raise", "skip"])
@pytest.mark.parametrize(("codec", "name"), [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32")])
def test_a_utf16_or_utf32_file_read_as_another_encoding_is_refused(reader: str, on_error: str, codec: str,
                                                                  name: str, tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_bytes(("\ufeff" + CSV_TEXT).encode(codec))  # as Windows tools save "Unicode" text
    expected = f"{path}: the file is {name} (it starts with a {name} byte-order mark); pass --encoding {name.lower()}"
    assert error(reader, path, on_error=on_error) == expected
    assert error(reader, path, on_error=on_error, encoding="latin-1") == expected


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("block", [1, 3, 1 << 20])
@pytest.mark.parametrize("codec", ["utf-16", "utf-32", "utf-16-le"])
def test_a_utf16_or_utf32_file_is_read_when_the_encoding_says_so(reader: str, block: int, codec: str,
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(lines, "BLOCK_BYTES", block)  # blocks that split characters and surrogate pairs
    path = tmp_path / "in.csv"
    path.write_bytes(CSV_TEXT.encode(codec))
    assert texts(reader, path, encoding=codec) == (CSV_TEXTS, 0)


@pytest.mark.parametrize("reader", READERS)
def test_an_undecodable_utf16_sequence_names_its_line_even_under_skip(reader: str, tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_bytes(CSV_TEXT.encode("utf-16") + "bad".encode("utf-16-le") + b"\x00\xd8,\x00x\x00\n\x00")
    assert error(reader, path, encoding="utf-16", on_error="skip") == (
        f"{path}:6: cannot decode the bytes as utf-16 (illegal UTF-16 surrogate); is the file in another encoding?")


# ------------------------------------------------------------------------------------------- line ends


@pytest.mark.parametrize("block", [1, 2, 5, 1 << 20])
def test_classic_mac_line_ends_give_a_row_per_line_the_user_sees(block: int, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(lines, "BLOCK_BYTES", block)
    reviews = tmp_path / "in.txt"
    reviews.write_bytes(b"good food\rcold soup\r\rnice\rlast")
    assert texts("predict", reviews) == (["good food", "cold soup", "", "nice", "last"], 0)
    table = tmp_path / "in.csv"
    table.write_bytes(b'text,label\rgood food,positive\r"two\rlines",negative\rcaf\xe9,negative\r')
    for reader in READERS:
        assert error(reader, table).startswith(f"{table}:5: cannot decode byte 0xe9")
        assert texts(reader, table, on_error="skip") == (["good food", "two\nlines"], 1)


@pytest.mark.parametrize("block", [1, 2, 5, 1 << 20])
def test_after_cr_line_ends_a_crlf_is_one_line_end_where_a_block_splits_it(block: int, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(lines, "BLOCK_BYTES", block)
    monkeypatch.setattr(byte_stream, "PEEK_BYTES", 16)  # the CRLF comes after the bytes that decide
    reviews = tmp_path / "in.txt"
    reviews.write_bytes(b"good food\rcold soup\r\rnice\r\nlast\n")
    assert texts("predict", reviews) == (["good food", "cold soup", "", "nice", "last"], 0)


def test_a_cr_before_the_first_lf_of_a_long_first_line_does_not_change_the_line_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(byte_stream, "PEEK_BYTES", 18)  # the bytes that decide end with the first CR
    reviews = tmp_path / "in.txt"
    reviews.write_bytes(b"a long first line\r\nsecond\rstill second\n")
    assert texts("predict", reviews) == (["a long first line", "second\rstill second"], 0)


@pytest.mark.parametrize("reader", READERS)
def test_a_lone_cr_inside_a_line_of_a_file_with_lf_line_ends_is_text(reader: str, tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_bytes(b'text,label\n"a\rb",positive\n"c\r\nd",negative\n')
    assert texts(reader, path)[0] == ["a\rb", "c\r\nd"]


# --------------------------------------------------------------------- NUL bytes and long lines, one rule

FILES = {  # one file per format the readers take, with a bad second row
    "in.csv": "text,label\n{bad},positive\ngood food,positive\n",
    "in.tsv": "text\tlabel\n{bad}\tpositive\ngood food\tpositive\n",
    "in.jsonl": '{{"text": "ok", "label": "positive"}}\n{{"text": "{bad}", "label": "positive"}}\n'
                '{{"text": "good food", "label": "positive"}}\n',
    "in_labelled.txt": "ok\t1\n{bad}\t1\ngood food\t1\n",
    "in.ft": "__label__1 ok\n__label__1 {bad}\n__label__1 good food\n",
}


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize(("bad", "problem"), [("ba\x00d", "NUL byte at column"), ("x" * 80, "line longer than")],
                         ids=["nul", "overlong"])
def test_nul_bytes_and_overlong_lines_are_bad_rows_for_every_reader_and_format(
        name: str, bad: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 60)
    path = tmp_path / name
    path.write_text(FILES[name].format(bad=bad), encoding="utf-8")
    readers = READERS if name.endswith((".csv", ".tsv", ".jsonl")) else ["labeled"]
    for reader in readers:
        assert error(reader, path).startswith(f"{path}:2: {problem}")
        good, skipped = texts(reader, path, on_error="skip")
        assert good[-1] == "good food" and bad not in good and skipped == 1
