"""`distilgen scan` / `distilgen config`: the CLI contract, discovery, bad input, the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from distilgen import api
from distilgen.analysis import file_index as file_index_mod
from distilgen.analysis import processes
from distilgen.analysis import project as project_mod
from distilgen.cli import main
from distilgen.config import load_config

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_project"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text, encoding="utf-8")
    return root


MODELS = """
from pydantic import BaseModel


class Answer(BaseModel):
    text: str
"""


def small_project(tmp_path: Path, extra: dict[str, str | bytes] | None = None, table: str = "") -> Path:
    return write(tmp_path, {
        "pyproject.toml": f"[project]\nname = 'demo'\n\n[tool.distilgen]\n{table}",
        "demo/__init__.py": "",
        "demo/models.py": MODELS,
        "demo/ask.py": "from demo.models import Answer\n\n\ndef ask(q: str) -> Answer:\n    return Answer(text=q)\n",
        **(extra or {}),
    })


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real installed `distilgen` entry point in a child process."""
    exe = Path(sys.executable).with_name("distilgen")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


# -- the sample project -------------------------------------------------------------------------
def test_sample_project_text_output(tmp_path):
    proc = run(["scan", str(SAMPLE), "--no-cache"], cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "sample_project/inbox/triage.py:15:1: classify_ticket -> inbox.models.ticket.Triage [candidate]" in lines
    assert "sample_project/inbox/extract.py:28:1: extract_order_async -> inbox.models.orders.OrderMention [candidate]" in lines
    assert ("sample_project/inbox/extract.py:33:1: maybe_order -> inbox.models.orders.OrderMention "
            "[wrapped: wrapped in Optional]") in lines
    assert any(line.startswith("sample_project/inbox/catalog.py:10:5: Catalog.lookup -> ") and "[ineligible: instance method"
               in line for line in lines)
    assert "sample_project/inbox/models/orders.py:26:5: ProductRecord.summary -> inbox.models.orders.ProductSummary [candidate]" in lines
    assert lines[-1].startswith("8 functions returning a model in ")


def test_sample_project_json_is_the_documented_list():
    report = api.scan([SAMPLE], use_cache=False)
    result = CliRunner().invoke(main, ["scan", str(SAMPLE), "--format", "json", "--no-cache"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [d["qualname"] for d in data] == [r.qualname for r in report.results]
    first = next(d for d in data if d["qualname"] == "classify_ticket")
    assert first == {
        "path": "inbox/triage.py", "qualname": "classify_ticket", "function_id": "inbox.triage:classify_ticket",
        "module": "inbox.triage", "lineno": 15, "col": 1, "end_lineno": 29, "decorator_lineno": 15,
        "kind": "function", "is_async": False, "model": "inbox.models.ticket.Triage", "status": "candidate",
        "reason": None, "decorator": None,
    }


def test_github_format_and_output_file(tmp_path):
    out = tmp_path / "scan.txt"
    result = CliRunner().invoke(main, ["scan", str(SAMPLE), "--format", "github", "-o", str(out), "--no-cache"])
    assert result.exit_code == 0 and result.output == ""
    lines = out.read_text().splitlines()
    assert len(lines) == 8
    assert all(line.startswith("::warning title=distilgen scan (") for line in lines)
    assert any("line=15,col=1,endLine=29::classify_ticket -> inbox.models.ticket.Triage [candidate]" in x for x in lines)


def test_check_and_exit_zero(tmp_path):
    project = small_project(tmp_path)
    r = CliRunner().invoke(main, ["scan", str(project), "--check"])
    assert r.exit_code == 1 and "ask -> demo.models.Answer [candidate]" in r.output
    assert CliRunner().invoke(main, ["scan", str(project), "--check", "--exit-zero"]).exit_code == 0
    assert CliRunner().invoke(main, ["scan", str(project)]).exit_code == 0
    # decorated through the configured instance: --check is clean
    write(project, {
        "demo/distil.py": "from distilgen import Instructions\n\ninstructions = Instructions()\n",
        "demo/ask.py": "from demo.distil import instructions\nfrom demo.models import Answer\n\n\n"
                       "@instructions.distil(mode='dispatch', model='ft:demo')\ndef ask(q: str) -> Answer:\n"
                       "    return Answer(text=q)\n",
    })
    r = CliRunner().invoke(main, ["scan", str(project), "--check"])
    assert r.exit_code == 0, r.output
    assert "ask -> demo.models.Answer [decorated: demo.distil:instructions, dispatch, model=ft:demo]" in r.output


def test_configured_instance_outside_the_scan_is_recognised(tmp_path):
    project = small_project(tmp_path, {
        "demo/ask.py": "from inboxlib.distil import instructions\nfrom demo.models import Answer\n\n\n"
                       "@instructions.distil\ndef ask(q: str) -> Answer:\n    return Answer(text=q)\n\n\n"
                       "@other.distil\ndef not_ours(q: str) -> Answer:\n    return Answer(text=q)\n",
    }, table='instructions = "inboxlib.distil:instructions"\n')
    got = {r.qualname: (r.status, r.decorator) for r in api.scan([project], use_cache=False).results}
    assert got["ask"][0] == "decorated" and got["ask"][1].instance == "inboxlib.distil:instructions"
    assert got["ask"][1].lineno == 5 and got["ask"][1].mode == "distil"
    assert got["not_ours"] == ("candidate", None)


def test_usage_and_config_errors_exit_2(tmp_path):
    r = CliRunner().invoke(main, ["scan", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "does not exist" in r.output
    write(tmp_path, {"pyproject.toml": "[tool.distilgen]\nmodel-basis = ['x']\n", "a.py": ""})
    r = run(["scan", "."], cwd=tmp_path)
    assert r.returncode == 2 and "unknown key 'model-basis'" in r.stderr and "Traceback" not in r.stderr


def test_config_prints_the_effective_configuration(tmp_path):
    r = CliRunner().invoke(main, ["config", str(SAMPLE)])
    assert r.exit_code == 0
    assert f"# read from: {SAMPLE / 'pyproject.toml'}" in r.output
    assert 'instructions = "inbox.distil:instructions"' in r.output
    assert 'include = ["**/*.py"]' in r.output  # defaults are shown too
    r = CliRunner().invoke(main, ["config", str(SAMPLE), "--format", "json"])
    assert json.loads(r.output)["dataset"] == "data/inbox.jsonl"


# -- bad input ----------------------------------------------------------------------------------
def test_bad_files_are_reported_once_and_the_scan_goes_on(tmp_path):
    project = small_project(tmp_path, {
        "demo/broken.py": "def f(:\n    pass\n",
        "demo/latin.py": b"# no coding cookie\nname = '\xe9t\xe9'\n",
        "demo/declared_latin.py": b"# -*- coding: latin-1 -*-\nfrom demo.models import Answer\n\n\ndef caf\xe9() -> Answer: ...\n",
    })
    (project / "demo" / "loop").symlink_to(project / "demo")
    (project / "demo" / "self.py").symlink_to(project / "demo" / "self.py")
    (project / "demo" / "gone.py").symlink_to(project / "demo" / "missing.py")
    report = api.scan([project], use_cache=False)
    errors = {e.path: e.reason for e in report.errors}
    assert errors["demo/broken.py"].startswith("syntax error at line 1, column 7")
    assert errors["demo/latin.py"].startswith("not valid UTF-8")
    assert errors["demo/loop"].startswith("symlink loop")
    assert errors["demo/self.py"] == "symlink loop"
    assert errors["demo/gone.py"].startswith("cannot read") or errors["demo/gone.py"].startswith("broken symlink")
    assert len(report.errors) == 5
    assert {r.qualname for r in report.results} == {"ask", "café"}  # the rest was scanned
    r = CliRunner().invoke(main, ["scan", str(project), "--no-cache"])
    assert r.exit_code == 1
    assert r.output.count("broken.py: error: syntax error") == 1
    assert "5 files could not be scanned" in r.output.splitlines()[-1]
    assert CliRunner().invoke(main, ["scan", str(project), "--no-cache", "--exit-zero"]).exit_code == 0


# -- discovery ----------------------------------------------------------------------------------
def test_gitignore_globs_and_generated(tmp_path):
    fn = "from demo.models import Answer\n\n\ndef {name}(q: str) -> Answer:\n    return Answer(text=q)\n"
    project = small_project(tmp_path, {
        ".gitignore": "build_out/\n*_ignored.py\n!keep_ignored.py\n",
        "demo/a_ignored.py": fn.format(name="a"),
        "demo/keep_ignored.py": fn.format(name="keep"),
        "build_out/x.py": fn.format(name="x"),
        "demo/sub/.gitignore": "/local.py\n",
        "demo/sub/__init__.py": "",
        "demo/sub/local.py": fn.format(name="local"),
        "demo/sub/other.py": fn.format(name="other"),
        "demo/gen.py": "# @generated by protoc\n" + fn.format(name="gen"),
        "demo/legacy/old.py": fn.format(name="old"),
        "demo/.venv/lib.py": fn.format(name="venv"),
    }, table='exclude = ["demo/legacy/**"]\n')
    names = {r.qualname for r in api.scan([project], use_cache=False).results}
    assert names == {"ask", "keep", "other"}
    names = {r.qualname for r in api.scan([project], use_cache=False, include_generated=True).results}
    assert names == {"ask", "keep", "other", "gen"}
    r = CliRunner().invoke(main, ["scan", str(project), "--include-generated", "--no-cache"])
    assert "gen -> demo.models.Answer" in r.output


def test_select_and_exclude_patterns(tmp_path):
    result = lambda *a: {r.qualname for r in api.scan([SAMPLE], use_cache=False, **dict(a)).results}  # noqa: E731
    assert result(("select", ["Catalog.*"])) == {"Catalog.lookup", "Catalog.summarise"}
    assert result(("select", ["inbox/extract.py"])) == {"extract_order", "extract_order_async", "maybe_order", "all_orders"}
    assert result(("select", ["inbox.triage:*"])) == {"classify_ticket"}
    assert "maybe_order" not in result(("exclude", ["maybe_*"]))
    assert result(("exclude", ["inbox/**"])) == set()
    r = CliRunner().invoke(main, ["scan", str(SAMPLE), "--select", "extract_*", "--no-cache"])
    assert r.output.splitlines()[-1].startswith("2 functions")


def test_src_layout_module_names_and_explicit_file(tmp_path):
    write(tmp_path, {
        "pyproject.toml": "[project]\nname = 'x'\n",
        "src/pkg/__init__.py": "from .m import Model as Model\n",
        "src/pkg/m.py": MODELS.replace("Answer", "Model"),
        "src/pkg/use.py": "from . import Model\n\n\nasync def go(x: int) -> Model:\n    ...\n",
        "scripts/tool.py": "from pkg import Model\n\n\ndef tool(x: int) -> Model:\n    ...\n",
    })
    report = api.scan([tmp_path], use_cache=False)
    got = {r.function_id: (r.model, r.path) for r in report.results}
    assert got == {
        "pkg.use:go": ("pkg.m.Model", "src/pkg/use.py"),
        "scripts.tool:tool": ("pkg.m.Model", "scripts/tool.py"),
    }
    # One file named on the command line still resolves against the rest of the project.
    one = api.scan([tmp_path / "scripts" / "tool.py"], use_cache=False)
    assert [(r.function_id, r.model) for r in one.results] == [("scripts.tool:tool", "pkg.m.Model")]


def test_model_bases_declares_unlocatable_bases(tmp_path):
    src = "from vendor_sdk import VendorBase\n\n\nclass R(VendorBase):\n    pass\n\n\ndef f(x: int) -> R:\n    ...\n"
    project = write(tmp_path, {"pyproject.toml": "[tool.distilgen]\n", "app.py": src})
    r = api.scan([project], use_cache=False).results[0]
    assert (r.status, r.model) == ("unresolved", None)
    assert "vendor_sdk" in r.reason
    write(project, {"pyproject.toml": '[tool.distilgen]\nmodel-bases = ["vendor_sdk.VendorBase"]\n'})
    r = api.scan([project]).results[0]
    assert (r.status, r.model) == ("candidate", "app.R")


def test_installed_base_is_read_from_the_path_without_importing(tmp_path, monkeypatch):
    site = write(tmp_path / "site", {
        "shiny_sdk/__init__.py": "raise RuntimeError('imported!')\nfrom .base import Obj\n",
        "shiny_sdk/base.py": "import pydantic\n\n\nclass Obj(pydantic.BaseModel):\n    pass\n",
    })
    monkeypatch.syspath_prepend(str(site))
    project = write(tmp_path / "p", {"pyproject.toml": "", "app.py":
                                     "from shiny_sdk import Obj\n\n\ndef f(x: int) -> Obj:\n    ...\n"})
    r = api.scan([project], use_cache=False).results[0]
    assert (r.status, r.model) == ("candidate", "shiny_sdk.base.Obj")
    assert "shiny_sdk" not in sys.modules


# -- cache and processes ------------------------------------------------------------------------
def test_cache_folder_is_ignored_by_git_and_tagged(tmp_path):
    project = small_project(tmp_path)
    api.scan([project])
    cache = project / ".distilgen_cache"
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (cache / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    if subprocess.run(["git", "--version"], capture_output=True).returncode == 0:
        subprocess.run(["git", "init", "-q", str(project)], check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project,
                                capture_output=True, text=True, check=True).stdout
        assert ".distilgen_cache" not in status


def test_cache_reuses_unchanged_files_and_sees_changes(tmp_path, monkeypatch):
    project = small_project(tmp_path, {f"demo/f{i}.py": f"from demo.models import Answer\n\n\ndef f{i}() -> Answer: ...\n"
                                       for i in range(5)})
    first = api.scan([project])
    parsed: list[str] = []
    real = file_index_mod.build_index
    monkeypatch.setattr(project_mod, "build_index", lambda data, name: parsed.append(name) or real(data, name))
    assert api.scan([project]).results == first.results and parsed == []
    os.utime(project / "demo" / "f1.py")  # touched, same content: hashed, not parsed
    assert api.scan([project]).results == first.results and parsed == []
    (project / "demo" / "f2.py").write_text("from demo.models import Answer\n\n\nasync def g(x: int) -> Answer: ...\n")
    second = api.scan([project])
    assert [Path(p).name for p in parsed] == ["f2.py"]
    assert {r.qualname for r in second.results} == {"ask", "f0", "f1", "g", "f3", "f4"}
    # a change in another module (the model stops being a model) reaches the unchanged files
    (project / "demo" / "models.py").write_text("class Answer:\n    text: str\n")
    assert api.scan([project]).results == ()


def test_parallel_indexing_matches_serial(tmp_path, monkeypatch):
    files = {f"demo/m{i}.py": f"from demo.models import Answer\n\n\ndef f{i}(x: int) -> Answer: ...\n" for i in range(30)}
    project = small_project(tmp_path, files)
    serial = api.scan([project], use_cache=False)
    monkeypatch.setattr(project_mod, "_PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(project_mod, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(processes, "worker_count", lambda: 2)  # whatever the machine's load
    log = tmp_path / "pids.txt"
    real = project_mod._index_one

    def index_one(path: str):  # runs in the forked workers: note who did the work
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(path)

    monkeypatch.setattr(project_mod, "_index_one", index_one)
    parallel = api.scan([project], use_cache=False)
    pids = log.read_text().split()
    assert len(pids) == 33 and str(os.getpid()) not in pids and 1 <= len(set(pids)) <= 2
    assert parallel.results == serial.results and len(serial.results) == 31


def test_scan_never_imports_the_scanned_code(tmp_path):
    project = small_project(tmp_path, {"demo/boom.py": "raise SystemExit('imported!')\n"})
    report = api.scan([project], use_cache=False)
    assert "demo.boom" not in sys.modules and [r.qualname for r in report.results] == ["ask"]


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_empty_scan_in_every_format(tmp_path, fmt):
    write(tmp_path, {"pyproject.toml": "", "a.py": "x = 1\n"})
    r = CliRunner().invoke(main, ["scan", str(tmp_path), "--format", fmt, "--no-cache"])
    assert r.exit_code == 0
    if fmt == "json":
        assert json.loads(r.output) == []
    elif fmt == "text":
        assert r.output == "0 functions returning a model in 1 file\n"
    else:
        assert r.output == ""


def test_effective_config_matches_load_config():
    assert api.effective_config(SAMPLE) == load_config(SAMPLE)


def test_incremental_rescans_equal_full_scans(tmp_path):
    """After each edit, the cached (incremental) scan must equal a scan from scratch."""
    project = write(tmp_path, {
        "pyproject.toml": "",
        "pkg/__init__.py": "from .models import A as Exported\n",
        "pkg/models.py": "from pydantic import BaseModel\n\n\nclass Root(BaseModel):\n    pass\n\n\nclass A(Root):\n    pass\n",
        "pkg/plain.py": "class NotModel:\n    pass\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/deep.py": "from pkg.models import A\n\nAlias = A\n",
        "use_reexport.py": "from pkg import Exported\n\n\ndef f(x: int) -> Exported: ...\n",
        "use_dotted.py": "import pkg\n\n\ndef g(x: int) -> pkg.sub.deep.Alias: ...\n",
        "use_star.py": "from pkg.models import *\n\n\ndef h(x: int) -> A: ...\n",
        "unrelated.py": "from pkg.plain import NotModel\n\n\ndef u(x: int) -> NotModel: ...\n",
    })
    edits = [
        ("pkg/models.py", "from pydantic import BaseModel\n\n\nclass Root:\n    pass\n\n\nclass A(Root):\n    pass\n"),
        ("pkg/models.py", "from pydantic import BaseModel\n\n\nclass Root(BaseModel):\n    pass\n\n\nclass A(Root):\n    pass\n"),
        ("pkg/__init__.py", "from .plain import NotModel as Exported\n"),
        ("pkg/__init__.py", "from .models import Root as Exported\n"),
        ("pkg/sub/deep.py", "from typing import Optional\nfrom pkg.models import A\n\nAlias = Optional[A]\n"),
        ("pkg/plain.py", "from pydantic import BaseModel\n\n\nclass NotModel(BaseModel):\n    pass\n"),
        ("use_star.py", "from pkg.models import *\n\n\nasync def h(x: int) -> A: ...\n"),
        # files that come and go: their module names change what others resolve to
        ("use_new.py", "from pkg.new import N\n\n\ndef n(x: int) -> N: ...\n"),  # pkg.new is missing yet
        ("pkg/new.py", "from pkg.models import A as N\n"),  # now it is there
        ("pkg/new.py", None),  # and gone again
        ("pkg/new/__init__.py", "from pkg.models import Root as N\n"),  # back, as a package
        ("pkg/plain.py", None),  # `unrelated` imported it
        ("pkg/plain/__init__.py", "from pydantic import BaseModel\n\n\nclass NotModel(BaseModel):\n    pass\n"),
        ("use_new.py", None),
    ]
    assert api.scan([project]).results == api.scan([project], use_cache=False).results
    for rel, text in edits:
        if text is None:
            (project / rel).unlink()
        else:
            (project / rel).parent.mkdir(parents=True, exist_ok=True)
            (project / rel).write_text(text)
        cached = api.scan([project])
        assert cached.results == api.scan([project], use_cache=False).results, rel
    statuses = {r.qualname: (r.status, r.model) for r in cached.results}
    assert statuses == {
        "f": ("candidate", "pkg.models.Root"),
        "g": ("wrapped", "pkg.models.A"),
        "h": ("candidate", "pkg.models.A"),
        "u": ("candidate", "pkg.plain.NotModel"),
    }


def test_incremental_rescans_equal_full_scans_under_random_edits(tmp_path):
    """Random projects and random edits (contents changed, files added, removed, turned into
    packages): after each, the cached scan equals a scan from scratch."""
    import random

    names = ["a", "b", "c", "d"]

    def module_text(rng: random.Random) -> str:
        lines = ["from pydantic import BaseModel"]
        for _ in range(rng.randint(0, 3)):
            other = rng.choice(names)
            lines.append(rng.choice([f"from pkg.{other} import M{other.upper()}",
                                     f"from pkg.{other} import M{other.upper()} as Alias",
                                     f"from pkg import {other}", f"from pkg.{other} import *"]))
        if rng.random() < 0.7:
            base = rng.choice(["BaseModel", "object", "Alias", f"M{rng.choice(names).upper()}"])
            lines.append(f"class M{{me}}({base}):\n    x: int = 0")
        for i in range(rng.randint(0, 2)):
            ret = rng.choice(["Alias", f"M{rng.choice(names).upper()}", f"{rng.choice(names)}.M{rng.choice(names).upper()}"])
            lines.append(f"def f{{me}}{i}(x: int) -> {ret}: ...")
        return "\n\n\n".join(lines) + "\n"

    seen: set[str] = set()
    for seed in range(12):
        rng = random.Random(seed)
        project = write(tmp_path / f"p{seed}", {"pyproject.toml": "", "pkg/__init__.py": ""})

        def put(rng: random.Random = rng, project: Path = project) -> str:
            name = rng.choice(names)
            as_pkg = rng.random() < 0.3
            for rel in (f"pkg/{name}.py", f"pkg/{name}/__init__.py"):
                if (project / rel).exists():
                    (project / rel).unlink()
            rel = f"pkg/{name}/__init__.py" if as_pkg else f"pkg/{name}.py"
            (project / rel).parent.mkdir(parents=True, exist_ok=True)
            (project / rel).write_text(module_text(rng).replace("{me}", name.upper()))
            return rel

        for _ in range(3):
            put()
        assert api.scan([project]).results == api.scan([project], use_cache=False).results
        for step in range(8):
            present = sorted(str(p.relative_to(project)) for p in project.rglob("*.py") if p.name != "__init__.py" or p.parent.name != "pkg")
            if present and rng.random() < 0.3:
                what = rng.choice(present)
                (project / what).unlink()
            else:
                what = put()
            cached = api.scan([project]).results
            assert cached == api.scan([project], use_cache=False).results, (seed, step, what)
            seen.update(r.status for r in cached)
    assert {"candidate", "unresolved"} <= seen  # names that resolved to models, and names that did not


def test_rescan_resolves_only_files_a_change_can_affect(tmp_path, monkeypatch):
    files = {f"demo/leaf{i}.py": f"from demo.models import Answer\n\n\ndef leaf{i}() -> Answer: ...\n" for i in range(6)}
    project = small_project(tmp_path, {**files, "demo/other.py": "from pydantic import BaseModel\n\n\n"
                                       "class Other(BaseModel):\n    pass\n\n\ndef other(x: int) -> Other: ...\n"})
    api.scan([project])
    seen: list[str] = []
    real = project_mod._classify
    monkeypatch.setattr(project_mod, "_classify", lambda res, e, fn, conf: seen.append(fn.qualname) or real(res, e, fn, conf))
    (project / "demo" / "other.py").write_text((project / "demo" / "other.py").read_text() + "\n\ndef more(x: int) -> Other: ...\n")
    report = api.scan([project])
    assert sorted(seen) == ["more", "other"]  # the leaves read demo.models, not demo.other
    assert len(report.results) == 9
    seen.clear()
    (project / "demo" / "models.py").write_text(MODELS + "\n# a comment changes the content\n")
    api.scan([project])
    assert sorted(seen) == sorted(["ask", *(f"leaf{i}" for i in range(6))])


def test_unreadable_path_argument_is_reported_and_excludes_still_apply(tmp_path):
    project = small_project(tmp_path, {"demo/legacy/old.py": "from demo.models import Answer\n\n\ndef old(x: int) -> Answer: ...\n"},
                            table='exclude = ["demo/legacy/**"]\n')
    (project / "dangling.py").symlink_to(project / "nowhere.py")
    report = api.scan([project / "dangling.py", project], use_cache=False)
    # named on the command line and met again in the walk: still one report
    assert [(e.path, e.reason.startswith("broken symlink")) for e in report.errors] == [("dangling.py", True)]
    assert [r.qualname for r in report.results] == ["ask"]


def test_instructor_instances_and_look_alikes(tmp_path):
    project = small_project(tmp_path, {"demo/ask.py": (
        "import distilgen\nfrom instructor import Instructions as Legacy\nfrom demo.models import Answer\n\n"
        "legacy = Legacy(name='old')\nmine = distilgen.Instructions()\nnot_one = dict(distil=1)\n\n\n"
        "@legacy.distil(mode='shadow', model='ft:x')\ndef a(q: str) -> Answer: ...\n\n\n"
        "@mine.distil\ndef b(q: str) -> Answer: ...\n\n\n"
        "@not_one.distil\ndef c(q: str) -> Answer: ...\n"
    )})
    got = {r.qualname: (r.status, r.decorator and (r.decorator.instance, r.decorator.mode, r.decorator.model))
           for r in api.scan([project], use_cache=False).results}
    assert got == {
        "a": ("decorated", ("demo.ask:legacy", "shadow", "ft:x")),
        "b": ("decorated", ("demo.ask:mine", "distil", None)),
        "c": ("candidate", None),
    }


def test_main_guard_and_self_imports_do_not_rebind_names(tmp_path):
    project = small_project(tmp_path, {"demo/table.py": (
        "from pydantic import BaseModel\n\n\nclass Table(BaseModel):\n    pass\n\n\n"
        "def make(x: int) -> Table: ...\n\n\n"
        "if __name__ == '__main__':\n    from demo.table import Table as Table\n    Table = None\n"
    ), "demo/uses.py": "from demo.table import Table\n\n\ndef use(x: int) -> Table: ...\n"})
    got = {r.qualname: (r.status, r.model) for r in api.scan([project], use_cache=False).results}
    assert got["make"] == got["use"] == ("candidate", "demo.table.Table")


def test_gitignore_above_the_project_applies(tmp_path):
    fn = "from demo.models import Answer\n\n\ndef {name}(q: str) -> Answer: ...\n"
    (tmp_path / ".git").mkdir()
    write(tmp_path, {".gitignore": "svc/demo/scratch_*.py\n*.tmp.py\n"})
    project = small_project(tmp_path / "svc", {
        "demo/scratch_1.py": fn.format(name="scratch"),
        "demo/x.tmp.py": fn.format(name="tmp"),
        "demo/kept.py": fn.format(name="kept"),
    })
    assert {r.qualname for r in api.scan([project], use_cache=False).results} == {"ask", "kept"}


def test_github_format_reports_unreadable_files(tmp_path):
    project = small_project(tmp_path, {"demo/broken.py": "def f(:\n"})
    r = CliRunner().invoke(main, ["scan", str(project), "--format", "github", "--no-cache"])
    assert r.exit_code == 1
    errors = [line for line in r.output.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1 and "broken.py::syntax error at line 1" in errors[0]


def test_docs_show_the_current_sample_project_output():
    proc = run(["scan", "sample_project", "--no-cache"], cwd=REPO)
    doc = (REPO / "docs" / "scan.md").read_text()
    assert f"$ distilgen scan sample_project\n{proc.stdout}```" in doc, (
        "docs/scan.md (the README's scan section) no longer matches `distilgen scan sample_project`:\n" + proc.stdout)


def test_dangling_links_that_could_not_be_python_source_are_not_scan_errors(tmp_path):
    # /etc/modules-load.d/modules.conf -> ../modules (dangling) was reported as a file that cannot be scanned
    project = small_project(tmp_path, {})
    (project / "modules.conf").symlink_to(project / "nowhere")
    (project / "gone.py").symlink_to(project / "nowhere.py")
    (project / "vendored_pkg").symlink_to(project / "nowhere_pkg")  # could have been a package folder
    report = api.scan([project], use_cache=False)
    assert sorted(e.path for e in report.errors) == ["gone.py", "vendored_pkg"]


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="Linux's instant count of runnable tasks")
def test_a_second_process_only_when_a_core_is_free_now():
    """`worker_count` reads how many tasks are runnable at this moment (not the load average of
    the last minute): with every core kept busy, the scan and `apply` stay on one process."""
    import time

    cores = os.cpu_count() or 1
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.3)  # the hogs are past their start-up
        running = processes._running_now()
        assert running is not None and running >= cores + 1  # the hogs, and this process
        assert processes.worker_count() == 1
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def test_modules_that_star_import_each_other_are_scanned_in_time(tmp_path):
    """Six modules, each star-importing the other five, and an annotation none of them defines:
    the search went path by path (5^40 of them) and the scan never ended. Each (module, name) is
    now looked up once."""
    names = [f"m{i}" for i in range(6)]
    files = {f"demo/{n}.py": "".join(f"from demo.{o} import *\n" for o in names if o != n) for n in names}
    files["demo/use.py"] = "from demo.m0 import *\n\n\ndef f(x: int) -> Nowhere: ...\n\n\ndef g(x: int) -> Answer: ...\n"
    files["demo/m5.py"] += "from demo.models import Answer\n"
    project = small_project(tmp_path, files)
    done = subprocess.run([sys.executable, "-m", "distilgen", "scan", str(project), "--format", "json"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    assert done.returncode in (0, 1), done.stderr
    got = {r["qualname"]: r["status"] for r in json.loads(done.stdout)}
    assert got["f"] == "unresolved" and got["g"] == "candidate"


def test_two_definitions_with_one_function_id_are_not_candidates(tmp_path):
    """browser-use (second held-out wave): a nested function defined in both branches of an `if`
    has one function id for two bodies; `apply` decorated both, `prompts` recorded one and `check`
    reported the other forever. Neither is a candidate; one already decorated stays as it is."""
    body = ('from pydantic import BaseModel\n\n\nclass R(BaseModel):\n    text: str\n\n\n'
            'def register(flag: bool):\n    if flag:\n        def wrapper(q: str) -> R:\n            return R(text=q)\n'
            '    else:\n        def wrapper(x: int) -> R:\n            return R(text="")\n    return wrapper\n\n\n'
            'if True:\n    def top(x: int) -> R:\n        return R(text="a")\nelse:\n    def top(x: int) -> R:\n        return R(text="b")\n\n\n'
            'def once(x: int) -> R:\n    return R(text="c")\n')
    root = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/tools.py": body})
    results = {(r.qualname, r.lineno): r for r in api.scan([root], use_cache=False).results}
    assert {k: r.status for k, r in results.items()} == {
        ("register.<locals>.wrapper", 10): "ineligible", ("register.<locals>.wrapper", 13): "ineligible",
        ("top", 19): "ineligible", ("top", 22): "ineligible", ("once", 26): "candidate"}
    assert results[("register.<locals>.wrapper", 10)].reason == "defined again at line 13: one function id for two definitions"
    report = api.apply([root])
    assert [e.functions for e in report.edits if e.path == "pkg/tools.py"] == [("once",)]
    assert api.check([root])[0].findings == ()
