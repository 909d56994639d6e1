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
    # the wheel ships the sample project (for `distilgen walkthrough`), so the build needs it
    shutil.copytree(CHECKOUT / "sample_project", repo / "sample_project",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".distilgen_cache", ".hypothesis"))
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(CHECKOUT / name, repo / name)
    git(repo, "init", "-q", env=env)
    git(repo, "add", ".", env=env)
    git(repo, "commit", "-q", "-m", "hooks", env=env)
    return repo, git(repo, "rev-parse", "HEAD", env=env).stdout.strip()


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """git and pre-commit confined to `tmp_path`, with no activated venv leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT", "VIRTUAL_ENV"))}
    env.update(
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
        GIT_CONFIG_GLOBAL=str(tmp_path / "gitconfig"), GIT_CONFIG_NOSYSTEM="1",
    )
    # the hooks must find no distilgen of the test's own venv on PATH: they run in pre-commit's venv
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != PRE_COMMIT.parent)
    return env


def test_drifted_commit_is_refused_then_refreshed(tmp_path):
    env = isolated_env(tmp_path)
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


HEROES = {
    "pyproject.toml": '[project]\nname = "heroes"\nversion = "0.1.0"\n\n[tool.distilgen]\n'
                      'instructions = "app.distil:instructions"\nrequire-decorated = true\n',
    ".gitignore": ".venv/\n__pycache__/\n.distilgen_cache/\n",
    "app/__init__.py": "",
    "app/distil.py": 'from distilgen import Instructions\n\ninstructions = Instructions(name="heroes")\n',
    "app/models/__init__.py": "from .hero import Hero\nfrom .team import Team\n",
    "app/models/base.py": 'from sqlmodel import SQLModel\n\n\nclass AppModel(SQLModel):\n    """Every model of the app."""\n',
    "app/models/team.py": "from .base import AppModel\n\n\nclass Team(AppModel):\n    name: str\n    headquarters: str\n",
    "app/models/hero.py": ("from __future__ import annotations\n\nfrom .base import AppModel\nfrom .team import Team\n\n\n"
                           "class Hero(AppModel):\n    name: str\n    power: int\n    team: Team | None = None\n"),
    "app/services.py": (
        "from app.models import Hero, Team\n\n\n"
        "def invent_hero(description: str) -> Hero:\n"
        '    """Invent a superhero from a one-line description."""\n'
        "    return Hero(name=description.title(), power=len(description))\n\n\n"
        "def found_team(city: str) -> Team:\n"
        '    """Found a team of heroes in a city."""\n'
        '    return Team(name=f"{city} League", headquarters=city)\n'),
}


@pytest.mark.slow
def test_sqlmodel_project_with_its_own_venv(tmp_path):
    """The hooks run in pre-commit's isolated venv, which has no sqlmodel; the project's `.venv` has.
    `distilgen-check` locates SQLModel through the project's interpreter without importing
    anything, and `distilgen-prompts` reads schemas by running the project's interpreter."""
    env = isolated_env(tmp_path)
    repo, rev = hook_repo(tmp_path, env)
    project = tmp_path / "heroes"
    for rel, text in HEROES.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    # the project's own environment: sqlmodel (and so pydantic), no distilgen
    subprocess.run([sys.executable, "-m", "venv", str(project / ".venv")], check=True, timeout=300)
    pip = subprocess.run([str(project / ".venv/bin/python"), "-m", "pip", "install", "-q", "sqlmodel==0.0.50"],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {repo}\n    rev: {rev}\n    hooks:\n      - id: distilgen-check\n"
        "      - id: distilgen-prompts\n        stages: [manual]\n")
    git(project, "init", "-q", env=env)
    git(project, "add", ".", env=env)
    git(project, "commit", "-q", "-m", "start", env=env)
    install = subprocess.run([str(PRE_COMMIT), "install"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert install.returncode == 0, install.stdout + install.stderr

    def commit(message: str) -> subprocess.CompletedProcess[str]:
        git(project, "add", "-A", env=env)
        return git(project, "commit", "-m", message, env=env, check=False)

    # 1. the candidates are found (require-decorated): SQLModel is located on the project's path
    (project / "README").write_text("heroes\n")
    refused = commit("readme")
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    assert "app/services.py:4: DG007 invent_hero returns app.models.hero.Hero but is not decorated" in out
    assert "app/services.py:9: DG007 found_team returns app.models.team.Team but is not decorated" in out
    hook_pythons = list((tmp_path / "pre-commit-home").glob("repo*/py_env-*/bin/python"))
    assert hook_pythons, "pre-commit built no hook environment"
    probe = subprocess.run([str(hook_pythons[0]), "-c", "import sqlmodel"], capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0  # the hook's own environment cannot see sqlmodel

    # 2. decorate and record with this checkout (schemas read by the project's .venv python); clean tree passes
    applied = subprocess.run([sys.executable, "-m", "distilgen", "apply"], cwd=project, env=env, capture_output=True,
                             text=True, timeout=300)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    lock = (project / "distilgen.lock").read_text()
    assert '[functions."app.services:invent_hero"]' in lock and '"power":{"type":"integer"}' in lock
    done = commit("distil")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed" in done.stdout + done.stderr

    # 3. a field of a return model defined in another module changes: one line, the function, the fix
    hero = project / "app" / "models" / "hero.py"
    hero.write_text(hero.read_text().replace("    power: int\n", "    power: float\n"))
    refused = commit("stronger")
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    def_line = next(i for i, l in enumerate((project / "app/services.py").read_text().splitlines(), 1)
                    if l.startswith("def invent_hero"))
    findings = [l for l in out.splitlines() if " DG0" in l]
    assert findings == [f"app/services.py:{def_line}: DG011 the return model of invent_hero (app.models.hero.Hero or a "
                        "class it uses) changed since distilgen.lock recorded its schema; run `distilgen prompts` to "
                        "re-record it"], out

    # 4. the refresh hook re-records through the project's interpreter (the hook's venv has no sqlmodel)
    refresh = subprocess.run([str(PRE_COMMIT), "run", "distilgen-prompts", "--hook-stage", "manual", "--all-files"],
                             cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert refresh.returncode == 1, refresh.stdout + refresh.stderr
    assert "~ app.services:invent_hero" in refresh.stdout and "files were modified by this hook" in refresh.stdout
    assert '"power":{"type":"number"}' in (project / "distilgen.lock").read_text()
    done = commit("stronger")
    assert done.returncode == 0, done.stdout + done.stderr
