"""The edited module's source, generating code only for the top-level statements that changed.

`Module.code` regenerates every node of the file, which costs several times the parse on a big
module. An edit here changes a few top-level statements (the one holding a decorated def, the
import block); every other statement keeps the exact bytes of the original, located through the
standard parser's line numbers. Each replaced region is checked first: the original statement,
generated alone, must give back exactly the bytes of its region; otherwise the caller falls back
to generating the whole module.
"""

from __future__ import annotations

import ast
import re

import libcst as cst

__all__ = ["splice"]

_LINES = re.compile(rb".*?(?:\r\n|\r|\n)|.+\Z", re.S)


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", None)
    return min([node.lineno, *(d.lineno for d in decorators)]) if decorators else node.lineno


def _starts(old: cst.Module, tree: ast.Module) -> list[int] | None:
    """1-based first line (leading comments and blank lines included) of each top-level statement."""
    starts: list[int] = []
    i = 0
    for stmt in old.body:
        if i >= len(tree.body):
            return None
        starts.append(_first_line(tree.body[i]) - len(stmt.leading_lines))
        i += len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
    return starts if i == len(tree.body) else None


def splice(source: bytes | str, old: cst.Module, new: cst.Module, tree: ast.Module | None) -> bytes | str | None:
    """`new` as source text (the type of `source`), or None when the regions cannot be trusted."""
    if tree is None or new.header is not old.header or new.footer is not old.footer or not old.body:
        return None
    is_bytes = isinstance(source, bytes)
    data = source if isinstance(source, bytes) else source.encode("utf-8")
    encoding = old.encoding if is_bytes else "utf-8"
    lines = _LINES.findall(data)
    starts = _starts(old, tree)
    if starts is None or starts[0] < 1:
        return None
    end = len(lines) - len(old.footer)
    bounds = [*starts, end + 1]
    if any(a > b for a, b in zip(bounds, bounds[1:])):
        return None

    def region(k: int) -> bytes:
        return b"".join(lines[bounds[k] - 1: bounds[k + 1] - 1])

    def generated(module: cst.Module, stmt: cst.CSTNode) -> bytes:
        return module.code_for_node(stmt).encode(encoding)

    position = {id(stmt): k for k, stmt in enumerate(old.body)}
    kept = {position[id(s)] for s in new.body if id(s) in position}
    for k, stmt in enumerate(old.body):
        if k not in kept and generated(old, stmt) != region(k):
            return None  # the tiling does not match libcst's view of this statement: do it the slow way
    out = [b"".join(lines[: bounds[0] - 1])]
    for stmt in new.body:
        k = position.get(id(stmt))
        out.append(region(k) if k is not None else generated(new, stmt))
    out.append(b"".join(lines[end:]))
    result = b"".join(out)
    return result if is_bytes else result.decode("utf-8")
