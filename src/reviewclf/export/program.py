"""The ``torch.export`` program (``model.pt2``): TorchScript's successor, for PyTorch-native deployment
(AOTInductor, ExecuTorch) with the same dynamic batch and sequence axes as the ONNX graph."""

from __future__ import annotations

import io

import torch

from .graph import EXAMPLE_IDS, ProbabilityModel, dynamic_shapes, interrupts_unwrapped


def export_program(model: ProbabilityModel) -> bytes:
    """Serialized ``torch.export`` program, traced on the same example and dynamic axes as the ONNX graph."""
    with interrupts_unwrapped():
        program = torch.export.export(model.eval(), (EXAMPLE_IDS,), dynamic_shapes=dynamic_shapes())
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


def load_program(data: bytes) -> torch.nn.Module:
    """The program's module, callable like the eager model."""
    return torch.export.load(io.BytesIO(data)).module()
