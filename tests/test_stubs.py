"""`distilgen stubs`: the generated module imports, type-checks, and prompts like the originals."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from distilgen import api
from distilgen.cli import main
from distilgen.prompts.recording import static_prompt
from mypy_strict import mypy_strict

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "scan_corpus"
MODEL = "ft:gpt-4o-mini:acme::abc123"


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_stubs_for_sample_project(sample_copy: Path) -> None:
    code, out, err = cli("stubs", str(sample_copy), "--model", MODEL)
    assert code == 0, err
    stubs = sample_copy / "inbox" / "distil_stubs.py"
    text = stubs.read_text()
    assert "5 stubs for" in out and "skipped" not in err
    # the Instructions module the stubs import was created
    assert (sample_copy / "inbox" / "distil.py").is_file()
    dec = f'@instructions.distil(mode="dispatch", model="{MODEL}")'
    assert f'{dec}\ndef classify_ticket(subject: str, body: str) -> TriageResult:\n' \
           '    """Route a support ticket to a team and rate how urgent it is."""\n    ...\n' in text
    assert f"class Catalog:\n    @staticmethod\n    {dec}\n    def summarise(" in text
    assert f"{dec}\nasync def extract_order_async(text: str) -> m.OrderMention:" in text
    # a model's method: the stub class subclasses the model, so the instance renders the same
    assert f'class ProductRecord(inbox.models.orders.ProductRecord):\n    {dec}\n    def summary(self) -> "ProductSummary":' in text
    # the originals' imports, as they wrote them
    assert "import inbox.models as m\n" in text
    assert "from inbox.models import Triage as TriageResult\n" in text
    assert "from inbox.distil import instructions\n" in text
    # formatted like hand-written code: two blank lines between top-level stubs, one trailing newline
    assert text.endswith("    ...\n") and not text.endswith("\n\n")
    assert "\n\n\n\n" not in text
    assert all(line == line.rstrip() for line in text.splitlines()), "trailing whitespace"
    tree = ast.parse(text)
    assert [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))] == [
        "Catalog", "extract_order", "extract_order_async", "ProductRecord", "classify_ticket",
    ]
    # the originals are untouched
    assert (sample_copy / "inbox" / "triage.py").read_bytes() == (ROOT / "sample_project/inbox/triage.py").read_bytes()


def test_stubs_import_and_are_bound_to_the_model(sample_copy: Path) -> None:
    api.stubs([sample_copy], model=MODEL)
    probe = (
        "import json, inspect, inbox.distil_stubs as s, inbox.triage as t\n"
        "out = {}\n"
        "for name, fn in [('classify_ticket', s.classify_ticket), ('summarise', s.Catalog.summarise),"
        " ('extract_order_async', s.extract_order_async), ('summary', s.ProductRecord.summary)]:\n"
        "    st = fn.__distil__\n"
        "    out[name] = [st.mode, st.model, inspect.iscoroutinefunction(fn)]\n"
        "import inbox.catalog as c, inbox.extract as e, inbox.models.orders as o\n"
        "pairs = [(s.classify_ticket, t.classify_ticket), (s.Catalog.summarise, c.Catalog.summarise),"
        " (s.extract_order, e.extract_order), (s.extract_order_async, e.extract_order_async),"
        " (s.ProductRecord.summary, o.ProductRecord.summary)]\n"
        # the originals of extract.py use `from __future__ import annotations`: compare evaluated
        "sig = lambda f: inspect.signature(f, eval_str=True)\n"
        "out['sig'] = [sig(a) == sig(b) and a.__doc__ == b.__doc__ and a.__qualname__ == b.__qualname__"
        " for a, b in pairs]\n"
        "import inbox.models as models\n"
        "rec = s.ProductRecord(sku='A1', name='Mug', price_cents=1250, stock=3)\n"
        "out['subclass'] = isinstance(rec, models.ProductRecord)\n"
        "print(json.dumps(out))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], cwd=sample_copy, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(sample_copy)})
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["classify_ticket"] == ["dispatch", MODEL, False]
    assert got["summarise"] == ["dispatch", MODEL, False]
    assert got["extract_order_async"] == ["dispatch", MODEL, True]
    assert got["summary"] == ["dispatch", MODEL, False]
    assert got["sig"] == [True] * 5 and got["subclass"] is True


def test_each_stub_renders_its_originals_prompt(sample_copy: Path) -> None:
    report = api.stubs([sample_copy], model=MODEL)
    stub_text = (sample_copy / report.path).read_text()
    scan = api.scan([sample_copy])
    by_id = {r.function_id: r for r in scan.results}
    assert len(report.functions) == 5
    for fid in report.functions:
        r = by_id[fid]
        original = (sample_copy / r.path).read_text()
        tool = (r.model or "").rsplit(".", 1)[-1]
        qual = r.qualname.rsplit("<locals>.", 1)[-1]
        _assert_same_prompt(original, stub_text, r.qualname, tool, r.lineno, stub_qualname=qual)


def test_mypy_strict_accepts_the_generated_module(sample_copy: Path, tmp_path: Path) -> None:
    api.stubs([sample_copy], model=MODEL)
    # no exemptions: distil() is typed with overloads and distilgen ships py.typed
    run = mypy_strict(sample_copy, "inbox/distil_stubs.py", search_path=[sample_copy])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found in 1 source file" in run.stdout


def test_rerun_is_unchanged_check_and_stdout_write_nothing(sample_copy: Path) -> None:
    assert cli("stubs", str(sample_copy), "--model", MODEL)[0] == 0
    stubs = sample_copy / "inbox" / "distil_stubs.py"
    first = stubs.read_bytes()
    code, out, _ = cli("stubs", str(sample_copy), "--model", MODEL, "--check")
    assert code == 0
    code, out, _ = cli("stubs", str(sample_copy), "--model", "ft:other", "--check")
    assert code == 1 and stubs.read_bytes() == first
    code, out, _ = cli("stubs", str(sample_copy), "--model", "ft:other", "--diff")
    assert code == 0 and f'-@instructions.distil(mode="dispatch", model="{MODEL}")' in out
    assert stubs.read_bytes() == first
    code, out, _ = cli("stubs", str(sample_copy), "--model", "ft:other", "-o", "-")
    assert code == 0 and out.startswith("# @generated") and stubs.read_bytes() == first
    # the scan skips the generated module: its stubs are not candidates for apply/prompts
    assert not [r for r in api.scan([sample_copy]).results if r.path.endswith("distil_stubs.py")]


def test_select_and_output(sample_copy: Path) -> None:
    out = sample_copy / "inbox" / "fast.py"
    report = api.stubs([sample_copy], model=MODEL, select=["classify_ticket"], output=out)
    assert report.functions == ("inbox.triage:classify_ticket",) and report.path == "inbox/fast.py"
    assert "def classify_ticket(" in out.read_text() and "extract_order" not in out.read_text()


def test_bad_output_and_model_are_usage_errors(sample_copy: Path, tmp_path: Path) -> None:
    code, _, err = cli("stubs", str(sample_copy), "--model", MODEL, "-o", str(tmp_path / "elsewhere.py"))
    assert code == 2 and "outside the scanned root" in err
    code, _, err = cli("stubs", str(sample_copy), "--model", MODEL, "-o", str(sample_copy / "stubs.txt"))
    assert code == 2 and ".py file" in err
    code, _, err = cli("stubs", str(sample_copy), "--model", "bad\nid")
    assert code == 2 and "not a model id" in err


def test_a_name_meaning_two_things_is_reported_not_guessed(sample_copy: Path) -> None:
    # triage.py imports Triage as TriageResult; third.py binds TriageResult to Ticket
    (sample_copy / "inbox" / "third.py").write_text(
        "from inbox.models import Ticket as TriageResult\n\n\n"
        "def clash(text: str) -> TriageResult:\n    return TriageResult(subject='', body='')\n"
    )
    report = api.stubs([sample_copy], model=MODEL)
    # files are taken in path order: third.py claims the name first, triage.py's function is skipped
    assert "inbox.third:clash" in report.functions and "inbox.triage:classify_ticket" not in report.functions
    [skipped] = [s for s in report.skipped if s.qualname == "classify_ticket"]
    assert "name 'TriageResult' means inbox.models.Triage here but inbox.models.Ticket elsewhere" in skipped.reason
    assert "--select" in skipped.reason


def test_re_exports_of_the_same_class_share_one_import(sample_copy: Path) -> None:
    (sample_copy / "inbox" / "direct.py").write_text(
        "from inbox.models.ticket import Triage as TriageResult\n\n\n"
        "def direct(text: str) -> TriageResult:\n    return TriageResult(urgency='low', team='general')\n"
    )
    report = api.stubs([sample_copy], model=MODEL)
    assert "inbox.direct:direct" in report.functions
    assert not [s for s in report.skipped if s.qualname == "direct"]


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    if not CORPUS.is_dir():
        pytest.skip("tests/scan_corpus not present")
    dest = tmp_path / "scan_corpus"
    shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns("__pycache__", ".distilgen_cache"))
    return dest


def test_corpus_stubs_import_cleanly(corpus_copy: Path) -> None:
    report = api.stubs([corpus_copy], model=MODEL)
    assert report.edit is not None and report.edit.status == "changed", report.edits
    assert len(report.functions) >= 40
    text = (corpus_copy / report.path).read_text()
    assert all(line == line.rstrip() for line in text.splitlines()), "trailing whitespace"
    # `Service.async_method` never reads `self` (a candidate: wave 11), so the stub class derives
    # from the real one, as a model method's does
    assert "class Service(corpus.methods.Service):\n    @staticmethod\n" in text
    assert "\n    class Nested:\n        @staticmethod\n" in text
    reasons = {s.qualname: s.reason for s in report.skipped}
    assert "Renamer.renamed" not in reasons and "corpus.methods:Renamer.renamed" in report.functions
    assert "class Renamer(corpus.methods.Renamer):" in text
    assert "no return annotation" in reasons["same"]
    here = str(Path(api.__file__).resolve().parent.parent)  # the distilgen under test, not another install
    path = os.pathsep.join([here, *(str(corpus_copy / p) for p in ("", "_site", "_runtime_only"))])
    run = subprocess.run([sys.executable, "-c", "import corpus.distil_stubs as s; print(len(s.instructions.functions))"],
                         cwd=corpus_copy, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": path})
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) >= len(report.functions)


def test_nothing_to_stub_writes_no_module(tmp_path: Path) -> None:
    """A module importing only the instance would fail `mypy --strict`: say 0 stubs, write nothing."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app").mkdir()
    (tmp_path / "app/__init__.py").write_text("")
    (tmp_path / "app/plain.py").write_text("def f(a: int) -> int:\n    return a\n")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if ".distilgen_cache" not in p.parts)
    report = api.stubs([tmp_path], model=MODEL)
    assert report.functions == () and report.edit is None and report.edits == ()
    after = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if ".distilgen_cache" not in p.parts)
    assert after == before
    here = str(Path(api.__file__).resolve().parent.parent)
    proc = subprocess.run([sys.executable, "-m", "distilgen", "stubs", "--model", MODEL, str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": here})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"0 stubs for {MODEL}\n"
    assert not list(tmp_path.rglob("distil*.py"))


BLOB = '''from pydantic import BaseModel


class Blob(BaseModel):
    x: int = 0

    @classmethod
    def from_path(cls, p: str) -> "Blob":
        """Load a blob."""
        return cls(x=len(p))

    def grow(self, n: int) -> "Blob":
        return Blob(x=self.x + n)

    @staticmethod
    def empty(note: str) -> "Blob":
        """An empty blob."""
        return Blob()

    def merge(self, other: "Blob") -> "Blob":
        """Both blobs in one."""
        return Blob(x=self.x + other.x)
'''


@pytest.fixture
def blob_project(tmp_path: Path) -> Path:
    """A model whose classmethod, staticmethod and instance method all return the model itself."""
    root = tmp_path / "blobproj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "blobproj"\n')
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(BLOB)
    return root


def test_a_models_classmethods_share_its_subclass_stub(blob_project: Path, tmp_path: Path) -> None:
    """F8: the stub class of a model's classmethod shadowed the imported model (mypy no-redef) and
    the model's instance method was then skipped; now all its methods live in one subclass."""
    report = api.stubs([blob_project], model=MODEL, output=blob_project / "pkg" / "stubs.py")
    assert report.functions == ("pkg.mod:Blob.from_path", "pkg.mod:Blob.grow", "pkg.mod:Blob.empty",
                                "pkg.mod:Blob.merge")
    assert report.skipped == ()
    text = (blob_project / "pkg" / "stubs.py").read_text()
    # `other: "Blob"` now takes the stub subclass, narrower than the method it overrides
    assert 'def merge(self, other: "Blob") -> "Blob":  # type: ignore[override]\n' in text
    assert text.count("# type: ignore") == 1
    assert "class Blob(pkg.mod.Blob):\n    @classmethod\n" in text
    assert "from pkg.mod import Blob" not in text and text.count("class Blob") == 1
    # each stub renders its original's prompt (signature text and docstring kept)
    scan = {r.function_id: r for r in api.scan([blob_project]).results}
    original = (blob_project / "pkg" / "mod.py").read_text()
    for fid in report.functions:
        r = scan[fid]
        _assert_same_prompt(original, text, r.qualname, "Blob", r.lineno)
    run = mypy_strict(blob_project, "pkg/stubs.py", search_path=[blob_project])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found in 1 source file" in run.stdout


def test_a_classmethod_stub_dispatches_to_an_instance_of_the_model(blob_project: Path) -> None:
    """`-> "Blob"` in the stubs module resolves to the stub class: a subclass of the model with its
    fields and name, so the tool is `Blob` and the answer validates into an instance of the model."""
    from distilgen.testing import FakeOpenAI

    api.stubs([blob_project], model=MODEL, output=blob_project / "pkg" / "stubs.py")
    probe = (
        "import json, typing, pkg.mod as m, pkg.stubs as s\n"
        "out = {}\n"
        "for name, fn in [('from_path', s.Blob.from_path), ('grow', s.Blob(x=1).grow), ('empty', s.Blob.empty)]:\n"
        "    hint = typing.get_type_hints(fn)['return']\n"
        "    got = fn('abc') if name != 'grow' else fn(2)\n"
        "    out[name] = [hint.__name__, issubclass(hint, m.Blob), list(hint.model_fields) == list(m.Blob.model_fields),"
        " isinstance(got, m.Blob), got.x]\n"
        "print(json.dumps(out))\n"
    )
    with FakeOpenAI() as srv:
        srv.chat.push({"x": 7}, {"x": 8}, {"x": 9})
        env = {**os.environ, "PYTHONPATH": str(blob_project), "OPENAI_BASE_URL": srv.base_url,
               "OPENAI_API_KEY": "sk-test"}
        run = subprocess.run([sys.executable, "-c", probe], cwd=blob_project, capture_output=True, text=True,
                             timeout=120, env=env)
        names = [r.json["tool_choice"]["function"]["name"] for r in srv.requests_to("/v1/chat/completions")]
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got == {"from_path": ["Blob", True, True, True, 7], "grow": ["Blob", True, True, True, 8],
                   "empty": ["Blob", True, True, True, 9]}
    assert names == ["Blob", "Blob", "Blob"]


def test_stub_classes_that_would_shadow_or_merge_are_reported(tmp_path: Path) -> None:
    """A non-model class naming itself in a signature, two models of one name in different modules,
    a generic model given type arguments: each skipped with its reason, never a module mypy rejects
    or one class for both."""
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    (root / "pkg" / "__init__.py").write_text("")
    for mod in ("a", "b"):
        (root / "pkg" / f"{mod}.py").write_text(
            "from pydantic import BaseModel\n\n\nclass Blob(BaseModel):\n    x: int = 0\n\n"
            '    def grow(self, n: int) -> "Blob":\n        return Blob(x=self.x + n)\n')
    (root / "pkg" / "c.py").write_text(
        "import enum\n\nfrom pydantic import BaseModel\n\n\nclass S(BaseModel):\n    t: str\n\n\n"
        'class Color(enum.Enum):\n    RED = 1\n\n    @classmethod\n    def describe(cls, c: "Color") -> S:\n'
        '        return S(t="")\n')
    (root / "pkg" / "g.py").write_text(
        "from typing import Generic, TypeVar\n\nfrom pydantic import BaseModel\n\nT = TypeVar('T')\n\n\n"
        'class Box(BaseModel, Generic[T]):\n    x: int = 0\n\n    def twice(self, n: int) -> "Box[T]":\n'
        "        return Box(x=2 * n)\n")
    report = api.stubs([root], model=MODEL, output=root / "pkg" / "stubs.py")
    assert report.functions == ("pkg.a:Blob.grow",)
    reasons = {(s.path, s.qualname): s.reason for s in report.skipped}
    assert reasons == {
        ("pkg/b.py", "Blob.grow"): "a stub class 'Blob' already stands for pkg.a.Blob",
        ("pkg/c.py", "Color.describe"): "its signature names its own class 'Color', which is not a model: "
                                        "a stub class would shadow it",
        # `-> Box[T]` would name the stub subclass, which takes no type arguments
        ("pkg/g.py", "Box.twice"): "its signature gives its own generic class 'Box' type arguments, "
                                   "which its stub class cannot take",
    }
    text = (root / "pkg" / "stubs.py").read_text()
    assert "class Blob(pkg.a.Blob):" in text and "Color" not in text and "pkg.b" not in text


def _assert_same_prompt(original: str, stub: str, qualname: str, tool: str, lineno: int | None = None,
                        stub_qualname: str | None = None) -> None:
    """The stub renders its original's prompt (signature text and docstring kept)."""
    want = static_prompt(original, qualname, tool, include_body=False, lineno=lineno)
    got = static_prompt(stub, stub_qualname or qualname, tool, include_body=False)
    assert want is not None and got == want, qualname


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    """A project folder `proj` with a pyproject.toml and `files` (relative paths)."""
    root = tmp_path / "proj"
    for rel, text in {"pyproject.toml": "", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _imports(root: Path, module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", f"import {module}"], cwd=root, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{ROOT}"})


def _assert_mypy_strict_passes(root: Path, rel: str) -> None:
    """`mypy --strict` on the generated module, the project and this checkout on its path."""
    out = mypy_strict(root, rel, search_path=[root, ROOT], path_var="PYTHONPATH", follow_silent=False)
    assert out.returncode == 0, out.stdout


def test_names_only_type_checkers_import_stay_that_way_in_the_stubs(tmp_path: Path) -> None:
    """dspy (held-out corpus): a parameter hinted with a class imported under `if TYPE_CHECKING:`
    (an optional dependency) was imported at the top of the stubs module, which then failed to
    import without that dependency, where the original imports fine."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/models.py":
            "from __future__ import annotations\n\nfrom typing import TYPE_CHECKING\n\nfrom pydantic import BaseModel\n\n"
            "if TYPE_CHECKING:\n    from optional_dep import Thing\n    from pkg.verdicts import Verdict\n\n\n"
            "class Answer(BaseModel):\n    text: str\n\n\n"
            "def from_thing(thing: Thing, n: int) -> Answer:\n    \"\"\"Describe the thing.\"\"\"\n    return Answer(text=str(thing))\n\n\n"
            "def judge(q: str) -> Verdict:\n    return Verdict.model_construct()\n",
        "pkg/verdicts.py": "from pydantic import BaseModel\n\n\nclass Verdict(BaseModel):\n    ok: bool\n",
    })
    report = api.stubs([root], model=MODEL)
    # `judge`'s return model is imported only for type checkers: the scan makes it ineligible (wave
    # 6), so no stub is written for it
    [why] = [r.reason for r in api.scan([root], use_cache=False).results if r.qualname == "judge"]
    assert why is not None and "Verdict, imported only under `if TYPE_CHECKING:`" in why
    assert all(s.qualname != "judge" for s in report.skipped)
    text = (root / report.path).read_text()
    assert "def judge" not in text
    assert "if TYPE_CHECKING:\n    from optional_dep import Thing\n" in text
    assert "from __future__ import annotations\n" in text and "Verdict" not in text.split('"""')[-1]
    run = _imports(root, "pkg.distil_stubs")
    assert run.returncode == 0, run.stderr
    original = (root / "pkg" / "models.py").read_text()
    _assert_same_prompt(original, text, "from_thing", "Answer")


def test_a_signature_over_several_lines_passes_mypy_strict(tmp_path: Path) -> None:
    """browser-use and agno (second held-out wave): the `# type: ignore[no-untyped-def]` of a stub
    went after its `:`, but mypy reports at the `def` line; a comment there would sit inside the
    signature, which is the prompt. The module disables the code instead, and a one-line stub's
    own ignore of the same code goes (mypy --strict reports unused ignores)."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/events.py":
            "from pydantic import BaseModel\n\n\nclass Step(BaseModel):\n    n: int\n\n"
            "    @classmethod\n    def from_run(\n        cls, agent, result: list[str]\n    ) -> 'Step':\n"
            "        \"\"\"From a run.\"\"\"\n        return cls(n=len(result))\n\n\n"
            "def one_line(agent, k: int) -> Step:\n    return Step(n=k)\n",
    })
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    assert '# mypy: allow-empty-bodies, disable-error-code="no-untyped-def"\n' in text
    assert "type: ignore" not in text
    original = (root / "pkg" / "events.py").read_text()
    _assert_same_prompt(original, text, "Step.from_run", "Step")
    run = mypy_strict(root, report.path, search_path=[root, ROOT])
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_model_behind_a_package_name_rebound_to_a_function_is_imported_by_alias(tmp_path: Path) -> None:
    """browser-use (second held-out wave): `browser_use/__init__.py` binds `sandbox` to a function,
    so the stub class `SSEEvent(browser_use.sandbox.views.SSEEvent)` failed at import and under
    mypy. The model is imported under an alias instead; other stubs keep the dotted form."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "from pkg.sandbox import sandbox\n",
        "pkg/sandbox/__init__.py": "from pkg.sandbox.runner import sandbox\n",
        "pkg/sandbox/runner.py": "def sandbox() -> None:\n    pass\n",
        "pkg/sandbox/views.py": "from pydantic import BaseModel\n\n\nclass Event(BaseModel):\n    kind: str\n\n"
                                "    @classmethod\n    def from_json(cls, text: str) -> 'Event':\n"
                                "        return cls.model_validate_json(text)\n",
        "pkg/plain/__init__.py": "",
        "pkg/plain/models.py": "from pydantic import BaseModel\n\n\nclass Note(BaseModel):\n    text: str\n\n"
                               "    def shout(self) -> 'Note':\n        return Note(text=self.text.upper())\n",
    })
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    assert "from pkg.sandbox.views import Event as Event_model\n" in text and "class Event(Event_model):" in text
    assert "import pkg.plain.models\n" in text and "class Note(pkg.plain.models.Note):" in text
    run = _imports(root, report.path.removesuffix(".py").replace("/", "."))
    assert run.returncode == 0, run.stderr


def test_a_module_no_import_can_name_is_skipped_not_a_crash(tmp_path: Path) -> None:
    """zenml (third held-out wave): alembic's `versions/7b651bf6822e_track_secrets.py` define models
    with methods; `stubs` stopped with an internal error (a model method) or refused the whole
    module (a function), blaming "the edited source"."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/versions/__init__.py": "",
        "pkg/versions/7b65_secrets.py":
            "from pydantic import BaseModel\n\n\nclass Meta(BaseModel):\n    n: int\n\n    def bumped(self) -> \"Meta\":\n"
            "        return Meta(n=self.n + 1)\n\n\ndef summarize(n: int) -> Meta:\n    return Meta(n=n)\n",
        "pkg/api.py": "from pydantic import BaseModel\n\n\nclass Out(BaseModel):\n    x: int\n\n\ndef make(x: int) -> Out:\n    return Out(x=x)\n",
    })
    report = api.stubs([root], model=MODEL)
    assert report.functions == ("pkg.api:make",)
    assert {(s.qualname, s.reason) for s in report.skipped} == {
        (q, "its module pkg.versions.7b65_secrets cannot be named in an import statement") for q in ("Meta.bumped", "summarize")}
    assert _imports(root, "pkg.distil_stubs").returncode == 0


def test_a_models_stub_class_stands_for_it_in_other_signatures(tmp_path: Path) -> None:
    """zenml (third held-out wave): `TagResponse.get_hydrated_version` made `class TagResponse` in
    the stubs module, and every other function naming TagResponse (279 of them) was skipped."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/store.py": "from pkg.models import Tag\n\n\ndef create_tag(name: str) -> Tag:\n    return Tag(name=name)\n\n\n"
                        "def update_tag(tag: Tag, name: str) -> Tag:\n    return Tag(name=name)\n",
        "pkg/models.py": "from pydantic import BaseModel\n\n\nclass Tag(BaseModel):\n    name: str\n\n"
                         "    def renamed(self, new: str) -> \"Tag\":\n        return Tag(name=new)\n",
    })
    report = api.stubs([root], model=MODEL)
    assert report.skipped == ()
    # file and line order, whatever order they were planned in
    assert report.functions == ("pkg.models:Tag.renamed", "pkg.store:create_tag", "pkg.store:update_tag")
    text = (root / "pkg" / "distil_stubs.py").read_text()
    assert "class Tag(pkg.models.Tag):" in text and "from pkg.models import Tag" not in text
    check = subprocess.run([sys.executable, "-c", "import pkg.distil_stubs as s, pkg.store as o\n"
                            "from distilgen import Instructions\n"
                            "i = Instructions(name='x')\n"
                            "for f in ('create_tag', 'update_tag'):\n"
                            "    a, b = getattr(s, f).__distil__.spec, i.distil(getattr(o, f)).__distil__.spec\n"
                            "    assert (a.prompt, a.schema, a.tool_name) == (b.prompt, b.schema, b.tool_name), f\n"],
                           cwd=root, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{ROOT}"})
    assert check.returncode == 0, check.stderr


def test_a_stub_class_in_another_stub_classs_method_passes_mypy(tmp_path: Path) -> None:
    """google-genai and zenml (third held-out wave), after stub classes stood for their models in
    other signatures: `Part.from_response(parts: list[ResponsePart])` in Part's stub class takes
    ResponsePart's stub class, narrower than the original method's parameter (`override`)."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/types.py": "from typing import Optional\n\nfrom pydantic import BaseModel\n\n\n"
                        "class ResponsePart(BaseModel):\n    data: bytes = b\"\"\n\n    @classmethod\n"
                        "    def from_bytes(cls, *, data: bytes) -> \"ResponsePart\":\n        return cls(data=data)\n\n\n"
                        "class Part(BaseModel):\n    parts: list[ResponsePart] = []\n\n    @classmethod\n"
                        "    def from_response(cls, *, name: str, parts: Optional[list[ResponsePart]] = None) -> \"Part\":\n"
                        "        return cls(parts=parts or [])\n",
    })
    report = api.stubs([root], model=MODEL)
    assert report.skipped == () and len(report.functions) == 2
    text = (root / "pkg" / "distil_stubs.py").read_text()
    assert '# mypy: allow-empty-bodies, disable-error-code="override"' in text
    _assert_mypy_strict_passes(root, "pkg/distil_stubs.py")


def test_what_apply_refused_is_not_stubbed(tmp_path: Path) -> None:
    """langsmith (third held-out wave): `apply` called `RunTree.create_child` ineligible (its model
    has no JSON schema: the schema child imports the models), and `stubs`, which imports nothing,
    still wrote a stub for it. It now skips what the last `apply` refused, saying why."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/runs.py": "from typing import Callable\n\nfrom pydantic import BaseModel\n\n\n"
                       "class Run(BaseModel):\n    hook: Callable[[], None]\n\n\n"
                       "class Out(BaseModel):\n    x: int\n\n\n"
                       "def child(name: str) -> Run:\n    return Run(hook=lambda: None)\n\n\n"
                       "def fine(x: int) -> Out:\n    return Out(x=x)\n",
    })
    api.apply([root])
    report = api.stubs([root], model=MODEL)
    assert report.functions == ("pkg.runs:fine",)
    [skipped] = report.skipped
    assert skipped.qualname == "child" and skipped.reason.startswith("ineligible: ") and "Run has no JSON schema" in skipped.reason
    assert "(remembered from the last `distilgen apply`" in skipped.reason


def test_a_stub_class_of_a_generic_model_passes_mypy(tmp_path: Path) -> None:
    """openai, langsmith, semantic-kernel (third held-out wave): `class BasePage(pkg.pages.BasePage):`
    names a generic model without type arguments (`type-arg` under --strict); parametrising it
    would subclass another class at run time, so the class line carries the ignore."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/pages.py": "from typing import Generic, TypeVar\n\nfrom pydantic import BaseModel\n\n_T = TypeVar(\"_T\")\n\n\n"
                        "class Options(BaseModel):\n    url: str\n\n\n"
                        "class BasePage(BaseModel, Generic[_T]):\n    items: list[_T]\n\n"
                        "    def next_options(self, cursor: str) -> Options:\n        return Options(url=cursor)\n\n\n"
                        "class Page(BasePage[int]):\n    def again(self, cursor: str) -> Options:\n        return Options(url=cursor)\n",
    })
    api.stubs([root], model=MODEL)
    text = (root / "pkg" / "distil_stubs.py").read_text()
    assert "class BasePage(pkg.pages.BasePage):  # type: ignore[type-arg]\n" in text
    assert "class Page(pkg.pages.Page):\n" in text  # not generic: no ignore (mypy would call it unused)
    _assert_mypy_strict_passes(root, "pkg/distil_stubs.py")


def test_a_signature_giving_a_stub_classs_model_type_arguments_is_skipped(tmp_path: Path) -> None:
    """langchain-core, after stub classes stood for their models: `-> BasePromptTemplate[str]` in
    another stub named the (non-generic) stub class with type arguments (`type-arg`)."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/boxes.py": "from typing import Generic, TypeVar\n\nfrom pydantic import BaseModel\n\nT = TypeVar(\"T\")\n\n\n"
                        "class Item(BaseModel):\n    n: int\n\n\n"
                        "class Box(BaseModel, Generic[T]):\n    value: T\n\n    def peek(self) -> Item:\n        return Item(n=1)\n\n\n"
                        "def make_box(x: int) -> Box[int]:\n    return Box[int](value=x)\n\n\n"
                        "def open_box(box: Box, k: int) -> Item:\n    return Item(n=k)\n",
    })
    report = api.stubs([root], model=MODEL)
    assert report.functions == ("pkg.boxes:Box.peek", "pkg.boxes:open_box")
    [skipped] = report.skipped
    assert skipped.qualname == "make_box" and "also the name of a stub" in skipped.reason
    _assert_mypy_strict_passes(root, "pkg/distil_stubs.py")


def test_originals_bare_generics_and_implicit_reexports_pass_mypy_strict(tmp_path: Path) -> None:
    """llama-index-core (corpus rerun): 20 of its stubs' 22 `mypy --strict` errors were the
    originals' own bare generics (`data: dict`, `Optional[List]`), kept as written (they are the
    prompt), and 2 were names imported from a module that only imported them itself
    (`from ...metadata_extractors import BaseExtractor`: an implicit re-export). A one-line
    signature gets its own `# type: ignore[type-arg]`, one over several lines makes the module
    disable the code (and then a generic model's class line no longer ignores it); the import is
    followed to the module that exports the name, never past a name bound twice."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/base.py": "from pydantic import BaseModel\n\n\nclass Extractor(BaseModel):\n    name: str\n",
        "pkg/extractors.py": "from pkg.base import Extractor\n\n\nclass Keyword(Extractor):\n    pass\n",
        "pkg/compat.py": "try:\n    from pkg.base import Extractor\nexcept ImportError:\n    from pkg.missing import Extractor\n",
        "pkg/loading.py":
            "from typing import List, Literal, Optional\n\nfrom pkg.compat import Extractor as Compat\n"
            "from pkg.extractors import Extractor\n\n\n"
            "def load(data: dict) -> Extractor:\n    return Extractor(name=str(data))\n\n\n"
            "def load_all(\n    data: Optional[List],\n    strict: bool = False,\n) -> Extractor:\n"
            "    return Extractor(name=str(data))\n\n\n"
            "def quoted(data: dict[str, int], names: 'dict', kind: 'Literal[\"dict\"]') -> Extractor:\n"
            "    return Extractor(name='x')\n\n\n"
            "def compat(data: int) -> Compat:\n    return Compat(name='x')\n",
        "pkg/pages.py":
            "from typing import Generic, TypeVar\n\nfrom pydantic import BaseModel\n\nT = TypeVar('T')\n\n\n"
            "class Page(BaseModel, Generic[T]):\n    items: list[T]\n\n"
            "    def first(self, n: int) -> 'Page[T]':\n        return self\n",
    })
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    assert "from pkg.base import Extractor\n" in text and "pkg.extractors" not in text
    assert "from pkg.compat import Extractor as Compat\n" in text  # bound twice there: not followed
    assert 'disable-error-code="type-arg"' in text and "type: ignore" not in text
    original = (root / "pkg" / "loading.py").read_text()
    for name in ("load", "load_all"):
        _assert_same_prompt(original, text, name, "Extractor")

    def strict(rel: str) -> subprocess.CompletedProcess[str]:
        return mypy_strict(root, rel, search_path=[root, ROOT])

    # pkg.compat's implicit re-export is the original's own mypy error: checked without it
    report = api.stubs([root], model=MODEL, select=["pkg.loading:load", "pkg.loading:load_all", "pkg.loading:quoted",
                                                    "pkg.pages:Page.first"])
    run = strict(report.path)
    assert run.returncode == 0, run.stdout + run.stderr
    # one-line signatures only: each stub ignores its own code, where mypy reports it
    (root / "pkg" / "loading.py").write_text(original.replace("def load_all(\n    data: Optional[List],\n    strict: bool = False,\n)",
                                                              "def load_all(data: Optional[List], strict: bool = False)"))
    (root / "pkg" / "pages.py").unlink()
    report = api.stubs([root], model=MODEL, select=["pkg.loading:load", "pkg.loading:load_all", "pkg.loading:quoted"])
    text = (root / report.path).read_text()
    assert "disable-error-code" not in text and text.count("  # type: ignore[type-arg]\n") == 3, text
    run = strict(report.path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_self_type_bound_to_the_original_class_passes_mypy_strict(tmp_path: Path) -> None:
    """semantic-kernel (third held-out wave): `def build(cls: type[_T], ...)` with `_T` bound to
    the original class; the stub class is not its subclass, which mypy reports at the `def`
    (`misc`). An unbound type variable or `Self` is no error, so gets no ignore."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/actions.py":
            "from typing import TypeVar\n\nfrom pydantic import BaseModel\n\n"
            "_T = TypeVar('_T', bound='Actions')\nU = TypeVar('U')\n\n\n"
            "class Msg(BaseModel):\n    text: str\n\n\n"
            "class Actions:\n"
            "    @classmethod\n    def build(cls: type[_T], text: str) -> Msg:\n        return Msg(text=text)\n\n"
            "    @classmethod\n    def build_free(cls: type[U], text: str) -> Msg:\n        return Msg(text=text)\n\n"
            "    @classmethod\n    def build_long(\n        cls: type[_T],\n        text: str,\n    ) -> Msg:\n"
            "        return Msg(text=text)\n",
    })
    report = api.stubs([root], model=MODEL, select=["pkg.actions:Actions.build", "pkg.actions:Actions.build_free"])
    text = (root / report.path).read_text()
    assert text.count("# type: ignore[misc]") == 1 and "def build(cls: type[_T], text: str) -> Msg:  # type: ignore[misc]" in text
    _assert_mypy_strict_passes(root, report.path)
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    assert 'disable-error-code="misc"' in text and "type: ignore" not in text
    _assert_mypy_strict_passes(root, report.path)


def test_a_name_imported_for_type_checkers_and_computed_at_run_time(tmp_path: Path) -> None:
    """openai (third held-out wave): `if TYPE_CHECKING: import openai._client as _sdk_client`,
    else `_sdk_client = import_module(...)`; the stubs imported `_sdk_client` from the module,
    which mypy refuses (not exported). The stubs bind it as type checkers read it, for them only."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        # a dataclass: a plain class parameter makes the function ineligible (no call can write it)
        "pkg/client.py": "from dataclasses import dataclass\n\n\n@dataclass\nclass Client:\n    name: str = ''\n",
        "pkg/auth.py":
            "from importlib import import_module\nfrom typing import TYPE_CHECKING\n\nfrom pydantic import BaseModel\n\n"
            "if TYPE_CHECKING:\n    import pkg.client as _client\nelse:\n    _client = import_module('pkg.client')\n\n\n"
            "class Token(BaseModel):\n    value: str\n\n\n"
            "def token_for(client: _client.Client, scope: str) -> Token:\n    return Token(value=scope)\n",
    })
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    assert "if TYPE_CHECKING:\n    import pkg.client as _client\n" in text and "import _client" not in text
    run = _imports(root, report.path.removesuffix(".py").replace("/", "."))
    assert run.returncode == 0, run.stderr
    _assert_mypy_strict_passes(root, report.path)


def test_a_project_generic_class_named_bare_in_a_signature(tmp_path: Path) -> None:
    """semantic-kernel (third held-out wave): `-> KernelProcessStateMetadata`, a model generic in a
    type variable the project imports from another module (`Base[TState]`), named without type
    arguments in the original's signature: `type-arg` there, and on its stub class's line. Where a
    stub class stands for the model, the name means that (non-generic) class: no ignore."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/types.py": "from typing import TypeVar\n\nTState = TypeVar('TState')\n",
        "pkg/meta.py":
            "from typing import Generic\n\nfrom pydantic import BaseModel\n\nfrom pkg.types import TState\n\n\n"
            "class StepMeta(BaseModel, Generic[TState]):\n    state: TState | None = None\n\n\n"
            "class ProcessMeta(StepMeta[TState]):\n    name: str = ''\n\n"
            "    def renamed(self, name: str) -> 'ProcessMeta':\n        return ProcessMeta(name=name)\n",
        "pkg/build.py": "from pkg.meta import ProcessMeta\n\n\n"
                        "def to_meta(name: str) -> ProcessMeta:\n    return ProcessMeta(name=name)\n",
    })
    report = api.stubs([root], model=MODEL, select=["pkg.build:to_meta"])
    text = (root / report.path).read_text()
    assert "def to_meta(name: str) -> ProcessMeta:  # type: ignore[type-arg]\n" in text, text
    _assert_mypy_strict_passes(root, report.path)
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    # ProcessMeta is now the stub class (a model's method is stubbed): not generic in this module
    assert "class ProcessMeta(pkg.meta.ProcessMeta):  # type: ignore[type-arg]\n" in text, text
    assert "def to_meta(name: str) -> ProcessMeta:\n" in text and "def renamed(self, name: str) -> 'ProcessMeta':\n" in text
    _assert_mypy_strict_passes(root, report.path)


def test_the_stubs_module_is_the_same_whatever_the_hash_seed(tmp_path: Path) -> None:
    """semantic-kernel: two aliases of one class (`Choice as ChunkChoice`, `Choice as
    ChatCompletionChunkChoice`) came out in a set's order, so `stubs` wrote a different module
    from one run to the next (and `stubs --check` would call it stale)."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/types.py": "from pydantic import BaseModel\n\n\nclass Choice(BaseModel):\n    n: int\n",
        "pkg/a.py": "from pkg.types import Choice as ChunkChoice\n\n\ndef first(n: int) -> ChunkChoice:\n"
                    "    return ChunkChoice(n=n)\n",
        "pkg/b.py": "from pkg.types import Choice as OtherChoice\n\n\ndef second(n: int) -> OtherChoice:\n"
                    "    return OtherChoice(n=n)\n",
    })
    texts = set()
    for seed in ("1", "2", "3", "4", "5", "6"):
        run = subprocess.run([sys.executable, "-m", "distilgen", "stubs", "--model", MODEL, "-o", "-", "."], cwd=root,
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)})
        assert run.returncode == 0, run.stderr
        texts.add(run.stdout)
    assert len(texts) == 1
    text = texts.pop()
    assert text.index("import Choice as ChunkChoice") < text.index("import Choice as OtherChoice")


def test_literal_strings_in_a_signature_are_values_not_names(tmp_path: Path) -> None:
    """fastmcp (wave 4): `log_level: Literal["DEBUG", "CRITICAL"]` skipped the function, "name
    'CRITICAL' in its signature is not defined"; a string elsewhere in an annotation is still a
    forward reference, and a name inside `Literal[...]` (an enum member) is still read."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/conf.py":
            "import enum\nfrom typing import Literal, Optional\n\nfrom pydantic import BaseModel\n\n\n"
            "class Color(enum.Enum):\n    RED = 'red'\n\n\n"
            "class Conf(BaseModel):\n    level: str\n\n\n"
            "def from_cli(level: Optional[Literal['DEBUG', 'CRITICAL']], c: Literal[Color.RED], n: 'int') -> 'Conf':\n"
            "    return Conf(level=str(level))\n\n\n"
            "def unknown(x: 'Missing') -> Conf:  # noqa: F821\n    return Conf(level='x')\n",
    })
    report = api.stubs([root], model=MODEL)
    assert [s.qualname for s in report.skipped] == ["unknown"], report.skipped
    assert "'Missing'" in report.skipped[0].reason
    text = (root / report.path).read_text()
    assert "def from_cli(level: Optional[Literal['DEBUG', 'CRITICAL']], c: Literal[Color.RED], n: 'int') -> 'Conf':" in text
    assert "Color" in text.split("def from_cli")[0]  # imported: the enum member is read
    run = _imports(root, "pkg.distil_stubs")
    assert run.returncode == 0, run.stderr


def test_a_model_under_a_subpackage_its_package_imports_by_name_passes_mypy(tmp_path: Path) -> None:
    """dagster (wave 4): `import dagster.components as components` in the package made mypy read
    `dagster.components.<...>.Spec` as a name of `dagster`, not the class: "is not defined" on
    every stub class of a model there. The model is imported under an alias instead."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "import pkg.sub as sub  # noqa: F401\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/mod.py":
            "from pydantic import BaseModel\n\n\nclass Spec(BaseModel):\n    name: str\n\n"
            "    @classmethod\n    def default(cls, name: str) -> \"Spec\":\n        return cls(name=name)\n",
    })
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    assert "from pkg.sub.mod import Spec as Spec_model\n" in text and "class Spec(Spec_model):" in text
    assert _imports(root, "pkg.distil_stubs").returncode == 0
    _assert_mypy_strict_passes(root, report.path)


# a model with a classmethod its subclass overrides, and a model whose method takes it (the
# stubs module then disables `override`): the wave-4 `type: ignore` tests below
_TEMPLATE = ("from pydantic import BaseModel\n\n\nclass Template(BaseModel):\n    uri: str\n\n"
             "    @classmethod\n    def from_raw(cls, raw: str) -> \"Template\":\n        return cls(uri=raw)\n\n\n")
_OTHER = ("class Other(BaseModel):\n    n: int\n\n"
          "    def merge(self, t: Template) -> \"Other\":\n        return Other(n=self.n + len(t.uri))\n")


def test_an_originals_own_ignore_on_its_signature_line_is_kept(tmp_path: Path) -> None:
    """fastmcp (wave 4): `def from_raw(cls, client: str, raw: str) -> "ProxyTemplate":  # type:
    ignore[override]` passes mypy --strict; its stub, written without the comment, did not (the stub
    class inherits the same incompatible override). The comment is no part of the prompt."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/models.py":
            _TEMPLATE +
            "class ProxyTemplate(Template):\n    client: str = \"\"\n\n"
            "    @classmethod\n    def from_raw(cls, client: str, raw: str) -> \"ProxyTemplate\":  # type: ignore[override]\n"
            "        return cls(uri=raw, client=client)\n",
    })
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    assert 'def from_raw(cls, client: str, raw: str) -> "ProxyTemplate":  # type: ignore[override]\n' in text
    original = (root / "pkg" / "models.py").read_text()
    _assert_same_prompt(original, text, "ProxyTemplate.from_raw", "ProxyTemplate")
    _assert_mypy_strict_passes(root, report.path)


def test_an_ignore_inside_a_multi_line_signature_the_module_disables_passes_mypy(tmp_path: Path) -> None:
    """fastmcp (wave 4): `def from_raw(  # type: ignore[override]` over several lines is part of the
    prompt, so it stays; when another stub makes the module disable `override`, that comment is an
    unused ignore, which mypy --strict reports: the module disables `unused-ignore` too."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/models.py":
            _TEMPLATE +
            "class ProxyTemplate(Template):\n    client: str = \"\"\n\n"
            "    @classmethod\n    def from_raw(  # type: ignore[override]\n        cls,\n        client: str,\n"
            "        raw: str,\n    ) -> \"ProxyTemplate\":\n        return cls(uri=raw, client=client)\n\n\n" +
            _OTHER,
    })
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    assert "def from_raw(  # type: ignore[override]\n" in text
    assert 'disable-error-code="override, unused-ignore"' in text
    original = (root / "pkg" / "models.py").read_text()
    _assert_same_prompt(original, text, "ProxyTemplate.from_raw", "ProxyTemplate")
    _assert_mypy_strict_passes(root, report.path)


def test_no_unused_ignore_code_without_an_ignore_in_a_signature(tmp_path: Path) -> None:
    """The `unused-ignore` code is disabled only for a kept comment the module made unused."""
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/models.py": _TEMPLATE + _OTHER,
    })
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    assert 'disable-error-code="override"' in text
    _assert_mypy_strict_passes(root, report.path)


def test_one_installed_class_imported_by_two_paths_is_one_name(tmp_path: Path) -> None:
    """Wave 5 (arize-phoenix: `from fastapi import Request` in one module, `from
    starlette.requests import Request` in another): the stubs saw two different `Request`s and
    skipped functions ("write these stubs into separate modules"). An installed package's
    re-export is followed on the project interpreter's path."""
    site = tmp_path / "site"
    (site / "kit").mkdir(parents=True)
    (site / "kit" / "__init__.py").write_text("from kit.core import Thing as Thing\n")
    (site / "kit" / "core.py").write_text("from pydantic import BaseModel\n\n\nclass Thing(BaseModel):\n    name: str\n")
    root = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/models.py": "from pydantic import BaseModel\n\n\nclass Out(BaseModel):\n    text: str\n",
        "pkg/a.py": "from kit import Thing\n\nfrom pkg.models import Out\n\n\n"
                    "def echo_a(t: Thing) -> Out:\n    return Out(text=t.name)\n",
        "pkg/b.py": "from kit.core import Thing\n\nfrom pkg.models import Out\n\n\n"
                    "def echo_b(t: Thing) -> Out:\n    return Out(text=t.name)\n",
    })
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, "-m", "distilgen", "stubs", "--model", MODEL, "-o", "pkg/stubs_out.py", "."],
                         cwd=root, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "skipped" not in out.stdout + out.stderr, out.stdout + out.stderr
    text = (root / "pkg" / "stubs_out.py").read_text()
    assert "def echo_a(t: Thing) -> Out:" in text and "def echo_b(t: Thing) -> Out:" in text
    assert text.count("import Thing") == 1
