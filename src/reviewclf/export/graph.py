"""The module that is exported: a trained classifier with its probability head, ids in, probabilities out.

Baking the sigmoid/softmax into the graph means any ONNX Runtime consumer gets probabilities directly, and
eager, TorchScript and ONNX are compared on the very numbers users see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..training.models import Classifier
from ..training.rundir import RunDir

# What both exporters trace: 3 padded rows of 4 ids, as neither axis may be 0 or 1 (exporters specialize those).
EXAMPLE_IDS = torch.tensor([[2, 3, 4, 0], [5, 6, 0, 0], [7, 0, 0, 0]], dtype=torch.int64)


def dynamic_shapes() -> dict[str, Any]:
    """The dynamic axes of ``ProbabilityModel.forward``'s ``input_ids`` for both exporters: batch and sequence,
    each at least 1."""
    return {"input_ids": {0: torch.export.Dim("batch", min=1), 1: torch.export.Dim("sequence", min=1)}}


@contextmanager
def interrupts_unwrapped() -> Iterator[None]:
    """The exporters wrap whatever interrupts a trace (Ctrl-C, a SIGTERM turned into one) in their own error
    with a long traceback; re-raise the interrupt itself so the CLI cleans up and says one line."""
    try:
        yield
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, KeyboardInterrupt):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise cause from None
        raise


class ProbabilityModel(nn.Module):
    def __init__(self, model: Classifier):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.probabilities(input_ids)


def load_run_model(run_dir: Path) -> ProbabilityModel:
    """The model of a run directory (checked and rebuilt by ``RunDir.open``) with its probability head."""
    return ProbabilityModel(RunDir.open(run_dir).load_model()).eval()


def eager_runner(model: ProbabilityModel) -> Callable[[np.ndarray], np.ndarray]:
    """Ids in, probabilities out, with the eager PyTorch model (the reference the others are held to)."""

    def run(ids: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(ids)).numpy()

    return run
