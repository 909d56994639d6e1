"""Generated Python sources through the real CLI: `scan`, `apply`, `apply --remove` (issue 17).

Two sources of programs: hypothesmith (any syntactically valid Python, from the grammar) and a small
grammar of our own that writes what distilgen acts on: pydantic models, functions and methods
returning them, with decorators, nesting, names that shadow `instructions`, TYPE_CHECKING blocks,
overloads and validators. Each example is a project of a few modules; properties:

- every command exits 0, 1 or 2 and never prints a traceback;
- every file `apply` wrote compiles;
- `apply --remove` gives back every original file byte for byte.

Bounded: a handful of examples per test (each costs three interpreter starts), no hypothesis
deadline, and a wall-clock budget after which the remaining examples are not run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BUDGET_S = 25.0  # per test, a safety net: on two loaded cores the file stays under 90 s
pytestmark = pytest.mark.slow

# derandomized and not shrunk: the same examples every run, so the outcome does not depend on load
_FUZZ = settings(max_examples=8, deadline=None, derandomize=True, database=None,
                 phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and ".distilgen_cache" not in p.parts}


def _no_crash(proc: subprocess.CompletedProcess, what: str, files: dict[str, str]) -> None:
    shown = "\n".join(f"--- {name}\n{src}" for name, src in files.items())
    assert proc.returncode in (0, 1, 2), f"{what}: exit {proc.returncode}\n{proc.stderr[-2000:]}\n{shown}"
    assert "Traceback (most recent call last)" not in proc.stderr + proc.stdout, f"{what}:\n{proc.stderr[-3000:]}\n{shown}"


def check_project(files: dict[str, str]) -> None:
    """The properties on one generated project (file name -> source)."""
    with tempfile.TemporaryDirectory(prefix="distilgen-fuzz-") as tmp:
        root = Path(tmp) / "proj"
        for name, src in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(src, encoding="utf-8")
        before = _snapshot(root)
        _no_crash(_run(["scan", "--no-cache", "."], root), "scan", files)
        applied = _run(["apply", "."], root)
        _no_crash(applied, "apply", files)
        after = _snapshot(root)
        for rel, data in after.items():
            if rel.endswith(".py") and before.get(rel) != data:
                try:
                    compile(data, rel, "exec", dont_inherit=True)
                except SyntaxError as e:  # pragma: no cover - the assertion message is the report
                    pytest.fail(f"apply wrote {rel}, which does not compile: {e}\n{data.decode(errors='replace')}")
        removed = _run(["apply", "--remove", "."], root)
        _no_crash(removed, "apply --remove", files)
        final = _snapshot(root)
        changed = [rel for rel in before if final.get(rel) != before[rel]]
        assert not changed, (f"--remove did not restore {changed}:\n"
                             + "\n".join(f"--- before {r}\n{before[r].decode(errors='replace')}\n--- after\n"
                                         f"{final.get(r, b'<gone>').decode(errors='replace')}" for r in changed))


class _Budget:
    """Wall-clock bound of one test, counted from its first example."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.tried = 0

    def left(self) -> bool:
        if self.start is None:
            self.start = time.monotonic()
        return time.monotonic() - self.start < BUDGET_S


# -- a grammar of model-returning code --------------------------------------------------------------
_SHADOW = ("distil", "distil_instructions", "BaseModel")


@st.composite
def _model_source(draw: st.DrawFn, shadow: tuple[str, ...]) -> str:
    """A module with models, functions returning them, and the awkward corners around them."""
    _name = st.sampled_from(("a", "b", "text", "n", *shadow))
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append("from __future__ import annotations")
    alias = draw(st.sampled_from(("BaseModel", "PM")))
    lines.append("from pydantic import BaseModel" + (" as PM" if alias == "PM" else ""))
    lines.append("from pydantic import field_validator, model_validator, computed_field")
    lines.append("from typing import TYPE_CHECKING, Optional, overload, Protocol")
    lines.append("from abc import abstractmethod")
    lines.append("import functools")
    if draw(st.booleans()):
        lines.append(f"{draw(st.sampled_from(shadow))} = {draw(st.sampled_from(('3', 'None', 'print')))}")
    n_models = draw(st.integers(1, 3))
    models = [f"M{i}" for i in range(n_models)]
    for m in models:
        lines += ["", "", f"class {m}({alias}):", "    x: int = 0"]
        if draw(st.booleans()):
            lines += ["", "    @field_validator('x')", "    @classmethod", "    def _v(cls, v: int) -> int:",
                      "        return v"]
        if draw(st.booleans()):
            lines += ["", "    @model_validator(mode='after')", f"    def _after(self) -> {m!r}:", "        return self"]
        if draw(st.booleans()):
            lines += ["", f"    def again(self) -> {draw(st.sampled_from(models))!r}:",
                      "        '''Build another one.'''", f"        return {m}(x=self.x)"]
        if draw(st.booleans()):
            lines += ["", "    @staticmethod", f"    def make({draw(_name)}: int) -> {m!r}:", f"        return {m}()"]
    if draw(st.booleans()):
        lines += ["", "if TYPE_CHECKING:", f"    def hidden(a: int) -> {models[0]}: ...",
                  f"    from typing import Sequence as {draw(_name)}"]
    if draw(st.booleans()):
        lines += ["", "", "class P(Protocol):", f"    def proto(self, a: int) -> {models[0]}: ..."]
    for i in range(draw(st.integers(1, 4))):
        model = draw(st.sampled_from(models))
        param = draw(_name)
        shape = draw(st.sampled_from(("plain", "async", "nested", "decorated", "overload", "method", "closure",
                                      "comprehension", "global", "walrus", "match", "optional", "base")))
        ann = "BaseModel" if shape == "base" and alias == "BaseModel" else model
        doc = draw(st.sampled_from(("", "'''Docstring.'''", '"""Two\n    lines."""')))
        body = [f"    {doc}"] if doc else []
        if shape == "async":
            lines += ["", "", f"async def f{i}({param}: int) -> {model}:", *body, f"    return {model}(x=1)"]
        elif shape == "nested":
            lines += ["", "", f"def outer{i}({param}: str) -> int:",
                      f"    def inner(a: int) -> {model}:", f"        return {model}(x=a)",
                      "    return inner(1).x"]
        elif shape == "closure":
            lines += ["", "", f"def outer{i}() -> int:", f"    {param} = 'local'",
                      f"    def inner(a: int) -> {model}:", f"        return {model}(x=a)",
                      f"    return inner(len({param})).x"]
        elif shape == "comprehension":
            lines += ["", "", f"def comp{i}() -> list[int]:",
                      f"    def inner(a: int) -> {model}:", f"        return {model}(x=a)",
                      f"    return [inner({param}).x for {param} in range(2)]"]
        elif shape == "global":
            param = "n" if param == "a" else param
            lines += ["", "", f"def g{i}(a: int) -> {model}:", f"    global {param}", f"    {param} = a",
                      f"    return {model}(x=a)"]
        elif shape == "walrus":
            lines += ["", "", f"def w{i}(a: int) -> {model}:", f"    if ({param} := a) > 0:",
                      f"        return {model}(x={param})", f"    return {model}()"]
        elif shape == "match":
            lines += ["", "", f"def mt{i}(a: object) -> {model}:", "    match a:",
                      f"        case int({param}):", f"            return {model}(x={param})",
                      "        case _:", f"            return {model}()"]
        elif shape == "decorated":
            deco = draw(st.sampled_from(("@functools.lru_cache", "@functools.wraps(print)", "@staticmethod")))
            lines += ["", "", deco, f"def d{i}({param}: int) -> {model}:", *body, f"    return {model}()"]
        elif shape == "overload":
            lines += ["", "", "@overload", f"def o{i}(a: int) -> {model}: ...", "@overload",
                      f"def o{i}(a: str) -> {model}: ...", f"def o{i}(a):", f"    return {model}()"]
        elif shape == "method":
            lines += ["", "", f"class C{i}:", f"    {param} = 1", "", "    @classmethod",
                      f"    def build(cls, a: int) -> {model}:", *["    " + b for b in body], f"        return {model}()",
                      "", "    @abstractmethod", f"    def abstract(self) -> {model}: ..."]
        elif shape == "optional":
            lines += ["", "", f"def opt{i}(a: int) -> Optional[{model}]:", "    return None"]
        else:
            lines += ["", "", f"def f{i}({param}: int) -> {ann}:", *body, f"    return {model}()"]
    newline = draw(st.sampled_from(("\n", "\r\n")))
    return newline.join(lines) + (newline if draw(st.booleans()) else "")


@st.composite
def _model_project(draw: st.DrawFn, shadow: tuple[str, ...] = _SHADOW) -> dict[str, str]:
    layout = draw(st.sampled_from(("flat", "package", "src", "namespace")))
    n = draw(st.integers(1, 3))
    prefix = {"flat": "", "package": "pkg/", "src": "src/pkg/", "namespace": "ns/sub/"}[layout]
    files = {f"{prefix}mod{i}.py": draw(_model_source(shadow)) for i in range(n)}
    if layout in ("package", "src"):
        files[f"{prefix}__init__.py"] = ""
    if layout == "src":
        files["pyproject.toml"] = '[project]\nname = "pkg"\nversion = "0"\n'
    return files


_grammar_budget = _Budget()


@_FUZZ
@given(_model_project())
def test_generated_model_code_survives_scan_apply_remove(files: dict[str, str]) -> None:
    if not _grammar_budget.left():
        return  # wall-clock bound: the examples already run are the test
    _grammar_budget.tried += 1
    check_project(files)


_shadow_budget = _Budget()
_PARAM_NAMED_INSTRUCTIONS = {"mod.py": (
    "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: int = 0\n\n    @staticmethod\n"
    "    def make(instructions: int) -> 'M':\n        return M()\n\n\ndef f(a: int) -> M:\n    return M()\n")}


@_FUZZ
@example(_PARAM_NAMED_INSTRUCTIONS)
@given(_model_project(shadow=("instructions", *_SHADOW)))
def test_code_naming_instructions_survives_scan_apply_remove(files: dict[str, str]) -> None:
    """The same, with `instructions` itself as a parameter, local, global, match capture, class attribute."""
    if not _shadow_budget.left():
        return
    _shadow_budget.tried += 1
    check_project(files)


# -- any valid Python (hypothesmith) ---------------------------------------------------------------
try:
    import hypothesmith
    _any_python = hypothesmith.from_grammar()
except ImportError:  # the dev extra brings it; without it only this test is skipped
    hypothesmith = None
    _any_python = st.just("")
_any_budget = _Budget()
_HEADER = "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int = 0\ndef f(a: int) -> M:\n    return M()\n"


@pytest.mark.skipif(hypothesmith is None, reason="hypothesmith is not installed (pip install -e '.[dev]')")
@_FUZZ
@given(st.lists(_any_python, min_size=1, max_size=3))
def test_any_valid_python_survives_scan_apply_remove(sources: list[str]) -> None:
    if not _any_budget.left():
        return
    _any_budget.tried += 1
    # each random module also holds one candidate, so apply has something to edit in it
    files = {f"m{i}.py": src + ("\n" if src and not src.endswith("\n") else "") + _HEADER
             for i, src in enumerate(sources)}
    files = {k: v for k, v in files.items() if _compiles(v)}
    if files:
        check_project(files)


def _compiles(src: str) -> bool:
    try:
        compile(src, "<fuzz>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def test_budgets_ran_examples() -> None:
    """Not vacuous: when the fuzz tests above ran, they ran real examples within their budgets."""
    if _grammar_budget.tried == 0 and _any_budget.tried == 0:
        pytest.skip("run together with the fuzz tests above")
    print(f"examples run: grammar {_grammar_budget.tried}, naming instructions {_shadow_budget.tried}, "
          f"hypothesmith {_any_budget.tried}")
    assert _grammar_budget.tried >= 1 and (_any_budget.tried >= 1 or hypothesmith is None)


@pytest.mark.skipif(hypothesmith is None, reason="hypothesmith is not installed (pip install -e '.[dev]')")
@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
@given(source=_any_python)
def test_the_script_guard_reads_any_source_without_raising(source: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The schema child's script guard (`_script_runs`) parses what it is given and answers None or
    (line, text): never an exception, whatever the module (hypothesmith's grammar-valid programs)."""
    sys.path.insert(0, str(ROOT / "distilgen" / "prompts"))
    try:
        import _schema_worker as worker
    finally:
        sys.path.pop(0)
    path = tmp_path_factory.mktemp("guard") / "script.py"
    path.write_text(source, encoding="utf-8")
    found = worker._script_runs(str(path))
    assert found is None or (isinstance(found[0], int) and 1 <= found[0] <= source.count("\n") + 1 and found[1])
