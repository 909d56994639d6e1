#!/usr/bin/env bash
# Create (or update) .venv with everything distilgen needs, from this checkout's own files.
# torch comes first and pinned: on CPU-only machines that selects the local CPU build; an
# unpinned torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[dev,train,serve]"
