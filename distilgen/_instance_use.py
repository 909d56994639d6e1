"""Does a method's body use its instance? One answer for the scan and the runtime.

A method of a class that is not a model is refused because its answer may depend on its
instance's state, which no call text carries. One whose body never names its instance (its first
parameter), `super()` or `__class__` answers from its other arguments alone, as a function would
(wave 11: python-on-whales' 14 `_parse_json_object(self, json_object)`): the scan judges it as one
(`analysis.project`), and the runtime captures it as `Cls.method(...)` without the instance
(`runtime.spec.function_kind`, kind `selfless_method`). Both read the def's own text, so they agree.
"""

from __future__ import annotations

import ast

__all__ = ["instance_use"]

_IMPLICIT = ("super", "__class__")  # `super()` and `__class__` reach the class the method is in


def instance_use(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """What in `node`'s body reads its instance: its first parameter's name (`self`), `super` or
    `__class__`; None when nothing does. A method with no parameter at all answers its first
    name used anywhere (it is called with its instance as `*args`, or fails). Nested defs and
    lambdas count: a closure over `self` reads it too."""
    plain = [*node.args.posonlyargs, *node.args.args]
    me = plain[0].arg if plain else node.args.vararg.arg if node.args.vararg else None
    if me is None:
        return "no parameter for its instance"
    # depth first, in source order: most bodies name `self` in their first statement, where a
    # breadth-first `ast.walk` went through every statement's top before it (6% of the index build)
    stack: list[ast.AST] = list(reversed(node.body))
    while stack:
        n = stack.pop()
        if type(n) is ast.Name:
            if n.id == me or n.id in _IMPLICIT:
                return n.id
            continue
        children = list(ast.iter_child_nodes(n))
        children.reverse()
        stack.extend(children)
    return None
