"""ONNX export with the dynamo exporter: dynamic batch and sequence axes, one self-contained file."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import onnx
import torch

from ..runtime.bundle import INPUT_NAME, OUTPUT_NAME
from .graph import EXAMPLE_IDS, ProbabilityModel, dynamic_shapes, interrupts_unwrapped

OPSET = 18


def export_onnx(model: ProbabilityModel) -> bytes:
    """Serialized ONNX model; ``onnx.checker`` has passed on it."""
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), interrupts_unwrapped():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(
            model.eval(),
            (EXAMPLE_IDS,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamo=True,
            dynamic_shapes=dynamic_shapes(),
            opset_version=OPSET,
            external_data=False,
            optimize=True,
            verbose=False,
        )
        proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


def quantize_int8(onnx_bytes: bytes) -> bytes:
    """Dynamic int8 quantization (weights int8, activations quantized on the fly) with onnxruntime."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(onnx_bytes)
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        return dst.read_bytes()
