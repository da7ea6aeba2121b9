"""`predict` and `evaluate` read files through one core: compressed inputs, and the same words for one bad line."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewclf.cli import main
from tests.support import DATA

ROWS = [(text.strip(), label) for text, label in
        (line.rsplit("\t", 1) for line in (DATA / "uci-sentences" / "yelp_labelled.txt").read_text().splitlines()[:60])]


def invoke(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def labeled_csv(rows: list[tuple[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return out.getvalue().encode()


def compressed(tmp_path: Path, kind: str, data: bytes) -> Path:
    if kind == "gz":
        path = tmp_path / "reviews.csv.gz"
        path.write_bytes(gzip.compress(data))
    elif kind == "zip":
        path = tmp_path / "reviews.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("reviews.csv", data)
    else:
        path = tmp_path / "reviews.csv"
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["gz", "zip"])
def test_predict_reads_compressed_csv_as_evaluate_does(kind: str, demo_bundle: Path, tmp_path: Path):
    data = labeled_csv([(text, "positive" if label == "1" else "negative") for text, label in ROWS])
    (tmp_path / "plain").mkdir()
    plain = compressed(tmp_path / "plain", "csv", data)
    packed = compressed(tmp_path, kind, data)
    code, from_packed, _ = invoke("predict", demo_bundle, packed, "--output-format", "jsonl")
    assert code == 0
    _, from_plain, _ = invoke("predict", demo_bundle, plain, "--output-format", "jsonl")
    records = [json.loads(line) for line in from_packed.splitlines()]
    assert from_packed == from_plain and len(records) == len(ROWS)
    assert [r["input_label"] for r in records] == ["positive" if label == "1" else "negative" for _, label in ROWS]
    code, report, _ = invoke("evaluate", demo_bundle, packed, "--json")
    assert code == 0
    accuracy = json.loads(report)["accuracy"]
    agree = sum(r["label"] == r["input_label"] for r in records) / len(records)
    assert accuracy == pytest.approx(agree)


@pytest.mark.parametrize("kind", ["csv", "gz", "zip"])
@pytest.mark.parametrize("bad", [b"caf\xe9 good", b"nul\x00 byte"])
def test_one_bad_line_reads_the_same_to_predict_and_evaluate(kind: str, bad: bytes, demo_bundle: Path,
                                                             tmp_path: Path):
    data = labeled_csv(ROWS[:5]) + bad + b",1\n" + labeled_csv(ROWS[5:8]).split(b"\n", 1)[1]
    path = compressed(tmp_path, kind, data)
    code_predict, _, said_predict = invoke("predict", demo_bundle, path)
    code_evaluate, _, said_evaluate = invoke("evaluate", demo_bundle, path, "--label-map", "0=negative,1=positive")
    assert code_predict == code_evaluate == 1
    assert said_predict == said_evaluate
    assert said_predict.count("\n") == 1 and f"{path}:7: " in said_predict
