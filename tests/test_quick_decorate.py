"""`decorate` without libcst (`codemods/quick_decorate.py`): where it answers, its output is the
libcst codemod's byte for byte; where it cannot be sure, it answers None and the codemod runs."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_codemods_real import _defs

import distilgen.codemods.quick_decorate as quick_module
from distilgen.codemods.decorate import InstanceRef, Target, edit_module
from distilgen.codemods.quick_decorate import quick_decorate
from distilgen.analysis.file_index import build_index
from distilgen.analysis.index_shift import LineInserts, shifted_index

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = "pkg.distil:instructions"


def _codemod(source: bytes, targets: list[Target], monkeypatch: pytest.MonkeyPatch) -> tuple[bytes | str, object]:
    """The libcst codemod's answer: `edit_module` with the quick path answering None."""
    with monkeypatch.context() as m:
        m.setattr(quick_module, "quick_decorate", lambda *args: None)
        return edit_module(source, targets, INSTANCE, module="pkg.mod")


def _quick(source: bytes, targets: list[Target]) -> tuple[bytes | str, object] | None:
    return quick_decorate(source, ast.parse(source), targets, InstanceRef.parse(INSTANCE))


def _check(source: bytes, targets: list[Target], monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the quick path answered; when it did, its answer is the codemod's, and the index
    `apply`'s lock step takes for the edited file (`analysis.index_shift`) is the one it would build."""
    got = _quick(source, targets)
    if got is None:
        return False
    assert got == _codemod(source, targets, monkeypatch), source.decode()
    # and `edit_module` itself takes it
    assert edit_module(source, targets, INSTANCE, module="pkg.mod") == got
    _check_shift(source, got)
    return True


def _check_shift(source: bytes, got: tuple[bytes | str, object]) -> None:
    new, outcome = got
    inserts = getattr(outcome, "line_inserts", None)
    assert inserts is not None
    instance = InstanceRef.parse(INSTANCE)
    new_bytes = new if isinstance(new, bytes) else new.encode()
    shifted = shifted_index(build_index(source, "m.py"), LineInserts(inserts, instance.attr, instance.module),
                            new_bytes.decode())
    assert shifted == build_index(new_bytes, "m.py"), new_bytes.decode()


SOURCES = sorted({*(ROOT / "tests" / "scan_corpus").rglob("*.py"), *(ROOT / "sample_project").rglob("*.py"),
                  *(ROOT / "tests" / "codemod_fixtures").rglob("before.py")})


def test_every_def_of_the_corpora_alone_and_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    answered = 0
    for path in SOURCES:
        source = path.read_bytes()
        try:
            defs = _defs(ast.parse(source))
        except SyntaxError:
            continue
        for chosen in [[d] for d in defs] + ([defs] if defs else []):
            answered += _check(source, [Target(q, line) for q, line in chosen], monkeypatch)
    assert answered >= 100  # the comparison is not vacuous: the quick path answered that often


MODULE = '''\
"""A module."""

from __future__ import annotations

import os  # a comment
from typing import (
    Any,
)

if os.environ:
    import json

X = 1


@first
@second(
    1,
)  # after the decorators
# between the decorators and the def
def decorated(a: int) -> M:
    return M()


# above a plain def
def plain(a: int) -> M:
    def inner(b: int) -> M:
        return M()
    return inner(a)


class Box:
    """Doc."""

    @staticmethod
    async def method(a: int) -> M:
        return M()

    class Inner:
        def deep(self) -> M:
            return M()


def outer() -> None:
    class Local:
        def made(self) -> M:
            return M()
'''


def test_each_placement_equals_the_codemod(monkeypatch: pytest.MonkeyPatch) -> None:
    source = MODULE.encode()
    defs = _defs(ast.parse(source))
    wanted = {"decorated", "plain", "plain.<locals>.inner", "Box.method", "Box.Inner.deep",
              "outer.<locals>.Local.made"}
    assert wanted <= {q for q, _ in defs}
    for q, line in defs:
        if q in wanted:
            assert _check(source, [Target(q, line)], monkeypatch), q
    targets = [Target(q, line) for q, line in defs if q in wanted]
    assert _check(source, targets, monkeypatch)
    out, result = _quick(source, targets)  # type: ignore[misc]
    assert isinstance(out, bytes)
    assert out.count(b"@instructions.distil\n") == len(wanted)
    # below the last decorator, above the comment that stands between it and the def
    assert b")  # after the decorators\n@instructions.distil\n# between the decorators" in out
    assert b"    @staticmethod\n    @instructions.distil\n    async def method" in out
    assert b"from typing import (\n    Any,\n)\nfrom pkg.distil import instructions\n\nif os.environ" in out
    compile(out, "<out>", "exec")


def test_the_import_and_the_decorator_on_the_same_line_come_import_first(monkeypatch: pytest.MonkeyPatch) -> None:
    source = b"import os\ndef f(a: int) -> M:\n    return M()\n"
    assert _check(source, [Target("f", 2)], monkeypatch)
    assert _quick(source, [Target("f", 2)])[0] == (  # type: ignore[index]
        b"import os\nfrom pkg.distil import instructions\n@instructions.distil\ndef f(a: int) -> M:\n    return M()\n")


def test_a_module_with_a_docstring_and_no_import(monkeypatch: pytest.MonkeyPatch) -> None:
    for doc in ('"""Doc."""', "'a' 'b'", 'b"bytes"', '("paren")'):
        source = f"{doc}\n\n\ndef f(a: int) -> M:\n    return M()\n".encode()
        assert _check(source, [Target("f", 4)], monkeypatch), doc


def test_tabs_and_async(monkeypatch: pytest.MonkeyPatch) -> None:
    source = b"import os\n\n\nclass A:\n\tasync def f(self) -> M:\n\t\treturn M()\n"
    assert _check(source, [Target("A.f", 5)], monkeypatch)
    assert b"\n\t@instructions.distil\n\tasync def f" in _quick(source, [Target("A.f", 5)])[0]  # type: ignore[index,operator]


@pytest.mark.parametrize("source, targets, why", [
    (b"\xef\xbb\xbfimport os\ndef f(a: int) -> M:\n    return M()\n", [Target("f", 2)], "a BOM"),
    (b"# -*- coding: latin-1 -*-\nimport os\ndef f(a: int) -> M:\n    return M()\n", [Target("f", 3)],
     "a coding line"),
    (b"import os\r\ndef f(a: int) -> M:\r\n    return M()\r\n", [Target("f", 2)], "CRLF"),
    (b"import os\ndef f(a: int) -> M:\n    return M()", [Target("f", 2)], "no final newline"),
    (b"import os\ndef f(instructions: int) -> M:\n    return M()\n", [Target("f", 2)], "the name in use"),
    (b"from pkg import distil\ndef f(a: int) -> M:\n    return M()\n", [Target("f", 2)], "the module imported"),
    (b"import os\n@x.distil\ndef f(a: int) -> M:\n    return M()\n", [Target("f", 3)], "a distil decorator"),
    (b"import os; import sys\ndef f(a: int) -> M:\n    return M()\n", [Target("f", 2)], "a `;`"),
    (b"X = 1\n\n\ndef f(a: int) -> M:\n    return M()\n", [Target("f", 4)], "no import, no docstring"),
    (b"import os\ndef f(a: int):\n    return M()\n", [Target("f", 2)], "no return annotation"),
    (b"import os\n@dec(1,\n  2)\\\n\ndef f(a: int) -> M:\n    return M()\n", [Target("f", 5)],
     "a continued decorator line"),
    (b"import os\ndef f(a: int) -> M:\n    return M()\n", [Target("g", 2)], "another function at that line"),
    (b"import os\ndef f(a: int) -> M:\n    return M()\n", [Target("f", 3)], "no def at that line"),
    (b"import os\ndef f(a: int) -> M:\n    return M()\n", [Target("f", None)], "no line"),
    (b"import os\ndef f(a: int) -> M:\n    return M()\n", [Target("f", 2, 2)], "a decorator the scan saw"),
    (b'f"doc {1}"\ndef f(a: int) -> M:\n    return M()\n', [Target("f", 2)], "an f-string first"),
])
def test_anything_not_plain_goes_to_the_codemod(source: bytes, targets: list[Target], why: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        ast.parse(source)
    except SyntaxError:
        pytest.fail(f"{why}: the case must be a program")
    assert _quick(source, targets) is None, why
    # edit_module still answers, through the codemod
    assert edit_module(source, targets, INSTANCE, module="pkg.mod") == _codemod(source, targets, monkeypatch)


_PIECES = [
    "import os",
    "from typing import (\n    Any,\n    List,\n)",
    "import json  # trailing",
    "X = (\n    1,\n)",
    "# a comment",
    "",
    "if TYPE_CHECKING:\n    import sys",
    "try:\n    import yaml\nexcept ImportError:\n    yaml = None",
    "class C:\n    y = 1",
    '"""not a docstring here"""',
    "s = '''\ndef fake(a) -> M:\n    pass\n'''",
]
_DECORATORS = ["", "@a\n", "@b(\n    1,\n)\n", "@c  # note\n", "@d\n# between\n", "@e\n\n"]


@given(head=st.lists(st.sampled_from(_PIECES), max_size=5), docstring=st.booleans(),
       decorators=st.lists(st.sampled_from(_DECORATORS), min_size=1, max_size=4),
       nest=st.sampled_from(["", "class K:\n", "def host() -> None:\n", "class K:\n    class J:\n"]),
       tail=st.lists(st.sampled_from(_PIECES), max_size=3))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_generated_modules_equal_the_codemod(head: list[str], docstring: bool, decorators: list[str], nest: str,
                                             tail: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    funcs = []
    for i, decs in enumerate(decorators):
        funcs.append(f"{decs}def f{i}(a: int) -> M:\n    return M()")
    block = "\n\n".join(funcs)
    if nest:
        depth = nest.count(":\n")
        indent = "    " * depth
        block = nest + textwrap.indent(block, indent)
    parts = (['"""Doc."""'] if docstring else []) + head + [block] + tail
    source = ("\n".join(parts) + "\n").encode()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    defs = [(q, line) for q, line in _defs(tree) if q.split(".")[-1].startswith("f")]
    for chosen in [[d] for d in defs] + [defs]:
        _check(source, [Target(q, line) for q, line in chosen], monkeypatch)


try:
    import hypothesmith
except ImportError:  # pragma: no cover - dev extra
    hypothesmith = None


@pytest.mark.skipif(hypothesmith is None, reason="hypothesmith is not installed (pip install -e '.[dev]')")
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(code=hypothesmith.from_grammar() if hypothesmith is not None else st.just(""))
def test_any_program_either_goes_to_the_codemod_or_gets_its_answer(code: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Arbitrary programs (hypothesmith), every def a target, with an import block put in front."""
    source = ("import os\n" + code + ("" if code.endswith("\n") else "\n")).encode()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    defs = _defs(tree)
    if not defs:
        return
    targets = [Target(q, line) for q, line in defs]
    try:
        reference = _codemod(source, targets, monkeypatch)
    except Exception:  # what libcst cannot parse or edit is not this path's to answer
        return
    got = _quick(source, targets)
    if got is not None:
        assert got == reference
        _check_shift(source, got)


def test_no_target_adds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    source = b"import os\n\n\ndef f(a: int) -> M:\n    return M()\n"
    assert _quick(source, []) is None
    assert edit_module(source, [], INSTANCE, module="pkg.mod")[0] == source
