"""``reviewclf train`` flags derived from TrainConfig, and option errors named by their flag."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from reviewclf.cli import main
from reviewclf.errors import OptionError
from reviewclf.runtime.encoding import PAD_TOKEN, UNK_TOKEN, TextEncoder
from reviewclf.training.config import TrainConfig
from tests.support import POLARITY, UCI_MAP, YELP_POLARITY, YELP_STARS
from tests.training.support import load_run_model

FLAGS = {"word_dropout": "--augment", "data": None}


def invoke(*args: str):
    return CliRunner().invoke(main, ["train", *args])


def assert_one_line_error(result, contains: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # handled, not an exception escaping the command
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip("\n").splitlines()[-1] == errors[0]
    assert contains in errors[0]
    assert result.stdout == ""


def test_every_user_field_has_a_train_flag():
    help_text = CliRunner().invoke(main, ["train", "--help"]).output
    for f in dataclasses.fields(TrainConfig):
        flag = FLAGS.get(f.name, "--" + f.name.replace("_", "-"))
        if flag is not None:
            assert flag in help_text, f.name


def test_from_dict_refuses_unknown_keys():
    with pytest.raises(OptionError, match="unknown training option.*bogus"):
        TrainConfig.from_dict({"epochs": 2, "bogus": 1})


def test_a_bad_value_names_the_flag(tmp_path):
    result = CliRunner().invoke(main, ["train", "--val-fraction", "1.5", "--out", str(tmp_path / "r")])
    assert result.exit_code == 1, result.output
    assert "error: --val-fraction: must be in [0.0, 1.0), not 1.5" in result.stderr
    assert not (tmp_path / "r").exists()


def test_cli_train_prints_the_summary_and_top_words(data_dir, tmp_path):
    out = tmp_path / "run"
    result = invoke(str(data_dir / "uci-sentences" / "amazon_cells_labelled.txt"), "--label-map", UCI_MAP,
                    "--epochs", "2", "--model", "perceptron", "--out", str(out))
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    lines = result.stdout.splitlines()
    assert lines[0] == f"run written to {out}"
    for split in ("val", "test"):
        m = metrics[split]
        assert f"{split:<6} {m['n']:>7} {m['accuracy']:>9.4f} {m['macro_f1']:>9.4f}" in lines
    assert f"best epoch {metrics['best_epoch']} of 2 (epochs)" in lines
    top = {line.split(": ", 1)[0]: line.split(": ", 1)[1].split(", ") for line in lines if line.startswith("top words")}
    assert set(top) == {"top words positive for positive", "top words negative for positive"}
    model = load_run_model(out)
    vocab = TextEncoder.from_file(out / "tokenizer.json").tokenizer.get_vocab()
    weight = model.fc.weight.detach()[:, 0]
    for name, words in top.items():
        assert len(words) == 10 and PAD_TOKEN not in words and UNK_TOKEN not in words
        sign = 1 if name.endswith("positive for positive") else -1
        ranked = sorted(range(2, len(weight)), key=lambda i: -sign * float(weight[i]))
        assert vocab[words[0]] == ranked[0]
        assert all(sign * weight[vocab[w]] > 0 for w in words)
    assert "epoch   1" in result.stderr  # progress goes to stderr, not into the summary


def test_cli_errors_missing_file(tmp_path):
    missing = tmp_path / "nope.txt"
    assert_one_line_error(invoke(str(missing), "--out", str(tmp_path / "r")), "no such file")


def test_cli_errors_unknown_column(data_dir, tmp_path):
    result = invoke(str(data_dir / "yelp-10k" / "yelp.csv.zip"), "--text-column", "nope", "--out", str(tmp_path / "r"))
    assert_one_line_error(result, "no column 'nope'")


def test_cli_errors_label_map_leaving_one_label(data_dir, tmp_path):
    result = invoke(str(data_dir / "uci-sentences" / "amazon_cells_labelled.txt"), "--label-map", "0=negative",
                    "--out", str(tmp_path / "r"))
    assert_one_line_error(result, "two labels")
    assert not (tmp_path / "r").exists()


def test_cli_errors_bad_augment(data_dir, tmp_path):
    result = invoke(str(data_dir / "uci-sentences" / "amazon_cells_labelled.txt"), "--augment", "bogus=1",
                    "--out", str(tmp_path / "r"))
    assert_one_line_error(result, "unknown augmentation 'bogus=1'")


def test_cli_errors_undecodable_bytes(data_dir, tmp_path):
    folder = data_dir / "rt-polarity"
    result = invoke(str(folder / "rt-polarity.neg"), str(folder / "rt-polarity.pos"), "--out", str(tmp_path / "r"))
    assert_one_line_error(result, "latin-1")
    assert "rt-polarity.neg:" in result.stderr  # names the file and line


def test_cli_label_map_on_yelp_gives_the_polarity_counts(data_dir, tmp_path):
    out = tmp_path / "run"
    result = invoke(str(data_dir / "yelp-10k" / "yelp.csv.zip"), "--label-map", POLARITY, "--epochs", "1",
                    "--max-length", "64", "--min-freq", "5", "--out", str(out))
    assert result.exit_code == 0, result.output
    kept, dropped = sum(YELP_POLARITY.values()), YELP_STARS["3"]
    assert f"{kept} rows kept, {dropped} dropped by --label-map" in result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert sum(metrics["rows"].values()) == kept
    for split in ("val", "test"):
        support = {label: m["support"] for label, m in metrics[split]["per_label"].items()}
        assert set(support) == set(YELP_POLARITY)
        for label, count in YELP_POLARITY.items():
            assert abs(support[label] - 0.15 * count) <= 1


@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--epochs", "0", "--epochs: must be >= 1, not 0"),
    ("--max-length", "0", "--max-length: must be >= 1, not 0"),
    ("--lr", "-1", "--lr: must be > 0.0, not -1.0"),
    ("--batch-size", "0", "--batch-size: must be >= 1, not 0"),
    ("--batch-size", "-5", "--batch-size: must be >= 1, not -5"),
    ("--dropout", "1.5", "--dropout: must be in [0.0, 1.0), not 1.5"),
])
def test_an_out_of_range_option_is_one_line_before_any_work(flag, value, words, tmp_path):
    result = CliRunner().invoke(main, ["train", flag, value, "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"error: {words}"]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("args", "flag"), [
    (["--lr", "0.1"], "--lr"), (["-o", "elsewhere"], "--out"), (["--no-nb-init"], "--nb-init"),
    (["--force"], "--force"), (["reviews.txt"], "DATA"), (["--augment", "word-dropout=0.1"], "--augment"),
])
def test_resume_refuses_other_training_options_before_any_work(args, flag, tmp_path):
    run = tmp_path / "run"  # never read: the options are refused first
    result = invoke("--resume", str(run), *args)
    assert_one_line_error(result, f"{flag} cannot be given with it (only --epochs can)")
    assert not run.exists() and not (tmp_path / "elsewhere").exists()
