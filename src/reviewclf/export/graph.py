"""The module that is exported: a trained classifier with its probability head, ids in, probabilities out.

Baking the sigmoid/softmax into the graph means any ONNX Runtime consumer gets probabilities directly, and
eager, TorchScript and ONNX are compared on the very numbers users see.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import ReviewclfError
from ..training.models import Classifier, build_model
from ..training.run import RUN_CHECKPOINT


class ProbabilityModel(nn.Module):
    def __init__(self, model: Classifier):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.probabilities(input_ids)


def load_run_model(run_dir: Path, model_info: dict) -> ProbabilityModel:
    """Rebuild the model of a run directory from its hyper-parameters and weights-only checkpoint."""
    model = build_model(model_info["kind"], model_info["vocab_size"], model_info["n_outputs"],
                        model_info["hyperparameters"])
    try:
        state = torch.load(run_dir / RUN_CHECKPOINT, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        model.prepare_for_export()
    except Exception as exc:
        raise ReviewclfError(f"{run_dir / RUN_CHECKPOINT}: cannot load checkpoint ({exc})") from None
    return ProbabilityModel(model).eval()


def eager_runner(model: ProbabilityModel) -> Callable[[np.ndarray], np.ndarray]:
    """Ids in, probabilities out, with the eager PyTorch model (the reference the others are held to)."""

    def run(ids: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(ids)).numpy()

    return run
