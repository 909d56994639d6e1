"""A file (or a package folder) inside a PEP 420 namespace folder, in a tree without pyproject.toml.

Wave 8 (bioimageio.spec 0.5.14.3, an unpacked wheel: `bioimageio/` has no `__init__.py`, there is
no pyproject.toml): `distilgen scan .` named `bioimageio/spec/_io.py` `bioimageio.spec._io`, but
`scan bioimageio/spec/_io.py` named it `spec._io` (the folder above the top regular package was
taken for the import root), and `apply bioimageio/spec/_io.py` made the schema child import the
package a second time as top-level `spec`, which failed: `0 files changed`, exit 0. Named from the
folder the command runs in (or the project folder, one holding a setup.py/setup.cfg), a file gets
the ids and verdicts of the whole-tree scan. And `apply FILE` that decorates nothing says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from test_eval_target import write

from distilgen import api
from distilgen.analysis.roots import source_roots

REPO = Path(__file__).resolve().parent.parent

# `models` must be imported under its own name, as bioimageio.spec's constants must (a cache keyed
# on a class: the same module imported twice as `spec.*` and `bioimageio.spec.*` broke it)
NSORG = {
    "nsorg/spec/__init__.py": "",
    "nsorg/spec/models.py": """\
        from pydantic import BaseModel

        if __name__ != "nsorg.spec.models":
            raise ImportError(f"nsorg.spec.models imported as {__name__}")


        class Env(BaseModel):
            deps: list[str]
        """,
    "nsorg/spec/envs.py": """\
        from .models import Env


        def torch_env(version: str) -> Env:
            return Env(deps=[f"pytorch=={version}"])
        """,
    "nsorg/spec/more.py": """\
        from nsorg.spec.models import Env


        def cuda_env(version: str) -> Env:
            return Env(deps=[f"cuda=={version}"])
        """,
}




def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")  # this checkout's distilgen
    return subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env=env)


def scan_json(cwd: Path, *paths: str) -> dict[str, str]:
    proc = cli(cwd, "scan", "--no-cache", "--format", "json", *paths)
    assert proc.returncode == 0, proc.stderr
    return {r["function_id"]: r["status"] for r in json.loads(proc.stdout)}


def test_scan_of_a_file_in_a_namespace_folder_gives_the_whole_tree_ids(tmp_path):
    """The repro, run from inside the project folder with a file argument (and a package folder)."""
    proj = write(tmp_path / "proj", NSORG)
    whole = scan_json(proj, ".")
    assert whole == {"nsorg.spec.envs:torch_env": "candidate", "nsorg.spec.more:cuda_env": "candidate"}
    assert scan_json(proj, "nsorg/spec/more.py") == {"nsorg.spec.more:cuda_env": "candidate"}  # was spec.more, unresolved
    assert scan_json(proj, "nsorg/spec/envs.py") == {"nsorg.spec.envs:torch_env": "candidate"}  # was spec.envs
    assert scan_json(proj, "nsorg/spec") == whole
    # from inside the namespace folder, `scan .` and `scan FILE` agree too (both from `nsorg/`)
    inside = scan_json(proj / "nsorg", ".")
    assert scan_json(proj / "nsorg", "spec/envs.py") == {"spec.envs:torch_env": inside["spec.envs:torch_env"]}


def test_apply_of_a_file_in_a_namespace_folder_decorates_it(tmp_path):
    """`apply FILE` from the project folder: the ids of the whole tree, the schema child imports the
    package under its own name (it used to import `spec.envs`: `0 files changed`, exit 0)."""
    proj = write(tmp_path / "proj", NSORG)
    proc = cli(proj, "apply", "nsorg/spec/envs.py")
    assert proc.returncode == 0, proc.stderr
    assert "nsorg/spec/envs.py: decorated: torch_env" in proc.stdout, proc.stdout + proc.stderr
    assert "left alone" not in proc.stderr, proc.stderr
    text = (proj / "nsorg/spec/envs.py").read_text()
    assert "from nsorg.spec.distil import instructions\n" in text and "@instructions.distil\n" in text
    assert (proj / "nsorg/spec/more.py").read_text() == textwrap.dedent(NSORG["nsorg/spec/more.py"])  # not named
    locks = list(proj.rglob("distilgen.lock"))
    assert len(locks) == 1 and '[functions."nsorg.spec.envs:torch_env"]' in locks[0].read_text()
    # and the decorated module imports from the project folder, as the scan named it
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run([sys.executable, "-c", "import nsorg.spec.envs as m; print(m.torch_env.__module__)"],
                         cwd=proj, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "nsorg.spec.envs", run.stderr


def test_a_project_file_above_the_namespace_folder_is_the_import_root(tmp_path):
    """With a setup.py (or setup.cfg) above, the ids do not depend on where the command runs: the
    project folder is what a whole-tree scan of it, and the installed package, import from."""
    proj = write(tmp_path / "proj", {**NSORG, "setup.py": "from setuptools import setup\nsetup()\n"})
    report = api.scan([proj / "nsorg" / "spec" / "envs.py"], use_cache=False)
    assert [(r.function_id, r.status) for r in report.results] == [("nsorg.spec.envs:torch_env", "candidate")]
    assert source_roots(proj / "nsorg" / "spec") == (proj,)
    # a src layout: the packages are imported from src/
    src = write(tmp_path / "srcproj", {"setup.cfg": "[metadata]\nname = x\n", **{f"src/{k}": v for k, v in NSORG.items()}})
    report = api.scan([src / "src" / "nsorg" / "spec"], use_cache=False)
    assert {r.function_id for r in report.results} == {"nsorg.spec.envs:torch_env", "nsorg.spec.more:cuda_env"}
    # outside any project and any current folder: the folder above the top package, as before
    bare = write(tmp_path / "bare-tree", {"pkg/__init__.py": "", "pkg/sub/__init__.py": ""})
    assert source_roots(bare / "pkg" / "sub") == (bare,)


def test_apply_of_a_file_it_cannot_decorate_says_why(tmp_path):
    """`apply FILE` that leaves the file's functions alone names them and why, as `--select` does
    (it printed `0 files changed` and nothing else)."""
    proj = write(tmp_path / "proj", {
        "app/__init__.py": "",
        "app/mod.py": """\
            from vendor_missing import Thing
            from pydantic import BaseModel


            class M(BaseModel):
                x: int


            def make(x: int) -> Thing:
                ...


            def maybe(x: int) -> M | None:
                ...
            """,
    })
    proc = cli(proj, "apply", "app/mod.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 files changed"
    assert "make: unresolved (module 'vendor_missing' is not in the scanned files" in proc.stderr, proc.stderr
    assert "maybe: wrapped (" in proc.stderr and proc.stderr.count("; left alone") == 2, proc.stderr
    # a whole-tree apply lists nothing it was not asked about
    quiet = cli(proj, "apply", "--no-lock", "--check", ".")
    assert quiet.returncode == 0 and "left alone" not in quiet.stderr, quiet.stderr
