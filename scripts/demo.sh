#!/usr/bin/env bash
# The main job on the embedded demo data: train -> export (verified) -> predict -> evaluate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rc=.venv/bin/reviewclf
$rc train --out demo-run --force
$rc export demo-run -o demo-bundle --quantize --force
$rc info demo-bundle
printf '%s\n' "The food was wonderful and the staff friendly." "Cold fries, rude waiter, never again." \
  | $rc predict demo-bundle --all-probs
