"""The runtime and the static side render byte-identical prompts for the same source.

Every function of `sample_project/` that the runtime accepts is decorated through the real
`Instructions.distil` (its spec built from `inspect.getsource`), and rendered statically from the
file text (the way `distilgen prompts` and `check` do); prompts and fingerprints must be equal.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

from distilgen import Instructions
from distilgen.errors import DecorationError
from distilgen.prompts.recording import ModuleSource, read_source, static_prompt, static_source
from distilgen.prompts.render import fingerprint, render_prompt
from distilgen.prompts.source import function_source
from distilgen.runtime import formats

SAMPLE = Path(__file__).resolve().parent.parent / "sample_project"


def _all_functions() -> list[tuple[str, str, int]]:
    """(module, qualname, def line) of every function defined in the sample project's files."""
    out = []
    for path in sorted(SAMPLE.rglob("*.py")):
        rel = path.relative_to(SAMPLE).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        tree = ast.parse(read_source(path))

        def visit(node: ast.AST, prefix: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out.append((module, prefix + child.name, child.lineno))
                    visit(child, prefix + child.name + ".<locals>.")
                elif isinstance(child, ast.ClassDef):
                    visit(child, prefix + child.name + ".")

        visit(tree, "")
    return out


@pytest.fixture(scope="module")
def sample_on_path():
    sys.path.insert(0, str(SAMPLE))
    try:
        yield
    finally:
        sys.path.remove(str(SAMPLE))
        for name in [m for m in sys.modules if m == "inbox" or m.startswith("inbox.")]:
            del sys.modules[name]


def _runtime_spec(instructions: Instructions, module: str, qualname: str):
    holder = importlib.import_module(module)
    parts = qualname.split(".")
    for part in parts[:-1]:
        holder = getattr(holder, part)
    raw = vars(holder)[parts[-1]] if isinstance(holder, type) else getattr(holder, parts[-1])
    wrapped = instructions.distil(raw)
    fn = wrapped.__func__ if isinstance(wrapped, (staticmethod, classmethod)) else wrapped
    return fn.__distil__.spec


@pytest.mark.parametrize("include_body", [False, True])
def test_every_sample_function_renders_identically(tmp_path, sample_on_path, include_body):
    # no lock: the runtime renders from source (a lock would hand it the recorded prompt instead)
    instructions = Instructions(name="same", include_code_body=include_body, lock_file=tmp_path / "none.lock")
    compared, rejected = [], []
    for module, qualname, lineno in _all_functions():
        try:
            spec = _runtime_spec(instructions, module, qualname)
        except DecorationError:
            rejected.append(qualname)  # not distillable: the runtime refuses it, nothing to compare
            continue
        path = SAMPLE / (module.replace(".", "/") + ".py")
        text = read_source(path)
        static = static_prompt(text, qualname, spec.return_model.__name__, include_body=include_body, lineno=lineno)
        assert static == spec.prompt, f"{module}:{qualname}"
        assert fingerprint(static, formats.tool_schema(spec.return_model)) == spec.fingerprint == spec.rendered_fingerprint
        # decorators are never part of the prompt: the source the runtime saw equals the static slice
        src, first, last = static_source(text, qualname, lineno)
        assert src == spec.source
        compared.append(qualname)
    # the sample's distillable functions, all compared (the others refused by the runtime itself)
    assert {"classify_ticket", "extract_order", "extract_order_async", "ProductRecord.summary",
            "Catalog.summarise"} <= set(compared)
    assert "triage_all" in rejected


def test_decorator_and_indentation_do_not_change_the_prompt():
    plain = "def f(a: int) -> M:\n    '''Doc.'''\n    return M(a=a)\n"
    decorated = "@instructions.distil(mode='dispatch', model='ft:x')\ndef f(a: int) -> M:\n    '''Doc.'''\n    return M(a=a)\n"
    method = "    @staticmethod\n    @instructions.distil\n    def f(a: int) -> M:\n        '''Doc.'''\n        return M(a=a)\n"
    prompts = {render_prompt(function_source(t), "M", include_body=True) for t in (plain, decorated, method)}
    assert len(prompts) == 1
    (prompt,) = prompts
    assert "instructions" not in prompt and "def f(a: int) -> M:" in prompt and "return M(a=a)" in prompt


def test_crlf_bom_and_encoding_cookie_read_like_inspect(tmp_path, monkeypatch):
    pkg = tmp_path / "encpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    src = ("# -*- coding: latin-1 -*-\r\nfrom pydantic import BaseModel\r\n\r\nclass M(BaseModel):\r\n    a: str\r\n\r\n"
           "def f(a: str) -> M:\r\n    \"\"\"Caf\xe9 \u00bd.\"\"\"\r\n    return M(a=a)\r\n")
    (pkg / "mod.py").write_bytes(src.encode("latin-1"))
    (pkg / "bom.py").write_bytes(b"\xef\xbb\xbf" + src.replace("# -*- coding: latin-1 -*-\r\n", "").encode("utf-8"))
    monkeypatch.syspath_prepend(str(tmp_path))
    instructions = Instructions(name="enc", include_code_body=True, lock_file=tmp_path / "none.lock")
    for name in ("mod", "bom"):
        mod = importlib.import_module(f"encpkg.{name}")
        spec = instructions.distil(mod.f).__distil__.spec
        static = static_prompt(read_source(pkg / f"{name}.py"), "f", "M", include_body=True)
        assert static == spec.prompt and "Caf\xe9 \u00bd." in static and "\r" not in static


def test_form_feeds_and_line_separators_read_like_inspect(tmp_path, monkeypatch):
    """Only \\r\\n, \\r and \\n end a line for the parser and `inspect` (str.splitlines also splits at
    \\f and \\u2028: a form feed above a function made `prompts` fail on it, and one inside it
    garbled the body on both sides)."""
    from distilgen import api
    from distilgen.prompts.recording import ModuleSource, scanned_lines

    pkg = tmp_path / "ffpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    src = ("from pydantic import BaseModel\n# a page break \x0c in a comment\n\x0c\nclass M(BaseModel):\n    a: str\n\n"
           "def f(a: str) -> M:\n    \"\"\"Line \u2028 separator.\"\"\"\n    x = 'a\x0cb'\n    return M(a=a + x)\n")
    (pkg / "mod.py").write_text(src, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    instructions = Instructions(name="ff", include_code_body=True, lock_file=tmp_path / "none.lock")
    spec = instructions.distil(importlib.import_module("ffpkg.mod").f).__distil__.spec
    assert "    x = 'a\x0cb'\n    return M(a=a + x)" in spec.prompt  # the body, whole
    text = read_source(pkg / "mod.py")
    assert static_prompt(text, "f", "M", include_body=True) == spec.prompt  # from the module's parse
    (r,) = [r for r in api.scan([tmp_path], use_cache=False).results if r.qualname == "f"]
    assert ModuleSource(text).prompt("f", "M", include_body=True, lineno=r.lineno, lines=scanned_lines(r)) == spec.prompt


def test_the_scans_lines_are_parsed_alone_and_checked():
    """Given where the scan found a def, only its lines are parsed; lines that do not hold it (the
    file changed since the scan) fall back to the module's own parse, never to another def."""
    text = ("import functools\n\n\n@functools.cache\ndef g(a: int) -> M:\n    return M(a=a)\n\n\n"
            "class C:\n    @staticmethod\n    def f(a: int) -> M:\n        '''Doc.'''\n        return M(a=a)\n")
    module = ModuleSource(text)
    found = module.definition("C.f", 11, (10, 13))
    assert found is not None and module._tree is None  # the module itself was never parsed
    assert (found.first, found.last, found.node.name) == (10, 13, "f")
    assert found.source == module.definition("C.f", 11).source  # the same as from the module's parse
    stale = ModuleSource(text).definition("C.f", 11, (4, 6))  # g's lines: another def
    assert stale is not None and stale.node.name == "f" and (stale.first, stale.last) == (10, 13)
    assert ModuleSource(text).definition("C.f", 11, (40, 44)) is not None  # past the end
    assert ModuleSource(text).definition("C.h", 11, (10, 13)) is None  # not there at all
