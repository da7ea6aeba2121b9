"""The torch.export program (model.pt2) agrees with eager PyTorch at every batch size."""

from __future__ import annotations

import numpy as np
import torch

from reviewclf.export.equivalence import BATCH_SIZES, TOLERANCE, batched, edge_cases
from reviewclf.export.program import load_program
from reviewclf.runtime.bundle import EXPORTED_PROGRAM, load_bundle
from tests.export.cases import Case, alone, max_diff


def test_exported_program_agrees_with_eager(case: Case, real_reviews: list[str]) -> None:
    bundle = load_bundle(case.program_bundle)
    assert EXPORTED_PROGRAM in bundle.names
    program = load_program(bundle.read(EXPORTED_PROGRAM))

    def run(ids: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return program(torch.from_numpy(ids)).numpy()

    texts = real_reviews[::4] + edge_cases(case.max_length)
    reference = alone(texts, case)
    for size in BATCH_SIZES:
        probs = batched(texts, size, case.predictor.encoder, run)
        assert max_diff(probs, reference) <= TOLERANCE, size
        assert np.array_equal(case.predictor.decision.choose(probs), case.predictor.decision.choose(reference))
