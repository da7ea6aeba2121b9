"""The Predictor over batches and windows: long reviews batched smaller, input order, and results independent
of the batch size and the window cut."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import numpy as np
import pytest

from reviewclf.errors import ReviewclfError
from reviewclf.runtime import batching
from reviewclf.runtime.batching import SORT_WINDOW_BATCHES
from reviewclf.runtime.predictor import Predictor


def test_long_reviews_are_batched_smaller_with_the_same_results(demo_bundle: Path) -> None:
    predictor = Predictor.load(demo_bundle)
    long_text = " ".join(["great food but slow service"] * 2000)
    texts = ["good", long_text, "", "awful", long_text[:5000]] * 40
    alone = np.concatenate([predictor.predict_proba([t], batch_size=1) for t in texts[:5]])
    together = predictor.predict_proba(texts, batch_size=256)
    np.testing.assert_allclose(together, np.tile(alone, (40, 1)), atol=1e-6)


def test_stream_keeps_each_group_aligned_with_its_rows(demo_bundle: Path) -> None:
    """Groups of any size (empty, one row, larger than a window) come back in order, each with its own rows."""
    predictor = Predictor.load(demo_bundle)
    rng = np.random.default_rng(1)
    words = ["great", "food", "cold", "rude", "lovely", "never", "again", "slow"]
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 30))) for _ in range(700)]
    sizes = [0, 1, 5, 0, 300, 2, 0, 250, 142, 0]
    starts = np.cumsum([0] + sizes)
    groups = [(f"g{i}", texts[a:b]) for i, (a, b) in enumerate(zip(starts[:-1], starts[1:]))]
    streamed = list(predictor.stream(groups, batch_size=16, k=2))
    assert [key for key, _ in streamed] == [key for key, _ in groups]
    assert [len(scores.chosen) for _, scores in streamed] == sizes
    whole = predictor.predict(texts, batch_size=16, k=2)
    flat = [(scores.probabilities[i], scores.chosen[i], scores.ranked[i]) for _, scores in streamed
            for i in range(len(scores.chosen))]
    for (probs, chosen, ranked), prediction in zip(flat, whole, strict=True):
        assert predictor.labels[chosen] == prediction.label
        assert [predictor.labels[j] for j in ranked] == [label for label, _ in prediction.top_k]
        np.testing.assert_allclose(probs, list(prediction.probabilities.values()), atol=1e-6)


def test_stream_applies_the_callers_threshold(demo_bundle: Path) -> None:
    predictor = Predictor.load(demo_bundle)
    texts = ["good food", "cold and rude", "ok"] * 5
    [(_, always)] = predictor.stream([("all", texts)], threshold=0.0)
    [(_, never)] = predictor.stream([("all", texts)], threshold=1.01)
    assert set(always.chosen) == {1} and set(never.chosen) == {0}
    with pytest.raises(ReviewclfError, match="^k: must be between"):
        next(predictor.stream([("all", texts)], k=-1))


def test_streaming_stops_cleanly_when_the_caller_stops_early(demo_bundle: Path) -> None:
    """Windows are scored in a background thread; abandoning the stream must not hang or leak the thread."""
    predictor = Predictor.load(demo_bundle)
    groups = ((i, ["good food", "cold and rude"]) for i in itertools.count())
    stream = predictor.stream(groups, batch_size=2)
    assert next(stream)[0] == 0
    stream.close()
    assert not [t for t in threading.enumerate() if t.name.startswith(("reviewclf-score", "reviewclf-tokenize"))]


def test_streaming_passes_on_an_error_of_the_input(demo_bundle: Path) -> None:
    predictor = Predictor.load(demo_bundle)

    def groups():
        yield "first", ["good"] * 40
        raise ReviewclfError("input.txt:41: bad line")

    with pytest.raises(ReviewclfError, match="input.txt:41"):
        list(predictor.stream(groups(), batch_size=2))


def test_windows_are_cut_by_characters_too_with_the_same_results(demo_bundle: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    predictor = Predictor.load(demo_bundle)
    texts = [("great food " * (k % 50)).strip() for k in range(1500)]
    whole = predictor.predict_proba(texts, batch_size=64)
    monkeypatch.setattr(batching, "WINDOW_CHARS", 2000)
    windows = list(predictor._iter_proba([texts[:700], texts[700:]], batch_size=64))
    assert max(len(w) for w in windows) < 64 * SORT_WINDOW_BATCHES  # the character cap cut them, not the count
    assert sum(len(w) for w in windows) == len(texts)
    np.testing.assert_allclose(np.concatenate(windows), whole, atol=1e-6)


def test_predict_ranks_k_labels_and_refuses_impossible_options(demo_bundle):
    predictor = Predictor.load(demo_bundle)
    texts = ["great food and lovely staff", "cold, rude, never again", ""]
    for prediction in predictor.predict(texts, k=2):
        ranked = prediction.top_k
        assert [label for label, _ in ranked] == sorted(prediction.probabilities, key=prediction.probabilities.get,
                                                        reverse=True)
        assert ranked[0][1] >= ranked[1][1]
    assert all(p.top_k == [] for p in predictor.predict(texts, k=0))
    with pytest.raises(ReviewclfError, match=r"^k: must be between 0 and 2"):
        predictor.predict(texts, k=3)
    with pytest.raises(ReviewclfError, match=r"^batch_size: must be at least 1"):
        predictor.predict(texts, batch_size=0)


def test_the_cli_names_its_flag_for_a_library_parameter(demo_bundle, tmp_path):
    from click.testing import CliRunner

    from reviewclf.cli import main

    source = tmp_path / "in.txt"
    source.write_text("good\n")
    result = CliRunner().invoke(main, ["predict", str(demo_bundle), str(source), "--top-k", "3"])
    assert result.exit_code == 1
    assert result.stderr == "error: --top-k: must be between 0 and 2 (the model's labels), not 3\n"
