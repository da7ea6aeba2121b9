"""The ONNX graph: both axes dynamic as ``graph.dynamic_shapes`` declares them, and the int8 model agrees with
the fp32 one on labels."""

from __future__ import annotations

from pathlib import Path

import onnx

from reviewclf.export import bundle_writer
from reviewclf.export.graph import dynamic_shapes
from reviewclf.io.labeled import LabeledData
from reviewclf.runtime.bundle import INPUT_NAME, ONNX_INT8_MODEL, ONNX_MODEL, OUTPUT_NAME, load_bundle
from reviewclf.runtime.predictor import Predictor
from tests.export.cases import Case


def test_the_graph_has_the_shared_dynamic_axes(case: Case) -> None:
    proto = onnx.load_from_string(load_bundle(case.bundle).read(ONNX_MODEL))
    (ids,), (probs,) = proto.graph.input, proto.graph.output
    axes = [dim.__name__ for dim in dynamic_shapes()["input_ids"].values()]
    assert ids.name == INPUT_NAME and [d.dim_param for d in ids.type.tensor_type.shape.dim] == axes
    assert probs.name == OUTPUT_NAME
    out_dims = probs.type.tensor_type.shape.dim
    assert out_dims[0].dim_param == axes[0] and out_dims[1].dim_value == len(case.predictor.labels)


def test_int8_model_agrees_with_fp32_labels(demo_bundle: Path, yelp: LabeledData) -> None:
    manifest = load_bundle(demo_bundle).manifest
    assert ONNX_INT8_MODEL in manifest["files"] and manifest["model"]["int8"] is True
    assert manifest["equivalence"]["int8_label_agreement"] >= bundle_writer.INT8_MIN_AGREEMENT
    texts = yelp.texts[:1000]
    fp32, int8 = Predictor.load(demo_bundle), Predictor.load(demo_bundle, int8=True)
    a = fp32.decision.choose(fp32.predict_proba(texts))
    b = int8.decision.choose(int8.predict_proba(texts))
    agreement = float((a == b).mean())
    assert agreement >= 0.995, agreement
