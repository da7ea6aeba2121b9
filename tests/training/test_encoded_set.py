"""A split's batches: the passes of evaluation and counting cover every row once within their memory bound."""

from __future__ import annotations

import numpy as np
import torch

from reviewclf.runtime.ragged import Ragged
from reviewclf.training.encoded_set import EncodedSet
from tests.training.support import CPU


def test_a_pass_covers_every_row_once_within_its_row_and_token_bounds():
    rng = np.random.default_rng(3)
    lengths = np.concatenate([rng.integers(0, 40, 500), [300, 1000, 0, 5]])
    rows = [list(rng.integers(2, 50, n)) for n in lengths]
    data = EncodedSet.build(Ragged.from_rows(rows), np.zeros(len(rows), dtype=np.int64), CPU)
    batches = data.passes(max_rows=64, max_tokens=512)
    seen = torch.cat(batches).sort().values
    assert torch.equal(seen, torch.arange(len(rows)))
    for index in batches:
        longest = int(data.lengths[index].max())
        assert len(index) <= 64
        assert len(index) * longest <= 512 or len(index) == 1  # a row longer than the bound goes alone
        ids, _ = data.batch(index)
        assert ids.shape == (len(index), max(longest, 1))
    assert any(len(index) == 64 for index in batches)  # short rows fill whole batches
