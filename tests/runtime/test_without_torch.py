"""The serving path works on an install without the ``[train]`` extra, and never even tries to import it.

A temporary directory on ``PYTHONPATH`` shadows torch, onnx, onnxscript and matplotlib with packages that
record the attempt in a marker file and then fail like a missing module. A wrapper runs the CLI in that
process and, at exit, checks that none of them is in ``sys.modules``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.torchless import BLOCKED, attempts, run_without_torch


def test_the_blockers_work(no_torch: Path):
    done = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(no_torch)}, timeout=60)
    assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr


def test_predict_without_torch(no_torch: Path, demo_bundle: Path, tmp_path: Path):
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,great food\n2,awful service\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    done = run_without_torch(no_torch, "predict", demo_bundle, source, "-o", out, "--all-probs", "--int8")
    assert done.returncode == 0, done.stderr
    assert attempts(no_torch) == []
    assert out.read_text().count("\n") == 2
    piped = run_without_torch(no_torch, "predict", demo_bundle, input="good\nbad\n")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.splitlines()[0] == "label,probability"
    assert attempts(no_torch) == []


def test_evaluate_without_torch(no_torch: Path, demo_bundle: Path, data_dir: Path):
    done = run_without_torch(no_torch, "evaluate", demo_bundle, data_dir / "uci-sentences" / "yelp_labelled.txt",
                             "--format", "tabbed", "--label-map", "0=negative,1=positive")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("accuracy ")
    assert attempts(no_torch) == []


def test_torchscript_backend_says_what_to_install(no_torch: Path, demo_bundle: Path):
    done = run_without_torch(no_torch, "predict", demo_bundle, "--backend", "torchscript", input="good\n")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: the torchscript backend needs torch: pip install 'reviewclf[train]'"
    ]
    assert attempts(no_torch) == ["torch"]  # it tried, failed, and loaded nothing of torch


def test_cli_import_is_light():
    code = ("import sys, reviewclf.cli; "
            f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {set(BLOCKED)!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
