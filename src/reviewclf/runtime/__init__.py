"""The serving layer: bundle loading, tokenization and ONNX Runtime inference. Never imports torch.

Names are loaded on first use so that ``reviewclf --help`` and error paths do not pay for onnxruntime.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Bundle": ".bundle",
    "load_bundle": ".bundle",
    "TextEncoder": ".encoding",
    "ReviewclfError": "..errors",
    "Prediction": ".predictor",
    "Predictor": ".predictor",
    "Scores": ".predictor",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name], __name__), name)
