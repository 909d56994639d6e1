"""`distilgen walkthrough --quick` end to end, as a subprocess, on a copy of sample_project/."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_project"
STEPS = ["copy", "scan", "apply", "generate", "dataset", "train: skipped (--quick)", "serve", "apply --dispatch",
         "check", "run the app", "eval", "report"]


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
            and ".distilgen_cache" not in p.parts}


def test_quick_walkthrough_runs_every_step_on_a_copy(tmp_path: Path) -> None:
    before = _tree_digest(SAMPLE)
    work = tmp_path / "wt"
    r = subprocess.run([sys.executable, "-m", "distilgen", "walkthrough", "--quick", "--workdir", str(work)],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path,
                       env={**os.environ, "OPENAI_API_KEY": ""})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    for i, name in enumerate(STEPS, 1):
        assert f"[{i}/12] {name}" in out, f"step {i} ({name}) missing"
    assert "NOT a trained model" in out and "loopback stand-in" in out  # quick mode says what answered
    # scan showed its findings, apply edited the copy, generate wrote the calls
    assert "inbox/triage.py:15: classify_ticket -> inbox.models.ticket.Triage [candidate]" in out
    project = work / "inbox_project"
    assert 'model="local:inbox-standin"' in (project / "inbox/triage.py").read_text()
    assert len((project / "data/classify_ticket.jsonl").read_text().splitlines()) == 80
    # the app ran in dispatch mode: one JSON line per ticket, triage answered through the stand-in
    app_lines = [json.loads(line.strip()) for line in out.splitlines() if line.strip().startswith('{"subject"')]
    assert len(app_lines) == 4 and all(set(x["triage"]) == {"urgency", "team"} for x in app_lines)
    # the eval table and the HTML report
    assert "exact match" in out and "HTML report:" in out
    page = (work / "report.html").read_text()
    assert "<svg" in page and "not a trained model" in page and "<script" not in page
    # the checkout's sample project is exactly as it was
    assert _tree_digest(SAMPLE) == before


def test_walkthrough_failure_names_the_step(tmp_path: Path) -> None:
    work = tmp_path / "wt"
    (work / "inbox_project").mkdir(parents=True)
    r = subprocess.run([sys.executable, "-m", "distilgen", "walkthrough", "--quick", "--workdir", str(work)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2
    assert "walkthrough stopped at step 'copy'" in r.stderr and "already exists" in r.stderr


def _install_wheel_in_clean_venv(tmp_path: Path) -> Path:
    """distilgen's own wheel, installed in a new venv; its dependencies (only) come from this interpreter."""
    from wheels import build_wheel, install_alone

    venv = tmp_path / "venv"
    site = install_alone(build_wheel(ROOT, tmp_path / "dist", "distilgen-*.whl"), venv)
    # A path line in a .pth file is appended after the venv's own site-packages, and .pth files inside it
    # are not processed: the wheel's distilgen wins over this checkout's editable install.
    import pydantic

    (site / "deps.pth").write_text(f"{Path(pydantic.__file__).parent.parent}\n")
    return venv


@pytest.mark.slow
def test_quick_walkthrough_from_a_built_wheel(tmp_path: Path) -> None:
    venv = _install_wheel_in_clean_venv(tmp_path)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    # `python -m distilgen`: pip --target puts no console script in the venv's bin/
    run = subprocess.run([str(venv / "bin" / "python"), "-m", "distilgen", "walkthrough", "--quick", "--workdir",
                          str(tmp_path / "work")], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert "[12/12] report" in run.stdout and "walkthrough finished" in run.stdout
    # the sample project came out of the installed package, not this checkout
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "from distilgen.walkthrough import sample_project_path; print(sample_project_path())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr
    assert (tmp_path / "work" / "inbox_project" / "inbox" / "triage.py").is_file()
