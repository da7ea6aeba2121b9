"""Optional dependencies, imported only by the feature that needs them, with the one line that installs them.

The base install (onnxruntime, tokenizers, numpy, click) stays light: pyarrow, pandas, pyspark and ray are
imported when a Parquet file, a Spark UDF or a Ray predictor is asked for, never when the CLI starts.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from .errors import ReviewclfError


def require(module: str, extra: str, feature: str) -> ModuleType:
    """``module`` imported, or a one-line ``ReviewclfError`` naming the extra that brings it."""
    try:
        return import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise ReviewclfError(f"{feature} needs {top}: pip install 'reviewclf[{extra}]'") from None
