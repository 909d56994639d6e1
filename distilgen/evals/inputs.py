"""Argument sets from files: `--inputs FILE.jsonl`, dataset lines, and the key that dedupes calls.

An inputs line is either `{"param": value, ...}`, `{"args": [...], "kwargs": {...}}` (the `raw`
format's own keys), or a whole training line in `tools`/`messages` shape, whose user message is the
rendered call `fn(...)`: that is read back with `runtime.calls.read_call` (an `ast` walk, never
`eval`), which may call only the function's own types and a fixed list of plain constructors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from ..errors import UsageError
from ..ops.shapes import line_parts
from ..runtime.calls import CallSyntaxError, constructors_for, read_call
from .target import Target

__all__ = ["call_key", "read_inputs", "parse_line", "parse_rendered_call", "dataset_call"]

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
    """`Return fn(1, b=Ticket(...))` (a training line's user message) -> argument dict (None: another function).

    Read with `calls.read_call`, never evaluated: only the target's own parameter types (and the
    models, dataclasses and enums inside them) and a fixed list of plain constructors can be called.
    """
    try:
        found = read_call(text, target.name, constructors_for(target.params.values()))
    except CallSyntaxError as exc:
        raise UsageError(f"{where}: user message is not a rendered call of {target.name}: {exc} ({text[:80]!r})") from None
    if found is None:
        return None
    args, kwargs = found
    return target.bind(args, kwargs)


def dataset_call(line: dict[str, Any], target: Target, where: str) -> tuple[dict[str, Any] | None, Any]:
    """A dataset line (any format) -> (argument dict, recorded output or None)."""
    if "messages" in line:
        if not isinstance(line["messages"], list):
            raise UsageError(f"{where}: `messages` must be a list")
        parts = line_parts(line)
        if not parts.user:
            raise UsageError(f"{where}: training line has no user message")
        values = parse_rendered_call(parts.user, target, where)
        output = None
        if parts.arguments is not None:
            try:
                output = json.loads(parts.arguments)
            except (ValueError, RecursionError):  # bad or nested too deeply: no recorded answer
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
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{i}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        except (ValueError, RecursionError) as exc:  # nested too deeply, a 5,000-digit number
            raise UsageError(f"{path}:{i}: invalid JSON: {str(exc).splitlines()[0][:200]}") from None
        yield i, value


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
