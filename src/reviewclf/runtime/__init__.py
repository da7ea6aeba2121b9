"""The serving layer: bundle loading, tokenization and ONNX Runtime inference. Never imports torch."""

from .bundle import Bundle, load_bundle
from .encoding import TextEncoder
from .errors import ReviewclfError
from .predictor import Prediction, Predictor

__all__ = ["Bundle", "Prediction", "Predictor", "ReviewclfError", "TextEncoder", "load_bundle"]
