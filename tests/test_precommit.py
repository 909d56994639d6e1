"""The hooks in `.pre-commit-hooks.yaml`, run by the real `pre-commit` tool through real `git commit`s.

pre-commit builds its own virtualenv for `language: python` hooks by pip-installing this checkout
(it needs the package index, and takes a while), so the whole story is one test: one hook
environment per session, under a temporary PRE_COMMIT_HOME.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from distilgen.prompts.lock import record_model
from test_check import DISPATCH_MODEL, make_project

CHECKOUT = Path(__file__).resolve().parent.parent
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

pytestmark = pytest.mark.skipif(not PRE_COMMIT.exists() or shutil.which("git") is None,
                                reason="needs the pre-commit dev dependency and git")


def git(cwd: Path, *args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and out.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out


def hook_repo(tmp: Path, env: dict[str, str]) -> tuple[Path, str]:
    """This checkout's working tree (uncommitted edits included) as a git repo pre-commit can clone."""
    repo = tmp / "distilgen-hooks"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".distilgen_cache")
    shutil.copytree(CHECKOUT / "distilgen", repo / "distilgen", ignore=ignore)
    shutil.copytree(CHECKOUT / "templates", repo / "templates", ignore=ignore)
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(CHECKOUT / name, repo / name)
    git(repo, "init", "-q", env=env)
    git(repo, "add", ".", env=env)
    git(repo, "commit", "-q", "-m", "hooks", env=env)
    return repo, git(repo, "rev-parse", "HEAD", env=env).stdout.strip()


def test_drifted_commit_is_refused_then_refreshed(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
        GIT_CONFIG_GLOBAL=str(tmp_path / "gitconfig"), GIT_CONFIG_NOSYSTEM="1",
    )
    # the hooks must find no distilgen of the test's own venv on PATH: they run in pre-commit's venv
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != PRE_COMMIT.parent)
    repo, rev = hook_repo(tmp_path, env)

    project = make_project(tmp_path)
    # record the lock with this checkout, as a developer would before installing the hooks
    subprocess.run([sys.executable, "-m", "distilgen", "prompts"], cwd=project, check=True, capture_output=True, timeout=300)
    record_model(project / "distilgen.lock", "inbox.catalog:Catalog.summarise", DISPATCH_MODEL)
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {repo}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: distilgen-check\n"
        "      - id: distilgen-prompts\n"
        "        stages: [manual]\n"
    )
    (project / ".gitignore").write_text("__pycache__/\n.distilgen_cache/\n")
    git(project, "init", "-q", env=env)
    git(project, "add", ".", env=env)
    git(project, "commit", "-q", "-m", "start", env=env)
    install = subprocess.run([str(PRE_COMMIT), "install"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert install.returncode == 0, install.stdout + install.stderr

    # an unrelated clean commit passes (this also builds the hook environment, once)
    (project / "inbox" / "app.py").write_text((project / "inbox" / "app.py").read_text() + "\n# tweak\n")
    git(project, "add", "inbox/app.py", env=env)
    ok = git(project, "commit", "-m", "tweak", env=env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # drift: the docstring the model is prompted with changes, the lock does not
    triage = project / "inbox" / "triage.py"
    triage.write_text(triage.read_text().replace("rate how urgent it is", "rate its urgency"))
    git(project, "add", "inbox/triage.py", env=env)
    refused = git(project, "commit", "-m", "reword", env=env, check=False)
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    def_line = next(i for i, l in enumerate(triage.read_text().splitlines(), 1) if l.startswith("def classify_ticket"))
    assert f"inbox/triage.py:{def_line}: DG002 the source of classify_ticket no longer matches its prompt in distilgen.lock" in out
    assert "run `distilgen prompts` to re-record it" in out
    assert "Failed" in out and "distilgen check" in out
    assert git(project, "log", "--format=%s", env=env).stdout.split() == ["tweak", "start"]

    # the refresh hook rewrites the lock (and, like any fixer, fails because it changed a file)
    refresh = subprocess.run([str(PRE_COMMIT), "run", "distilgen-prompts", "--hook-stage", "manual", "--all-files"],
                             cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert refresh.returncode == 1, refresh.stdout + refresh.stderr
    assert "~ inbox.triage:classify_ticket" in refresh.stdout and "files were modified by this hook" in refresh.stdout
    assert "rate its urgency" in (project / "distilgen.lock").read_text()
    git(project, "add", "distilgen.lock", env=env)
    done = git(project, "commit", "-m", "reword", env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "distilgen check" in done.stdout + done.stderr and "Passed" in done.stdout + done.stderr
    # a second refresh finds nothing to do
    again = subprocess.run([str(PRE_COMMIT), "run", "distilgen-prompts", "--hook-stage", "manual", "--all-files"],
                           cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
