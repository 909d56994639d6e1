"""`distilgen prompts` and `distilgen check` on a real copy of sample_project (real scan, real
import subprocess for schemas, the real CLI as a process)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from distilgen import api
from distilgen.prompts.lock import load_lock, record_model

SAMPLE = Path(__file__).resolve().parent.parent / "sample_project"
DISPATCH_MODEL = "ft:gpt-4o-mini:acme::cat1"


def make_project(tmp: Path) -> Path:
    """sample_project with classify_ticket captured and Catalog.summarise dispatched."""
    root = tmp / "proj"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("distilgen.lock", ".distilgen_cache", "__pycache__"))
    (root / "inbox" / "distil.py").write_text(
        'from distilgen import Instructions\n\ninstructions = Instructions(name="inbox")\n')
    triage = root / "inbox" / "triage.py"
    s = triage.read_text()
    s = s.replace("from inbox.models import Ticket\n", "from inbox.distil import instructions\nfrom inbox.models import Ticket\n", 1)
    triage.write_text(s.replace("def classify_ticket", "@instructions.distil\ndef classify_ticket", 1))
    catalog = root / "inbox" / "catalog.py"
    s = catalog.read_text()
    s = s.replace("from inbox.models import", "from inbox.distil import instructions\nfrom inbox.models import", 1)
    s = s.replace("    @staticmethod\n", f'    @staticmethod\n    @instructions.distil(mode="dispatch", model="{DISPATCH_MODEL}")\n', 1)
    catalog.write_text(s)
    return root


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=root, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The project with its lock recorded once (the import subprocess is the slow part)."""
    root = make_project(tmp_path_factory.mktemp("recorded"))
    [rep] = api.prompts([root])
    assert rep.problems == () and set(rep.result.added) == {"inbox.triage:classify_ticket", "inbox.catalog:Catalog.summarise"}
    record_model(root / "distilgen.lock", "inbox.catalog:Catalog.summarise", DISPATCH_MODEL)
    return root


@pytest.fixture
def project(recorded, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(recorded, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def codes(root: Path) -> list[str]:
    [rep] = api.check([root])
    return [f"{f.path}:{f.line}: {f.code}" for f in rep.findings]


def test_clean_project_passes_and_prompts_is_idempotent(project):
    assert codes(project) == []
    out = cli(project, "check")
    assert out.returncode == 0, out.stdout + out.stderr
    before = (project / "distilgen.lock").read_bytes()
    out = cli(project, "prompts")
    assert out.returncode == 0 and "distilgen.lock: up to date" in out.stdout
    assert (project / "distilgen.lock").read_bytes() == before
    out = cli(project, "prompts", "--check")
    assert out.returncode == 0


def test_lock_entry_matches_runtime(project, monkeypatch):
    """The recorded prompt/fingerprint are what the runtime renders itself (and then uses)."""
    lock = load_lock(project / "distilgen.lock")
    monkeypatch.syspath_prepend(str(project))
    for name in [m for m in sys.modules if m == "inbox" or m.startswith("inbox.")]:
        monkeypatch.delitem(sys.modules, name)
    import inbox.triage  # noqa: PLC0415

    spec = inbox.triage.classify_ticket.__distil__.spec
    entry = lock.get("inbox.triage:classify_ticket")
    assert spec.prompt == entry.prompt and spec.fingerprint == entry.fingerprint == spec.rendered_fingerprint
    assert spec.schema == entry.schema and spec.tool_name == entry.tool == "Triage"
    for name in [m for m in sys.modules if m == "inbox" or m.startswith("inbox.")]:
        del sys.modules[name]


def test_docstring_drift_is_reported_then_fixed_by_prompts(project):
    triage = project / "inbox" / "triage.py"
    triage.write_text(triage.read_text().replace("rate how urgent it is", "rate its urgency"))
    out = cli(project, "check")
    assert out.returncode == 1
    line = next(i for i, l in enumerate(triage.read_text().splitlines(), 1) if l.startswith("def classify_ticket"))
    assert out.stdout.startswith(f"inbox/triage.py:{line}: DG002 the source of classify_ticket no longer matches its prompt in distilgen.lock")
    assert "run `distilgen prompts` to re-record it" in out.stdout
    assert len(out.stdout.splitlines()) == 1
    out = cli(project, "prompts", "--check")
    assert out.returncode == 1 and "~ inbox.triage:classify_ticket" in out.stdout
    out = cli(project, "prompts")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "rate its urgency" in load_lock(project / "distilgen.lock").get("inbox.triage:classify_ticket").prompt
    assert codes(project) == []


def test_body_change_is_not_drift_without_include_body(project):
    triage = project / "inbox" / "triage.py"
    triage.write_text(triage.read_text().replace('team = "general"', 'team = "general"  # fallback'))
    assert codes(project) == []


def test_schema_change_in_another_module_is_found_without_importing(project):
    ticket = project / "inbox" / "models" / "ticket.py"
    ticket.write_text(ticket.read_text().replace("    team: Team\n", "    team: Team\n    note: str = ''\n"))
    out = cli(project, "check")
    assert out.returncode == 1, out.stdout + out.stderr
    line = next(i for i, l in enumerate((project / "inbox" / "triage.py").read_text().splitlines(), 1)
                if l.startswith("def classify_ticket"))
    assert out.stdout.splitlines() == [
        f"inbox/triage.py:{line}: DG011 the return model of classify_ticket (inbox.models.ticket.Triage or a class it "
        "uses) changed since distilgen.lock recorded its schema; run `distilgen prompts` to re-record it"]
    out = cli(project, "prompts", "--check")
    assert out.returncode == 1 and "~ inbox.triage:classify_ticket" in out.stdout
    assert cli(project, "prompts").returncode == 0
    assert codes(project) == []


def test_dispatch_binding_keeps_its_prompt_pinned(project):
    catalog = project / "inbox" / "catalog.py"
    lock_path = project / "distilgen.lock"
    old = load_lock(lock_path).get("inbox.catalog:Catalog.summarise")
    catalog.write_text(catalog.read_text().replace("Summarise a product from its raw fields.", "One-line product summary."))
    assert [c.split(" ")[-1] for c in codes(project)] == ["DG002"]
    out = cli(project, "prompts")
    assert f"pinned inbox.catalog:Catalog.summarise {old.fingerprint}" in out.stdout
    entry = load_lock(lock_path).get("inbox.catalog:Catalog.summarise")
    assert entry.fingerprint != old.fingerprint and entry.prompt_for(old.fingerprint) == old.prompt
    assert codes(project) == []
    # someone deletes the pinned prompt: the binding now points at a prompt that is gone
    text = lock_path.read_text()
    cut = text.index('[functions."inbox.catalog:Catalog.summarise".pinned.')
    end = text.index("[functions.", cut + 1)
    lock_path.write_text(text[:cut] + text[end:])
    [rep] = api.check([project])
    [f] = rep.findings
    assert f.code == "DG006" and f.path == "distilgen.lock" and DISPATCH_MODEL in f.message and old.fingerprint in f.message


def test_unrecorded_dispatch_model(project):
    catalog = project / "inbox" / "catalog.py"
    catalog.write_text(catalog.read_text().replace(DISPATCH_MODEL, "ft:gpt-4o-mini:acme::cat2"))
    out = cli(project, "check")
    assert out.returncode == 1
    assert "inbox/catalog.py:16: DG005 Catalog.summarise dispatches to ft:gpt-4o-mini:acme::cat2" in out.stdout


def test_gone_function_and_missing_entry(project):
    triage = project / "inbox" / "triage.py"
    triage.write_text(triage.read_text().replace("@instructions.distil\ndef classify_ticket", "def classify_ticket"))
    extract = project / "inbox" / "extract.py"
    s = extract.read_text().replace("import inbox.models as m\n", "import inbox.models as m\nfrom inbox.distil import instructions\n")
    extract.write_text(s.replace("def extract_order(", "@instructions.distil\ndef extract_order(", 1))
    lock = load_lock(project / "distilgen.lock")
    found = codes(project)
    assert found == [
        f"distilgen.lock:{lock.get('inbox.triage:classify_ticket').line}: DG008",
        "inbox/extract.py:16: DG001",
    ]
    out = cli(project, "prompts")
    assert "- inbox.triage:classify_ticket" in out.stdout and "+ inbox.extract:extract_order" in out.stdout
    assert codes(project) == []


def test_require_decorated(project):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "require-decorated = true\n")
    found = codes(project)
    assert "inbox/extract.py:15: DG007" in found
    [rep] = api.check([project])
    msg = next(f for f in rep.findings if f.path == "inbox/extract.py" and f.line == 15).message
    assert msg.startswith("extract_order returns inbox.models") and "distilgen apply --select 'extract_order'" in msg


def test_paths_select_the_project_and_output_is_relative_to_cwd(project):
    triage = project / "inbox" / "triage.py"
    triage.write_text(triage.read_text().replace("rate how urgent it is", "rate its urgency"))
    out = subprocess.run([sys.executable, "-m", "distilgen", "check", "proj/inbox/app.py"], cwd=project.parent,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and out.stdout.startswith("proj/inbox/triage.py:")


def test_corrupt_lock_is_one_line_error(project):
    (project / "distilgen.lock").write_text("version = 1\n[functions.\"x\"\n")
    out = cli(project, "check")
    assert out.returncode == 2
    assert out.stderr.strip().startswith("distilgen: error: ") and "distilgen.lock:2:" in out.stderr
    assert "Traceback" not in out.stderr


def test_unimportable_module_is_reported_with_place(project):
    # only the module defining the return model is imported: the function's own module may fail
    triage = project / "inbox" / "triage.py"
    triage.write_text("import does_not_exist_anywhere\n" + triage.read_text())
    assert cli(project, "prompts").returncode == 0
    ticket = project / "inbox" / "models" / "ticket.py"
    ticket.write_text("import does_not_exist_anywhere\n" + ticket.read_text())
    out = cli(project, "prompts")
    assert out.returncode == 2
    [line] = [l for l in out.stdout.splitlines() if "classify_ticket" in l]
    assert line.startswith("inbox/triage.py:")
    assert ("cannot read the return model schema of classify_ticket: importing inbox.models.ticket failed at "
            "inbox/models/ticket.py:1: ModuleNotFoundError: No module named 'does_not_exist_anywhere'; "
            "install does_not_exist_anywhere in the project's interpreter") in line
    assert "set --python or [tool.distilgen] python to use another" in line
    # the entry that could not be re-recorded is kept, not dropped
    assert load_lock(project / "distilgen.lock").get("inbox.triage:classify_ticket") is not None


def test_github_format(project):
    triage = project / "inbox" / "triage.py"
    triage.write_text(triage.read_text().replace("rate how urgent it is", "rate its urgency"))
    out = cli(project, "check", "--format", "github")
    assert out.returncode == 1
    assert out.stdout.startswith("::error title=distilgen DG002,file=inbox/triage.py,line=")
    assert "::the source of classify_ticket no longer matches" in out.stdout


def test_two_projects_are_checked_separately(project, tmp_path):
    other = make_project(tmp_path / "second")
    (other / "distilgen.lock").write_bytes((project / "distilgen.lock").read_bytes())
    (other / "inbox" / "distil.py").write_text((other / "inbox" / "distil.py").read_text())
    triage = other / "inbox" / "triage.py"
    triage.write_text(triage.read_text().replace("rate how urgent it is", "rate its urgency"))
    reports = api.check([project / "inbox" / "app.py", other / "inbox", project])
    assert [r.root for r in reports] == [project.resolve(), other.resolve()]
    assert [len(r.findings) for r in reports] == [0, 1] and reports[1].findings[0].code == "DG002"


def test_lock_in_a_subfolder(project):
    (project / "conf").mkdir()
    (project / "distilgen.lock").rename(project / "conf" / "distilgen.lock")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('lock-file = "distilgen.lock"', 'lock-file = "conf/distilgen.lock"'))
    triage = project / "inbox" / "triage.py"
    triage.write_text(triage.read_text().replace("@instructions.distil\ndef classify_ticket", "def classify_ticket"))
    [rep] = api.check([project])
    assert [(f.path, f.code) for f in rep.findings] == [("conf/distilgen.lock", "DG008")]


def test_renamed_return_model(project):
    ticket = project / "inbox" / "models" / "ticket.py"
    ticket.write_text(ticket.read_text().replace("class Triage(InboxModel):", "class TriageV2(InboxModel):") + "\n\nTriage = TriageV2\n")
    [rep] = api.check([project])
    [f] = rep.findings
    assert (f.path, f.code) == ("inbox/triage.py", "DG010")
    assert f.message.startswith("classify_ticket now returns TriageV2, but distilgen.lock recorded its prompt for Triage")


@pytest.mark.parametrize("file, old, new, hit", [
    # the base of both recorded models' classes: both functions
    ("base.py", "class InboxModel(PydanticModel):", "class InboxModel(PydanticModel):\n    trace_id: str = ''",
     ["inbox/catalog.py", "inbox/triage.py"]),
    ("ticket.py", '    high = "high"\n', '    high = "high"\n    urgent = "urgent"\n', ["inbox/triage.py"]),  # a field's enum
    ("ticket.py", '"technical", "general"]', '"technical", "general", "legal"]', ["inbox/triage.py"]),  # a type alias
])
def test_classes_the_schema_depends_on_are_fingerprinted(project, file, old, new, hit):
    path = project / "inbox" / "models" / file
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    [rep] = api.check([project])
    assert [(f.path, f.code) for f in rep.findings] == [(p, "DG011") for p in hit]


def test_unrelated_edits_and_broken_imports_change_nothing(project):
    ticket = project / "inbox" / "models" / "ticket.py"
    ticket.write_text(ticket.read_text().replace("    body: str\n", "    body: str\n    sender: str = ''\n") + "\n# note\n")
    # check never imports: a module that would fail to import is fine as long as its prompt is
    triage = project / "inbox" / "triage.py"
    triage.write_text("import does_not_exist_anywhere\n" + triage.read_text())
    assert codes(project) == []


def test_old_lock_without_static_fingerprints_asks_to_re_record(project):
    lock = project / "distilgen.lock"
    text = "".join(l for l in lock.read_text().splitlines(keepends=True) if not l.startswith("static-fingerprint = "))
    lock.write_text(text)
    assert load_lock(lock).get("inbox.triage:classify_ticket").static is None
    out = cli(project, "check")
    assert out.returncode == 1
    assert all(" DG012 " in l and "run `distilgen prompts` to re-record it" in l for l in out.stdout.splitlines())
    assert len(out.stdout.splitlines()) == 2
    out = cli(project, "prompts")
    assert out.returncode == 0 and "= inbox.triage:classify_ticket" in out.stdout, out.stdout
    assert codes(project) == []


def test_hand_edited_entry_is_found_after_a_clean_run(project):
    assert codes(project) == []  # verified once: the next runs skip re-hashing an unchanged lock
    lock = project / "distilgen.lock"
    text = lock.read_text()
    assert '"urgency"' in text
    lock.write_text(text.replace('"urgency"', '"urgency_level"'))
    found = codes(project)
    line = load_lock(lock).get("inbox.triage:classify_ticket").line
    assert found == [f"distilgen.lock:{line}: DG004"]


def _facts_project(tmp: Path) -> Path:
    root = tmp / "facts"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "facts"\nversion = "0"\n')
    (root / "pkg" / "__init__.py").write_text("")
    # `Tag` comes from a module the project does not have yet: the closure counts it by name
    (root / "pkg" / "models.py").write_text(
        "from pydantic import BaseModel\nfrom pkg.extra import Tag\n\n\nclass Out(BaseModel):\n    tag: Tag\n")
    (root / "pkg" / "fn.py").write_text("from pkg.models import Out\n\n\ndef make(a: int) -> Out:\n    ...\n")
    return root


@pytest.mark.parametrize("scanned", [True, False], ids=["scanned-modules", "roots-only"])
def test_cached_closure_notices_a_module_added_later(tmp_path, scanned):
    """A cached closure that looked `pkg.extra` up in vain is computed again once the file exists
    (before, it stayed stale until one of the files it had read changed)."""
    from distilgen.analysis.depends import StaticFacts
    from distilgen.config import load_config

    root = _facts_project(tmp_path)
    cfg = load_config(root)

    def closure(use_cache: bool = True) -> str | None:
        report = api.scan([root], config=cfg)
        [r] = report.results
        facts = StaticFacts(root, cfg, modules=report.modules if scanned else (), use_cache=use_cache)
        digest = facts.closure(r)
        facts.save()
        return digest

    before = closure()
    stamp = [(p, p.stat().st_mtime_ns) for p in cfg.cache_path.glob("check-facts-*.json")]
    assert before is not None and stamp
    assert closure() == before  # warm: the cached answer, nothing written
    assert [(p, p.stat().st_mtime_ns) for p in cfg.cache_path.glob("check-facts-*.json")] == stamp
    (root / "pkg" / "extra.py").write_text("from pydantic import BaseModel\n\n\nclass Tag(BaseModel):\n    name: str\n")
    after = closure()
    assert after != before
    assert after == closure(use_cache=False)
    # and a field edited in the new module reaches the closure, so it is read now
    (root / "pkg" / "extra.py").write_text("from pydantic import BaseModel\n\n\nclass Tag(BaseModel):\n    name: int\n")
    assert closure() not in (before, after)


def test_a_deleted_instance_module_is_found_and_apply_creates_it_again(tmp_path):
    """Third held-out wave: with the `distil.py` that `apply` created deleted, scan called the
    still-decorated function a plain candidate, `check` said it was gone (DG008) and advised
    `prompts`, which dropped its prompt and left a passing `check` on a package that did not
    import; `apply` said "install pkg" and created nothing."""
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "0"\n')
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "m.py").write_text("from pydantic import BaseModel\n\n\nclass R(BaseModel):\n    n: int\n\n\n"
                                       "def f(a: int) -> R:\n    return R(n=a)\n")
    assert cli(root, "apply").returncode == 0 and (root / "pkg" / "distil.py").is_file()
    (root / "pkg" / "distil.py").unlink()
    [r] = api.scan([root]).results
    assert (r.status, r.decorator.instance) == ("decorated", "pkg.distil:instructions")
    out = cli(root, "check")
    assert out.returncode == 1 and out.stdout.splitlines() == [
        "pkg/m.py:9: DG013 f is bound to pkg.distil:instructions, but the project has no module pkg.distil, so "
        "pkg/m.py no longer imports; run `distilgen apply` to create it again"], out.stdout
    out = cli(root, "prompts")
    assert out.returncode == 2 and "the project has no module pkg.distil (deleted or renamed?)" in out.stdout
    assert "install pkg" not in out.stdout and load_lock(root / "distilgen.lock").get("pkg.m:f") is not None  # kept
    out = cli(root, "apply")
    assert out.returncode == 0 and "pkg/distil.py: created (from template)" in out.stdout, out.stdout + out.stderr
    assert cli(root, "check").returncode == 0
    run = subprocess.run([sys.executable, "-c", "import pkg.m"], cwd=root, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def test_a_distilled_function_whose_model_is_not_installed_here_is_never_called_gone(tmp_path):
    """Wave 5 (arize-phoenix checked by a distilgen installed apart from the project): `check`
    said DG008 "no distilled function ... is left; run `distilgen prompts` to drop it" for a
    decorated function whose return model comes from a package this interpreter lacks, and
    `prompts` then dropped its lock entry. It is DG014 now, and `prompts` keeps the entry."""
    import os

    ext = tmp_path / "ext" / "extlib"
    ext.mkdir(parents=True)
    (ext / "__init__.py").write_text("from pydantic import BaseModel\n\n\nclass Chunk(BaseModel):\n    text: str\n")
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "build.py").write_text("from extlib import Chunk\n\n\ndef error_chunk(message: str) -> Chunk:\n"
                                           "    return Chunk(text=f'error: {message}')\n")

    def run(*args: str, deps: bool) -> subprocess.CompletedProcess[str]:
        here = str(Path(__file__).resolve().parent.parent)  # this checkout's distilgen, whatever is installed
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "ext"), here] if deps else [here])}
        return subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=root, capture_output=True, text=True,
                              timeout=120, env=env)

    assert run("apply", ".", deps=True).returncode == 0
    assert run("check", ".", deps=True).returncode == 0
    without = run("check", ".", deps=False)
    assert without.returncode == 1
    assert "DG014" in without.stdout and "DG008" not in without.stdout, without.stdout
    assert "cannot be resolved with this interpreter" in without.stdout and "--python" in without.stdout
    prompts = run("prompts", ".", deps=False)
    assert prompts.returncode != 0 and "lock entry is kept" in prompts.stdout + prompts.stderr
    assert [e.function_id for e in load_lock(root / "distilgen.lock").entries] == ["app.build:error_chunk"]
    assert run("check", ".", deps=True).returncode == 0
