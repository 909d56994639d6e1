"""scan/apply/stubs/prompts/check on two real PyPI projects (issue 13, "Proof on real code").

The same run as `benchmarks/real_world.py`, on two of its pinned projects: langchain-core (its
dependencies do not all resolve from PyPI, so imports run with the missing ones stubbed) and cohere
(a venv with its dependencies). The pinned file is fetched with `pip download --no-deps` into
~/.cache/distilgen-corpus and checked against its sha256; the test skips only when that download
fails. One run per project (module-scoped), one test per property.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

_spec = importlib.util.spec_from_file_location("real_world_bench", ROOT / "benchmarks" / "real_world.py")
real_world = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = real_world  # dataclasses resolve their module through sys.modules
_spec.loader.exec_module(real_world)

PROJECTS = ("langchain-core", "cohere")
# Known limit: the stubs copy langchain-core's own signatures, two of which lack type arguments
# (`type-arg` under --strict), and five `__add__` overrides langchain-core itself silences (`override`).
@pytest.fixture(scope="module", params=PROJECTS)
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    (project,) = [p for p in real_world.load_corpus() if p.name == request.param]
    try:
        real_world.fetch(project)
    except RuntimeError as e:  # PyPI unreachable or the file withdrawn: nothing to prove on
        pytest.skip(f"cannot fetch {project.name}=={project.version}: {e}")
    return real_world.run_project(project, tmp_path_factory.mktemp(project.name), log=lambda *_: None)


def test_scan_and_apply_decorate_the_candidates(run) -> None:
    assert not [e for e in run.errors if e.startswith(("scan", "apply:", "apply --diff"))], run.errors
    assert run.candidates > 0 and run.decorated == run.candidates, (run.candidates, run.decorated)
    assert run.changed > 0


def test_every_changed_file_compiles(run) -> None:
    assert run.changed > 0
    assert run.compile_failures == []


def test_apply_is_idempotent(run) -> None:
    assert run.idempotent is True, run.errors


def test_remove_restores_every_file_byte_for_byte(run) -> None:
    assert run.removed_total > 0
    assert run.remove_mismatches == []


def test_decorated_modules_import_from_the_built_wheel(run) -> None:
    assert run.modules_imported > 0, f"no decorated module imported even before apply ({run.mode})"
    assert run.import_failures == {}


def test_stubs_pass_mypy_strict(run) -> None:
    # langchain-core's stubs failed (override, type-arg) until its stub classes stood for their
    # models, and generic models' stub classes said type-arg (2026-11-30 evening)
    assert run.mypy == "ok", run.mypy


def test_package_imports_from_the_built_wheel(run) -> None:
    assert run.toplevel_import == "ok"


def test_prompts_then_check_pass(run) -> None:
    if run.mode.startswith("stubbed"):
        assert run.prompts_check.startswith("skipped")
        pytest.skip(f"{run.project.name}: {run.mode}; prompts imports the project for schemas")
    assert run.prompts_check == "ok"


# -- scan alone on the two namespace-folder wheels (cheap: no venv, no imports) ----------------------
def _unpacked(name: str, tmp_path: Path) -> Path:
    (project,) = [p for p in real_world.load_corpus() if p.name == name]
    try:
        archive = real_world.fetch(project)
    except RuntimeError as e:
        pytest.skip(f"cannot fetch {project.name}=={project.version}: {e}")
    return real_world.unpack(project, archive, tmp_path / "orig")


def test_scan_survives_the_mistralai_namespace_wheel(tmp_path: Path) -> None:
    tree = _unpacked("mistralai", tmp_path)
    proc = real_world.distilgen(sys.executable, ["scan", "--no-cache", "--format", "json", "--exit-zero", "."], tree)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-1500:]
    assert any(r["path"].startswith("mistralai/client/") for r in json.loads(proc.stdout))


def test_scan_ids_match_the_interpreter_in_llama_index(tmp_path: Path) -> None:
    tree = _unpacked("llama-index-core", tmp_path)
    proc = real_world.distilgen(sys.executable, ["scan", "--no-cache", "--format", "json", "--exit-zero", "."], tree)
    assert proc.returncode == 0, proc.stderr[-1500:]
    records = json.loads(proc.stdout)
    assert len(records) > 100
    wrong = [(r["module"], r["path"]) for r in records if r["module"] != real_world.interpreter_module(r["path"])]
    assert wrong == [], wrong[:5]
