"""The names a scope or a statement binds, from the standard parser's tree: read by the scan (is a
nested function a closure?) and by the codemods (how a decorator may be spelled; what a stand-in
must still bind)."""

from __future__ import annotations

import ast

__all__ = ["scope_bindings", "statement_bindings"]


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
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            out.add(node.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            out.update(node.names)
        elif isinstance(node, ast.alias):
            out.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            out.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            out.add(node.rest)
        todo.extend(ast.iter_child_nodes(node))
    return out
