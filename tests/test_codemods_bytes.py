"""Byte-for-byte fixtures (CRLF, BOM, tabs, an encoding cookie) and properties of the codemod.

Properties, over every sample_project file and over generated modules (hypothesis):
applying twice equals applying once; `remove` after `apply` gives back the original bytes;
`capture` after `dispatch` gives back the `apply` output; untouched lines stay byte-identical.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from distilgen.codemods.decorate import edit_module

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "codemod_fixtures"
SAMPLE = HERE.parent / "sample_project"
INSTANCE = "inbox.distil:instructions"
MODEL = "ft:gpt-4o-mini:acme::abc123"

CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "case.json").is_file())


def run(source: bytes, targets: list[str], action: str, module: str = "inbox.x", **kw: str) -> bytes:
    out, _ = edit_module(source, targets, INSTANCE, action, module=module, **kw)
    assert isinstance(out, bytes)
    return out


@pytest.mark.parametrize("name", CASES)
def test_fixture(name: str) -> None:
    folder = FIXTURES / name
    case = json.loads((folder / "case.json").read_text())
    before = (folder / "before.py").read_bytes()
    decorated = (folder / "after_decorate.py").read_bytes()
    dispatched = (folder / "after_dispatch.py").read_bytes()
    targets, module, model = case["targets"], case["module"], case["model"]

    assert run(before, targets, "decorate", module) == decorated
    assert run(decorated, targets, "decorate", module) == decorated
    assert run(decorated, targets, "dispatch", module, model=model) == dispatched
    assert run(before, targets, "dispatch", module, model=model) == dispatched
    assert run(dispatched, targets, "dispatch", module, model=model) == dispatched
    assert run(dispatched, targets, "capture", module) == decorated
    assert run(decorated, targets, "remove", module) == before
    assert run(dispatched, targets, "remove", module) == before
    assert run(before, targets, "remove", module) == before


def test_fixtures_exist() -> None:
    assert {"crlf", "bom", "tabs", "latin1_cookie"} <= set(CASES)


def _functions(source: bytes) -> list[str]:
    """Qualnames of every def in the module, as the interpreter spells them."""
    out: list[str] = []

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append(prefix + node.name)
                walk(node.body, f"{prefix}{node.name}.<locals>.")
            elif isinstance(node, ast.ClassDef):
                walk(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                walk(node.body, prefix)

    walk(ast.parse(source).body, "")
    return out


SAMPLE_FILES = sorted(p.relative_to(SAMPLE).as_posix() for p in SAMPLE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("rel", SAMPLE_FILES)
def test_every_sample_file_round_trips(rel: str) -> None:
    source = (SAMPLE / rel).read_bytes()
    targets = _functions(source)
    module = rel[:-3].replace("/", ".").removesuffix(".__init__")
    once = run(source, targets, "decorate", module)
    assert run(once, targets, "decorate", module) == once
    if targets:
        assert once != source
    dispatched = run(once, targets, "dispatch", module, model=MODEL)
    assert run(dispatched, targets, "dispatch", module, model=MODEL) == dispatched
    assert run(dispatched, targets, "capture", module) == once
    assert run(once, targets, "remove", module) == source
    assert run(dispatched, targets, "remove", module) == source
    # every line of the original is still there, in order (only lines were added)
    lines = iter(once.splitlines())
    assert all(any(line == other for other in lines) for line in source.splitlines())
    compile(dispatched, rel, "exec")


# -- generated modules ----------------------------------------------------------------------------

_HEADERS = [
    "",
    '"""Module docstring."""\n',
    '"""Module docstring."""\n\n',
    "# -*- coding: utf-8 -*-\n# a comment\n\n",
    "from __future__ import annotations\n\n",
    '"""Doc."""\n\nimport os\nfrom typing import Optional\n\n',
    "import os, sys  # two\n",
    "from inbox.distil import instructions\n\n",
    "from inbox.distil import instructions as ins\nimport json\n\n",
    "import inbox.distil as d\n",
    "instructions = 'a local string, not the instance'\n\n",
]

_DECORATORS = [
    [],
    ["@staticmethod"],
    ["@functools.lru_cache(maxsize=None)"],
    ["@first", "# a comment between", "@second(1, 2)"],
    ["@instructions.distil"],
    ['@instructions.distil(mode="dispatch", model="ft:old")'],
    ["@instructions.distil(include_code_body=True)"],
]

_BODIES = [
    "    return M()\n",
    '    """Doc."""\n    return M()\n',
    "    x = 1  # comment\n\n    return M(x=x)\n",
]


@st.composite
def modules(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    header = draw(st.sampled_from(_HEADERS))
    parts = [header]
    targets: list[str] = []
    for i in range(draw(st.integers(1, 4))):
        name = f"f{i}"
        in_class = draw(st.booleans())
        decorators = draw(st.sampled_from(_DECORATORS))
        if decorators and decorators[0] == "@staticmethod" and not in_class:
            decorators = []
        sep = "\n" * draw(st.integers(0, 3))
        comment = draw(st.sampled_from(["", "# leading comment\n"]))
        asynchronous = draw(st.sampled_from(["", "async "]))
        body = draw(st.sampled_from(_BODIES))
        if in_class:
            lines = [f"class C{i}:\n", f"    attr = {i}\n\n"]
            lines += [f"    {d}\n" for d in decorators]
            self_arg = "" if "@staticmethod" in decorators else "self, "
            lines.append(f"    {asynchronous}def {name}({self_arg}x: int = {i}) -> M:\n")
            lines += ["    " + ln if ln.strip() else ln for ln in body.splitlines(keepends=True)]
            targets.append(f"C{i}.{name}")
        else:
            lines = [f"{d}\n" for d in decorators]
            lines.append(f"{asynchronous}def {name}(x: int = {i}) -> M:\n")
            lines.append(body)
            targets.append(name)
        parts.append(sep + comment + "".join(lines))
    text = "".join(parts)
    crlf = draw(st.booleans())
    data = text.replace("\n", "\r\n") if crlf else text
    bom = draw(st.booleans())
    chosen = draw(st.lists(st.sampled_from(targets), min_size=1, unique=True))
    return (b"\xef\xbb\xbf" if bom else b"") + data.encode("utf-8"), chosen


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules())
# found by this test: an import inserted above a BOM file's first statement pushed the BOM into the
# middle of the file (splice copied it as part of line 1)
@example((b"\xef\xbb\xbfdef f0(x: int = 0) -> M:\n    return M()\n", ["f0"]))
def test_generated_modules(case: tuple[bytes, list[str]]) -> None:
    source, targets = case
    compile(source, "gen.py", "exec")
    once = run(source, targets, "decorate")
    compile(once, "gen.py", "exec")
    assert run(once, targets, "decorate") == once
    dispatched = run(once, targets, "dispatch", model=MODEL)
    compile(dispatched, "gen.py", "exec")
    assert run(dispatched, targets, "dispatch", model=MODEL) == dispatched
    captured = run(dispatched, targets, "capture")
    assert run(captured, targets, "capture") == captured
    # line endings and BOM survive every step
    for out in (once, dispatched, captured):
        assert out.startswith(b"\xef\xbb\xbf") == source.startswith(b"\xef\xbb\xbf")
        if b"\r\n" in source:
            assert out.count(b"\n") == out.count(b"\r\n")
    # remove after apply: back to the original bytes when apply added every decorator it removes
    if b"distil" not in source:
        assert run(once, targets, "remove") == source
        assert run(dispatched, targets, "remove") == source
        assert captured == once


CORPUS_FILES = sorted((HERE / "scan_corpus").rglob("*.py"))


@pytest.mark.parametrize("path", [SAMPLE / rel for rel in SAMPLE_FILES] + CORPUS_FILES,
                         ids=lambda p: p.relative_to(HERE.parent).as_posix())
def test_ast_aligned_lines_match_libcst_positions(path: Path) -> None:
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    from distilgen.codemods.function_index import index_functions

    source = path.read_bytes()
    tree = cst.parse_module(source)
    positions = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
    fast = index_functions(tree, source)
    exact = index_functions(tree, positions=positions)
    assert fast.lines == exact.lines and fast.found == exact.found
