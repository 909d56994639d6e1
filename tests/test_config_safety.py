"""`[tool.distilgen]` refuses what would write outside the project or silently match nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from distilgen import api
from distilgen.config import load_config
from distilgen.errors import ConfigError


def project(tmp_path: Path, table: str, top: str = "") -> Path:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text(f"{top}[tool.distilgen]\n{table}\n", encoding="utf-8")
    (root / "pkg").mkdir(exist_ok=True)
    (root / "pkg/__init__.py").write_text("")
    return root


@pytest.mark.parametrize("table, words", [
    ('lock-file = "../outside/x.lock"', ["lock-file", "'../outside/x.lock'", "outside the project root"]),
    ('cache-dir = "../cache"', ["cache-dir", "outside the project root"]),
    ('lock-file = "/tmp/x.lock"', ["lock-file", "absolute", "command line"]),
    ('cache-dir = "sub/../../up"', ["cache-dir", "outside the project root"]),
    ('source-roots = ["../elsewhere"]', ["source-roots", "outside the project root"]),
])
def test_written_paths_stay_inside_the_project(tmp_path, table, words):
    root = project(tmp_path, table)
    with pytest.raises(ConfigError) as err:
        load_config(root)
    for w in words:
        assert w in str(err.value)
    assert str(root / "pyproject.toml") in str(err.value)


def test_a_symlink_out_of_the_project_is_outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = project(tmp_path, 'cache-dir = "link/cache"')
    (root / "link").symlink_to(outside)
    with pytest.raises(ConfigError, match="outside the project root"):
        load_config(root)


def test_absolute_paths_are_allowed_only_when_given_explicitly(tmp_path):
    root = project(tmp_path, 'lock-file = "locks/distilgen.lock"')
    assert load_config(root).lock_path == root / "locks/distilgen.lock"
    explicit = tmp_path / "elsewhere" / "x.lock"
    assert load_config(root, {"lock-file": str(explicit)}).lock_path == explicit
    with pytest.raises(ConfigError, match="--lock-file"):
        load_config(root, {"lock-file": "../x.lock"})


def test_apply_refuses_with_exit_2_and_writes_nothing_outside(tmp_path):
    root = project(tmp_path, 'lock-file = "../outside/x.lock"')
    (root / "pkg/m.py").write_text("from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: int\n\n\n"
                                   "def f(a: int) -> M:\n    return M(x=a)\n")
    here = str(Path(api.__file__).resolve().parent.parent)
    proc = subprocess.run([sys.executable, "-m", "distilgen", "apply"], cwd=root, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": here})
    assert proc.returncode == 2
    assert proc.stderr.startswith("distilgen: error: ") and "lock-file" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize("glob, problem", [
    ("src/[a-", "'[' at position 5 is never closed"),
    ("[z-a]*.py", "invalid character class"),
    ("", "an empty glob matches nothing"),
    ("../lib/*.py", "'..' cannot match"),
])
@pytest.mark.parametrize("key", ["include", "exclude"])
def test_an_invalid_glob_names_the_key_and_the_glob(tmp_path, key, glob, problem):
    root = project(tmp_path, f"{key} = [\"**/*.py\", {glob!r}]".replace("'", '"'))
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert f"[tool.distilgen] {key}: invalid glob {glob!r}: {problem}" in str(err.value)


@pytest.mark.parametrize("key", ["include_generated", "lock_file", "model_bases"])
def test_only_the_kebab_case_spelling_is_accepted(tmp_path, key):
    value = {"include_generated": "true", "lock_file": '"x.lock"', "model_bases": "[]"}[key]
    root = project(tmp_path, f"{key} = {value}")
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert f"key {key!r} is written {key.replace('_', '-')!r}" in str(err.value)
    kebab = project(tmp_path, f"{key.replace('_', '-')} = {value}")
    load_config(kebab)


def test_tool_that_is_not_a_table(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text("tool = 3\n")
    with pytest.raises(ConfigError, match="`tool` must be a table"):
        load_config(root)
