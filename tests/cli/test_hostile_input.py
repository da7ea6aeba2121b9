"""Hostile input files end to end: each is refused by ``predict`` and ``evaluate`` (and ``train`` where it reads
the file) with exit 1 and exactly one ``error: FILE:LINE: ...`` line on stderr, no traceback, no output file,
and the input left as it was; or, with ``--on-error skip``, read with the bad row counted."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reviewclf.cli import main
from tests.support import run_measured


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def digest(path: Path) -> object:
    """The file's content hash (its size and times where it cannot be read), to show it was left alone."""
    if not path.is_file():
        return path.exists()
    if not os.access(path, os.R_OK):
        status = path.stat()
        return status.st_size, status.st_mtime_ns, status.st_mode
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(*args: object, source: Path) -> str:
    """Run a command that must refuse ``source``; return its one error line (without ``error: ``).

    With ``-o`` in ``args`` the output must not exist afterwards, and nothing else may appear beside it.
    """
    output = Path(args[args.index("-o") + 1]) if "-o" in args else None
    before = digest(source), sorted(output.parent.iterdir()) if output else None
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    said = result.stderr.splitlines()
    assert len(said) == 1 and said[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    if output is not None:
        assert not output.exists()
    assert (digest(source), sorted(output.parent.iterdir()) if output else None) == before
    return said[0][len("error: "):]


def skipped(*args: object) -> Result:
    result = invoke(*args, "--on-error", "skip")
    assert result.exit_code == 0, result.output
    return result


def jsonl(path: Path, middle: str) -> Path:
    path.write_text('{"text": "good food", "label": "positive"}\n' + middle + "\n"
                    '{"text": "cold soup", "label": "negative"}\n', encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------- JSONL


def test_deeply_nested_jsonl_line(demo_bundle: Path, tmp_path: Path):
    source = jsonl(tmp_path / "in.jsonl", "[" * 100_000)
    out = tmp_path / "out.csv"
    expected = f"{source}:2: bad JSON (nested deeper than 100 levels)"
    assert refused("predict", demo_bundle, source, "-o", out, source=source) == expected
    assert refused("evaluate", demo_bundle, source, source=source) == expected
    assert skipped("predict", demo_bundle, source, "-o", out).stderr == "1 bad rows skipped\n"
    assert out.read_text().count("\n") == 3
    assert "1 bad rows skipped" in skipped("evaluate", demo_bundle, source).stderr


def test_jsonl_integer_past_the_digit_limit(demo_bundle: Path, tmp_path: Path):
    source = jsonl(tmp_path / "in.jsonl", '{"text": "big", "label": "positive", "id": ' + "7" * 5000 + "}")
    out = tmp_path / "out.jsonl"
    expected = f"{source}:2: bad JSON (a number longer than 4300 digits)"
    assert refused("predict", demo_bundle, source, "-o", out, source=source) == expected
    assert refused("evaluate", demo_bundle, source, source=source) == expected
    assert skipped("predict", demo_bundle, source, "-o", out).stderr == "1 bad rows skipped\n"


# --------------------------------------------------------------------------------------------------- CSV


def test_unterminated_quote_is_refused_even_under_skip(demo_bundle: Path, tmp_path: Path):
    source = tmp_path / "in.csv"
    source.write_text('label,text\npositive,good food\nnegative,"cold soup\npositive,nice\n', encoding="utf-8")
    out = tmp_path / "out.csv"
    expected = (f"{source}:3: a quoted field in the row starting here never closes "
                "(the rest of the file would be one field)")
    for policy in ("raise", "skip"):
        assert refused("predict", demo_bundle, source, "-o", out, "--on-error", policy, source=source) == expected
        assert refused("evaluate", demo_bundle, source, "--on-error", policy, source=source) == expected
        assert refused("train", source, "--out", tmp_path / "run", "--on-error", policy, source=source) == expected
    assert not (tmp_path / "run").exists()


def test_duplicated_header_name_reads_the_same_to_every_command(demo_bundle: Path, tmp_path: Path):
    source = tmp_path / "in.csv"
    source.write_text("text,label,text\ngood food,positive,cold soup\n", encoding="utf-8")
    expected = f"{source}:1: duplicate column names in the header: text"
    assert refused("predict", demo_bundle, source, "-o", tmp_path / "out.csv", source=source) == expected
    assert refused("evaluate", demo_bundle, source, "--on-error", "skip", source=source) == expected
    assert refused("train", source, "--out", tmp_path / "run", source=source) == expected


# ------------------------------------------------------------------------------------- encodings, line ends

SENTENCES = ["Great food, lovely staff.", "Cold soup and a rude waiter.", "Best pizza in town 🍕"]
LABELED = "".join(f"{text}\t{label}\n" for text, label in zip(SENTENCES, ["1", "0", "1"]))


def test_utf16_file_is_named_in_every_command_and_read_with_its_encoding(demo_bundle: Path, tmp_path: Path):
    plain, wide = tmp_path / "plain_labelled.txt", tmp_path / "wide_labelled.txt"
    plain.write_text(LABELED, encoding="utf-8")
    wide.write_bytes(LABELED.encode("utf-16"))
    expected = f"{wide}: the file is UTF-16 (it starts with a UTF-16 byte-order mark); pass --encoding utf-16"
    for policy in ("raise", "skip"):
        assert refused("predict", demo_bundle, wide, "-o", tmp_path / "out.csv", "--on-error", policy,
                       source=wide) == expected
        assert refused("evaluate", demo_bundle, wide, "--on-error", policy, source=wide) == expected
        assert refused("train", wide, "--out", tmp_path / "run", "--on-error", policy, source=wide) == expected
    labels = ("--label-map", "0=negative,1=positive")
    assert (invoke("evaluate", demo_bundle, wide, *labels, "--encoding", "utf-16").stdout
            == invoke("evaluate", demo_bundle, plain, *labels).stdout)
    assert (invoke("predict", demo_bundle, wide, "--encoding", "utf-16", "--include-text").stdout
            == invoke("predict", demo_bundle, plain, "--include-text").stdout)


def test_classic_mac_line_ends_give_one_output_row_per_line(demo_bundle: Path, tmp_path: Path):
    plain, mac = tmp_path / "plain.txt", tmp_path / "mac.txt"
    plain.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    mac.write_text("\r".join(SENTENCES) + "\r", encoding="utf-8", newline="")
    out = invoke("predict", demo_bundle, mac, "--include-text").stdout
    assert out.count("\n") == 1 + len(SENTENCES)
    assert out == invoke("predict", demo_bundle, plain, "--include-text").stdout
    labeled_mac = tmp_path / "mac_labelled.txt"
    labeled_mac.write_text(LABELED.replace("\n", "\r"), encoding="utf-8", newline="")
    report = invoke("evaluate", demo_bundle, labeled_mac, "--label-map", "0=negative,1=positive", "--json").stdout
    assert json.loads(report)["n"] == len(SENTENCES)


# ------------------------------------------------------------------------------------- NUL and long lines


def test_nul_byte_and_overlong_line_are_refused_by_train_as_by_predict(demo_bundle: Path, tmp_path: Path):
    source = tmp_path / "in_labelled.txt"
    source.write_bytes(b"good food\t1\nba\x00d\t0\n")
    expected = f"{source}:2: NUL byte at column 3 (is this a binary file?)"
    assert refused("train", source, "--out", tmp_path / "run", source=source) == expected
    assert refused("evaluate", demo_bundle, source, source=source) == expected
    assert refused("predict", demo_bundle, source, "-o", tmp_path / "out.csv", source=source).startswith(
        f"{source}:2: NUL byte at column 3")  # predict reads the whole line as text: same byte, same column


def test_a_50_mb_line_is_read_in_little_memory(demo_bundle: Path, tmp_path: Path):
    """The line is drained in blocks, never held, whether it is a row, the first line or a quoted field."""
    line = b"delicious " * 5_000_000
    reviews, labeled = tmp_path / "in.txt", tmp_path / "in_labelled.txt"
    reviews.write_bytes(b"good food\n" + line + b"\ncold soup\n")
    labeled.write_bytes(line + b"\t1\ngood food\t1\ncold soup\t0\n")  # first: format detection reads it too
    runs = {
        "predict": ["predict", str(demo_bundle), str(reviews), "--on-error", "skip"],
        "evaluate": ["evaluate", str(demo_bundle), str(labeled), "--on-error", "skip",
                     "--label-map", "0=negative,1=positive"],
    }
    for name, args in runs.items():
        code, _, said, peak = run_measured([sys.executable, "-m", "reviewclf", *args])
        assert code == 0 and said == "1 bad rows skipped\n", (name, said)
        assert peak < 300, f"{name}: peak RSS {peak:.0f} MiB"


# ------------------------------------------------------------------------------------------ unreadable


def test_a_missing_input_or_a_directory_is_one_error_line_in_every_command(demo_bundle: Path, tmp_path: Path):
    folder, missing = tmp_path / "folder", tmp_path / "missing.csv"
    folder.mkdir()
    out = tmp_path / "out.csv"
    assert refused("predict", demo_bundle, folder, "-o", out, source=folder) == f"{folder}: is a directory"
    without_reviews = (f"{folder}: is a directory without aclImdb reviews ({{train,test}}/{{pos,neg}}/*.txt; "
                       "only the aclimdb format reads directories)")
    assert refused("evaluate", demo_bundle, folder, source=folder) == without_reviews
    assert refused("train", folder, "--out", tmp_path / "run", source=folder) == without_reviews
    assert refused("predict", demo_bundle, missing, "-o", out, source=missing) == f"{missing}: no such file"
    assert refused("evaluate", demo_bundle, missing, source=missing) == f"{missing}: no such file"
    assert refused("train", missing, "--out", tmp_path / "run", source=missing) == f"{missing}: no such file"
    good = tmp_path / "good_labelled.txt"
    good.write_text("good food\t1\ncold soup\t0\n", encoding="utf-8")
    assert refused("train", good, "--test-data", missing, "--out", tmp_path / "run", source=good) == (
        f"{missing}: no such file")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_input_is_one_error_line_in_every_command(demo_bundle: Path, tmp_path: Path):
    source = tmp_path / "in.csv"
    source.write_text("text,label\ngood food,positive\n", encoding="utf-8")
    source.chmod(0)
    try:
        expected = f"{source}: permission denied"
        assert refused("predict", demo_bundle, source, "-o", tmp_path / "out.csv", source=source) == expected
        assert refused("evaluate", demo_bundle, source, source=source) == expected
        assert refused("train", source, "--out", tmp_path / "run", source=source) == expected
    finally:
        source.chmod(0o644)
