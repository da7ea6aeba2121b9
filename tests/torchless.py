"""A Python without the ``[train]`` extra, for tests of the serving path: a directory on ``PYTHONPATH`` shadows
torch, onnx, onnxscript and matplotlib with packages that record the attempt in a marker file and then fail like
a missing module; a wrapper runs the CLI there and, at exit, checks that none of them is in ``sys.modules``.
Registered as a pytest plugin by tests/conftest.py, so ``no_torch`` is a fixture everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BLOCKED = ("torch", "onnx", "onnxscript", "matplotlib")

WRAPPER = """
import sys
from reviewclf.cli import main

try:
    main(args=sys.argv[1:], prog_name="reviewclf", standalone_mode=False)
    code = 0
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r})
if loaded:
    print("training modules were imported: " + ", ".join(loaded), file=sys.stderr)
    sys.exit(3)
sys.exit(code)
"""

BLOCKER = """
from pathlib import Path
with open(Path(__file__).resolve().parents[1] / "attempts.txt", "a") as f:
    f.write(__name__ + "\\n")
raise ModuleNotFoundError("No module named " + repr(__name__), name=__name__)
"""


@pytest.fixture(scope="module")
def no_torch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with blocking packages and the wrapper script."""
    root = tmp_path_factory.mktemp("no_torch")
    for name in BLOCKED:
        (root / name).mkdir()
        (root / name / "__init__.py").write_text(BLOCKER)
    (root / "run_cli.py").write_text(WRAPPER.format(blocked=set(BLOCKED)))
    return root


def run_without_torch(root: Path, *args: object, input: str | None = None) -> subprocess.CompletedProcess[str]:
    (root / "attempts.txt").unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, str(root / "run_cli.py"), *map(str, args)], input=input,
                          capture_output=True, text=True, env=env, timeout=120)


def attempts(root: Path) -> list[str]:
    marker = root / "attempts.txt"
    return marker.read_text().split() if marker.exists() else []
