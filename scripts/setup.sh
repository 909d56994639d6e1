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

# llama-cpp-python compiles llama.cpp here. GCC 12 removes the stores that fill in the AMX tile
# configuration (it does not see `ldtilecfg` read them), so llama.cpp's AMX kernels crash on the
# first batch; -fno-tree-dse -fno-dse keep them (no measurable cost elsewhere: docs/performance.md,
# "AMX"). distilgen probes the build before using those kernels (distilgen/train/buffer_types.py).
# pip's own wheel cache ignores CMAKE_ARGS, so the wheel is kept in a cache of ours, keyed by the
# version, the flags and this CPU's flags (the build is -march=native).
if ! .venv/bin/python -c "import llama_cpp" >/dev/null 2>&1; then
  LLAMA_VERSION=0.3.36
  LLAMA_FLAGS="-fno-tree-dse -fno-dse"
  CPU_KEY=$( (grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null || uname -m) | sha256sum | cut -c1-12)
  WHEELS="${DISTILGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/distilgen}/wheels/llama-cpp-python-$LLAMA_VERSION-keep-stores-$CPU_KEY"
  if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    rm -rf "$WHEELS.part"
    CMAKE_ARGS="${CMAKE_ARGS:-} -DCMAKE_C_FLAGS='$LLAMA_FLAGS' -DCMAKE_CXX_FLAGS='$LLAMA_FLAGS'" \
      .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python \
      "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELS.part"
    rm -rf "$WHEELS" && mv "$WHEELS.part" "$WHEELS"
  fi
  .venv/bin/python -m pip install --quiet "$WHEELS"/llama_cpp_python-*.whl
fi
.venv/bin/python -m pip install --quiet -e ".[dev,train,serve]"
