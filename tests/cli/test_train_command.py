"""``reviewclf train`` flags derived from TrainConfig, and option errors named by their flag."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from reviewclf.cli import main
from reviewclf.errors import OptionError
from reviewclf.training.config import TrainConfig

FLAGS = {"word_dropout": "--augment", "data": None}


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
