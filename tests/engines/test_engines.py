"""What the engine adapters share, called in this process (no engine): one Predictor per worker process and
options, single-threaded by default, null texts, errors that survive pickling; and BundlePredictor's batch
handling without Ray."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from reviewclf import engines
from reviewclf.engines import ScoringSpec, score_groups, worker_predictor
from reviewclf.errors import OptionError, ReviewclfError
from reviewclf.runtime.predictor import Predictor

pd = pytest.importorskip("pandas")


def test_one_predictor_per_process_and_options(demo_bundle: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(engines, "_LOADED", {})
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    spec = ScoringSpec(str(demo_bundle))
    first = worker_predictor(spec)
    assert worker_predictor(spec) is first
    assert worker_predictor(ScoringSpec(str(demo_bundle), int8=True)) is not first
    assert spec.threads == 1 and os.environ["TOKENIZERS_PARALLELISM"] == "false"


def test_null_texts_give_missing_results_and_others_match(demo_bundle: Path):
    spec = ScoringSpec(str(demo_bundle), all_probs=True)
    predictor = worker_predictor(spec)
    texts = pd.Series(["great tacos", None, "cold fries, rude staff", float("nan")])
    (key, columns), = score_groups(predictor, spec, [("k", texts)])
    assert key == "k" and list(columns) == ["label", "probability", "p_negative", "p_positive"]
    assert columns["label"][1] is None and np.isnan(columns["probability"][[1, 3]]).all()
    reference = Predictor.load(demo_bundle).predict(["great tacos", "cold fries, rude staff"])
    assert [columns["label"][0], columns["label"][2]] == [p.label for p in reference]
    assert columns["probability"].dtype == np.float32


def test_a_non_text_column_and_a_bad_option_are_one_picklable_line(demo_bundle: Path):
    spec = ScoringSpec(str(demo_bundle))
    with pytest.raises(ReviewclfError, match="holds int values, not strings") as refused:
        list(score_groups(worker_predictor(spec), spec, [(None, pd.Series([1, 2]))]))
    assert "\n" not in str(refused.value)
    with pytest.raises(ReviewclfError) as refused, engines.plain_errors():
        raise OptionError("threshold", "applies to binary models only")
    assert type(refused.value) is ReviewclfError  # an OptionError would not unpickle on the driver
    assert str(pickle.loads(pickle.dumps(refused.value))) == "threshold: applies to binary models only"


def test_bundle_predictor_without_ray(demo_bundle: Path):
    from reviewclf.ray import BundlePredictor

    scorer = BundlePredictor(demo_bundle)  # text column found by its default names
    frame = pd.DataFrame({"review": ["great tacos", "awful"], "probability": [0.1, 0.2]}, index=[10, 11])
    out = scorer(frame)
    assert out.columns.tolist() == ["review", "input_probability", "label", "probability"]
    assert out.index.tolist() == [10, 11] and out["input_probability"].tolist() == [0.1, 0.2]
    as_numpy = scorer({"review": np.array(["great tacos", "awful"]), "id": np.array([1, 2])})
    assert list(as_numpy) == ["review", "id", "label", "probability"]
    assert as_numpy["label"].tolist() == out["label"].tolist()
    copy = pickle.loads(pickle.dumps(scorer))  # travels as its settings and loads the bundle again
    assert copy(frame)["label"].tolist() == out["label"].tolist()
    with pytest.raises(ReviewclfError, match="the batch: no column 'body'"):
        BundlePredictor(demo_bundle, text_column="body")(frame)
