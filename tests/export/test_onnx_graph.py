"""The ONNX graph: the int8 model agrees with the fp32 one on labels."""

from __future__ import annotations

from pathlib import Path

from reviewclf.export import bundle_writer
from reviewclf.io.labeled import LabeledData
from reviewclf.runtime.bundle import ONNX_INT8_MODEL, load_bundle
from reviewclf.runtime.predictor import Predictor


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
