#!/usr/bin/env bash
# The README's main job: set up .venv, then run the whole loop on a copy of sample_project,
# offline (scan, apply, generate, validate, train, serve, dispatch, eval).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/distilgen walkthrough "$@"
