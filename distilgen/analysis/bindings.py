"""The names a scope or a statement binds, from the standard parser's tree: read by the scan (is a
nested function a closure?) and by the codemods (how a decorator may be spelled; what a stand-in
must still bind)."""

from __future__ import annotations

import ast

__all__ = ["scope_bindings", "statement_bindings", "reads_and_bindings"]


_Scope = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def scope_bindings(scope: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> set[str]:
    """Every name a function or class body binds: parameters, assignments, loop/with/except
    targets, imports, nested defs, `global`/`nonlocal`, match captures, walrus and (to be safe)
    comprehension targets. Bodies of nested functions and classes are their own scopes."""
    out: set[str] = set()
    if not isinstance(scope, ast.ClassDef):
        a = scope.args
        out.update(p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs))
        out.update(p.arg for p in (a.vararg, a.kwarg) if p is not None)
    for stmt in scope.body:
        out |= statement_bindings(stmt)
    return out


def statement_bindings(stmt: ast.stmt) -> set[str]:
    """The names one statement binds in the scope it stands in (`scope_bindings`, statement by
    statement): what a stand-in for it must still bind (`splice.reduce_source`)."""
    out: set[str] = set()
    todo: list[ast.AST] = [stmt]
    while todo:
        node = todo.pop()
        if isinstance(node, _Scope):
            out.add(node.name)
            # decorators, defaults, bases and annotations are evaluated in this scope; bodies are not
            todo.extend(node.decorator_list)
            if isinstance(node, ast.ClassDef):
                todo.extend([*node.bases, *node.keywords])
            else:
                todo.extend([*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)])
            continue
        if isinstance(node, ast.Lambda):
            todo.extend([*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)])
            continue
        out.update(_binds(node))
        todo.extend(ast.iter_child_nodes(node))
    return out


def reads_and_bindings(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[set[str], set[str]]:
    """(the names `fn`'s body reads, every name bound anywhere inside it: its parameters, and its
    nested scopes' names and parameters too, counted as its own), in one walk: the scan's closure
    check (`file_index`) runs it on every nested function that may return a model."""
    a = fn.args
    own = {v.arg for v in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if v is not None}
    reads: set[str] = set()
    for stmt in fn.body:
        for n in ast.walk(stmt):
            t = type(n)
            if t is ast.Name and type(n.ctx) is ast.Load:  # type: ignore[attr-defined]
                reads.add(n.id)  # type: ignore[attr-defined]
            elif t is ast.arg:
                own.add(n.arg)  # type: ignore[attr-defined]
            elif t in _Scope:
                own.add(n.name)  # type: ignore[attr-defined]
            else:
                own.update(_binds(n))
    return reads, own


_NAMED = (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)


def _binds(node: ast.AST) -> tuple[str, ...] | list[str]:
    """The names `node` itself binds (not its children's): a stored or deleted name, an import's
    alias, `global`/`nonlocal`, an `except ... as`, a match capture."""
    t = type(node)
    if t is ast.Name:
        return () if type(node.ctx) is ast.Load else (node.id,)  # type: ignore[attr-defined]
    if t is ast.alias:
        return ((node.asname or node.name).split(".")[0],)  # type: ignore[attr-defined]
    if t is ast.Global or t is ast.Nonlocal:
        return node.names  # type: ignore[attr-defined,no-any-return]
    if t in _NAMED:
        return (node.name,) if node.name else ()  # type: ignore[attr-defined]
    if t is ast.MatchMapping:
        return (node.rest,) if node.rest else ()  # type: ignore[attr-defined]
    return ()
