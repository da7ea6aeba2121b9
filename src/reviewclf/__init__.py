"""reviewclf: train a review-sentiment classifier, export one portable bundle, serve it without torch."""

import os

# ONNX Runtime's telemetry otherwise writes a device id under ~/.cache (and warns without a writable HOME) on
# every run; it reads this before it initializes, so it is set before any submodule imports onnxruntime.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
