#!/usr/bin/env bash
# The README's test command: set up .venv from this checkout, then run the whole test suite
# (slow tests included: a real tiny training run and a real llama.cpp server), after `mypy --strict`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the package type-checks under --strict ([tool.mypy] in pyproject.toml) before any test runs
.venv/bin/python -m mypy
# two worker processes, each test file on one of them (module fixtures are built once); a later
# `-n N` in "$@" wins
exec .venv/bin/python -m pytest -q --durations=20 -n 2 --dist loadfile "$@"
