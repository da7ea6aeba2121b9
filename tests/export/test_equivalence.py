"""The equivalence contract (DESIGN.md): every model kind's eager, TorchScript and ONNX Runtime forms agree on
real reviews and edge cases, whatever batch a text is in."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewclf.export.equivalence import BATCH_SIZES, TOLERANCE, batched, edge_cases
from tests.export.cases import Case, alone, backends, max_diff


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
