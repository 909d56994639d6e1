"""The codemods on code shaped like real projects: shadowed names, src layouts, several top-level
packages and namespace packages, hand-written decorators on other instances; the decorated code is
run (and built into a wheel and installed) to show it still works."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilgen import api
from distilgen.codemods.decorate import DecoratorEdit, Target, edit_module
from distilgen.codemods.splice import reduce_source
from distilgen.prompts.lock import load_lock

ROOT = Path(__file__).resolve().parent.parent
MODEL = "ft:gpt-4o-mini:acme::abc123"


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.py"))
            if "__pycache__" not in p.parts and ".distilgen_cache" not in p.parts}


def run_python(code: str, *, cwd: Path, path: list[Path], python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.pathsep.join(map(str, path))}
    return subprocess.run([python, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


PYPROJECT = """
[project]
name = "{name}"
version = "0.1"
dependencies = ["pydantic>=2"]

[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[tool.setuptools.packages.find]
where = ["{where}"]

[tool.distilgen]
dataset = "data/examples.jsonl"
"""

def with_decorated_module(more: str) -> dict[str, str]:
    """A package with its instance module, and `pkg/mod.py`: one decorated function, then `more`."""
    top = '''
        from pydantic import BaseModel

        from pkg.distil import instructions


        class M(BaseModel):
            x: int


        @instructions.distil
        def top(a: int) -> M:
            return M(x=a)
    '''
    return {
        "pyproject.toml": PYPROJECT.format(name="p", where="."),
        "pkg/__init__.py": "",
        "pkg/distil.py": "from distilgen import Instructions\n\ninstructions = Instructions()\n",
        "pkg/mod.py": textwrap.dedent(top) + textwrap.dedent(more),
    }


SHADOWING = '''
from pydantic import BaseModel


class M(BaseModel):
    x: int


def by_parameter(instructions: str) -> int:
    def inner(a: int) -> M:
        return M(x=a)
    return inner(1).x


def by_local() -> int:
    instructions = "local"
    def inner(a: int) -> M:  # reads nothing of by_local's (a closure is not distilled)
        return M(x=a + 5)
    return inner(1).x + len(instructions) - 5


def by_walrus_in_comprehension() -> int:
    _ = [(instructions := v) for v in ("ab",)]
    def inner(a: int) -> M:
        return M(x=a)
    return inner(len(instructions)).x


def by_global() -> int:
    global instructions
    instructions = "g"
    def inner(a: int) -> M:
        return M(x=a)
    return inner(3).x


def by_nonlocal() -> int:
    instructions = 0
    def middle() -> int:
        nonlocal instructions
        instructions = 4
        def inner(a: int) -> M:
            return M(x=a)
        return inner(instructions).x
    return middle()


def by_match(value: object) -> int:
    match value:
        case {"k": instructions}:
            pass
    def inner(a: int) -> M:
        return M(x=a)
    return inner(5).x


def by_loop_with_except_import() -> int:
    for instructions in range(1):
        pass
    try:
        import json as instructions
    except ImportError as instructions:
        pass
    def inner(a: int) -> M:
        return M(x=a)
    return inner(6).x


class Holder:
    instructions = "a class attribute"

    @staticmethod
    def make(a: int) -> M:
        return M(x=a)


def plain(a: int) -> M:
    return M(x=a)
'''

CALLS = """
import shadowpkg.mod as m
print(m.by_parameter("x"), m.by_local(), m.by_walrus_in_comprehension(), m.by_global(), m.by_nonlocal(),
      m.by_match({"k": 1}), m.by_loop_with_except_import(), m.Holder.make(7).x, m.plain(8).x)
"""


def test_decorated_code_runs_whatever_the_enclosing_scopes_bind(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": PYPROJECT.format(name="shadow", where="."), "shadowpkg/__init__.py": "",
                     "shadowpkg/mod.py": SHADOWING})
    original = snapshot(tmp_path)
    report = api.apply([tmp_path], lock=False)
    assert report.errors == (), report.errors
    assert sorted(e.path for e in report.changed) == ["shadowpkg/distil.py", "shadowpkg/mod.py"]
    text = (tmp_path / "shadowpkg/mod.py").read_text()
    assert "from shadowpkg.distil import instructions as distil_instructions\n" in text
    assert text.count("@distil_instructions.distil\n") == 9
    run = run_python(CALLS, cwd=tmp_path, path=[tmp_path, ROOT])
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1", "6", "2", "3", "4", "5", "6", "7", "8"]
    assert "CaptureWarning" not in run.stderr, run.stderr
    lines = (tmp_path / "data/examples.jsonl").read_text().splitlines()
    assert len(lines) == 9
    assert json.loads(lines[0])["messages"][1]["content"] == "Return inner(1)"
    # and back: every byte as before (the created module stays)
    assert api.apply([tmp_path], action="remove", lock=False).errors == ()
    after = snapshot(tmp_path)
    after.pop("shadowpkg/distil.py")
    assert after == original


def test_an_existing_import_that_a_scope_shadows_is_imported_again_under_a_free_name(tmp_path: Path) -> None:
    write(tmp_path, with_decorated_module('''


            def outer(instructions: str, distil_instructions: int) -> int:
                def inner(a: int) -> M:
                    return M(x=a)
                return inner(distil_instructions).x
        '''))
    assert api.apply([tmp_path], lock=False).errors == ()
    text = (tmp_path / "pkg/mod.py").read_text()
    assert "from pkg.distil import instructions as distil_instructions_2\n" in text
    assert "    @distil_instructions_2.distil\n    def inner" in text
    run = run_python("import pkg.mod; print(pkg.mod.outer('x', 5))", cwd=tmp_path, path=[tmp_path, ROOT])
    assert run.returncode == 0 and run.stdout.strip() == "5", run.stderr


LAYOUT = {
    "src/shop/__init__.py": "",
    "src/shop/api/__init__.py": "",
    "src/shop/api/orders.py": '''
        from pydantic import BaseModel


        class Order(BaseModel):
            id: int


        def make_order(n: int) -> Order:
            """An order with this id."""
            return Order(id=n)
    ''',
    "src/billing/__init__.py": "",
    "src/billing/invoice.py": '''
        from pydantic import BaseModel


        class Invoice(BaseModel):
            total: int


        def bill(n: int) -> Invoice:
            return Invoice(total=n)
    ''',
}

NAMESPACED = {
    # a PEP 420 namespace folder: the module goes into the regular package inside it
    "src/acme/tools/__init__.py": "",
    "src/acme/tools/parse.py": '''
        from pydantic import BaseModel


        class Parsed(BaseModel):
            word: str


        def parse(text: str) -> Parsed:
            return Parsed(word=text.split()[0])
    ''',
}


def test_the_instructions_module_lives_inside_each_top_level_package(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": PYPROJECT.format(name="shopco", where="src"), **LAYOUT, **NAMESPACED})
    original = snapshot(tmp_path)
    report = api.apply([tmp_path], lock=False)
    assert report.errors == ()
    created = sorted(e.path for e in report.changed if e.created)
    assert created == ["src/acme/tools/distil.py", "src/billing/distil.py", "src/shop/distil.py"]
    assert not (tmp_path / "distil.py").exists() and not (tmp_path / "src/distil.py").exists()
    assert "from shop.distil import instructions\n" in (tmp_path / "src/shop/api/orders.py").read_text()
    assert "from billing.distil import instructions\n" in (tmp_path / "src/billing/invoice.py").read_text()
    # named after the package the scan says the module is in (see the namespace test below)
    [parse] = [r for r in report_scan(tmp_path) if r.qualname == "parse"]
    package = parse.module.rpartition(".")[0]
    assert f"from {package}.distil import instructions\n" in (tmp_path / "src/acme/tools/parse.py").read_text()
    # the scan sees each of them as decorated, and a second apply changes nothing
    assert {r.status for r in api.scan([tmp_path], use_cache=False).results} == {"decorated"}
    assert api.apply([tmp_path], lock=False).changed == ()
    api.apply([tmp_path], action="remove", lock=False)
    after = snapshot(tmp_path)
    for rel in created:
        after.pop(rel)
    assert after == original


def report_scan(root: Path) -> tuple:  # type: ignore[type-arg]
    return api.scan([root], use_cache=False).results


def test_a_namespace_package_imports_its_module_by_its_full_name(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": PYPROJECT.format(name="acme-tools", where="src"), **NAMESPACED})
    assert api.apply([tmp_path], lock=False).errors == ()
    assert "from acme.tools.distil import instructions\n" in (tmp_path / "src/acme/tools/parse.py").read_text()


@pytest.mark.slow
def test_a_built_wheel_of_the_decorated_project_imports_in_a_clean_venv(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project, {"pyproject.toml": PYPROJECT.format(name="shopco", where="src"), **LAYOUT})
    assert api.apply([project], lock=False).errors == ()
    from wheels import build_wheel, install_alone

    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    site = install_alone(build_wheel(project, tmp_path / "dist"), venv)
    # only pydantic and distilgen come from outside the venv; the project's source tree is not on the path
    import pydantic

    (site / "deps.pth").write_text(f"{Path(pydantic.__file__).parent.parent}\n{ROOT}\n")
    code = ("import shop.api.orders, billing.invoice\n"
            "print(shop.api.orders.make_order(3).id, billing.invoice.bill(4).total)\n"
            "print(shop.api.orders.__file__)")
    run = run_python(code, cwd=tmp_path, path=[], python=str(python))
    assert run.returncode == 0, run.stderr
    first, where = run.stdout.splitlines()
    assert first == "3 4"
    assert where.startswith(str(site))


HAND_WRITTEN = {
    "pkg/__init__.py": "",
    "pkg/models.py": '''
        from pydantic import BaseModel


        class Answer(BaseModel):
            text: str
    ''',
    # written by hand against instructor, bound to a real fine-tuned model: not apply's to remove
    "pkg/hand.py": '''
        import instructor

        from pkg.models import Answer

        instructions = instructor.Instructions(name="hand")


        @instructions.distil(mode="dispatch", model="ft:gpt-3.5-turbo:acme::real1")
        def answer(question: str) -> Answer:
            return Answer(text=question)
    ''',
    "pkg/mine.py": '''
        from pkg.models import Answer


        def echo(text: str) -> Answer:
            return Answer(text=text)


        def configure(instructions: str = "") -> None:
            print(instructions)


        def call() -> None:
            configure(instructions="x")
    ''',
}


def test_remove_keeps_decorators_of_other_instances_unless_selected(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": PYPROJECT.format(name="p", where="."), **HAND_WRITTEN})
    original = snapshot(tmp_path)
    assert api.apply([tmp_path], lock=False).errors == ()
    mine = (tmp_path / "pkg/mine.py").read_text()
    assert "from pkg.distil import instructions\n" in mine and "@instructions.distil\ndef echo" in mine
    removed = api.apply([tmp_path], action="remove", lock=False)
    assert [e.path for e in removed.changed] == ["pkg/mine.py"]
    assert any("pkg/hand.py:8: answer: bound to pkg.hand:instructions" in n and "kept" in n for n in removed.notes), removed.notes
    after = snapshot(tmp_path)
    after.pop("pkg/distil.py")
    # the import went too: a parameter and a keyword argument called `instructions` are not uses of it
    assert after == original
    selected = api.apply([tmp_path], action="remove", select=["answer"], lock=False)
    assert [e.path for e in selected.changed] == ["pkg/hand.py"]
    assert "@instructions.distil" not in (tmp_path / "pkg/hand.py").read_text()


def test_an_import_still_read_elsewhere_is_kept_on_remove(tmp_path: Path) -> None:
    write(tmp_path, with_decorated_module('''


            def stats() -> object:
                return instructions.stats
        '''))
    api.apply([tmp_path], action="remove", lock=False)
    text = (tmp_path / "pkg/mod.py").read_text()
    assert "@instructions.distil" not in text and "from pkg.distil import instructions\n" in text


def test_remove_keeps_the_lock_entries_that_pin_a_model(sample_copy: Path) -> None:
    api.apply([sample_copy])
    api.apply([sample_copy], action="dispatch", model=MODEL, select=["classify_ticket"])
    before = load_lock(sample_copy / "distilgen.lock").get("inbox.triage:classify_ticket")
    assert before is not None and dict(before.models) == {MODEL: before.fingerprint}
    report = api.apply([sample_copy], action="remove")
    assert report.errors == ()
    lock = load_lock(sample_copy / "distilgen.lock")
    assert [e.function_id for e in lock.entries] == ["inbox.triage:classify_ticket"]
    kept = lock.get("inbox.triage:classify_ticket")
    assert kept is not None and (kept.models, kept.prompt, kept.fingerprint) == (before.models, before.prompt, before.fingerprint)
    assert any("kept the entry of inbox.triage:classify_ticket" in n for n in report.notes)


# -- the fast path: reduced parse + splice gives exactly what full code generation gives --------


def _defs(tree: ast.AST, prefix: str = "") -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((prefix + node.name, node.lineno))
            out.extend(_defs(node, f"{prefix}{node.name}.<locals>."))
        elif isinstance(node, ast.ClassDef):
            out.extend(_defs(node, f"{prefix}{node.name}."))
        elif isinstance(node, ast.stmt):
            out.extend(_defs(node, prefix))
    return out


def _full(source: bytes, targets: list[Target], action: str, model: str | None) -> bytes:
    edit = DecoratorEdit(targets, "pkg.distil:instructions", action, model, module="pkg.mod")
    new = edit.run(cst.parse_module(source), source=source)
    return new.bytes if edit.result.changed else source


SOURCES = sorted({*(ROOT / "tests" / "scan_corpus").rglob("*.py"), *(ROOT / "sample_project").rglob("*.py"),
                  *(ROOT / "tests" / "codemod_fixtures").rglob("before.py")})


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
@pytest.mark.parametrize("quick", [True, False], ids=["as-apply-runs", "codemod-only"])
def test_reduced_parse_and_splice_equal_full_generation(path: Path, quick: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    if not quick:  # the reduced parse and splice, also where line insertion would answer
        import distilgen.codemods.quick_decorate as quick_module

        monkeypatch.setattr(quick_module, "quick_decorate", lambda *args: None)
    source = path.read_bytes()
    try:
        defs = _defs(ast.parse(source))
    except SyntaxError:
        pytest.skip("not parsable by this interpreter")
    for action, model in (("decorate", None), ("dispatch", MODEL)):
        # each def alone (most of the file becomes stand-ins), then all at once
        for chosen in [[d] for d in defs[:12]] + ([defs] if defs else []):
            targets = [Target(q, line) for q, line in chosen]
            out, _ = edit_module(source, targets, "pkg.distil:instructions", action, module="pkg.mod", model=model)
            assert out == _full(source, targets, action, model), (path, action, chosen)


def test_an_edit_that_reaches_a_stand_in_falls_back_to_the_whole_module() -> None:
    # no import block and no docstring: the import goes on top and shifts the first statement's
    # blank lines, and that first statement (a class without targets) is a stand-in when reduced
    source = b"class A:\n    def a(self):\n        return 1\n\n\ndef target(x: int) -> M:\n    return M()\n"
    targets = [Target("target", 6)]
    assert reduce_source(source, ast.parse(source), [6]) is not None
    out, result = edit_module(source, targets, "pkg.distil:instructions", module="pkg.mod")
    assert result.changed == ("target",)
    assert out == _full(source, targets, "decorate", None)
    assert out.startswith(b"from pkg.distil import instructions\n\n\nclass A:\n    def a(self):\n        return 1\n")


def _fast_equals_full(source: bytes, targets: list[Target]) -> bytes:
    out, result = edit_module(source, targets, "pkg.distil:instructions", module="pkg.mod")
    assert result.changed == tuple(t.qualname for t in targets)
    assert out == _full(source, targets, "decorate", None)
    return out if isinstance(out, bytes) else out.encode()


def test_a_stand_in_class_keeps_what_its_body_binds() -> None:
    # class A is a stand-in when reduced; its `instructions` attribute still makes the name taken
    source = b"import os\n\n\nclass A:\n    instructions = 1\n    x = 2\n\n\ndef target(x: int) -> M:\n    return M()\n"
    reduced = reduce_source(source, ast.parse(source), [9])
    assert reduced is not None and b"instructions = 1" not in reduced
    out = _fast_equals_full(source, [Target("target", 9)])
    assert b"from pkg.distil import instructions as distil_instructions\n" in out


def test_stand_ins_are_one_string_token_and_keep_every_line_number() -> None:
    # blank lines would cost libcst a node each (1.25 s per 100,000 lines): a stand-in is one string
    body = "".join(f"    x{i} = {i}\n" for i in range(200))
    source = f"import os\n\n\ndef other() -> int:\n{body}    return 1\n\n\ndef target(x: int) -> M:\n{body}    return M()\n".encode()
    tree = ast.parse(source)
    target_line = next(n.lineno for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "target")
    reduced = reduce_source(source, tree, [target_line])
    assert reduced is not None
    assert reduced.count(b"\n") == source.count(b"\n")
    assert b'def other(): """\n' in reduced and b"x199" not in reduced  # the target's own body is cut too
    assert sum(1 for ln in reduced.splitlines() if not ln.strip()) <= source.count(b"\n\n") + 2 * 202
    assert sum(1 for s in cst.parse_module(reduced).body if isinstance(s, cst.FunctionDef)) == 2
    out = _fast_equals_full(source, [Target("target", target_line)])
    assert out.count(b"\n") == source.count(b"\n") + 2 and body.encode() in out


def test_targets_inside_an_if_block_are_reduced_and_spliced_one_level_down() -> None:
    # litellm's `if MCP_AVAILABLE:` around a module's endpoints: the other defs there are stand-ins
    source = textwrap.dedent('''\
        import os

        if os.environ.get("ON"):
            def other(a: int) -> int:
                b = a + 1
                return b

            # the endpoint
            @route("/x")
            def target(x: int) -> M:
                return M()
        ''').encode()
    reduced = reduce_source(source, ast.parse(source), [10])
    assert reduced is not None and b"b = a + 1" not in reduced
    out = _fast_equals_full(source, [Target("target", 10)])
    assert b'    @route("/x")\n    @instructions.distil\n    def target' in out


def test_each_edited_file_is_parsed_once_by_libcst_whatever_the_number_of_targets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's rule: one parse per file, never per function (libcst once; `ast` for the
    original, its reduced copy and the output's check, whatever the number of targets)."""
    import distilgen.analysis.parsing as parsing
    import distilgen.codemods.edits as edits

    counts = {"libcst": 0, "ast": 0, "symtable": 0}
    real_libcst, real_parse, real_symtable = parsing._libcst, ast.parse, edits.symtable.symtable

    def count(key: str, fn):  # type: ignore[no-untyped-def]
        def wrapped(*a, **k):  # type: ignore[no-untyped-def]
            counts[key] += 1
            return fn(*a, **k)
        return wrapped

    defs = "".join(f"def f{i}(x: int) -> M:\n    y = x\n    z = y\n    return M(a=z)\n\n\n" for i in range(40))
    write(tmp_path, {
        "pyproject.toml": "[project]\nname = 'p'\n",
        "pkg/__init__.py": "",
        "pkg/models.py": "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    a: int = 0\n",
        "pkg/one.py": "from pkg.models import M\n\n\n" + defs,
        "pkg/two.py": "from pkg.models import M\n\n\ndef g(x: int) -> M:\n    return M()\n",
    })
    report = api.scan([tmp_path])  # the scan's own parses are not the edit's
    assert sum(r.status == "candidate" for r in report.results) == 41
    monkeypatch.setattr(parsing, "_libcst", count("libcst", real_libcst))
    monkeypatch.setattr(ast, "parse", count("ast", real_parse))
    monkeypatch.setattr(edits.symtable, "symtable", count("symtable", real_symtable))
    from distilgen.codemods.apply import apply_codemod
    from distilgen.config import load_config

    def planned() -> dict[str, int]:
        for key in counts:
            counts[key] = 0
        result = apply_codemod(report, load_config(tmp_path), write=False)
        assert sorted(e.path for e in result.changed) == ["pkg/distil.py", "pkg/one.py", "pkg/two.py"]
        assert len(next(e for e in result.changed if e.path == "pkg/one.py").functions) == 40
        return dict(counts)

    # these plain files take the line-insertion path: no libcst; ast once for each original; the
    # output checks (the created module's too) through symtable
    assert planned() == {"libcst": 0, "ast": 2, "symtable": 3}
    import distilgen.codemods.quick_decorate as quick

    monkeypatch.setattr(quick, "quick_decorate", lambda *args: None)
    # the codemod: libcst once per edited file; ast for the original and its reduced copy each
    # (two.py has nothing to cut)
    assert planned() == {"libcst": 2, "ast": 3, "symtable": 3}


def test_a_file_whose_functions_are_all_left_alone_is_never_parsed_once_the_verdict_is_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """litellm without its dependencies: the schema child refuses 836 of 850 candidates before
    the edit is planned; planning them anyway cost most of `apply`. A verdict that is in before a
    file is planned spares that file; one that comes later still removes the refused functions."""
    import distilgen.analysis.parsing as parsing
    from distilgen.codemods.apply import apply_codemod
    from distilgen.config import load_config

    write(tmp_path, {
        "pyproject.toml": "[project]\nname = 'p'\n",
        "pkg/__init__.py": "",
        "pkg/models.py": "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    a: int = 0\n",
        "pkg/left.py": "from pkg.models import M\n\n\ndef f(x: int) -> M:\n    return M()\n\n\ndef g(x: int) -> M:\n    return M()\n",
        "pkg/kept.py": "from pkg.models import M\n\n\ndef h(x: int) -> M:\n    return M()\n\n\ndef k(x: int) -> M:\n    return M()\n",
    })
    report = api.scan([tmp_path])
    verdicts = {("pkg/left.py", "f"): "left alone: ModuleNotFoundError: No module named 'httpx'",
                ("pkg/left.py", "g"): "left alone: ModuleNotFoundError: No module named 'httpx'",
                ("pkg/kept.py", "k"): "left alone: ModuleNotFoundError: No module named 'httpx'"}
    parsed: list[bytes] = []
    real = parsing._libcst

    def counting(source):  # type: ignore[no-untyped-def]
        parsed.append(source if isinstance(source, bytes) else source.encode())
        return real(source)

    monkeypatch.setattr(parsing, "_libcst", counting)
    import distilgen.codemods.quick_decorate as quick

    monkeypatch.setattr(quick, "quick_decorate", lambda *args: None)  # planning shows as libcst's parses
    for ready in (True, False):
        parsed.clear()
        asked: list[bool] = []

        def vet(wait: bool = True) -> dict[tuple[str, str], str] | None:
            asked.append(wait)
            return verdicts if ready or wait else None

        result = apply_codemod(report, load_config(tmp_path), write=False, vet=vet)
        assert {e.path: e.functions for e in result.changed} == {"pkg/kept.py": ("h",), "pkg/distil.py": ()}
        assert sorted(n.split(": ")[1] for n in result.notes) == ["f", "g", "k"]
        assert not any(b"def f(" in p for p in parsed) if ready else asked[-1] is True
        # kept.py once (twice when the verdict came after its first plan); left.py only without it
        assert len(parsed) == (1 if ready else 3), (ready, len(parsed))


def test_the_schema_child_says_not_yet_without_waiting(tmp_path: Path) -> None:
    from distilgen.prompts.recording import SchemaJob

    job = SchemaJob(tmp_path, None, preload=[])  # started early: it waits for its targets
    try:
        assert job.new_answers(wait=False) is None
    finally:
        job.send([])  # nothing to describe: stopped
    assert job.new_answers(wait=False) == {}


def test_a_function_around_a_target_is_cut_to_stand_ins_that_bind_the_same_names() -> None:
    """mcp's tests define their handlers inside test functions: the rest of such a body (a third of
    what libcst parsed there) becomes stand-ins, each binding what the statement bound, so the
    decorator is still spelled with a name no enclosing scope binds."""
    source = textwrap.dedent('''\
        import os


        async def test_handler(client) -> None:
            instructions, other = make(
                "a",
                "b",
            )
            with open(
                "x",
            ) as fh:
                data = fh.read()
            a = 1; b = len(
                "kept: it shares its line",
            )
            result = call(
                1,
            )  # a comment after it

            def handler(x: int) -> M:
                return M(x=x)

            assert result == [
                1,
            ]
        ''').encode()
    tree = ast.parse(source)
    target = next(n.lineno for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "handler")
    reduced = reduce_source(source, tree, [target])
    assert reduced is not None and reduced.count(b"\n") == source.count(b"\n")
    for gone in (b'"a",', b'"x",', b"fh.read()", b"call(", b"1,\n"):
        assert gone not in reduced, gone
    assert b'instructions = other = """' in reduced and b'data = fh = """' in reduced
    assert b'result = """' in reduced and b"kept: it shares its line" in reduced
    assert ast.parse(reduced)  # still Python, every line where it was
    out = _fast_equals_full(source, [Target("test_handler.<locals>.handler", target)])
    assert b"from pkg.distil import instructions as distil_instructions\n" in out
    assert b"    @distil_instructions.distil\n    def handler" in out


# statements a function around a target may hold: multi-line ones (cut to stand-ins when they hold
# no def), ones that bind `instructions` every way a scope can, ones that share a line
_AROUND = [
    "instructions = (\n    1,\n)",
    "x, instructions = f(\n    2,\n)",
    "with open(\n    'p',\n) as instructions:\n    pass",
    "for instructions in range(\n    3,\n):\n    pass",
    "try:\n    pass\nexcept E as instructions:\n    pass",
    "[instructions := 1 for _ in (\n    1,\n)]",
    "a = 1; b = len(\n    'x',\n)",
    "c = len(\n    'y',\n); instructions = 2",
    "global instructions",
    "import os as instructions",
    "def helper():\n    return (\n        1,\n    )",
    "if cond:\n    y = (\n        1,\n    )",
    "z = '''\nmulti\n'''",
    "match v:\n    case [instructions]:\n        pass",
    "assert f(\n    1,\n) == [\n    2,\n]",
    "q = g(\n    1,\n)  # comment",
    "class Inner:\n    instructions = (\n        1,\n    )",
    "while w(\n    1,\n):\n    break",
]


@given(before=st.lists(st.sampled_from(_AROUND), max_size=4), after=st.lists(st.sampled_from(_AROUND), max_size=3),
       depth=st.integers(1, 2), module_binds=st.booleans(),
       block=st.sampled_from(["", "with ctx(\n    1,\n) as w:\n", "if flag:\n", "try:\n"]))
@settings(max_examples=200, deadline=None)
def test_reduced_edits_around_nested_targets_equal_full_generation(before: list[str], after: list[str], depth: int,
                                                                    module_binds: bool, block: str) -> None:
    """Whatever a function around a target holds (and so which statements become stand-ins), and
    whatever block the target sits in, the reduced parse decorates exactly as parsing the whole
    file does: same bytes, same alias."""
    inner = "def target(x: int) -> M:\n    return M(x=x)"
    if block:
        inner = block + textwrap.indent(inner + ("\nexcept E:\n    pass" if block.startswith("try") else ""), "    ")
        if block.startswith("try"):
            inner = inner.replace("    except E:\n        pass", "except E:\n    pass")
    body = "\n".join([*before, inner, *after])
    for level in range(depth):
        body = f"def outer{level}(arg):\n" + textwrap.indent(body, "    ") + "\n    return 0"
    source = (("instructions = None\n\n\n" if module_binds else "import os\n\n\n") + body + "\n").encode()
    try:
        compile(source, "<in>", "exec")
    except SyntaxError:
        return  # `global` after an assignment to the name, and the like: not a program
    tree = ast.parse(source)
    target = next(n.lineno for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "target")
    qual = ".<locals>.".join([*(f"outer{level}" for level in reversed(range(depth))), "target"])
    targets = [Target(qual, target)]
    import distilgen.codemods.quick_decorate as quick

    with pytest.MonkeyPatch.context() as m:  # the reduced parse is what is tested (not line insertion)
        m.setattr(quick, "quick_decorate", lambda *args: None)
        out, result = edit_module(source, targets, "pkg.distil:instructions", module="pkg.mod")
    assert out == _full(source, targets, "decorate", None)
    assert result.changed == (qual,)
    compile(out, "<out>", "exec")


def test_a_with_block_on_the_way_to_a_target_is_spliced_one_level_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """mcp defines handlers inside `async with` blocks of its tests: the splice went down into a
    def, a class or an `if` only and generated a `with` on the way whole, where the target's own
    body is a stand-in, so every such file was parsed again whole. It goes down into a `with`
    now, and the rest of the block is cut as in any function around a target; a `try` on the way
    is still left whole (its handlers follow its body)."""
    import distilgen.codemods.decorate as decorate

    source = textwrap.dedent('''\
        import os


        async def test_tool() -> None:
            setup = prepare(
                1,
            )
            async with connect(
                setup,
            ) as (client, server):
                result = await client.call(
                    "x",
                )

                @server.tool()
                async def handler(x: int) -> M:
                    return M(x=x)
        ''').encode()
    tree = ast.parse(source)
    target = next(n.lineno for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef) and n.name == "handler")
    reduced = reduce_source(source, tree, [target])
    assert reduced is not None and b"prepare(" not in reduced and b'"x",' not in reduced
    whole: list[int] = []
    real = decorate._edit

    def counted(*args: object, **kwargs: object) -> object:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        whole.append(out is None)
        return out

    monkeypatch.setattr(decorate, "_edit", counted)
    import distilgen.codemods.quick_decorate as quick

    monkeypatch.setattr(quick, "quick_decorate", lambda *args: None)  # the splice is what is tested
    _fast_equals_full(source, [Target("test_tool.<locals>.handler", target)])
    assert whole == [False]  # the reduced parse was used, not thrown away
