"""The index's class statements (`ClassRec.span`, `.fields`) are what `ast` reads from the file.

`depends.StaticFacts` computes a model's closure digest from them without parsing the file again;
the digest must stay what the lock recorded when it was computed from a fresh `ast` parse (the
same text, `ast.get_source_segment` of the first class statement of that qualname, its annotated
assignments in order).
"""

from __future__ import annotations

import ast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distilgen.analysis.file_index import build_index, conv
from distilgen.prompts.recording import ModuleSource, decode_source


def _first_classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    """Every class statement by qualname, the first one when a name is defined twice."""
    found: dict[str, ast.ClassDef] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                found.setdefault(prefix + child.name, child)
                visit(child, prefix + child.name + ".")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, prefix + child.name + ".<locals>.")
            elif isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                visit(child, prefix)

    visit(tree, "")
    return found


def assert_spans_match(data: bytes) -> int:
    text = decode_source(data)
    idx = build_index(data, "m.py")
    nodes = _first_classes(ast.parse(text))
    src = ModuleSource(text)
    for qual, rec in idx.classes.items():
        node = nodes[qual]
        assert rec.span is not None, qual
        assert src.segment_at(*rec.span) == ast.get_source_segment(text, node), qual
        assert rec.fields == tuple(conv(s.annotation) for s in node.body if isinstance(s, ast.AnnAssign)), qual
    return len(idx.classes)


TRICKY = {
    "crlf": b"from pydantic import BaseModel\r\nclass A(BaseModel):\r\n    x: int\r\n    y: 'B | None' = None\r\n",
    "cr only": b"class A:\r    x: int\r\rclass B(A):\r    y: list[A]\r",
    "non-ASCII on the class's lines": "class Ä: x: str = 'é€𝄞'\nclass B:\n    ü: str = 'ß'  # ü\n".encode(),
    "latin-1 cookie": "# -*- coding: latin-1 -*-\nclass A:\n    x: str = 'é'\n".encode("latin-1"),
    "BOM": b"\xef\xbb\xbfclass A:\n    x: int\n",
    "redefined: the first one": b"import sys\nif sys.version_info >= (3, 9):\n    class A:\n        x: int\nelse:\n    class A:\n        y: str\n        z: int\n",
    "nested and local": b"class A:\n    class B:\n        x: 'A'\n    y: B\ndef f():\n    class C:\n        z: int\n    return C\n",
    "decorated, one-line body, form feed": b"@dataclass\nclass A: x: int\n\x0c\nclass B(A, metaclass=M): pass  # tail\n",
    "tabs and a continuation": b"class A(\n\tBase,\n):\n\tx: int \\\n\t\t= 1\n",
    "in try/with/match": b"try:\n    class A: pass\nexcept E:\n    class B: pass\nwith x:\n    class C: pass\nmatch v:\n    case 1:\n        class D: pass\n",
}


@pytest.mark.parametrize("name", TRICKY)
def test_class_spans_are_the_ast_segments(name: str) -> None:
    assert assert_spans_match(TRICKY[name]) >= 1


def test_a_file_rewritten_to_parse_records_no_span() -> None:
    """Syntax newer than the interpreter is rewritten before `ast` reads it: columns may move, so
    the closure reads such a class as unknown, as it did when it parsed the file itself."""
    import sys

    idx = build_index(b"class A[T]:\n    x: T\n", "m.py")
    rec = idx.classes["A"]
    assert rec.fields == (("n", "T"),)
    assert (rec.span is None) == (sys.version_info < (3, 12))


def test_a_field_annotation_too_deep_leaves_the_class_unknown() -> None:
    deep = " | ".join(f"T{i}" for i in range(1500))  # ast reads it, the tuple form overflows
    idx = build_index(f"class A:\n    x: {deep}\n\nclass B:\n    y: int\n".encode(), "m.py")
    assert idx.classes["A"].span is None and idx.classes["A"].fields == ()
    assert idx.classes["B"].span is not None and idx.classes["B"].fields == (("n", "int"),)


def test_positions_outside_the_text_are_no_segment() -> None:
    src = ModuleSource("class A:\n    x: int\n")
    assert src.segment_at(1, 0, 2, 10) == "class A:\n    x: int"
    assert src.segment_at(5, 0, 6, 1) is None
    assert ModuleSource("é = 1\n").segment_at(1, 1, 1, 3) is None  # splits a character


try:
    import hypothesmith

    _any_python = hypothesmith.from_grammar()
except ImportError:
    hypothesmith = None
    _any_python = st.just("")


@pytest.mark.skipif(hypothesmith is None, reason="hypothesmith is not installed (pip install -e '.[dev]')")
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(_any_python)
def test_class_spans_on_any_valid_python(source: str) -> None:
    try:
        data = source.encode("utf-8")
        # as a file is read (universal newlines): '\\\r\n' at the end compiles as a string only
        compile(decode_source(data), "<fuzz>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, UnicodeEncodeError):  # UnicodeEncodeError: a lone surrogate
        return
    assert_spans_match(data)
