"""Run directory -> bundle. Everything is built and verified in memory, then written once into a temporary
sibling of the target, which is renamed into place only when it loads back: a failed export leaves no bundle."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
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
    Bundle,
    file_entry,
    is_bundle,
)
from ..runtime.encoding import TextEncoder
from ..runtime.manifest import parse_manifest
from ..runtime.predictor import Predictor, onnx_runner
from ..training.rundir import RunDir
from .equivalence import BATCH_SIZES, edge_cases, verify_predictor
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


def staged_predictor(out: Path, manifest: dict[str, Any], files: dict[str, bytes],
                     model: str = ONNX_MODEL) -> Predictor:
    """A Predictor over the bundle before any of it is on disk: ``manifest`` and ``files`` in memory, ONNX
    Runtime loaded from ``model``'s bytes, the same options and checks as ``Predictor.load``."""
    parse_manifest(out, json.dumps(manifest).encode("utf-8"))  # the schema every reader will check
    bundle = Bundle(out, manifest, {name: partial(io.BytesIO, data) for name, data in files.items()})
    return Predictor(bundle, onnx_runner(bundle.read(model), None, f"{out}: the exported {model}"))


def verify_export(out: Path, manifest: dict[str, Any], files: dict[str, bytes], model: ProbabilityModel,
                  texts: list[str], reference: np.ndarray, log: Callable[[str], None]) -> dict[str, Any]:
    """The equivalence report of the bundle in memory: ONNX Runtime, eager and TorchScript at every batch
    size and the runtime's text path against ``reference`` (``verify_predictor``), and the int8 model's label
    agreement when there is one."""
    log(f"verifying on {len(texts)} texts at batch sizes {', '.join(map(str, BATCH_SIZES))}")
    extra = {"eager": eager_runner(model), "torchscript": torchscript_runner(files[TORCHSCRIPT_MODEL])}
    report = verify_predictor(staged_predictor(out, manifest, files), texts, reference, extra)
    if ONNX_INT8_MODEL in files:
        int8 = staged_predictor(out, manifest, files, ONNX_INT8_MODEL)
        report["int8_label_agreement"] = agreement = int8_agreement(int8, texts, reference)
        if agreement < INT8_MIN_AGREEMENT:
            log(f"warning: the int8 model agrees with fp32 on only {100 * agreement:.2f}% of the verification "
                f"labels (the contract asks {100 * INT8_MIN_AGREEMENT:.1f}%); prefer model.onnx")
    return report


def export_files(model: ProbabilityModel, tokenizer_json: str, program: bool, quantize: bool) -> dict[str, bytes]:
    """Every file of the bundle but the manifest and verification.json."""
    with quiet_exporters():
        files: dict[str, bytes] = {TOKENIZER: tokenizer_json.encode("utf-8"), ONNX_MODEL: export_onnx(model)}
        files[TORCHSCRIPT_MODEL] = script_to_bytes(model)
        if program:
            files[EXPORTED_PROGRAM] = export_program(model)
        if quantize:
            files[ONNX_INT8_MODEL] = quantize_int8(files[ONNX_MODEL])
    return files


def export_bundle(
    run_dir: str | Path, out: str | Path, *, archive: bool = False, quantize: bool = False,
    program: bool = False, force: bool = False, log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Export, verify and atomically place a bundle; return its manifest.

    The bundle is verified in memory first, so manifest.json is written once, with the equivalence report,
    and a bundle that fails verification never touches the disk.
    """
    run_dir, out = Path(run_dir), Path(out)
    if out.exists() and not force:
        raise ReviewclfError(f"{out} already exists; pass --force to replace it")
    if out.exists() and not is_bundle(out):
        raise ReviewclfError(f"{out} exists and is not a bundle; --force only replaces bundles")
    run = RunDir.open(run_dir)  # every required file checked before any export work
    encoder = TextEncoder.from_str(run.tokenizer_json)
    model = ProbabilityModel(run.load_model()).eval()
    texts = run.heldout_texts + edge_cases(encoder.max_length)

    log("exporting ONNX and TorchScript")
    files = export_files(model, run.tokenizer_json, program, quantize)
    eager = eager_runner(model)
    reference = np.concatenate([eager(encoder.encode([t])) for t in texts])
    files[VERIFICATION] = json.dumps({"texts": texts, "probabilities": reference.tolist()},
                                     ensure_ascii=False).encode("utf-8")
    manifest = build_manifest(run.model_info, run.metrics, files, quantize)
    manifest["equivalence"] = report = verify_export(out, manifest, files, model, texts, reference, log)
    if not report["passed"]:
        raise ReviewclfError(f"export verification failed: backends disagree ({report['max_abs_diff']}, "
                             f"labels agree: {report['labels_agree']})")

    with staging_dir(out) as tmp:
        for name, data in files.items():
            write_file(tmp, name, data)
        write_file(tmp, MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        # the bundle as written loads through the runtime, and every file is byte for byte the one verified
        Predictor.load(tmp).bundle.verify_all()
        place(tmp, out, archive)
    return manifest


def int8_agreement(int8: Predictor, texts: list[str], reference: np.ndarray) -> float:
    """Share of ``texts`` whose label the int8 model (``int8``) chooses as the fp32 model does (``reference``:
    the probabilities the equivalence check has already held every fp32 backend to)."""
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
