#!/usr/bin/env bash
# Create .venv and install reviewclf with its training and test extras, and the Parquet, Spark and Ray extras
# that the engine tests need (Spark also needs Java 17). Idempotent.
# torch is installed first at a pinned CPU-friendly version (TORCH_SPEC), so that the loose `torch>=2.4`
# requirement of the [train] extra is already met and pip does not pull several GB of CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/pip install --quiet "$TORCH_SPEC"
fi
.venv/bin/pip install --quiet -e ".[train,dev,parquet,spark,ray]"
# The Node.js example's packages, for tests/examples (they run it where node is on PATH). --ignore-scripts:
# onnxruntime-node's post-install step downloads optional binaries; the CPU ones are in the package.
# Reinstalled only when package-lock.json is newer than the install.
if command -v npm >/dev/null 2>&1; then
  NODE_EXAMPLE=examples/node
  if [ ! -d "$NODE_EXAMPLE/node_modules/onnxruntime-node" ] \
     || [ "$NODE_EXAMPLE/package-lock.json" -nt "$NODE_EXAMPLE/node_modules/.package-lock.json" ]; then
    (cd "$NODE_EXAMPLE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  fi
fi
