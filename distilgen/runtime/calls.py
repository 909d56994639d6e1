"""Render a call as the user message: `fn(133, b=539)`, a valid Python call expression.

Every value is written as a Python literal or constructor expression, so evaluating the rendering
in a namespace holding the function's types gives back equal arguments (a property test proves it).
This is the one renderer of calls: capture writes it into training lines and dispatch sends it.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import keyword
import math
import pathlib
import uuid
from typing import Any, Callable

from pydantic import BaseModel

from ..errors import DistilgenError

__all__ = ["render_call", "render_value", "UnrenderableValue", "EVAL_NAMESPACE"]


class UnrenderableValue(DistilgenError, TypeError):
    """A value with no faithful Python-literal form (open files, sockets, arbitrary objects).

    Dispatch raises it to the caller for such an argument (capture only counts it)."""


# What a rendering needs besides the user's own types to be evaluated back.
EVAL_NAMESPACE: dict[str, Any] = {
    "datetime": datetime,
    "Decimal": decimal.Decimal,
    "UUID": uuid.UUID,
    "Path": pathlib.Path,
    "PurePosixPath": pathlib.PurePosixPath,
    "PureWindowsPath": pathlib.PureWindowsPath,
    "float": float,
    "set": set,
    "frozenset": frozenset,
    "bytearray": bytearray,
}


def _cls_name(cls: type) -> str:
    # `outer.<locals>.Point` is not an expression; the class is in scope as `Point`
    return cls.__qualname__.rsplit("<locals>.", 1)[-1]


def _float(v: float) -> str:
    if math.isnan(v):
        return "float('nan')"
    if math.isinf(v):
        return "float('inf')" if v > 0 else "float('-inf')"
    return repr(v)


def _seq(items: Any, r: Callable[[Any], str]) -> str:
    return ", ".join(r(x) for x in items)


def _list(v: list[Any]) -> str:
    return "[" + _seq(v, render_value) + "]"


def _tuple(v: tuple[Any, ...]) -> str:
    if len(v) == 1:
        return "(" + render_value(v[0]) + ",)"
    return "(" + _seq(v, render_value) + ")"


def _set(v: set[Any]) -> str:
    if not v:
        return "set()"
    # sort the renderings so the same set always renders the same way
    return "{" + ", ".join(sorted(render_value(x) for x in v)) + "}"


def _frozenset(v: frozenset[Any]) -> str:
    return "frozenset()" if not v else "frozenset(" + _set(set(v)) + ")"


def _dict(v: dict[Any, Any]) -> str:
    return "{" + ", ".join(f"{render_value(k)}: {render_value(x)}" for k, x in v.items()) + "}"


def _model(v: BaseModel) -> str:
    cls = type(v)
    parts = []
    odd: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        key = name
        if field.alias and field.alias != name and not cls.model_config.get("populate_by_name"):
            key = field.alias
        if _plain_keyword(key):
            parts.append(f"{key}={render_value(getattr(v, name))}")
        else:  # an alias like `class` or `first-name`: only `**{...}` can pass it
            odd[key] = getattr(v, name)
    if odd:
        parts.append(f"**{render_value(odd)}")
    return f"{_cls_name(cls)}({', '.join(parts)})"


def _dataclass(v: Any) -> str:
    fields = [f for f in dataclasses.fields(v) if f.init]
    return f"{_cls_name(type(v))}(" + ", ".join(f"{f.name}={render_value(getattr(v, f.name))}" for f in fields) + ")"


def _enum(v: enum.Enum) -> str:
    return f"{_cls_name(type(v))}.{v.name}"


def _datetime(v: datetime.datetime) -> str:
    return repr(v)  # datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)


def _path(v: pathlib.PurePath) -> str:
    if isinstance(v, pathlib.Path):
        return f"Path({str(v)!r})"
    return f"{type(v).__name__}({str(v)!r})"


_EXACT: dict[type, Callable[[Any], str]] = {
    type(None): repr,
    bool: repr,
    int: repr,
    str: repr,
    bytes: repr,
    float: _float,
    list: _list,
    tuple: _tuple,
    set: _set,
    frozenset: _frozenset,
    dict: _dict,
    bytearray: repr,
    datetime.datetime: _datetime,
    datetime.date: repr,
    datetime.time: repr,
    datetime.timedelta: repr,
    decimal.Decimal: lambda v: f"Decimal({str(v)!r})",
    uuid.UUID: lambda v: f"UUID({str(v)!r})",
}


def render_value(v: Any) -> str:
    """A Python expression that evaluates back to `v` (given the value's classes in scope)."""
    fast = _EXACT.get(type(v))
    if fast is not None:
        return fast(v)
    if isinstance(v, BaseModel):
        return _model(v)
    if isinstance(v, enum.Enum):
        return _enum(v)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _dataclass(v)
    if isinstance(v, pathlib.PurePath):
        return _path(v)
    # subclasses of builtins (e.g. a str subclass) render as their builtin value
    for base, fn in _EXACT.items():
        if base is not type(None) and isinstance(v, base):
            return fn(v)
    raise UnrenderableValue(f"cannot render a {type(v).__qualname__} as a Python literal")


def render_call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """`name(arg, ..., key=value, ...)` with arguments exactly as the caller passed them."""
    parts = [render_value(a) for a in args]
    parts.extend(f"{k}={render_value(v)}" for k, v in kwargs.items() if _plain_keyword(k))
    # `**kwargs` can receive keys no `k=v` can spell (`as`, `class`, `a-b`): pass those as a dict
    odd = {k: v for k, v in kwargs.items() if not _plain_keyword(k)}
    if odd:
        parts.append(f"**{render_value(odd)}")
    return f"{name}({', '.join(parts)})"


def _plain_keyword(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)
