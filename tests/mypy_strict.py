"""`mypy --strict` on a generated module, for the stubs tests: one mypy cache per test process.

A cold run analyses typeshed, pydantic, openai and distilgen before the module under test (10-25 s
a run on 2 cores); one cache shared by the process's tests pays that once. Sharing cannot hide an
error: mypy revalidates every cached module by path, size, mtime and then content hash (another
test's `pkg/mod.py` is another file, checked afresh) and stores each module's errors with it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

_cache: Path | None = None


def _cache_dir(kind: str) -> Path:
    """Made on first use, removed when the process ends (xdist workers each have their own); one
    per kind of run, as mypy abandons a cache written under other options."""
    global _cache
    if _cache is None:
        _cache = Path(tempfile.mkdtemp(prefix="distilgen-test-mypy-"))
        atexit.register(shutil.rmtree, _cache, True)
    return _cache / kind


def mypy_strict(root: Path, rel: str, *, search_path: Sequence[Path], path_var: str = "MYPYPATH",
                follow_silent: bool = True) -> subprocess.CompletedProcess[str]:
    """Run mypy --strict on `rel` from `root`, with `search_path` as `path_var` (MYPYPATH, or
    PYTHONPATH where the project must also be importable as installed code would be)."""
    mypy = Path(sys.executable).parent / "mypy"
    if not mypy.exists():
        pytest.skip("mypy is not installed next to this interpreter")
    follow = ["--follow-imports=silent"] if follow_silent else []
    return subprocess.run([str(mypy), "--strict", *follow, "--cache-dir", str(_cache_dir(f"{path_var}-{follow_silent}")), rel], cwd=root,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, path_var: os.pathsep.join(str(p) for p in search_path)})
