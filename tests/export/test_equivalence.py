"""The equivalence contract (DESIGN.md): every model kind's eager, TorchScript and ONNX Runtime forms agree on
real reviews and edge cases, whatever batch a text is in; and ``verify_predictor``, the one check export and
``reviewclf verify`` make, reports each backend and the runtime's text path and fails on any disagreement."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewclf.errors import ReviewclfError
from reviewclf.export.equivalence import BATCH_SIZES, TOLERANCE, batched, edge_cases, verify_predictor
from reviewclf.export.torchscript import torchscript_runner
from reviewclf.runtime.bundle import TORCHSCRIPT_MODEL, VERIFICATION
from reviewclf.runtime.predictor import Predictor
from tests.export.cases import Case, alone, backends, max_diff

# ------------------------------------------------------------------------------------- every model kind


def test_backends_agree_on_real_reviews_and_edge_cases_at_every_batch_size(
    case: Case, real_reviews: list[str]
) -> None:
    texts = real_reviews + edge_cases(case.max_length)
    reference = alone(texts, case)
    ref_labels = case.predictor.decision.choose(reference)
    encoder = case.predictor.encoder
    worst: dict[str, float] = {}
    for name, run in backends(case).items():
        for size in BATCH_SIZES:
            if name == "eager" and size == 1:
                continue  # that is the reference itself
            probs = batched(texts, size, encoder, run)
            worst[f"{name}@{size}"] = max_diff(probs, reference)
            assert np.array_equal(case.predictor.decision.choose(probs), ref_labels), f"{name}@{size}"
    for size in (7, 512):  # the runtime's own path: sorted by length inside windows, padded per batch
        probs = case.predictor.predict_proba(texts, batch_size=size)
        worst[f"predict_proba@{size}"] = max_diff(probs, reference)
        assert np.array_equal(case.predictor.decision.choose(probs), ref_labels)
    assert max(worst.values()) <= TOLERANCE, worst
    # the texts exercise what they should: truncation at max length and more than one label chosen
    assert max(len(r) for r in encoder.encode_ragged(texts)) == case.max_length
    assert len(set(ref_labels.tolist())) > 1


def test_probabilities_do_not_depend_on_the_batch(case: Case, real_reviews: list[str]) -> None:
    """Each text alone vs. inside shuffled batches of random sizes (so of mixed lengths and padding)."""
    texts = real_reviews[::3] + edge_cases(case.max_length)
    reference = alone(texts, case)
    rng = random.Random(7)
    order = list(range(len(texts)))
    rng.shuffle(order)
    encoder = case.predictor.encoder
    for name, run in backends(case).items():
        out = np.empty_like(reference)
        start, widths = 0, set()
        while start < len(order):
            chunk = order[start : start + rng.randint(1, 12)]
            ids = encoder.encode([texts[i] for i in chunk])
            widths.add(ids.shape[1])
            out[chunk] = run(ids)
            start += len(chunk)
        assert len(widths) > 1
        assert max_diff(out, reference) <= TOLERANCE, name
    # one text padded out to the longest row of the batch it shares with a long review
    short, long = "great", real_reviews[0]
    together = case.predictor.proba_from_ids(encoder.encode([short, long]))
    np.testing.assert_allclose(together, alone([short, long], case), rtol=0, atol=TOLERANCE)


@st.composite
def texts_and_splits(draw: st.DrawFn) -> tuple[list[str], list[int]]:
    pieces = st.one_of(st.text(max_size=40), st.sampled_from(["great", "bad", "food", " ", "\n", "<br />", "😀",
                                                              "très", "非常", "\x00", "Ã©"]))
    texts = draw(st.lists(st.lists(pieces, max_size=8).map("".join), min_size=1, max_size=16))
    sizes = draw(st.lists(st.integers(1, len(texts)), min_size=1, max_size=len(texts)))
    return texts, sizes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=texts_and_splits())
def test_random_unicode_texts_agree_and_are_batch_invariant(case: Case, drawn: tuple[list[str], list[int]]) -> None:
    texts, sizes = drawn
    reference = alone(texts, case)
    parts, start, k = [], 0, 0
    while start < len(texts):
        size = sizes[k % len(sizes)]
        parts.append(case.predictor.proba_from_ids(case.predictor.encoder.encode(texts[start : start + size])))
        start, k = start + size, k + 1
    split = np.concatenate(parts)
    assert max_diff(split, reference) <= TOLERANCE
    whole = case.predictor.predict_proba(texts, batch_size=max(sizes))
    assert max_diff(whole, reference) <= TOLERANCE
    assert np.array_equal(case.predictor.decision.choose(split), case.predictor.decision.choose(reference))


# ------------------------------------------------------------------------------------ verify_predictor


Stored = tuple[Predictor, list[str], np.ndarray]


@pytest.fixture(scope="module")
def stored(demo_bundle: Path) -> Stored:
    """The demo bundle's predictor and the texts and reference probabilities its verification.json holds."""
    predictor = Predictor.load(demo_bundle)
    verification = predictor.bundle.read_json(VERIFICATION)
    return predictor, verification["texts"], np.asarray(verification["probabilities"], dtype=np.float32)


@pytest.fixture(scope="module")
def few(stored: Stored) -> Stored:
    """The last 40 stored texts (held-out reviews, then every edge case): enough for a check meant to fail."""
    predictor, texts, reference = stored
    return predictor, texts[-40:], reference[-40:]


def test_verify_predictor_reports_every_backend_and_the_runtime_path(stored: Stored) -> None:
    predictor, texts, reference = stored
    torchscript = torchscript_runner(predictor.bundle.read(TORCHSCRIPT_MODEL))
    report = verify_predictor(predictor, texts, reference, {"torchscript": torchscript})
    assert report["passed"] is True and report["labels_agree"] is True
    assert report["texts"] == len(texts) and report["batch_sizes"] == list(BATCH_SIZES)
    assert report["tolerance"] == TOLERANCE
    assert list(report["max_abs_diff"]) == ["onnxruntime-vs-torchscript", "onnxruntime-vs-stored",
                                            "torchscript-vs-stored", "runtime-predict-vs-stored"]
    assert list(report["batch_invariance_max_abs_diff"]) == ["onnxruntime", "torchscript"]
    assert max(report["max_abs_diff"].values()) <= TOLERANCE


def test_a_backend_off_by_more_than_the_tolerance_fails_the_check(few: Stored) -> None:
    predictor, texts, reference = few
    shift = np.float32(3 * TOLERANCE) * np.array([-1, 1], dtype=np.float32)
    shifted = {"shifted": lambda ids: predictor.proba_from_ids(ids) + shift}
    report = verify_predictor(predictor, texts, reference, shifted)
    assert report["passed"] is False
    assert report["max_abs_diff"]["shifted-vs-stored"] > TOLERANCE
    assert report["max_abs_diff"]["onnxruntime-vs-shifted"] > TOLERANCE
    assert report["max_abs_diff"]["onnxruntime-vs-stored"] <= TOLERANCE


def test_a_backend_that_chooses_other_labels_fails_the_check(few: Stored) -> None:
    predictor, texts, reference = few
    swapped = {"swapped": lambda ids: predictor.proba_from_ids(ids)[:, ::-1]}
    report = verify_predictor(predictor, texts, reference, swapped)
    assert report["passed"] is False and report["labels_agree"] is False


def test_a_backend_that_returns_the_wrong_shape_fails_the_check(few: Stored) -> None:
    predictor, texts, reference = few
    one_column = {"one-column": lambda ids: predictor.proba_from_ids(ids)[:, 1:]}
    report = verify_predictor(predictor, texts, reference, one_column)
    assert report["passed"] is False and report["labels_agree"] is False
    assert report["max_abs_diff"]["one-column-vs-stored"] == float("inf")


def test_a_runtime_path_that_depends_on_the_batch_size_fails_the_check(
    few: Stored, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only ``predict_proba`` goes wrong (at one batch size): the runtime path is checked on its own."""
    predictor, texts, reference = few
    real = predictor.predict_proba
    shift = np.float32(3 * TOLERANCE) * np.array([-1, 1], dtype=np.float32)
    monkeypatch.setattr(predictor, "predict_proba",
                        lambda batch, batch_size: real(batch, batch_size) + (shift if batch_size == 7 else 0))
    report = verify_predictor(predictor, texts, reference)
    assert report["passed"] is False
    assert report["max_abs_diff"]["runtime-predict-vs-stored"] > TOLERANCE
    assert report["max_abs_diff"]["onnxruntime-vs-stored"] <= TOLERANCE


def test_reference_of_the_wrong_shape_is_refused(few: Stored) -> None:
    predictor, texts, reference = few
    with pytest.raises(ReviewclfError, match="shape"):
        verify_predictor(predictor, texts[:-1], reference)


def test_the_check_does_not_import_torch() -> None:
    """``reviewclf verify`` runs it where torch is not installed."""
    code = "import sys, reviewclf.export.equivalence; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
