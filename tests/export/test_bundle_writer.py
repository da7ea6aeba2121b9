"""The bundle writer: every model kind becomes a bundle that loads through the runtime with its manifest
(written once, with the equivalence report); a failed export leaves nothing; --force and --archive do what
they say."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from reviewclf.errors import ReviewclfError
from reviewclf.export import bundle_writer
from reviewclf.export.graph import ProbabilityModel
from reviewclf.runtime.bundle import MANIFEST, ONNX_MODEL, load_bundle
from reviewclf.runtime.predictor import Predictor
from tests.export.cases import Case, leftovers
from tests.support import make_bundle


def test_bundle_loads_through_every_runtime(case: Case) -> None:
    manifest = case.predictor.bundle.manifest
    run_info = json.loads((case.run_dir / "model.json").read_text(encoding="utf-8"))
    assert case.predictor.labels == run_info["labels"] == manifest["output"]["columns"]
    assert manifest["model"]["kind"] == run_info["kind"]
    assert manifest["equivalence"]["passed"] is True
    expected_rule = "threshold" if len(case.predictor.labels) == 2 else "argmax"
    assert manifest["decision"]["type"] == expected_rule
    if case.kind == "three-label":
        assert case.predictor.labels == ["negative", "neutral", "positive"] and case.max_length == 64
    probs = case.predictor.predict_proba(["great food", "awful service"])
    assert probs.shape == (2, len(case.predictor.labels)) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_manifest_holds_the_report_of_the_shared_check(case: Case) -> None:
    """Export held ONNX Runtime, eager, TorchScript and the runtime's text path to the stored probabilities."""
    report = case.predictor.bundle.manifest["equivalence"]
    assert list(report["max_abs_diff"]) == [
        "onnxruntime-vs-eager", "onnxruntime-vs-torchscript", "onnxruntime-vs-stored", "eager-vs-torchscript",
        "eager-vs-stored", "torchscript-vs-stored", "runtime-predict-vs-stored",
    ]
    assert list(report["batch_invariance_max_abs_diff"]) == ["onnxruntime", "eager", "torchscript"]
    assert max(report["max_abs_diff"].values()) <= report["tolerance"]


# ------------------------------------------------------------------------------------------- writing


def record_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names ``bundle_writer.write_file`` is called with, in order; the writes still happen."""
    written: list[str] = []
    real_write = bundle_writer.write_file

    def write(folder: Path, name: str, data: bytes) -> None:
        written.append(name)
        real_write(folder, name, data)

    monkeypatch.setattr(bundle_writer, "write_file", write)
    return written


def test_failed_write_propagates_and_leaves_nothing(demo_run: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    real_write = bundle_writer.write_file

    def fail_after_first(folder: Path, name: str, data: bytes) -> None:
        if written:
            raise OSError("disk full (simulated)")
        real_write(folder, name, data)
        written.append(name)

    monkeypatch.setattr(bundle_writer, "write_file", fail_after_first)
    parent = tmp_path / "out"
    parent.mkdir()
    with pytest.raises(OSError, match="simulated"):
        make_bundle(demo_run, parent / "bundle")
    assert len(written) == 1  # one file really was written before the failure
    assert not (parent / "bundle").exists()
    assert leftovers(parent) == []


def test_failed_export_with_force_keeps_the_old_bundle(demo_run: Path, demo_bundle: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "bundle"
    shutil.copytree(demo_bundle, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def fail(folder: Path, name: str, data: bytes) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(bundle_writer, "write_file", fail)
    with pytest.raises(OSError):
        make_bundle(demo_run, target, force=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert leftovers(tmp_path) == ["bundle"]


def test_export_whose_equivalence_check_fails_leaves_nothing(demo_run: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A perturbed ONNX graph (weights shifted after export) must be caught by the real equivalence check,
    which runs on the bundle in memory: nothing of it is written."""
    import onnx
    from onnx import numpy_helper

    real_export = bundle_writer.export_onnx

    def perturbed(model: ProbabilityModel) -> bytes:
        proto = onnx.load_from_string(real_export(model))
        biggest = max(proto.graph.initializer, key=lambda t: int(np.prod(t.dims)))
        shifted = numpy_helper.to_array(biggest) + np.float32(0.25)
        biggest.CopyFrom(numpy_helper.from_array(shifted, biggest.name))
        return proto.SerializeToString()

    monkeypatch.setattr(bundle_writer, "export_onnx", perturbed)
    written = record_writes(monkeypatch)
    parent = tmp_path / "out"
    parent.mkdir()
    with pytest.raises(ReviewclfError, match="verification failed"):
        make_bundle(demo_run, parent / "bundle")
    assert written == []
    assert not (parent / "bundle").exists()
    assert leftovers(parent) == []


def test_force_is_needed_to_replace_a_bundle(demo_run: Path, demo_bundle: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """And the replacement is written whole: each file once, manifest.json last, with the equivalence report."""
    target = tmp_path / "bundle"
    shutil.copytree(demo_bundle, target)
    (target / "stale.txt").write_text("from an older export")
    with pytest.raises(ReviewclfError) as refused:
        make_bundle(demo_run, target)
    assert "--force" in str(refused.value) and "\n" not in str(refused.value)
    assert (target / "stale.txt").exists()

    written = record_writes(monkeypatch)
    make_bundle(demo_run, target, force=True)
    assert not (target / "stale.txt").exists()
    manifest = load_bundle(target).manifest
    assert manifest["model"]["kind"] == "perceptron"
    assert leftovers(tmp_path) == ["bundle"]
    assert sorted(written) == sorted([MANIFEST, *manifest["files"]]) and written[-1] == MANIFEST
    assert manifest["equivalence"]["passed"] is True


def test_archive_is_one_zip_with_the_same_predictions(demo_archive: Path, demo_bundle: Path,
                                                      real_reviews: list[str]) -> None:
    assert demo_archive.is_file() and zipfile.is_zipfile(demo_archive)
    assert leftovers(demo_archive.parent) == [demo_archive.name]
    with zipfile.ZipFile(demo_archive) as archive:
        names = archive.namelist()
    assert MANIFEST in names and ONNX_MODEL in names and all("/" not in n for n in names)
    from_zip, from_dir = Predictor.load(demo_archive), Predictor.load(demo_bundle)
    assert from_zip.labels == from_dir.labels
    np.testing.assert_array_equal(from_zip.predict_proba(real_reviews), from_dir.predict_proba(real_reviews))


def test_force_never_replaces_something_that_is_not_a_bundle(demo_run: Path, tmp_path: Path) -> None:
    precious = tmp_path / "project"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ReviewclfError, match="not a bundle"):
        make_bundle(demo_run, precious, force=True)
    assert (precious / "thesis.tex").read_text() == "years of work"
    assert leftovers(tmp_path) == ["project"]


def test_quiet_exporters_gives_the_callers_logging_levels_back() -> None:
    import logging

    from reviewclf.export.bundle_writer import quiet_exporters

    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.INFO)
    try:
        with quiet_exporters():
            assert root.level == logging.ERROR
        assert root.level == logging.INFO
    finally:
        root.setLevel(before)
