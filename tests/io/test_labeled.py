"""Tests for the labeled-data readers: synthetic files for every format and error path, plus the real sets."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from reviewclf.errors import ReviewclfError
from reviewclf.io.label_map import parse_label_map
from reviewclf.io.labeled import (
    FORMATS,
    LabeledData,
    detect_format,
    read_labeled,
    read_many,
)

# The shared, read-only data sets live next to the project checkout: /work/shared/data for /work/main.
from reviewclf.io.lines import DECODE_HINT
from tests.support import DATA, POLARITY


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def error_of(path: Path, **kwargs: object) -> str:
    with pytest.raises(ReviewclfError) as info:
        read_labeled(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- label maps


def test_parse_label_map_splits_on_comma_and_first_equals():
    assert parse_label_map("1=negative, 2=negative,4 = positive,") == {
        "1": "negative",
        "2": "negative",
        "4": "positive",
    }
    assert parse_label_map("Review Stars: 1.0=neg,a=b=c") == {"Review Stars: 1.0": "neg", "a": "b=c"}


@pytest.mark.parametrize("spec", ["", " , ", "1", "=neg", "1=", "1=a,1=b"])
def test_parse_label_map_rejects_bad_specs(spec):
    with pytest.raises(ReviewclfError, match="bad label map"):
        parse_label_map(spec)


def test_label_map_drops_unmapped_rows_and_matches_float_stars(tmp_path):
    p = write(tmp_path / "r.csv", "text,stars\na,1\nb,3\nc,4.0\nd, 5 \ne,2.5\nf,2\n")
    data = read_labeled(p, label_map=parse_label_map(POLARITY))
    assert data.texts == ["a", "c", "d", "f"]
    assert data.labels == ["negative", "positive", "positive", "negative"]
    assert (data.dropped, data.skipped, data.splits) == (2, 0, None)


def test_label_map_matches_value_after_name_prefix(tmp_path):
    p = write(
        tmp_path / "r.csv", 'text,label2\na,Review Stars: 4.0\nb,"Review Stars: 3.0"\nc,Review Stars: 1.0\n'
    )
    data = read_labeled(p, label_column="label2", label_map=parse_label_map(POLARITY))
    assert (data.labels, data.dropped) == (["positive", "negative"], 1)
    literal = read_labeled(p, label_column="label2", label_map={"Review Stars: 3.0": "neutral"})
    assert (literal.texts, literal.labels, literal.dropped) == (["b"], ["neutral"], 2)


def test_without_a_map_labels_are_stripped_strings(tmp_path):
    p = write(tmp_path / "r.csv", "review,rating\nx, 4.0 \ny,neg\n")
    assert read_labeled(p).labels == ["4.0", "neg"]


def test_everything_dropped_is_an_error_that_says_so(tmp_path):
    p = write(tmp_path / "r.csv", "text,label\na,3\nb,3\n")
    assert error_of(p, label_map={"1": "neg"}) == f"{p}: no labeled rows (2 dropped by the label map)"


# ---------------------------------------------------------------- csv / tsv / book


def test_csv_with_bom_crlf_and_quoted_multiline_fields(tmp_path):
    content = '\ufeffid,text,label\r\n1,"first line\r\nsecond, ""quoted""",pos\r\n2,plain,neg\r\n'
    data = read_labeled(write(tmp_path / "r.csv", content))
    assert data.texts == ['first line\r\nsecond, "quoted"', "plain"]
    assert data.labels == ["pos", "neg"]


def test_csv_default_columns_are_case_insensitive_and_named_columns_win(tmp_path):
    p = write(tmp_path / "r.csv", "Sentence,Sentiment,other\nhello,1,x\n")
    assert read_labeled(p).texts == ["hello"]
    named = read_labeled(p, text_column="other", label_column="Sentence")
    assert (named.texts, named.labels) == (["x"], ["hello"])


def test_csv_missing_column_lists_the_columns(tmp_path):
    p = write(tmp_path / "r.csv", "body,stars\nhello,1\n")
    assert (
        error_of(p)
        == f"{p}:1: no text column (one of text, review, sentence, content; name it with --text-column); "
        "the columns are: body, stars"
    )
    assert error_of(p, text_column="body", label_column="score") == (
        f"{p}:1: no column 'score'; the columns are: body, stars"
    )


def test_csv_ragged_row_names_its_line_or_is_skipped(tmp_path):
    p = write(tmp_path / "r.csv", 'text,label\n"multi\nline",1\nbad,row,here\ngood,0\n')
    assert error_of(p) == f"{p}:4: expected 2 fields, found 3"
    data = read_labeled(p, on_error="skip")
    assert (data.texts, data.labels, data.skipped) == (["multi\nline", "good"], ["1", "0"], 1)


def test_csv_empty_label_is_a_bad_row(tmp_path):
    p = write(tmp_path / "r.csv", "text,label\na,\nb,1\n")
    assert error_of(p) == f"{p}:2: empty label"
    assert read_labeled(p, on_error="skip").skipped == 1


def test_csv_undecodable_bytes_name_the_line(tmp_path):
    p = write(tmp_path / "r.csv", b'text,label\nok,1\n"caf\xe9\nstill the same row",0\nlast,1\n')
    assert error_of(p) == (
        f"{p}:3: cannot decode byte 0xe9 (column 5) as utf-8; " + DECODE_HINT
    )
    skipped = read_labeled(p, on_error="skip")
    assert (skipped.texts, skipped.skipped) == (["ok", "last"], 1)
    latin = read_labeled(p, encoding="latin-1")
    assert latin.texts[1] == "café\nstill the same row"


def test_gz_csv_is_read_directly(tmp_path):
    p = tmp_path / "r.csv.gz"
    p.write_bytes(gzip.compress(b"text,label\na,1\nb,0\n"))
    assert detect_format(p) == "csv"
    assert read_labeled(p).labels == ["1", "0"]


def test_zip_must_hold_exactly_one_file(tmp_path):
    good, bad = tmp_path / "one.zip", tmp_path / "two.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("data/reviews.tsv", "sentence\tlabel\nfine\t1\n")
        z.writestr("__MACOSX/data/._reviews.tsv", "junk")
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("a.csv", "text,label\n")
        z.writestr("b.csv", "text,label\n")
    assert detect_format(good) == "tsv"
    assert read_labeled(good).texts == ["fine"]
    assert error_of(bad) == f"{bad}: a .zip must hold exactly one data file, this one holds a.csv, b.csv"


def test_book_format_returns_splits(tmp_path):
    p = write(
        tmp_path / "reviews_with_splits_lite.csv",
        "rating,review,split\nnegative,bad .,train\npositive,good .,val\npositive,fine .,test\n",
    )
    assert detect_format(p) == "book"
    data = read_labeled(p)
    assert data == LabeledData(
        ["bad .", "good .", "fine ."], ["negative", "positive", "positive"], ["train", "val", "test"]
    )


def test_book_format_rejects_unknown_split(tmp_path):
    p = write(tmp_path / "b.csv", "rating,review,split\nnegative,bad,train\npositive,good,holdout\n")
    assert error_of(p) == f"{p}:3: split 'holdout' is not one of train, val, test"
    assert read_labeled(p, on_error="skip").splits == ["train"]
    no_split = write(tmp_path / "n.csv", "rating,review\nnegative,bad\n")
    assert (
        error_of(no_split, format="book")
        == f"{no_split}:1: no 'split' column; the columns are: rating, review"
    )


def test_any_csv_with_a_valid_split_column_returns_splits(tmp_path):
    p = write(tmp_path / "s.tsv", "text\tlabel\tSplit\na\t1\tTrain\nb\t0\ttest\n")
    assert read_labeled(p).splits == ["train", "test"]
    other = write(tmp_path / "o.csv", "text,label,split\na,1,train\nb,0,fold3\n")
    assert read_labeled(other).splits is None


# ---------------------------------------------------------------- zhang, jsonl, fasttext, tabbed, lines


def test_zhang_format_unescapes_newlines_and_joins_title(tmp_path):
    p = write(
        tmp_path / "train.csv",
        '"1","Bad\\nvery ""bad"" food."\n"2","Great!"\n"3","Wall St. Bears","Short-sellers\\n are back."\n',
    )
    assert detect_format(p) == "zhang"
    data = read_labeled(p)
    assert data.texts == ['Bad\nvery "bad" food.', "Great!", "Wall St. Bears Short-sellers\n are back."]
    assert (data.labels, data.splits) == (["1", "2", "3"], None)
    polar = read_labeled(p, label_map=parse_label_map("1=negative,2=positive"))
    assert (polar.labels, polar.dropped) == (["negative", "positive"], 1)


def test_zhang_bad_field_count(tmp_path):
    p = write(tmp_path / "z.csv", '"1","ok"\n"2"\n')
    assert error_of(p, format="zhang") == f"{p}:2: expected 2 or 3 fields (class, text), found 1"


def test_jsonl_reads_objects_and_locates_bad_lines(tmp_path):
    lines = [{"review": "nice", "stars": 5}, {"review": "meh", "stars": 3.0}, {"review": "bad", "stars": "1"}]
    body = "\n".join(json.dumps(x) for x in lines[:2]) + "\n\n" + json.dumps(lines[2]) + "\n"
    p = write(tmp_path / "r.jsonl", body)
    assert detect_format(p) == "jsonl"
    data = read_labeled(p)
    assert (data.texts, data.labels) == (["nice", "meh", "bad"], ["5", "3.0", "1"])
    assert read_labeled(p, label_map={"3": "mid"}).labels == ["mid"]
    broken = write(
        tmp_path / "b.jsonl", body + '{"review": "x", "stars"\n[1, 2]\n{"review": 7, "stars": 1}\n'
    )
    assert error_of(broken) == f"{broken}:5: bad JSON (Expecting ':' delimiter at column 24)"
    assert read_labeled(broken, on_error="skip").skipped == 3


def test_jsonl_without_known_fields_lists_them(tmp_path):
    p = write(tmp_path / "r.ndjson", '{"body": "x", "y": 1}\n')
    assert (
        error_of(p)
        == f"{p}:1: no text column (one of text, review, sentence, content; name it with --text-column); "
        "the columns are: body, y"
    )
    assert read_labeled(p, text_column="body", label_column="y").labels == ["1"]


def test_fasttext_lines(tmp_path):
    p = write(
        tmp_path / "train.txt", "__label__2 great  place\n__label__1 __label__x awful\n\nno label here\n"
    )
    assert detect_format(p) == "fasttext"
    assert error_of(p) == f"{p}:4: no __label__ label"
    data = read_labeled(p, on_error="skip")
    assert (data.texts, data.labels, data.skipped) == (["great place", "awful"], ["2", "1"], 1)


def test_tabbed_splits_on_last_tab_without_quote_processing(tmp_path):
    p = write(tmp_path / "x_labelled.txt", 'A "quoted\tthing  \t1\r\n" stray quote.\t0\nno tab\n')
    assert detect_format(p) == "tabbed"
    assert error_of(p) == f"{p}:3: no TAB before the label"
    data = read_labeled(p, on_error="skip")
    assert data.texts == ['A "quoted\tthing', '" stray quote.']
    assert (data.labels, data.skipped) == (["1", "0"], 1)


def test_lines_take_the_label_from_the_suffix(tmp_path):
    p = write(tmp_path / "sentiment.dev.1", "good food .\n\nnice staff .\n")
    assert detect_format(p) == "lines"
    assert read_labeled(p) == LabeledData(["good food .", "nice staff ."], ["1", "1"], None)
    assert read_labeled(p, label_map={"1": "positive"}).labels == ["positive", "positive"]
    bare = write(tmp_path / "plain", "text\n")
    assert (
        error_of(bare, format="lines") == f"{bare}: the lines format needs a file suffix to use as the label"
    )


# ---------------------------------------------------------------- aclImdb


def imdb_files() -> dict[str, str]:
    return {
        "aclImdb/train/pos/10_9.txt": "ten",
        "aclImdb/train/pos/2_8.txt": "two",
        "aclImdb/train/neg/1_1.txt": "one<br /><br />bad",
        "aclImdb/test/neg/0_2.txt": "zero",
        "aclImdb/train/unsup/5_0.txt": "unlabeled",
        "aclImdb/train/urls_pos.txt": "http://",
        "aclImdb/README": "readme",
    }


def test_aclimdb_directory_and_tarball_give_the_same_sorted_rows(tmp_path):
    expected = LabeledData(
        ["one<br /><br />bad", "two", "ten", "zero"],
        ["neg", "pos", "pos", "neg"],
        ["train", "train", "train", "test"],
    )
    for name, text in imdb_files().items():
        (tmp_path / "dir" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "dir" / name).write_text(text)
    tarball = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name, text in imdb_files().items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    for source in (tmp_path / "dir", tmp_path / "dir" / "aclImdb", tarball):
        assert detect_format(source) == "aclimdb"
        assert read_labeled(source) == expected


def test_aclimdb_corrupt_tarball(tmp_path):
    p = write(tmp_path / "broken.tar.gz", gzip.compress(b"not a tar file at all" * 10)[:-8])
    assert error_of(p).startswith(f"{p}: cannot read the file (")


# ---------------------------------------------------------------- general errors, read_many


def test_file_level_errors(tmp_path):
    missing = tmp_path / "nope.csv"
    assert error_of(missing) == f"{missing}: no such file"
    empty = write(tmp_path / "empty.csv", "")
    assert error_of(empty) == f"{empty}: no labeled rows"
    header_only = write(tmp_path / "h.csv", "text,label\n\n")
    assert error_of(header_only) == f"{header_only}: no labeled rows"
    not_zip = write(tmp_path / "fake.zip", "hello")
    assert error_of(not_zip) == f"{not_zip}: not a valid .zip file"
    not_gz = write(tmp_path / "fake.csv.gz", "hello")
    assert error_of(not_gz).startswith(f"{not_gz}: cannot read the file (")
    with pytest.raises(ReviewclfError, match="unknown format 'xml'"):
        read_labeled(header_only, format="xml")
    with pytest.raises(ReviewclfError, match="unknown encoding"):
        read_labeled(header_only, encoding="klingon")
    with pytest.raises(ReviewclfError, match="on_error"):
        read_labeled(header_only, on_error="ignore")


def test_detect_format_table(tmp_path):
    cases = {
        "a.csv": "text,label\nx,1\n",
        "b.tsv": "x\t1\n",
        "c.txt": "sentence\tlabel\nx\t1\n",
        "d.txt": "\n\nsome sentence .\t0\n",
        "e.neg": "__label__ looks like fasttext but the suffix wins\n",
        "f.csv": '"2","text"\n',
    }
    got = {name: detect_format(write(tmp_path / name, body)) for name, body in cases.items()}
    assert got == {
        "a.csv": "csv",
        "b.tsv": "tsv",
        "c.txt": "tsv",
        "d.txt": "tabbed",
        "e.neg": "lines",
        "f.csv": "zhang",
    }
    assert set(got.values()) <= set(FORMATS)


def test_read_many_concatenates_and_keeps_splits_only_when_all_have_them(tmp_path):
    book = write(tmp_path / "b.csv", "rating,review,split\nnegative,bad,train\n")
    book2 = write(tmp_path / "c.csv", "rating,review,split\npositive,good,test\npositive,meh,val\n")
    plain = write(tmp_path / "p.csv", "text,label\nok,positive\nhm,neutral\n")
    both = read_many([book, book2])
    assert (both.texts, both.splits) == (["bad", "good", "meh"], ["train", "test", "val"])
    mixed = read_many([book, plain], label_map={"positive": "pos", "negative": "neg"})
    assert mixed == LabeledData(["bad", "ok"], ["neg", "pos"], None, dropped=1)
    with pytest.raises(ReviewclfError, match="no input files"):
        read_many([])


# ---------------------------------------------------------------- the real data sets


def test_yelp_10k_zip():
    data = read_labeled(DATA / "yelp-10k" / "yelp.csv.zip")
    assert Counter(data.labels) == {"1": 749, "2": 927, "3": 1461, "4": 3526, "5": 3337}
    assert data.texts[0].startswith("My wife took me here on my birthday for breakfast")
    assert sum("\n" in t for t in data.texts) > 1000
    polar = read_labeled(DATA / "yelp-10k" / "yelp.csv.zip", label_map=parse_label_map(POLARITY))
    assert Counter(polar.labels) == {"negative": 1676, "positive": 6863}
    assert (polar.dropped, polar.skipped, polar.splits) == (1461, 0, None)


def test_yelp_augpe_dev_text_labels():
    p = DATA / "yelp-augpe-dev" / "dev.csv"
    assert "no label column" in error_of(p)
    data = read_labeled(p, label_column="label2")
    assert Counter(data.labels) == {
        f"Review Stars: {s}.0": n for s, n in [(1, 750), (2, 435), (3, 516), (4, 1111), (5, 2188)]
    }
    polar = read_labeled(p, label_column="label2", label_map=parse_label_map(POLARITY))
    assert Counter(polar.labels) == {"negative": 1185, "positive": 3299}


@pytest.mark.parametrize("name", ["yelp", "amazon_cells", "imdb"])
def test_uci_sentences(name):
    p = DATA / "uci-sentences" / f"{name}_labelled.txt"
    assert detect_format(p) == "tabbed"
    data = read_labeled(p)
    assert Counter(data.labels) == {"0": 500, "1": 500}
    if name == "imdb":
        assert (
            data.texts[0]
            == "A very, very, very slow-moving, aimless movie about a distressed, drifting young man."
        )
        assert data.texts[19].startswith('" The structure of this film')


def test_imdb_tarball_full():
    data = read_labeled(DATA / "imdb" / "aclImdb.tar.gz")
    assert len(data.texts) == 50_000
    assert data.splits is not None
    assert Counter(zip(data.splits, data.labels, strict=True)) == {
        ("train", "neg"): 12500,
        ("train", "pos"): 12500,
        ("test", "neg"): 12500,
        ("test", "pos"): 12500,
    }
    assert data.texts[0].startswith(
        "Story of a man who has unnatural feelings for a pig."
    )  # train/neg/0_3.txt
    assert (data.splits[12500], data.labels[12500]) == ("train", "pos")


def test_sst2_tsv():
    train = read_labeled(DATA / "sst2" / "train_full.tsv")
    assert Counter(train.labels) == {"1": 37569, "0": 29780}
    dev = read_labeled(DATA / "sst2" / "dev.tsv")
    assert Counter(dev.labels) == {"1": 444, "0": 428}
    assert dev.texts[0] == "it 's a charming and often affecting journey . "


def test_rt_polarity_is_latin1():
    p = DATA / "rt-polarity" / "rt-polarity.pos"
    assert detect_format(p) == "lines"
    assert error_of(p) == (
        f"{p}:44: cannot decode byte 0xf3 (column 48) as utf-8; " + DECODE_HINT
    )
    for suffix in ("pos", "neg"):
        data = read_labeled(DATA / "rt-polarity" / f"rt-polarity.{suffix}", encoding="latin-1")
        assert len(data.texts) == 5331 and set(data.labels) == {suffix}
    # U+0085 (NEL) decoded from Latin-1 must not split a line
    neg = read_labeled(DATA / "rt-polarity" / "rt-polarity.neg", encoding="latin-1")
    assert sum("\x85" in t for t in neg.texts) == 6
    skipped = read_labeled(DATA / "rt-polarity" / "rt-polarity.neg", on_error="skip")
    assert len(skipped.texts) + skipped.skipped == 5331 and skipped.skipped > 0


def test_lines_sets():
    # custrev files have 2 blank lines each, which are not texts: 2,407/1,368 lines -> 2,405/1,366 texts
    cr = read_many([DATA / "customer-reviews" / "custrev.pos", DATA / "customer-reviews" / "custrev.neg"])
    assert Counter(cr.labels) == {"pos": 2405, "neg": 1366}
    shen = read_labeled(DATA / "yelp-shen-sentences" / "sentiment.dev.0", label_map={"0": "negative"})
    assert (len(shen.texts), shen.labels[0]) == (25278, "negative")
    assert shen.texts[0] == "ok never going back to this place again ."
