"""Cut a function's definition text into the parts a prompt is made of.

Both sides feed this the same text: the runtime gets it from `inspect.getsource`, the static side
from the file and the scan's line numbers. Decorators are never part of the result, so switching a
function from capture to dispatch (or adding the decorator at all) leaves its prompt unchanged.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

from .. import _ast_parse

__all__ = ["FunctionSource", "function_source", "function_source_from_module", "parse_definition", "source_lines", "source_of_node"]

# THE line rule, for text here and for bytes in `codemods.splice` (one pattern, two compilations)
LINE_PATTERN = r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z"
_LINE = re.compile(LINE_PATTERN)


def source_lines(text: str) -> list[str]:
    """`text`'s lines, ends kept, as the parser and `linecache` number them: only \\r\\n, \\r and \\n
    end a line (`str.splitlines` also splits at \\f, \\v, \\x1c-\\x1e, \\x85, \\u2028 and \\u2029, which
    shifted every line after a form feed)."""
    return _LINE.findall(text)


@dataclass(frozen=True)
class FunctionSource:
    """The parts of a function's source that its system prompt is rendered from."""

    name: str
    signature: str
    """The `def` line(s) as written, decorators and trailing comments excluded, ending in ':'."""
    docstring: str | None
    """Cleaned (inspect.cleandoc) docstring, or None."""
    body: str
    """The statements after the docstring, dedented to column 0 ("" when there are none)."""
    returns: str | None
    """The return annotation as written (`Multiply`, `"models.Ticket"`), or None."""


def _header_end(text: str, def_offset: int) -> int:
    """Offset just past the ':' that ends the header starting at `def_offset`."""
    depth = 0
    start_line = text.count("\n", 0, def_offset) + 1
    line_offsets = [0]
    for line in source_lines(text):
        line_offsets.append(line_offsets[-1] + len(line))
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.start[0] < start_line:
            continue
        off = line_offsets[tok.start[0] - 1] + tok.start[1]
        if off < def_offset or tok.type != tokenize.OP:
            continue
        if tok.string in "([{":
            depth += 1
        elif tok.string in ")]}":
            depth -= 1
        elif tok.string == ":" and depth == 0:
            return off + 1
    raise ValueError("function header has no ':'")


def source_of_node(text: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> FunctionSource:
    """Parts of `node`, a def parsed from `text` (`parse_definition`)."""
    import textwrap  # here, not at the top: a warm `check` renders nothing and skips its import

    lines = source_lines(text)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def off(lineno: int, col: int) -> int:
        # ast columns are UTF-8 byte offsets
        return offsets[lineno - 1] + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8"))

    def_off = off(node.lineno, node.col_offset)
    end = _header_end(text, def_off)
    header = text[def_off:end]
    indent = " " * node.col_offset
    signature = textwrap.dedent(indent + header) if "\n" in header else header
    docstring = ast.get_docstring(node, clean=True)
    stmts = node.body[1:] if docstring is not None else node.body
    body = ""
    if stmts:
        first = stmts[0]
        start = off(first.lineno, first.col_offset)
        last = stmts[-1]
        stop = off(last.end_lineno or last.lineno, last.end_col_offset or 0)
        # take whole lines so the dedent sees the original indentation
        line_start = text.rfind("\n", 0, start) + 1
        chunk = text[line_start:stop]
        if text[line_start:start].strip():  # one-liner `def f(): return x`
            chunk = text[start:stop]
        body = textwrap.dedent(chunk).strip("\n")
    returns = ast.get_source_segment(text, node.returns) if node.returns is not None else None
    return FunctionSource(node.name, signature.rstrip(), docstring, body, returns)


def parse_definition(def_text: str) -> tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, int]:
    """(the text parsed, the first function defined in `def_text`, how many lines were put before
    `def_text` to parse it): decorators allowed, any indentation. SyntaxError or ValueError."""
    import textwrap

    dedented = textwrap.dedent(def_text)
    added = 0
    try:
        tree = _ast_parse.parse(dedented)
    except SyntaxError:
        # a method body's text may not dedent cleanly on its own (e.g. a continuation line)
        dedented, added = "if 1:\n" + textwrap.indent(def_text, " "), 1
        tree = _ast_parse.parse(dedented)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return dedented, node, added
    raise ValueError("no function definition in the given text")


def function_source(def_text: str) -> FunctionSource:
    """Parts of the first function defined in `def_text` (decorators allowed, any indentation)."""
    dedented, node, _ = parse_definition(def_text)
    return source_of_node(dedented, node)


def function_source_from_module(module_text: str | list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> FunctionSource:
    """Parts of `node`, a function parsed from `module_text` (or its `source_lines`) by the static side.

    Slices the definition (first decorator to last line) out of the module and hands it to
    `function_source`, exactly the text `inspect.getsource` gives the runtime.
    """
    lines = source_lines(module_text) if isinstance(module_text, str) else module_text
    first = min([d.lineno for d in node.decorator_list] + [node.lineno])
    last = node.end_lineno or node.lineno
    return function_source("".join(lines[first - 1 : last]))
