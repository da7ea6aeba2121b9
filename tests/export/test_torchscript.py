"""The TorchScript module: loaded and run through ``torchscript.py`` it agrees with eager PyTorch, and none of
torch.jit's deprecation warnings reaches the caller."""

from __future__ import annotations

import warnings

from reviewclf.export.equivalence import TOLERANCE, batched, edge_cases
from reviewclf.export.torchscript import torchscript_runner
from reviewclf.runtime.bundle import TORCHSCRIPT_MODEL, load_bundle
from tests.export.cases import Case, alone, max_diff


def test_torchscript_agrees_with_eager_without_a_warning(case: Case, real_reviews: list[str]) -> None:
    texts = real_reviews[::5] + edge_cases(case.max_length)
    data = load_bundle(case.bundle).read(TORCHSCRIPT_MODEL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probs = batched(texts, 7, case.predictor.encoder, torchscript_runner(data))
    assert [str(w.message) for w in caught] == []
    assert max_diff(probs, alone(texts, case)) <= TOLERANCE
