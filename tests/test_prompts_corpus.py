"""Runtime vs static prompts on awkward source: the scan's accuracy corpus and hand-made edge cases.

Whatever the runtime accepts, the static side (file text + qualname, as `distilgen prompts` and
`check` read it) must render to the same bytes.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

import pytest

from distilgen import Instructions
from distilgen.errors import DistilgenError
from distilgen.prompts.recording import read_source, static_prompt

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "scan_corpus"

EDGE = '''\
"""Edge cases for the prompt renderer."""
from __future__ import annotations

import functools
from pydantic import BaseModel


class Out(BaseModel):
    x: int = 0


def deco(fn):
    @functools.wraps(fn)
    def inner(*a, **k):
        return fn(*a, **k)
    return inner


def one_liner(a: int) -> Out: return Out(x=a)


def multi_line_signature(
    a: int,  # a comment inside the signature
    b: dict[str, int] = {"k": 1},  # a colon inside a default
    *,
    c: "Out | None" = None,
    f=lambda v: v,
) -> Out:
    """Several
    lines of

      indented docstring with \\"\\"\\" quotes and a tab\there.
    """
    total = a + sum(b.values())
    # a comment between statements
    if c is not None:
        total += c.x
    return Out(x=total)


@deco
@functools.lru_cache(
    maxsize=None,
)
def under_decorators(a: int) -> Out:
    \'\'\'Single-quoted docstring.\'\'\'
    return Out(x=a)


async def unicode_async(naïve: str = "héllo — ✓") -> Out:
    "Plain-string docstring: café."
    return Out(x=len(naïve))


def no_docstring(a: int) -> Out:
    def helper(v: int) -> int:
        return v * 2
    return Out(x=helper(a))


def only_docstring() -> Out:
    """Nothing else."""


class Holder:
    @staticmethod
    def static(a: int,
               b: int) -> Out:
        """A staticmethod with a continuation line."""
        return Out(x=a + \\
                   b)

    @classmethod
    def klass(cls, a: int) -> Out:
        return Out(x=a)


class Model(BaseModel):
    y: int = 1

    def method(self) -> Out:
        """A method of a model."""
        return Out(x=self.y)
'''


def _functions(tree: ast.Module) -> list[tuple[str, int]]:
    out = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((node.name, node.lineno))
        elif isinstance(node, ast.ClassDef):
            out.extend((f"{node.name}.{n.name}", n.lineno) for n in node.body
                       if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    last = {q: n for q, n in out}  # a redefinition (or the implementation after @overload stubs) wins
    return list(last.items())


def _compare(module_name: str, path: Path, instructions: Instructions, include_body: bool) -> list[str]:
    module = importlib.import_module(module_name)
    text = read_source(path)
    compared = []
    for qualname, lineno in _functions(ast.parse(text)):
        holder = module
        parts = qualname.split(".")
        try:
            for part in parts[:-1]:
                holder = getattr(holder, part)
            raw = vars(holder)[parts[-1]] if isinstance(holder, type) else getattr(holder, parts[-1])
            raw = inspect.unwrap(raw) if not isinstance(raw, (staticmethod, classmethod)) else raw
            wrapped = instructions.distil(raw)
            fn = wrapped.__func__ if isinstance(wrapped, (staticmethod, classmethod)) else wrapped
            spec = fn.__distil__.spec
        except (DistilgenError, TypeError, KeyError, AttributeError, NameError):
            continue  # not distillable (or not reachable): nothing to compare
        static = static_prompt(text, qualname, spec.return_model.__name__, include_body=include_body, lineno=lineno)
        assert static == spec.prompt, f"{module_name}:{qualname}\n--- static\n{static}\n--- runtime\n{spec.prompt}"
        compared.append(qualname)
    return compared


@pytest.mark.parametrize("include_body", [False, True])
def test_edge_cases(tmp_path, monkeypatch, include_body):
    pkg = tmp_path / "edgepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "edge.py").write_text(EDGE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    instructions = Instructions(name="edge", include_code_body=include_body, lock_file=tmp_path / "none.lock")
    compared = _compare("edgepkg.edge", pkg / "edge.py", instructions, include_body)
    assert set(compared) >= {"one_liner", "multi_line_signature", "under_decorators", "unicode_async", "no_docstring",
                             "only_docstring", "Holder.static", "Holder.klass", "Model.method"}
    for name in [m for m in sys.modules if m.startswith("edgepkg")]:
        del sys.modules[name]


def test_scan_corpus(tmp_path, monkeypatch):
    for extra in (CORPUS, CORPUS / "_site", CORPUS / "_runtime_only"):
        monkeypatch.syspath_prepend(str(extra))
    compared = []
    for include_body in (False, True):
        instructions = Instructions(name="corpus", include_code_body=include_body, lock_file=tmp_path / "none.lock")
        for path in sorted((CORPUS / "corpus").rglob("*.py")):
            rel = path.relative_to(CORPUS).with_suffix("")
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            try:
                compared += _compare(name, path, instructions, include_body)
            except ImportError:
                continue
    assert len(compared) >= 20, compared
    for name in [m for m in sys.modules if m == "corpus" or m.startswith("corpus.")]:
        del sys.modules[name]


def test_overload_stubs_are_never_the_function():
    text = read_source(CORPUS / "corpus" / "overloads.py")
    for lineno in (None, 23, 25, 26):
        prompt = static_prompt(text, "annotated_impl", "Item", include_body=False, lineno=lineno)
        assert prompt is not None and "def annotated_impl(x: Union[int, str]) -> Item:" in prompt
