"""The Predictor's batching: row and token budgets, input order, and independence from the batch size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reviewclf.runtime.predictor import TOKENS_PER_BATCH, Predictor, token_budget_batches


@pytest.mark.parametrize("batch_size", [1, 7, 256])
def test_token_budget_batches_cover_every_row_within_both_budgets(batch_size: int) -> None:
    lengths = np.sort(np.random.default_rng(0).integers(0, 3 * 4096, 3000))
    batches = token_budget_batches(lengths, batch_size)
    assert [i for s in batches for i in range(s.start, s.stop)] == list(range(len(lengths)))
    for s in batches:
        rows = s.stop - s.start
        assert rows <= batch_size
        assert rows == 1 or rows * lengths[s.stop - 1] <= TOKENS_PER_BATCH
        if s.stop < len(lengths):  # greedy: the next row would break one of the budgets
            assert rows == batch_size or (rows + 1) * lengths[s.stop] > TOKENS_PER_BATCH


def test_long_reviews_are_batched_smaller_with_the_same_results(demo_bundle: Path) -> None:
    predictor = Predictor.load(demo_bundle)
    long_text = " ".join(["great food but slow service"] * 2000)
    texts = ["good", long_text, "", "awful", long_text[:5000]] * 40
    alone = np.concatenate([predictor.predict_proba([t], batch_size=1) for t in texts[:5]])
    together = predictor.predict_proba(texts, batch_size=256)
    np.testing.assert_allclose(together, np.tile(alone, (40, 1)), atol=1e-6)
