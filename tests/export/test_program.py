"""The torch.export program (model.pt2): traced with the shared dynamic axes, it agrees with eager PyTorch at
every batch size."""

from __future__ import annotations

import io
from pathlib import Path

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


def test_both_axes_of_the_program_are_dynamic(demo_archive: Path) -> None:
    program = torch.export.load(io.BytesIO(load_bundle(demo_archive).read(EXPORTED_PROGRAM)))
    ids = [node for node in program.graph.nodes if node.op == "placeholder"][-1]
    assert ids.name == "input_ids"
    assert all(isinstance(size, torch.SymInt) for size in ids.meta["val"].shape)
    assert all(bounds.lower == 1 for bounds in program.range_constraints.values())
