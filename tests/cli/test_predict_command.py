"""``reviewclf predict`` and ``evaluate`` end to end, on the real demo bundle and real review files.

Every input and output format, stdin, input order, pass-through columns, the decision options, and every
bad input: each bad input must give exactly one ``error:`` line, a non-zero exit, no traceback, and no output
file (the writer is atomic).
"""

from __future__ import annotations

import csv
import io
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from reviewclf.cli import main
from reviewclf.io.labeled import read_labeled
from reviewclf.io.lines import MAX_LINE_BYTES
from reviewclf.runtime.predictor import Predictor
from tests.support import DATA, make_bundle, make_run

REVIEWS = [
    "The food was great and the staff were lovely.",
    "Terrible service, cold food, never again.",
    "",
    "ok",
    "I loved it!!! <br /> Best pizza in town 🍕",
    "Worst. Experience. Ever.",
]
CLI = [sys.executable, "-c", "import sys; from reviewclf.cli import main; sys.exit(main())"]


# ----------------------------------------------------------------------------------------------- helpers


def invoke(*args: object, input: bytes | str | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def ok(*args: object, input: bytes | str | None = None) -> Result:
    result = invoke(*args, input=input)
    assert result.exit_code == 0, result.stderr
    return result


def failed(*args: object, output: Path | None = None, input: bytes | None = None) -> str:
    """Run a command that must fail cleanly; return its single error line."""
    result = invoke(*args, input=input)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    if output is not None:
        assert not output.exists()
        assert not [p for p in output.parent.iterdir() if p.name.startswith(f".{output.name}.")]
    return lines[0]


def read_csv(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def read_jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


@pytest.fixture(scope="module")
def predictor(demo_bundle: Path) -> Predictor:
    return Predictor.load(demo_bundle)


@pytest.fixture(scope="module")
def three_label_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small 3-label perceptron (bad/good/meh) trained on synthetic TSV rows."""
    root = tmp_path_factory.mktemp("three")
    rng = random.Random(0)
    words = {"bad": ["awful", "terrible", "worst", "bad"], "good": ["great", "lovely", "best", "good"],
             "meh": ["okay", "fine", "average", "so-so"]}
    filler = ["the", "food", "was", "service", "place", "really"]
    lines = ["text\tlabel"]
    for _ in range(300):
        label = rng.choice(sorted(words))
        lines.append(" ".join(rng.sample(filler, 3) + rng.sample(words[label], 2)) + f"\t{label}")
    data = write(root / "three.tsv", "\n".join(lines) + "\n")
    run = make_run(root / "run", data=[str(data)], epochs=3, min_freq=1, max_length=64)
    return make_bundle(run, root / "bundle")


# ---------------------------------------------------------------------------------------- input formats


def test_txt_keeps_blank_lines_and_matches_predictor(demo_bundle: Path, predictor: Predictor, tmp_path: Path):
    source = write(tmp_path / "reviews.txt", "\n".join(REVIEWS) + "\n")
    rows = read_csv(ok("predict", demo_bundle, source).stdout)
    assert list(rows[0]) == ["label", "probability"]
    assert len(rows) == len(REVIEWS)  # the blank line is a row of its own: output row N is input line N
    expected = predictor.predict(REVIEWS)
    assert [r["label"] for r in rows] == [p.label for p in expected]
    np.testing.assert_allclose([float(r["probability"]) for r in rows], [p.probability for p in expected],
                               atol=1e-6)


def test_txt_include_text(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "reviews.txt", "\n".join(REVIEWS))  # no final newline
    rows = read_csv(ok("predict", demo_bundle, source, "--include-text").stdout)
    assert [r["text"] for r in rows] == REVIEWS


def test_csv_carries_id_and_other_columns(demo_bundle: Path, predictor: Predictor, tmp_path: Path):
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "review", "label", "stars"])
        for i, text in enumerate(REVIEWS):
            writer.writerow([f"r{i}", text, "gold", i])
    out = tmp_path / "out.csv"
    ok("predict", demo_bundle, source, "-o", out, "--text-column", "review")
    rows = read_csv(out.read_text(encoding="utf-8"))
    # the input's own 'label' column would collide with the prediction: it is kept as input_label
    assert list(rows[0]) == ["id", "input_label", "stars", "label", "probability"]
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(len(REVIEWS))]
    assert {r["input_label"] for r in rows} == {"gold"}
    assert [r["label"] for r in rows] == [p.label for p in predictor.predict(REVIEWS)]


def test_csv_text_column_found_by_default_name(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.csv", 'id,Text\n1,"good, very good"\n2,bad\n')
    rows = read_csv(ok("predict", demo_bundle, source).stdout)
    assert [r["id"] for r in rows] == ["1", "2"]


def test_tsv_in_tsv_out(demo_bundle: Path, predictor: Predictor, tmp_path: Path):
    source = write(tmp_path / "in.tsv", "id\ttext\n" + "".join(f"{i}\t{t}\n" for i, t in enumerate(REVIEWS)))
    out = tmp_path / "out.tsv"
    ok("predict", demo_bundle, source, "-o", out)
    rows = read_csv(out.read_text(encoding="utf-8"), delimiter="\t")
    assert [r["id"] for r in rows] == [str(i) for i in range(len(REVIEWS))]
    np.testing.assert_allclose([float(r["probability"]) for r in rows],
                               [p.probability for p in predictor.predict(REVIEWS)], atol=1e-6)


def test_jsonl_carries_fields_with_their_types(demo_bundle: Path, predictor: Predictor, tmp_path: Path):
    records = [{"id": i, "body": t, "meta": {"src": "x", "n": [i]}, "ok": i % 2 == 0} for i, t in enumerate(REVIEWS)]
    source = write(tmp_path / "in.jsonl", "\n".join(json.dumps(r) for r in records) + "\n\n")
    out = tmp_path / "out.jsonl"
    ok("predict", demo_bundle, source, "-o", out, "--text-field", "body")
    rows = read_jsonl(out.read_text(encoding="utf-8"))
    assert len(rows) == len(records)
    for record, row in zip(records, rows):
        assert list(row) == ["id", "meta", "ok", "label", "probability"]
        assert (row["id"], row["meta"], row["ok"]) == (record["id"], record["meta"], record["ok"])
    assert [r["label"] for r in rows] == [p.label for p in predictor.predict(REVIEWS)]
    # the same input as CSV: JSON values are written as JSON text
    csv_rows = read_csv(ok("predict", demo_bundle, source, "--text-field", "body").stdout)
    assert json.loads(csv_rows[0]["meta"]) == records[0]["meta"]
    assert csv_rows[1]["ok"] == "false"


def test_input_format_option_overrides_extension(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "data.dat", "id,text\n1,nice\n")
    rows = read_csv(ok("predict", demo_bundle, source, "--input-format", "csv").stdout)
    assert rows[0]["id"] == "1"
    assert len(read_csv(ok("predict", demo_bundle, source).stdout)) == 2  # plain text: two lines


def test_several_inputs_in_order(demo_bundle: Path, tmp_path: Path):
    first = write(tmp_path / "a.csv", "id,text\n1,good\n2,bad\n")
    second = write(tmp_path / "b.csv", "id,text\n3,fine\n")
    rows = read_csv(ok("predict", demo_bundle, first, second).stdout)
    assert [r["id"] for r in rows] == ["1", "2", "3"]


# --------------------------------------------------------------------------------------- output formats


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".ndjson"])
def test_output_format_from_extension(demo_bundle: Path, tmp_path: Path, suffix: str):
    source = write(tmp_path / "in.txt", "\n".join(REVIEWS) + "\n")
    out = tmp_path / f"out{suffix}"
    ok("predict", demo_bundle, source, "-o", out)
    text = out.read_text(encoding="utf-8")
    if suffix in (".jsonl", ".ndjson"):
        rows = read_jsonl(text)
    else:
        rows = read_csv(text, delimiter="\t" if suffix == ".tsv" else ",")
    assert len(rows) == len(REVIEWS)
    assert {r["label"] for r in rows} <= {"negative", "positive"}


def test_output_format_option_on_stdout_and_unknown_extension(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.txt", "good\n")
    rows = read_jsonl(ok("predict", demo_bundle, source, "--output-format", "jsonl").stdout)
    assert rows[0]["label"] in ("negative", "positive")
    out = tmp_path / "out.dat"
    ok("predict", demo_bundle, source, "-o", out, "--output-format", "tsv")
    assert out.read_text().startswith("label\tprobability\n")
    assert "--output-format" in failed("predict", demo_bundle, source, "-o", tmp_path / "x.foo")


def test_stdin_pipe_in_a_real_process(demo_bundle: Path, predictor: Predictor):
    for args in ([], ["-"]):
        done = subprocess.run([*CLI, "predict", str(demo_bundle), *args, "--all-probs"],
                              input="\n".join(REVIEWS).encode(), capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode()
        rows = read_csv(done.stdout.decode("utf-8"))
        probs = predictor.predict_proba(REVIEWS)
        np.testing.assert_allclose([[float(r["p_negative"]), float(r["p_positive"])] for r in rows], probs,
                                   atol=1e-6)


def test_stdin_with_csv_format(demo_bundle: Path):
    rows = read_csv(ok("predict", demo_bundle, "--input-format", "csv", input="id,text\n7,great\n").stdout)
    assert rows[0]["id"] == "7"


def test_order_preserved_over_many_windows(demo_bundle: Path, predictor: Predictor, tmp_path: Path):
    """1,000 real reviews of mixed lengths, shuffled: output order and values match ``predict_proba``."""
    data = read_labeled(DATA / "uci-sentences/imdb_labelled.txt",
                        format="tabbed")
    rng = random.Random(7)
    texts = [t * rng.choice([1, 1, 1, 5, 40]) for t in data.texts[:1000]]  # some far longer than others
    ids = list(range(len(texts)))
    rng.shuffle(ids)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": texts[i]}) + "\n" for i in ids), encoding="utf-8")
    out = tmp_path / "out.csv"
    ok("predict", demo_bundle, source, "-o", out, "--batch-size", "7", "--all-probs")
    rows = read_csv(out.read_text(encoding="utf-8"))
    assert [int(r["id"]) for r in rows] == ids
    expected = predictor.predict_proba([texts[i] for i in ids])
    got = np.array([[float(r["p_negative"]), float(r["p_positive"])] for r in rows])
    np.testing.assert_allclose(got, expected, atol=1e-6)


# ------------------------------------------------------------------------------------- decision options


def test_all_probs_columns(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.txt", "\n".join(REVIEWS))
    rows = read_csv(ok("predict", demo_bundle, source, "--all-probs").stdout)
    assert list(rows[0]) == ["label", "probability", "p_negative", "p_positive"]
    for row in rows:
        assert float(row["p_negative"]) + float(row["p_positive"]) == pytest.approx(1, abs=1e-5)
        assert float(row["probability"]) == float(row[f"p_{row['label']}"])
    records = read_jsonl(ok("predict", demo_bundle, source, "--all-probs", "--output-format", "jsonl").stdout)
    assert set(records[0]["probabilities"]) == {"negative", "positive"}


def test_threshold_extremes(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.txt", "\n".join(REVIEWS))
    everything = read_csv(ok("predict", demo_bundle, source, "--threshold", "0.0").stdout)
    assert {r["label"] for r in everything} == {"positive"}
    nothing = read_csv(ok("predict", demo_bundle, source, "--threshold", "1.01").stdout)
    assert {r["label"] for r in nothing} == {"negative"}


def test_top_k_multiclass(three_label_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.txt", "great lovely food\nokay fine place\nawful worst service\n\n")
    rows = read_csv(ok("predict", three_label_bundle, source, "--top-k", "3").stdout)
    assert list(rows[0]) == ["label", "probability", "label_1", "probability_1", "label_2", "probability_2",
                             "label_3", "probability_3"]
    for row in rows:
        assert row["label_1"] == row["label"]
        assert {row["label_1"], row["label_2"], row["label_3"]} == {"bad", "good", "meh"}
        probs = [float(row[f"probability_{k}"]) for k in (1, 2, 3)]
        assert probs == sorted(probs, reverse=True)
        assert sum(probs) == pytest.approx(1, abs=1e-5)
    records = read_jsonl(ok("predict", three_label_bundle, source, "--top-k", "2", "--output-format",
                            "jsonl").stdout)
    assert [len(r["top_k"]) for r in records] == [2] * 4
    assert records[0]["top_k"][0]["label"] == records[0]["label"]
    assert "--top-k: must be between 0 and 3" in failed("predict", three_label_bundle, source, "--top-k", "4")


def test_threshold_refused_for_multiclass(three_label_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.txt", "good\n")
    out = tmp_path / "out.csv"
    assert "binary" in failed("predict", three_label_bundle, source, "--threshold", "0.3", "-o", out, output=out)


def test_int8(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.txt", "\n".join(REVIEWS))
    rows = read_csv(ok("predict", demo_bundle, source, "--int8", "--threads", "1").stdout)
    expected = Predictor.load(demo_bundle, int8=True).predict_proba(REVIEWS)
    np.testing.assert_allclose([float(r["probability"]) for r in rows], expected.max(axis=1), atol=1e-6)


def test_torchscript_backend_matches_onnx(demo_bundle: Path, predictor: Predictor, tmp_path: Path):
    source = write(tmp_path / "in.txt", "\n".join(REVIEWS))
    rows = read_csv(ok("predict", demo_bundle, source, "--backend", "torchscript", "--all-probs").stdout)
    got = np.array([[float(r["p_negative"]), float(r["p_positive"])] for r in rows])
    np.testing.assert_allclose(got, predictor.predict_proba(REVIEWS), atol=1e-5)
    assert "onnxruntime backend only" in failed("predict", demo_bundle, source, "--backend", "torchscript",
                                                "--int8")


# ------------------------------------------------------------------------------------------- bad inputs


def test_undecodable_bytes(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "latin.txt", "good food\ncaf\xe9 was bad\nfine\n".encode("latin-1"))
    out = tmp_path / "out.csv"
    message = failed("predict", demo_bundle, source, "-o", out, output=out)
    assert f"{source}:2:" in message and "0xe9" in message and "--encoding" in message
    assert len(read_csv(ok("predict", demo_bundle, source, "--encoding", "latin-1").stdout)) == 3
    skipped = ok("predict", demo_bundle, source, "--on-error", "skip")
    assert len(read_csv(skipped.stdout)) == 2
    assert "1 bad rows skipped" in skipped.stderr


def test_unknown_encoding(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.txt", "good\n")
    assert "unknown encoding" in failed("predict", demo_bundle, source, "--encoding", "klingon")


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"])
def test_empty_file(demo_bundle: Path, tmp_path: Path, content: bytes):
    source = write(tmp_path / "empty.txt", content)
    out = tmp_path / "out.csv"
    assert failed("predict", demo_bundle, source, "-o", out, output=out) == f"error: {source}: no input rows"


def test_empty_stdin(demo_bundle: Path):
    assert failed("predict", demo_bundle, input=b"") == "error: <stdin>: no input rows"


def test_header_only_csv(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.csv", "id,text\n")
    assert "no input rows" in failed("predict", demo_bundle, source)


def test_csv_without_the_column(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.csv", "id,body,stars\n1,good,5\n")
    out = tmp_path / "out.csv"
    message = failed("predict", demo_bundle, source, "--text-column", "review", "-o", out, output=out)
    assert "'review'" in message and "id, body, stars" in message
    assert "id, body, stars" in failed("predict", demo_bundle, source)  # no default name matches either


def test_jsonl_without_the_field(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.jsonl", '{"id": 1, "body": "good"}\n')
    assert "id, body" in failed("predict", demo_bundle, source, "--text-field", "text")


def test_bad_jsonl_rows(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.jsonl", '{"text": "good"}\n{"text": \n[1]\n{"text": 3}\n{"text": "bad"}\n')
    assert f"{source}:2: bad JSON" in failed("predict", demo_bundle, source)
    skipped = ok("predict", demo_bundle, source, "--on-error", "skip")
    assert len(read_csv(skipped.stdout)) == 2 and "3 bad rows skipped" in skipped.stderr


def test_ragged_row(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.csv", "id,text\n1,good\n2,bad,extra\n3\n4,fine\n")
    out = tmp_path / "out.csv"
    assert f"{source}:3: expected 2 fields, found 3" in failed("predict", demo_bundle, source, "-o", out,
                                                                output=out)
    skipped = ok("predict", demo_bundle, source, "--on-error", "skip", "-o", out)
    assert [r["id"] for r in read_csv(out.read_text())] == ["1", "4"]
    assert "2 bad rows skipped" in skipped.stderr


def test_nul_bytes(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.txt", b"good\nba\x00d\nfine\n")
    out = tmp_path / "out.jsonl"
    assert f"{source}:2: NUL byte" in failed("predict", demo_bundle, source, "-o", out, output=out)
    assert len(read_csv(ok("predict", demo_bundle, source, "--on-error", "skip").stdout)) == 2


def test_missing_input_file(demo_bundle: Path, tmp_path: Path):
    out = tmp_path / "out.csv"
    assert "no such file" in failed("predict", demo_bundle, tmp_path / "nope.txt", "-o", out, output=out)


def test_input_that_is_a_directory(demo_bundle: Path, tmp_path: Path):
    out = tmp_path / "out.csv"
    assert f"{tmp_path}: is a directory" in failed("predict", demo_bundle, tmp_path, "-o", out, output=out)


def test_missing_output_directory(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "in.txt", "good\n")
    assert "does not exist" in failed("predict", demo_bundle, source, "-o", tmp_path / "no" / "out.csv")


def test_very_long_line_is_accepted(demo_bundle: Path, predictor: Predictor, tmp_path: Path):
    long = " ".join(["delicious"] * 200_000)
    source = write(tmp_path / "in.txt", f"short\n{long}\nend\n")
    rows = read_csv(ok("predict", demo_bundle, source).stdout)
    assert len(rows) == 3
    assert float(rows[1]["probability"]) == pytest.approx(predictor.predict([long])[0].probability, abs=1e-6)


def test_line_over_the_cap_is_refused_or_skipped(demo_bundle: Path, tmp_path: Path):
    source = tmp_path / "huge.txt"
    with source.open("wb") as f:
        f.write(b"good\n" + b"x" * (MAX_LINE_BYTES + 10) + b"\nbad\n")
    out = tmp_path / "out.csv"
    assert f"{source}:2: line longer than" in failed("predict", demo_bundle, source, "-o", out, output=out)
    skipped = ok("predict", demo_bundle, source, "--on-error", "skip", "--include-text")
    assert [r["text"] for r in read_csv(skipped.stdout)] == ["good", "bad"]


def test_crlf_and_bom_are_invisible(demo_bundle: Path, tmp_path: Path):
    plain = write(tmp_path / "plain.txt", "\n".join(REVIEWS) + "\n")
    windows = write(tmp_path / "windows.txt", b"\xef\xbb\xbf" + ("\r\n".join(REVIEWS) + "\r\n").encode())
    expected = ok("predict", demo_bundle, plain, "--include-text").stdout
    assert ok("predict", demo_bundle, windows, "--include-text").stdout == expected
    bom_csv = write(tmp_path / "bom.csv", b"\xef\xbb\xbftext,id\r\nhello,1\r\n")
    rows = read_csv(ok("predict", demo_bundle, bom_csv).stdout)
    assert rows[0]["id"] == "1" and list(rows[0]) == ["id", "label", "probability"]


def test_failed_run_keeps_the_previous_output(demo_bundle: Path, tmp_path: Path):
    out = write(tmp_path / "out.csv", "previous results\n")
    source = write(tmp_path / "in.csv", "id,text\n" + "".join(f"{i},good\n" for i in range(3000)) + "x\n")
    failed("predict", demo_bundle, source, "-o", out, "--batch-size", "16")  # fails after many windows
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_no_output(demo_bundle: Path, tmp_path: Path, signum: int):
    """Stopped mid-run (stdin still open), the process removes its temporary file and writes nothing."""
    out = tmp_path / "out.csv"
    process = subprocess.Popen([*CLI, "predict", str(demo_bundle), "-o", str(out), "--batch-size", "1"],
                               stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(b"good food\n" * 50)
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while not list(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.iterdir()), "the temporary output file never appeared"
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signum
    expected = "error: interrupted" if signum == signal.SIGINT else "error: stopped by SIGTERM"
    assert stderr.decode().strip() == expected
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------- evaluate

UCI_YELP = DATA / "uci-sentences" / "yelp_labelled.txt"


def test_evaluate_accuracy_matches_predictor(demo_bundle: Path, predictor: Predictor):
    data = read_labeled(UCI_YELP, format="tabbed", label_map={"0": "negative", "1": "positive"})
    predictions = predictor.predict(data.texts)
    accuracy = np.mean([p.label == y for p, y in zip(predictions, data.labels)])
    args = ["evaluate", demo_bundle, UCI_YELP, "--format", "tabbed", "--label-map", "0=negative,1=positive"]
    text = ok(*args).stdout
    assert text.startswith(f"accuracy {accuracy:.4f}")
    assert "confusion matrix" in text
    report = json.loads(ok(*args, "--json").stdout)
    assert report["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert report["n"] == len(data.texts) == 1000
    assert report["labels"] == ["negative", "positive"]


def test_evaluate_threshold_and_int8(demo_bundle: Path):
    args = ["evaluate", demo_bundle, UCI_YELP, "--format", "tabbed", "--label-map", "0=negative,1=positive",
            "--json"]
    everything = json.loads(ok(*args, "--threshold", "0").stdout)
    assert everything["accuracy"] == pytest.approx(0.5)  # the UCI file is balanced
    int8 = json.loads(ok(*args, "--int8").stdout)
    assert int8["accuracy"] > 0.6


def test_evaluate_unknown_labels(demo_bundle: Path):
    message = failed("evaluate", demo_bundle, UCI_YELP, "--format", "tabbed")
    assert "'0', '1'" in message and "negative, positive" in message


def test_evaluate_split_keeps_only_that_split(demo_bundle: Path, tmp_path: Path):
    rows = ["rating,review,split", "positive,great food,train", "negative,awful place,test",
            "positive,lovely staff,test"]
    source = write(tmp_path / "book.csv", ("\n".join(rows) + "\n").encode())
    assert json.loads(ok("evaluate", demo_bundle, source, "--json").stdout)["n"] == 3
    assert json.loads(ok("evaluate", demo_bundle, source, "--json", "--split", "test").stdout)["n"] == 2
    assert "no val rows" in failed("evaluate", demo_bundle, source, "--split", "val")
    assert "defines no split" in failed("evaluate", demo_bundle, UCI_YELP, "--format", "tabbed", "--split", "test")


def test_evaluate_bad_data_is_one_line(demo_bundle: Path, tmp_path: Path):
    source = write(tmp_path / "bad.csv", "text,label\ngood,positive\n\xff,negative\n".encode("latin-1"))
    assert f"{source}:3" in failed("evaluate", demo_bundle, source)


def test_predict_help_lists_the_options():
    text = ok("predict", "--help").stdout
    for option in ("--output-format", "--input-format", "--text-column", "--text-field", "--all-probs",
                   "--threshold", "--top-k", "--batch-size", "--threads", "--int8", "--backend", "--encoding",
                   "--on-error", "--include-text"):
        assert option in text
