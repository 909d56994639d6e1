"""Every function definition of a libcst module, by interpreter qualname, with its line numbers.

The walk only enters statements (never expressions, where no `def` can be), and line numbers
come from the standard library's parser, aligned with the libcst nodes by order of appearance:
libcst's PositionProvider costs a full code generation of the module, several times a parse.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Mapping

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

__all__ = ["FunctionIndex", "index_functions", "class_body_names", "StatementVisitor", "StatementTransformer"]

_STRUCTURE = (
    cst.Module, cst.IndentedBlock, cst.FunctionDef, cst.ClassDef, cst.If, cst.Else, cst.For, cst.While,
    cst.Try, cst.TryStar, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally, cst.With, cst.Match,
    cst.MatchCase,
)


class StatementVisitor(cst.CSTVisitor):
    """A visitor that walks blocks and compound statements only."""

    def on_visit(self, node: cst.CSTNode) -> bool:
        return isinstance(node, _STRUCTURE) and super().on_visit(node)


class StatementTransformer(cst.CSTTransformer):
    """A transformer that walks blocks and compound statements only."""

    def on_visit(self, node: cst.CSTNode) -> bool:
        return isinstance(node, _STRUCTURE) and super().on_visit(node)


@dataclass
class FunctionIndex:
    found: dict[str, list[tuple[int, cst.FunctionDef]]] = field(default_factory=dict)
    """qualname -> [(def line, node)] in source order (several for overloads and `if` branches)."""
    lines: dict[cst.CSTNode, int] = field(default_factory=dict)
    """FunctionDef and Decorator nodes -> their first line."""
    class_names: set[str] = field(default_factory=set)
    """Names bound directly in any class body."""


class _Collector(StatementVisitor):
    def __init__(self) -> None:
        self.stack: list[tuple[str, str]] = []
        self.defs: dict[str, list[cst.FunctionDef]] = {}
        self.class_names: set[str] = set()

    def _qualname(self, name: str) -> str:
        parts: list[str] = []
        for kind, n in self.stack:
            parts.append(n)
            if kind == "def":
                parts.append("<locals>")
        return ".".join([*parts, name])

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.defs.setdefault(self._qualname(node.name.value), []).append(node)
        self.stack.append(("def", node.name.value))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.stack.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.stack.append(("class", node.name.value))
        for stmt in node.body.body if isinstance(node.body, cst.IndentedBlock) else ():
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                self.class_names.add(stmt.name.value)
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else (
                        [small.target] if isinstance(small, (cst.AnnAssign, cst.AugAssign)) else [])
                    self.class_names.update(t.value for t in targets if isinstance(t, cst.Name))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.stack.pop()


def class_body_names(tree: cst.Module) -> set[str]:
    """Names bound directly in any class body of `tree` (no line numbers needed)."""
    collector = _Collector()
    tree.visit(collector)
    return collector.class_names


def _ast_lines(source: bytes | str) -> dict[str, list[tuple[int, list[int]]]] | None:
    """qualname -> [(def line, decorator lines)] from the standard parser, or None if it cannot."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    out: dict[str, list[tuple[int, list[int]]]] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.setdefault(prefix + child.name, []).append(
                    (child.lineno, [d.lineno for d in child.decorator_list])
                )
                walk(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                walk(child, prefix)

    walk(tree, "")
    return out


def index_functions(
    tree: cst.Module,
    source: bytes | str | None = None,
    positions: Mapping[cst.CSTNode, CodeRange] | None = None,
) -> FunctionIndex:
    """Index `tree` (parsed from `source`); `positions` when a caller already resolved them."""
    collector = _Collector()
    tree.visit(collector)
    index = FunctionIndex(class_names=collector.class_names)
    aligned = _ast_lines(source) if positions is None and source is not None else None
    if aligned is not None and all(
        len(aligned.get(q, [])) == len(nodes)
        and all(len(decs) == len(n.decorators) for (_, decs), n in zip(aligned[q], nodes))
        for q, nodes in collector.defs.items()
    ):
        for q, nodes in collector.defs.items():
            for (line, decs), node in zip(aligned[q], nodes):
                index.lines[node] = line
                index.lines.update(zip(node.decorators, decs))
    else:
        if positions is None:
            positions = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
        for nodes in collector.defs.values():
            for node in nodes:
                index.lines[node] = positions[node].start.line
                index.lines.update((d, positions[d].start.line) for d in node.decorators)
    index.found = {q: [(index.lines[n], n) for n in nodes] for q, nodes in collector.defs.items()}
    return index
