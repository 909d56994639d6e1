"""`ast.parse` that is safe to call from several threads at once.

CPython 3.11 keeps the AST constructor's recursion-depth counter in interpreter-wide state, so two
threads parsing at the same time can fail with `SystemError: AST constructor recursion depth
mismatch` (CPython gh-106905). The runtime parses source when a decorated function is first called
(building its spec), and user code calls decorated functions from thread pools: parses are
serialized here. They are short and happen once per function, so the lock costs nothing that matters.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

__all__ = ["parse", "compile_ast"]

_LOCK = threading.Lock()


def parse(source: str, mode: str = "exec") -> Any:
    with _LOCK:
        return ast.parse(source, mode=mode)


def compile_ast(tree: ast.AST, filename: str, mode: str) -> Any:
    with _LOCK:
        return compile(tree, filename, mode)  # type: ignore[call-overload]
