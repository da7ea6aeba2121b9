"""The ``torch.export`` program (``model.pt2``): TorchScript's successor, for PyTorch-native deployment
(AOTInductor, ExecuTorch) with the same dynamic batch and sequence axes as the ONNX graph."""

from __future__ import annotations

import io

import torch

from .graph import ProbabilityModel


def export_program(model: ProbabilityModel) -> bytes:
    example = torch.tensor([[2, 3, 4, 0], [5, 6, 0, 0], [7, 0, 0, 0]], dtype=torch.int64)
    dims = {"input_ids": {0: torch.export.Dim("batch", min=1), 1: torch.export.Dim("sequence", min=1)}}
    program = torch.export.export(model.eval(), (example,), dynamic_shapes=dims)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


def load_program(data: bytes) -> torch.nn.Module:
    return torch.export.load(io.BytesIO(data)).module()
