"""How texts are cut into batches: the row and the token budgets."""

from __future__ import annotations

import numpy as np
import pytest

from reviewclf.runtime.batching import TOKENS_PER_BATCH, token_budget_batches


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
