"""The eighth wave's leftovers (docs/real-world.md, "Not fixed"): an outside call made through an
import alias, a model parameter holding a secret where pydantic is not located, and `apply FILE`
in a project without a pyproject.toml writing its lock inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from test_scan_real_code import write

from distilgen import api

MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: str\n"


def scanned(project: Path, python: str | None = None) -> dict[str, tuple[str, str | None]]:
    return {r.qualname: (r.status, r.reason) for r in api.scan([project], use_cache=False, python=python).results}


def test_an_outside_call_through_an_import_alias_is_seen(tmp_path: Path) -> None:
    """`from subprocess import check_output as co`: the calls use the alias, which the search for
    such calls did not look for (only the names it was imported by), so `version` stayed a candidate."""
    got = scanned(write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + """
from subprocess import check_output as co
from os import getenv as env
from time import time as clock
from json import dumps as to_text


def version(repo: str) -> M:
    return M(x=co(["git", "-C", repo, "describe"]).decode())


def setting(key: str) -> M:
    return M(x=env(key) or "")


def stamp(label: str) -> M:
    return M(x=f"{label}{clock()}")


def _describe(repo: str) -> str:
    return co(["git", "-C", repo, "describe"]).decode()


def through_a_helper(repo: str) -> M:
    return M(x=_describe(repo))


def dumped(a: str) -> M:
    return M(x=to_text({"a": a}))
"""}))
    assert got["version"] == ("ineligible", "calls co() (its answer depends on a program it runs, not on its call)")
    assert got["setting"] == ("ineligible", "calls env() (its answer depends on the environment, not on its call)")
    assert got["stamp"] == ("ineligible", "calls clock() (its answer depends on the clock, not on its call)")
    assert got["through_a_helper"][0] == "ineligible" and "calls _describe(), which calls co()" in str(got["through_a_helper"][1])
    assert got["dumped"] == ("candidate", None)  # an alias of a pure function changes nothing


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An interpreter with no pydantic: the scan cannot read `pydantic.SecretStr`'s class there."""
    home = tmp_path_factory.mktemp("bare") / "venv"
    venv.create(home, with_pip=False)
    py = home / "bin" / "python"
    assert subprocess.run([str(py), "-c", "import pydantic"], capture_output=True).returncode != 0
    return str(py)


def test_a_model_parameter_holding_a_secret_is_refused_where_pydantic_is_not_located(
        tmp_path: Path, bare_python: str) -> None:
    """With pydantic located the class `SecretStr` says it cannot be written; without it, nothing
    did, and every call of `login` would be skipped at capture (`UnrenderableValue`: a `SecretStr`
    renders as its mask). Read by the names written, as the return model's secret is."""
    body = """
from typing import Optional

from pydantic import SecretStr


class Creds(BaseModel):
    user: str
    token: SecretStr


class Session(BaseModel):
    creds: Creds


def login(c: Creds) -> M:
    return M(x=c.user)


def resume(s: Optional[Session]) -> M:
    return M(x="")


def many(cs: list[Creds], n: int) -> M:
    return M(x="")


def plain(user: str) -> M:
    return M(x=user)
"""
    root = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + body})
    for python in (bare_python, sys.executable):
        got = scanned(root, python)
        assert got["plain"] == ("candidate", None)
        for name in ("login", "resume", "many"):
            assert got[name][0] == "ineligible", (python, name, got[name])
    got = scanned(root, bare_python)
    assert got["login"][1] == ("parameter c holds a secret (field token of Creds is a SecretStr, shown masked: "
                               "no call can write its value)")
    assert "field creds.token of Session" in str(got["resume"][1])


def test_apply_on_a_file_of_a_project_without_pyproject_keeps_one_lock_at_its_import_root(tmp_path: Path) -> None:
    """No pyproject.toml: `apply pkg/m.py` took `pkg/` for the project, wrote `pkg/distilgen.lock`
    (and its cache) inside the package, and a later `apply .` from the project kept a second lock
    beside it. The root is now the folder the package is imported from, as for `apply .` there."""
    proj = write(tmp_path / "proj", {"pkg/__init__.py": "", "pkg/m.py": MODEL + "\n\ndef f(a: str) -> M:\n    return M(x=a)\n"})
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PYTHONPATH=str(Path(__file__).resolve().parents[1]), PYTHONDONTWRITEBYTECODE="1")  # this checkout
    for args in (["apply", "pkg/m.py"], ["apply", "."], ["check", "pkg/m.py"], ["check", "."]):
        r = subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=proj, capture_output=True, text=True,
                           env=env, timeout=300)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        if args == ["apply", "."]:
            assert "0 files changed" in r.stdout, r.stdout
    assert (proj / "distilgen.lock").is_file()
    assert not (proj / "pkg" / "distilgen.lock").exists() and not (proj / "pkg" / ".distilgen_cache").exists()
    assert "from pkg.distil import instructions" in (proj / "pkg" / "m.py").read_text()
