"""``reviewclf export``, ``info`` and ``verify``: export writes a verified bundle, info shows it, and verify
re-runs export's equivalence check (every backend and the runtime's text path against the stored
probabilities), with ONNX Runtime alone where torch is not installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

import reviewclf
from reviewclf.cli import main
from reviewclf.runtime.bundle import MANIFEST, VERIFICATION, file_entry, load_bundle
from tests.torchless import attempts


def verify_lines(output: str) -> list[str]:
    """The first word of each line ``reviewclf verify`` printed."""
    return [line.split()[0] for line in output.splitlines()]


def test_cli_export_info_and_verify(demo_run: Path, demo_bundle: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli-bundle"
    result = runner.invoke(main, ["export", str(demo_run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "bundle written" in result.stdout
    assert load_bundle(out).manifest["equivalence"]["passed"] is True

    result = runner.invoke(main, ["info", str(demo_bundle)])
    assert result.exit_code == 0, result.output
    manifest = load_bundle(demo_bundle).manifest
    assert "negative, positive" in result.stdout and "perceptron" in result.stdout
    for name, entry in manifest["files"].items():
        assert name in result.stdout and f"{entry['bytes']:,} bytes" in result.stdout

    result = runner.invoke(main, ["info", "--json", str(demo_bundle)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == manifest

    result = runner.invoke(main, ["verify", str(demo_bundle)])
    assert result.exit_code == 0, result.output
    assert "verified" in result.stdout and "checksums ok" in result.stdout
    # each comparison, and the runtime's text path, on a line of its own
    assert verify_lines(result.stdout) == [
        "checksums", "onnxruntime-vs-torchscript", "onnxruntime-vs-stored", "torchscript-vs-stored",
        "runtime-predict-vs-stored", "onnxruntime", "torchscript", "verified:",
    ]
    texts = len(load_bundle(demo_bundle).read_json(VERIFICATION)["texts"])
    assert result.stdout.splitlines()[-1] == f"verified: {texts} texts agree within 1e-05"
    assert result.stderr == ""


def test_verify_fails_when_the_stored_probabilities_disagree(demo_bundle: Path, tmp_path: Path) -> None:
    """verification.json rewritten (and its checksum with it): the check, not the checksum, refuses it."""
    bundle = Path(shutil.copytree(demo_bundle, tmp_path / "bundle"))
    stored = json.loads((bundle / VERIFICATION).read_text(encoding="utf-8"))
    stored["probabilities"] = (np.asarray(stored["probabilities"]) + [-1e-3, 1e-3]).tolist()
    data = json.dumps(stored).encode("utf-8")
    (bundle / VERIFICATION).write_bytes(data)
    manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"][VERIFICATION] = file_entry(data)
    (bundle / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")

    result = CliRunner().invoke(main, ["verify", str(bundle)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bundle}: verification failed (tolerance 1e-05")
    assert "verified" not in result.stdout


def test_verify_without_torch_checks_onnx_runtime_only(no_torch: Path, demo_bundle: Path) -> None:
    # the blockers first, then the reviewclf these tests import (which need not be the installed one)
    path = os.pathsep.join([str(no_torch), str(Path(reviewclf.__file__).parents[1])])
    (no_torch / "attempts.txt").unlink(missing_ok=True)
    done = subprocess.run([sys.executable, str(no_torch / "run_cli.py"), "verify", str(demo_bundle)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert verify_lines(done.stdout) == [
        "checksums", "onnxruntime-vs-stored", "runtime-predict-vs-stored", "onnxruntime", "verified:",
    ]
    assert done.stderr.strip() == "torch is not installed: checking ONNX Runtime only"
    assert attempts(no_torch) == ["torch"]  # it tried, failed, and loaded nothing of torch
