"""Run directory -> bundle. Everything is built and verified in a temporary sibling of the target, which
is renamed into place only when the equivalence check has passed: a failed export leaves no bundle."""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import torch

from .. import __version__
from ..errors import ReviewclfError
from ..io.atomic import replace_path, staging_dir, staging_file
from ..runtime.bundle import (
    EXPORTED_PROGRAM,
    FORMAT_MAJOR,
    FORMAT_MINOR,
    FORMAT_NAME,
    INPUT_NAME,
    MANIFEST,
    ONNX_INT8_MODEL,
    ONNX_MODEL,
    OUTPUT_NAME,
    TOKENIZER,
    TORCHSCRIPT_MODEL,
    VERIFICATION,
    file_entry,
    is_bundle,
)
from ..runtime.encoding import TextEncoder
from ..runtime.predictor import Predictor
from ..training.rundir import RunDir
from .equivalence import BATCH_SIZES, compare, edge_cases
from .graph import ProbabilityModel, eager_runner
from .onnx_graph import OPSET, export_onnx, quantize_int8
from .program import export_program
from .torchscript import script_to_bytes, torchscript_runner

INT8_MIN_AGREEMENT = 0.995


@contextmanager
def quiet_exporters() -> Iterator[None]:
    """Silence the notes the exporters log that users cannot act on (torchvision missing, quantization
    pre-processing hints), and put the caller's logging levels back afterwards."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.onnx._internal.exporter._registration")]
    loggers.append(logging.getLogger())  # onnxruntime.quantization logs on the root logger
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def write_file(folder: Path, name: str, data: bytes) -> None:
    """The one place bundle files are written (tests make it fail to check atomicity)."""
    (folder / name).write_bytes(data)


def decision_rule(labels: list[str]) -> dict[str, Any]:
    if len(labels) == 2:
        return {"type": "threshold", "positive_label": labels[1], "threshold": 0.5,
                "description": f"{labels[1]} when P({labels[1]}) >= threshold, else {labels[0]}"}
    return {"type": "argmax", "description": "the label with the highest probability"}


def build_manifest(model_info: dict, metrics: dict, files: dict[str, bytes], quantized: bool) -> dict[str, Any]:
    labels = model_info["labels"]
    return {
        "format": FORMAT_NAME,
        "format_major": FORMAT_MAJOR,
        "format_minor": FORMAT_MINOR,
        "created_by": {"reviewclf": __version__, "torch": torch.__version__, "onnx": onnx.__version__,
                       "onnxruntime": onnxruntime.__version__},
        "opset": OPSET,
        "model": {"kind": model_info["kind"], "hyperparameters": model_info["hyperparameters"],
                  "n_outputs": model_info["n_outputs"], "int8": quantized},
        "labels": labels,
        "decision": decision_rule(labels),
        "input": {"name": INPUT_NAME, "dtype": "int64", "shape": ["batch", "sequence"], "pad_id": 0,
                  "vocab_size": model_info["vocab_size"]},
        "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": ["batch", len(labels)],
                   "columns": labels},
        "max_length": model_info["max_length"],
        "files": {name: file_entry(data) for name, data in sorted(files.items())},
        "metrics": {k: metrics[k] for k in ("val", "test", "cross_validation", "best_epoch") if k in metrics},
    }


def check_equivalence(bundle_dir: Path, model: ProbabilityModel, torchscript: bytes, texts: list[str],
                      reference: np.ndarray) -> dict[str, Any]:
    """Compare eager, TorchScript and ONNX Runtime at every batch size, then the runtime's whole text path
    (``Predictor.predict_proba``, which sorts by length) against the eager probabilities of single texts."""
    predictor = Predictor.load(bundle_dir)
    backends = {"eager": eager_runner(model), "torchscript": torchscript_runner(torchscript),
                "onnxruntime": predictor.proba_from_ids}
    report = compare(texts, predictor.encoder, backends, predictor.decision.choose)
    runtime_path = max(
        float(np.abs(predictor.predict_proba(texts, batch_size=size) - reference).max(initial=0.0))
        for size in BATCH_SIZES
    )
    report["max_abs_diff"]["runtime-predict-vs-eager"] = runtime_path
    report["passed"] = bool(report["passed"] and runtime_path <= report["tolerance"])
    return report


def export_bundle(
    run_dir: str | Path, out: str | Path, *, archive: bool = False, quantize: bool = False,
    program: bool = False, force: bool = False, log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Export, verify and atomically place a bundle; return its manifest."""
    run_dir, out = Path(run_dir), Path(out)
    if out.exists() and not force:
        raise ReviewclfError(f"{out} already exists; pass --force to replace it")
    if out.exists() and not is_bundle(out):
        raise ReviewclfError(f"{out} exists and is not a bundle; --force only replaces bundles")
    run = RunDir.open(run_dir)  # every required file checked before any export work
    model_info, metrics, tokenizer_json = run.model_info, run.metrics, run.tokenizer_json
    encoder = TextEncoder.from_str(tokenizer_json)
    model = ProbabilityModel(run.load_model()).eval()
    texts = run.heldout_texts + edge_cases(encoder.max_length)

    log("exporting ONNX and TorchScript")
    with quiet_exporters():
        files: dict[str, bytes] = {TOKENIZER: tokenizer_json.encode("utf-8"), ONNX_MODEL: export_onnx(model)}
        files[TORCHSCRIPT_MODEL] = script_to_bytes(model)
        if program:
            files[EXPORTED_PROGRAM] = export_program(model)
        if quantize:
            files[ONNX_INT8_MODEL] = quantize_int8(files[ONNX_MODEL])
    eager = eager_runner(model)
    reference = np.concatenate([eager(encoder.encode([t])) for t in texts])
    files[VERIFICATION] = json.dumps({"texts": texts, "probabilities": reference.tolist()},
                                     ensure_ascii=False).encode("utf-8")

    with staging_dir(out) as tmp:
        for name, data in files.items():
            write_file(tmp, name, data)
        manifest = build_manifest(model_info, metrics, files, quantize)
        write_file(tmp, MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        log(f"verifying on {len(texts)} texts at batch sizes 1, 2, 7, 512")
        report = check_equivalence(tmp, model, files[TORCHSCRIPT_MODEL], texts, reference)
        if quantize:
            report["int8_label_agreement"] = agreement = int8_agreement(tmp, texts, reference)
            if agreement < INT8_MIN_AGREEMENT:
                log(f"warning: the int8 model agrees with fp32 on only {100 * agreement:.2f}% of the verification "
                    f"labels (the contract asks {100 * INT8_MIN_AGREEMENT:.1f}%); prefer model.onnx")
        manifest["equivalence"] = report
        write_file(tmp, MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        if not report["passed"]:
            raise ReviewclfError(f"export verification failed: backends disagree ({report['max_abs_diff']}, "
                                 f"labels agree: {report['labels_agree']})")
        Predictor.load(tmp)  # the bundle as written loads through the runtime
        place(tmp, out, archive)
    return manifest


def int8_agreement(bundle_dir: Path, texts: list[str], reference: np.ndarray) -> float:
    """Share of ``texts`` whose label the int8 model chooses as the fp32 model does (``reference``: the
    probabilities the equivalence check has already held every fp32 backend to)."""
    int8 = Predictor.load(bundle_dir, int8=True)
    chosen = int8.decision.choose(int8.predict_proba(texts))
    return float((chosen == int8.decision.choose(reference)).mean()) if len(texts) else 1.0


def place(tmp: Path, out: Path, archive: bool) -> None:
    """Move the finished bundle to ``out`` (as a directory, or zipped into one file), replacing any old one
    only after the new one is complete."""
    if not archive:
        replace_path(tmp, out)
        return
    with staging_file(out, ".zip.tmp") as (zipped, stream):
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as handle:
            for path in sorted(tmp.iterdir()):
                handle.write(path, arcname=path.name)
        stream.flush()
        os.fsync(stream.fileno())
        replace_path(zipped, out)
    shutil.rmtree(tmp)
