"""Argument sets from files: `--inputs FILE.jsonl`, dataset lines, and the key that dedupes calls.

An inputs line is either `{"param": value, ...}`, `{"args": [...], "kwargs": {...}}` (the `raw`
format's own keys), or a whole training line in `tools`/`messages` shape, whose user message is the
rendered call `fn(...)`: that is evaluated back in a namespace of the function's own types, after
checking that the expression holds nothing but literals and constructor calls.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Iterator

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from ..errors import UsageError
from .target import Target

__all__ = ["call_key", "read_inputs", "parse_line", "parse_rendered_call", "dataset_call"]

_SAFE_NODES = (
    ast.Expression, ast.Call, ast.Name, ast.Attribute, ast.Constant, ast.List, ast.Tuple, ast.Dict,
    ast.Set, ast.keyword, ast.Load, ast.UnaryOp, ast.USub, ast.UAdd, ast.BinOp, ast.Add, ast.Sub,
)


def call_key(values: dict[str, Any]) -> str:
    """Identical calls have identical keys (models, enums and dates compared by their JSON form)."""
    return json.dumps(to_jsonable_python(values, fallback=repr), sort_keys=True, ensure_ascii=False)


def _coerce(target: Target, values: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in target.params:
            known = ", ".join(target.params) or "none"
            raise UsageError(f"{where}: {target.qualname} has no parameter {name!r} (parameters: {known})")
        try:
            out[name] = TypeAdapter(target.params[name]).validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise UsageError(f"{where}: parameter {name!r}: {first['msg']} (got {value!r:.80})") from None
    return out


def parse_rendered_call(text: str, target: Target, where: str) -> dict[str, Any] | None:
    """`Return fn(1, b=Ticket(...))` (a training line's user message) -> argument dict (None: another function)."""
    expr = text.strip()
    if expr.startswith("Return "):
        expr = expr[len("Return "):]
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        raise UsageError(f"{where}: user message is not a rendered call: {text[:80]!r}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _SAFE_NODES):
            raise UsageError(f"{where}: unexpected {type(node).__name__} in rendered call {text[:80]!r}")
    if not isinstance(tree.body, ast.Call):
        raise UsageError(f"{where}: user message is not a call: {text[:80]!r}")
    from ..runtime.calls import EVAL_NAMESPACE

    call = tree.body
    func = call.func
    callee = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if callee != target.name:
        return None  # another function's line in a shared dataset
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
        call.args.insert(0, func.value)  # a model method: `Model(...).meth(...)`, the instance is `self`
    call.func = ast.copy_location(ast.Name(id="__distilgen_collect__", ctx=ast.Load()), func)
    captured: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def collect(*args: Any, **kwargs: Any) -> None:
        captured.append((args, kwargs))

    namespace = {**target.namespace, **EVAL_NAMESPACE, "__distilgen_collect__": collect}
    try:
        eval(compile(tree, where, "eval"), {"__builtins__": {}}, namespace)  # noqa: S307 - AST checked above
    except Exception as exc:
        raise UsageError(f"{where}: cannot evaluate rendered call: {type(exc).__name__}: {exc}") from None
    args, kwargs = captured[0]
    return target.bind(args, kwargs)


def dataset_call(line: dict[str, Any], target: Target, where: str) -> tuple[dict[str, Any] | None, Any]:
    """A dataset line (any format) -> (argument dict, recorded output or None)."""
    if "messages" in line:
        user = next((m for m in line["messages"] if isinstance(m, dict) and m.get("role") == "user"), None)
        if user is None or not isinstance(user.get("content"), str):
            raise UsageError(f"{where}: training line has no user message")
        values = parse_rendered_call(user["content"], target, where)
        output = None
        for m in line["messages"]:
            if isinstance(m, dict) and m.get("role") == "assistant":
                call = (m.get("tool_calls") or [{}])[0].get("function") if m.get("tool_calls") else m.get("function_call")
                if isinstance(call, dict) and isinstance(call.get("arguments"), str):
                    try:
                        output = json.loads(call["arguments"])
                    except json.JSONDecodeError:
                        output = None
        return values, output
    return parse_line(line, target, where), line.get("output")


def parse_line(line: Any, target: Target, where: str) -> dict[str, Any] | None:
    """One inputs line -> argument dict, validated against the parameter types."""
    if not isinstance(line, dict):
        raise UsageError(f"{where}: expected a JSON object, got {type(line).__name__}")
    if "messages" in line:
        return dataset_call(line, target, where)[0]
    if "args" in line or "kwargs" in line:
        args = line.get("args") or []
        kwargs = line.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise UsageError(f"{where}: 'args' must be a list and 'kwargs' an object")
        if len(args) > len(target.positional):
            raise UsageError(f"{where}: {len(args)} positional arguments, {target.qualname} takes {len(target.positional)}")
        values = dict(zip(target.positional, args))
        dup = set(values) & set(kwargs)
        if dup:
            raise UsageError(f"{where}: argument {sorted(dup)[0]!r} given twice")
        values.update(kwargs)
        return _coerce(target, values, where)
    return _coerce(target, line, where)


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    for i, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            yield i, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{i}: invalid JSON: {exc.msg} (column {exc.colno})") from None


def read_inputs(path: Path, target: Target, *, with_outputs: bool = False) -> list[Any]:
    """Every argument set in a JSONL file; with_outputs gives (values, recorded output) pairs."""
    out: list[Any] = []
    for i, line in _lines(path):
        where = f"{path}:{i}"
        if isinstance(line, dict) and "function_id" in line and line["function_id"] != target.function_id:
            continue  # a raw/shadow file holding several functions: keep this one's lines
        if with_outputs and isinstance(line, dict):
            item = dataset_call(line, target, where)
            if item[0] is not None:
                out.append(item)
        else:
            values = parse_line(line, target, where)
            if values is not None:
                out.append(values)
    return out
