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

from ..analysis.bindings import scope_bindings

__all__ = ["FunctionIndex", "index_functions", "class_body_names", "ast_class_body_names", "StatementVisitor",
           "StatementTransformer"]

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
    enclosing: dict[cst.FunctionDef, frozenset[str]] = field(default_factory=dict)
    """FunctionDef -> every name bound in a function or class it is nested in: a decorator on it
    is evaluated there, so any of these names would shadow a module-level import."""
    chains: dict[cst.FunctionDef, tuple[cst.CSTNode, ...]] = field(default_factory=dict)
    """FunctionDef -> its ancestors from the Module down (to rebuild just that path)."""


def _structure(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The children of a block or compound statement that can hold a `def` (never expressions)."""
    if isinstance(node, (cst.Module, cst.IndentedBlock)):
        return list(node.body)
    out: list[cst.CSTNode] = []
    if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Else, cst.Finally, cst.ExceptHandler,
                         cst.ExceptStarHandler, cst.With, cst.MatchCase)):
        out.append(node.body)
    elif isinstance(node, cst.If):
        out.append(node.body)
        if node.orelse is not None:
            out.append(node.orelse)
    elif isinstance(node, (cst.For, cst.While)):
        out.append(node.body)
        if node.orelse is not None:
            out.append(node.orelse)
    elif isinstance(node, (cst.Try, cst.TryStar)):
        out.extend([node.body, *node.handlers])
        out.extend(x for x in (node.orelse, node.finalbody) if x is not None)
    elif isinstance(node, cst.Match):
        out.extend(node.cases)
    return [c for c in out if not isinstance(c, cst.SimpleStatementSuite)]


class _Collector:
    """One walk over blocks and compound statements (a libcst `visit` would rebuild every node)."""

    def __init__(self) -> None:
        self.stack: list[tuple[str, str]] = []
        self.defs: dict[str, list[cst.FunctionDef]] = {}
        self.class_names: set[str] = set()
        self.scopes: list[cst.FunctionDef | cst.ClassDef] = []
        self.parents: dict[cst.FunctionDef, tuple[cst.FunctionDef | cst.ClassDef, ...]] = {}
        """FunctionDef -> the functions and classes it is nested in, outermost first."""
        self.path: list[cst.CSTNode] = []
        self.chains: dict[cst.FunctionDef, tuple[cst.CSTNode, ...]] = {}

    def walk(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.FunctionDef):
            self.chains[node] = tuple(self.path)
            self.visit_FunctionDef(node)
        elif isinstance(node, cst.ClassDef):
            self.visit_ClassDef(node)
        self.path.append(node)
        for child in _structure(node):
            self.walk(child)
        self.path.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            self.stack.pop()
            self.scopes.pop()

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
        self.parents[node] = tuple(self.scopes)
        self.scopes.append(node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.stack.append(("class", node.name.value))
        self.scopes.append(node)
        for stmt in node.body.body if isinstance(node.body, cst.IndentedBlock) else ():
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                self.class_names.add(stmt.name.value)
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else (
                        [small.target] if isinstance(small, (cst.AnnAssign, cst.AugAssign)) else [])
                    self.class_names.update(t.value for t in targets if isinstance(t, cst.Name))



def class_body_names(tree: cst.Module) -> set[str]:
    """Names bound directly in any class body of `tree` (no line numbers needed)."""
    collector = _Collector()
    collector.walk(tree)
    return collector.class_names


def ast_class_body_names(tree: ast.Module, lines: list[bytes]) -> set[str]:
    """`class_body_names` from the standard parser's tree of the source split into `lines`
    (statements only, never expressions): the same names, from the whole file even when libcst
    parsed a reduced copy of it."""
    out: set[str] = set()
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        # libcst reads only an indented body (`class A: x = 1` binds nothing there)
        first = node.body[0] if isinstance(node, ast.ClassDef) else None
        if (isinstance(node, ast.ClassDef) and first is not None and first.lineno <= len(lines)
                and not lines[first.lineno - 1][:first.col_offset].strip()):
            for stmt in node.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    out.add(stmt.name)
                elif isinstance(stmt, ast.Assign):
                    out.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
                elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and isinstance(stmt.target, ast.Name):
                    out.add(stmt.target.id)
        for block in ("body", "orelse", "finalbody"):
            todo.extend(getattr(node, block, ()))
        for handler in getattr(node, "handlers", ()):
            todo.extend(handler.body)
        for case in getattr(node, "cases", ()):
            todo.extend(case.body)
    return out


_AstDef = tuple[int, list[int], frozenset[str]]


def _ast_lines(source: bytes | str, tree: ast.Module | None = None) -> dict[str, list[_AstDef]] | None:
    """qualname -> [(def line, decorator lines, names bound in enclosing scopes)] from the
    standard parser, or None if it cannot parse the source."""
    if tree is None:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return None
    out: dict[str, list[_AstDef]] = {}

    def walk(node: ast.AST, prefix: str, enclosing: frozenset[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.setdefault(prefix + child.name, []).append(
                    (child.lineno, [d.lineno for d in child.decorator_list], enclosing)
                )
                walk(child, f"{prefix}{child.name}.<locals>.", enclosing | scope_bindings(child))
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.", enclosing | scope_bindings(child))
            elif isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                walk(child, prefix, enclosing)

    walk(tree, "", frozenset())
    return out


class _AnyName(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def _cst_enclosing(parents: tuple[cst.CSTNode, ...]) -> frozenset[str]:
    """Without `ast` (syntax newer than this interpreter): every name written in an enclosing
    function or class, whatever its role; more than needed, never less."""
    out: set[str] = set()
    for scope in parents:
        v = _AnyName()
        scope.visit(v)
        out |= v.names
    return frozenset(out)


def index_functions(
    tree: cst.Module,
    source: bytes | str | None = None,
    positions: Mapping[cst.CSTNode, CodeRange] | None = None,
    std_tree: ast.Module | None = None,
) -> FunctionIndex:
    """Index `tree` (parsed from `source`); `positions` when a caller already resolved them, and
    the standard parser's tree of the same source when the caller has it."""
    collector = _Collector()
    collector.walk(tree)
    index = FunctionIndex(class_names=collector.class_names, chains=collector.chains)
    aligned = _ast_lines(source, std_tree) if positions is None and source is not None else None
    if aligned is not None and all(
        len(aligned.get(q, [])) == len(nodes)
        and all(len(decs) == len(n.decorators) for (_, decs, _e), n in zip(aligned[q], nodes))
        for q, nodes in collector.defs.items()
    ):
        for q, nodes in collector.defs.items():
            for (line, decs, enclosing), node in zip(aligned[q], nodes):
                index.lines[node] = line
                index.lines.update(zip(node.decorators, decs))
                index.enclosing[node] = enclosing
    else:
        for nodes in collector.defs.values():
            for node in nodes:
                index.enclosing[node] = _cst_enclosing(collector.parents[node])
        if positions is None:
            positions = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
        for nodes in collector.defs.values():
            for node in nodes:
                index.lines[node] = positions[node].start.line
                index.lines.update((d, positions[d].start.line) for d in node.decorators)
    index.found = {q: [(index.lines[n], n) for n in nodes] for q, nodes in collector.defs.items()}
    return index
