"""Every TorchScript call of the project, in one place.

The user asked for TorchScript artifacts; from torch 2.9 on every ``torch.jit`` call raises a
DeprecationWarning. Those warnings are the project's concern, not the user's, so they are silenced here
and nowhere else. ``torch.export`` (``model.pt2``, written by ``program.py``) is the successor.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn


@contextmanager
def _quiet_jit() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message=".*TorchScript.*")
        warnings.filterwarnings("ignore", message=".*torch.jit.*")
        yield


def script_to_bytes(module: nn.Module) -> bytes:
    """Compile ``module`` with ``torch.jit.script`` and serialize it."""
    with _quiet_jit():
        scripted = torch.jit.script(module.eval())
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)
    return buffer.getvalue()


def load_scripted(data: bytes) -> torch.jit.ScriptModule:
    """Load a serialized TorchScript module on the CPU."""
    with _quiet_jit():
        return torch.jit.load(io.BytesIO(data), map_location="cpu").eval()


def run_scripted(module: torch.jit.ScriptModule, ids: torch.Tensor) -> torch.Tensor:
    with _quiet_jit(), torch.no_grad():
        return module(ids)


def torchscript_runner(data: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """Ids in, probabilities out, with the serialized TorchScript module."""
    module = load_scripted(data)
    return lambda ids: run_scripted(module, torch.from_numpy(ids)).numpy()
