"""Render a call as the user message: `fn(133, b=539)`, a valid Python call expression, and read it back.

Every value is written as a Python literal or constructor expression, so evaluating the rendering
in a namespace holding the function's types gives back equal arguments (a property test proves it).
This is the one renderer of calls: capture writes it into training lines and dispatch sends it.

`read_call` is its inverse for `generate --inputs` and `eval --dataset`, whose lines come from files a
user may not have written: it never evaluates the text. It walks the `ast` and builds values from
literals and calls of an allow-list only (the function's own parameter types, their nested models,
enums and dataclasses, and the fixed constructors below); no other name, attribute or call exists
for it, so a line cannot reach `os`, `__import__` or anything else. A parametrized generic model's
callee (`Page[int](...)`) is looked up by its text, as the render writes it, not evaluated.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime
import decimal
import enum
import inspect
import ipaddress
import keyword
import math
import pathlib
import re
import sys
import threading
import uuid
import typing
import weakref
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from pydantic import BaseModel, RootModel
from pydantic_core import PydanticUndefined
from pydantic_core import TzInfo as _PydanticTzInfo

from .. import _ast_parse
from ..contracts import PYDANTIC_NETWORK_TYPES
from ..errors import DistilgenError

__all__ = ["render_call", "render_value", "UnrenderableValue", "EVAL_NAMESPACE",
           "read_call", "constructors_for", "CallSyntaxError", "FIXED_CONSTRUCTORS"]


class UnrenderableValue(DistilgenError, TypeError):
    """A value with no faithful Python-literal form (open files, sockets, arbitrary objects).

    Dispatch raises it to the caller for such an argument (capture only counts it). Its message
    says where the value is: `render_call` names the argument and the path inside it
    (`cannot render a numpy.int64 as a Python literal (argument b.meta['count'])`); `reason` is the
    message without it, `argument` and `path` its parts (wave 9: the skip reason named neither)."""

    def __init__(self, reason: str, value: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.argument: str | None = None
        """The parameter's name (`args[1]` for a positional argument whose name is not known)."""
        self.path = ""
        """Where inside the argument: `.meta['count']`, `[2]`, `.items[0].x`."""
        self._at = value  # the object the path has reached: the container around it finds it by identity

    def __str__(self) -> str:
        if self.argument is not None:
            return f"{self.reason} (argument {self.argument}{self.path})"
        if self.path:
            return f"{self.reason} (at {self.path} inside the value)"
        return self.reason


def _within(exc: UnrenderableValue, container: Any, children: Iterable[tuple[str, Any]]) -> None:
    """Error path only (no cost to a call that renders): the container whose rendering `exc` left
    puts the step to the failing child (`[2]`, `.x`) in front of the path, found by identity
    (children render in order, so the first child that is the object is the one that failed)."""
    at = exc._at
    if at is not None and at is not container:
        for step, child in children:
            if child is at:
                exc.path = step + exc.path
                break
    exc._at = container


def _type_name(cls: type) -> str:
    """`numpy.int64`, `mod.Reference`; a builtin by its plain name (`object`)."""
    module = getattr(cls, "__module__", None)
    name = str(getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?"))
    return name if module in (None, "builtins") else f"{module}.{name}"


def _key_step(k: Any, i: int) -> str:
    if type(k) in (str, int, bool, float, type(None), bytes):
        text = repr(k)
        return f"[{text if len(text) <= 40 else text[:37] + '...'}]"
    return f"[<key {i}: a {_type_name(type(k))}>]"


# What a rendering needs besides the user's own types to be evaluated back.
_IP_TYPES = frozenset({ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network, ipaddress.IPv6Network,
                       ipaddress.IPv4Interface, ipaddress.IPv6Interface})
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
    **{t.__name__: t for t in _IP_TYPES},
}
"""Pydantic's URL types (`AnyUrl`, `HttpUrl`, `PostgresDsn`, ...) join it once `pydantic.networks`
is imported and a value of one is rendered (or a call read back): see `_network_types`."""


_LOCALS = re.compile(r"[\w.]*<locals>\.")


def _cls_name(cls: type) -> str:
    # `outer.<locals>.Point` is not an expression; the class is in scope as `Point`. Every such
    # prefix goes: a generic model's name holds its parameters' (`Page[f.<locals>.Item]`)
    name = cls.__qualname__
    return _LOCALS.sub("", name) if "<locals>." in name else name


def _float(v: float) -> str:
    if math.isnan(v):
        return "float('nan')"
    if math.isinf(v):
        return "float('inf')" if v > 0 else "float('-inf')"
    return repr(v)


def _seq(items: Any, r: Callable[[Any], str]) -> str:
    return ", ".join(r(x) for x in items)


def _items(v: Any) -> Iterator[tuple[str, Any]]:
    return ((f"[{i}]", x) for i, x in enumerate(v))


def _list(v: list[Any]) -> str:
    try:
        return "[" + _seq(v, render_value) + "]"
    except UnrenderableValue as exc:
        _within(exc, v, _items(v))
        raise


def _tuple(v: tuple[Any, ...]) -> str:
    try:
        if len(v) == 1:
            return "(" + render_value(v[0]) + ",)"
        return "(" + _seq(v, render_value) + ")"
    except UnrenderableValue as exc:
        _within(exc, v, _items(v))
        raise


def _set(v: set[Any]) -> str:
    if not v:
        return "set()"
    try:
        # sort the renderings so the same set always renders the same way
        return "{" + ", ".join(sorted(render_value(x) for x in v)) + "}"
    except UnrenderableValue as exc:
        _within(exc, v, (("{...}", x) for x in v))
        raise


def _frozenset(v: frozenset[Any]) -> str:
    try:
        return "frozenset()" if not v else "frozenset(" + _set(set(v)) + ")"
    except UnrenderableValue as exc:
        exc._at = v  # _set reached the copy
        raise


def _dict(v: dict[Any, Any]) -> str:
    try:
        return "{" + ", ".join(f"{render_value(k)}: {render_value(x)}" for k, x in v.items()) + "}"
    except UnrenderableValue as exc:
        _within(exc, v, (pair for i, (k, x) in enumerate(v.items())
                         for pair in ((f"[<key {i}>]", k), (_key_step(k, i), x))))
        raise


# --- fields at their defaults (wave 10) --------------------------------------------------------
#
# A model (or dataclass) argument was written with every field, those left at their defaults too:
# aiogram's `Message` gave ~4,600-character user messages, nearly all `field=None`. A field left
# unset (not in the model's `model_fields_set`: the caller never passed it) whose value is still its
# default (a plain `default`, or the empty container of a `default_factory` of list, dict, set,
# tuple or frozenset) is left out: evaluating the text gives it back, unset as it was, so even code
# reading `model_fields_set` (`exclude_unset=True`) sees the same value. A field passed explicitly
# is written, default or not; a dataclass (no such record) leaves out the fields equal to their
# defaults. Where a class could tell a key left out from one passed (a `before` or `wrap` model
# validator sees the keys, an `__init__` of its own, a core schema of its own), the instance is
# built again from the keywords its shorter text passes and must come out equal, field by field
# (private attributes aside: no text carries them); otherwise the whole argument is written in full,
# as before. Decided at the outermost model or dataclass of each argument: its nested ones are
# written alike.

class _Rendering(threading.local):
    """Per thread: `st[0]` is None when no model is being rendered, else whether fields at their
    defaults are left out (True) or the outermost value is written in full (False). One list: one
    thread-local lookup a model."""

    def __init__(self) -> None:
        self.st: list[Any] = [None]


_RENDER = _Rendering()
_PURE_FACTORIES: frozenset[Any] = frozenset({list, dict, set, tuple, frozenset})
_TELLS: "weakref.WeakKeyDictionary[type, bool]" = weakref.WeakKeyDictionary()


class _InFull(Exception):
    """A value's shorter text would not give it back: the outermost value is written in full."""


def _tells_keys_apart(cls: type) -> bool:
    """Whether `cls` could build another value from a text leaving a field out than from one
    passing its default: a `before`/`wrap` model validator (it sees the keys), an `__init__` of its
    own, a core schema of its own. Once per class."""
    try:
        return _TELLS[cls]
    except (KeyError, TypeError):
        pass
    tells = False
    try:
        decorators = getattr(cls, "__pydantic_decorators__", None)
        if decorators is not None:
            tells = any(getattr(d.info, "mode", None) in ("before", "wrap") for d in decorators.model_validators.values())
        init = getattr(cls, "__init__")  # noqa: B009
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            tells = tells or init not in _STANDARD_INITS or any(
                "__get_pydantic_core_schema__" in vars(c) for c in cls.__mro__ if c not in (BaseModel, RootModel)
                and not (c.__module__ or "").startswith("pydantic."))
        elif dataclasses.is_dataclass(cls):
            params = getattr(cls, "__dataclass_params__", None)
            tells = tells or (params is not None and not params.init)
    except Exception:  # noqa: BLE001 - not provably alike: built again
        tells = True
    try:
        _TELLS[cls] = tells
    except TypeError:
        pass
    return tells


def _omittable(value: Any, default: Any, factory: Any) -> bool:
    """Whether a field holding `value` can be left out: its default (`default`, else what a
    `default_factory` of an empty builtin container gives) is the same value, of the same type."""
    if default is PydanticUndefined or default is dataclasses.MISSING:
        if factory not in _PURE_FACTORIES:
            return False  # required, or a factory of the user's: not called (uuid4, now, a client)
        default = factory()
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:  # noqa: BLE001 - an __eq__ that refuses (numpy): written
        return False


def _outermost(v: Any, render: Callable[[Any, bool], str], st: list[Any]) -> str:
    """`v` (a model or dataclass, the first met in an argument) without its fields at defaults,
    else (`_InFull`, or a class's own __init__ requiring a field left out) in full."""
    st[0] = True
    try:
        try:
            return render(v, True)
        except (_InFull, UnrenderableValue):
            pass
        st[0] = False
        return render(v, False)
    finally:
        st[0] = None


def _check_rebuilt(v: Any, given: dict[str, Any]) -> None:
    """`v`, whose text leaves fields out and whose class could tell, built again from the keywords
    the text passes (the values themselves: each renders to a text that reads back as itself) must
    be the same value; `_InFull` otherwise (a validator filling a field left out, say)."""
    try:
        same = _same_value(v, type(v)(**given))
    except Exception:  # noqa: BLE001 - refused: not the same value
        same = False
    if not same:
        raise _InFull


def _same_value(a: Any, b: Any, depth: int = 0) -> bool:
    """`a` (the caller's value) and `b` (built again from the keywords of its shorter text) are the
    same value: same types (a builtin subclass may come back as its builtin), models and dataclasses
    field by field (extras too, private attributes not), NaN equal to NaN, datetimes with equal tzinfo."""
    if a is b:
        return True
    if depth > _MAX_DEPTH:
        return False
    ta, tb = type(a), type(b)
    if ta is not tb:
        if tb in _EXACT and isinstance(a, tb) and not isinstance(a, (BaseModel, enum.Enum)):
            try:
                return bool(a == b)  # np.float64(1.5) written 1.5
            except Exception:  # noqa: BLE001
                return False
        return False
    d = depth + 1
    if isinstance(a, BaseModel):
        fa, fb = a.__dict__, b.__dict__
        try:
            quick = fa == fb  # the common case, in C; a nested model's private attributes make it False
        except Exception:  # noqa: BLE001
            quick = False
        if not quick and (fa.keys() != fb.keys() or not all(_same_value(fa[k], fb[k], d) for k in fa)):
            return False
        ea, eb = a.__pydantic_extra__ or {}, b.__pydantic_extra__ or {}
        return ea.keys() == eb.keys() and all(_same_value(ea[k], eb[k], d) for k in ea)
    if ta in (list, tuple):
        return len(a) == len(b) and all(_same_value(x, y, d) for x, y in zip(a, b))
    if ta is dict:
        return a.keys() == b.keys() and all(_same_value(x, b[k], d) for k, x in a.items())
    if ta is float:
        return a == b or (math.isnan(a) and math.isnan(b))
    if dataclasses.is_dataclass(a):
        return all(_same_value(getattr(a, f.name, None), getattr(b, f.name, None), d) for f in dataclasses.fields(a))
    try:
        if not a == b:
            return False
    except Exception:  # noqa: BLE001
        return False
    if isinstance(a, (datetime.datetime, datetime.time)):
        return bool(a.tzinfo == b.tzinfo and a.fold == b.fold)
    return True


def _model(v: BaseModel) -> str:
    st = _RENDER.st
    if st[0] is None:
        return _outermost(v, _model_text, st)
    return _model_text(v, st[0])


def _model_text(v: BaseModel, compact: bool) -> str:
    try:
        cls = type(v)
        parts = []
        keys: list[str] = []
        odd: dict[str, Any] = {}
        config = cls.model_config
        # written by name with `populate_by_name` (as ever), and where pydantic 2.11's
        # `validate_by_alias=False` refuses the alias (wave 5); a model that accepts both keeps the
        # alias, as its examples were captured before
        by_name = bool(config.get("populate_by_name") or config.get("validate_by_alias") is False)
        # field values are read from the instance's __dict__: `getattr` of a `Field(deprecated=...)`
        # warns, in the user's program (docling-core: 1,888 DeprecationWarnings in its test suite),
        # and under `-W error` raised, losing the call (wave 6)
        values = v.__dict__
        fields_set = v.__pydantic_fields_set__ if compact else ()
        given: dict[str, Any] = {}
        left_out = False
        for name, field in cls.model_fields.items():
            key = name
            if field.alias and field.alias != name and not by_name:
                key = field.alias
            value = values[name] if name in values else getattr(v, name)
            if _at_sentinel_default(value, field.default):
                continue
            if compact:
                if name not in fields_set and _omittable(value, field.default, field.default_factory) \
                        and not getattr(field, "default_factory_takes_data", False):
                    left_out = True
                    continue
                given[key] = value
            keys.append(key)
            if _plain_keyword(key):
                parts.append(f"{key}={render_value(value)}")
            else:  # an alias like `class` or `first-name`: only `**{...}` can pass it
                odd[key] = value
        # `extra="allow"`: the fields the class does not declare are part of the value (read through
        # `model_extra`); without them two different inputs rendered alike and the text did not
        # evaluate back to an equal model (phoenix's OTel GenAI models, wave 5). They are passed as
        # keywords, as the caller did; a key no keyword can spell goes through the `**{...}`
        extra = v.__pydantic_extra__
        if extra:
            for key, value in extra.items():
                if _plain_keyword(key):
                    parts.append(f"{key}={render_value(value)}")
                elif isinstance(key, str):
                    odd[key] = value
                else:  # model_construct(**{...}) can only give str keys, but __pydantic_extra__ is writable
                    raise UnrenderableValue(f"{_cls_name(cls)} has an extra field keyed {key!r}, not a string")
                keys.append(key)
                if compact:
                    given[key] = value
        _check_init(cls, keys)
        if left_out and _tells_keys_apart(cls):
            _check_rebuilt(v, given)
        if odd:
            parts.append(f"**{render_value(odd)}")
        return f"{_cls_name(cls)}({', '.join(parts)})"
    except UnrenderableValue as exc:
        _within(exc, v, _model_children(v))
        raise


def _model_children(v: BaseModel) -> Iterator[tuple[str, Any]]:
    values = v.__dict__
    for name in type(v).model_fields:
        if name in values:
            yield f".{name}", values[name]
    for key, value in (v.__pydantic_extra__ or {}).items():
        yield (f".{key}" if _plain_keyword(key) else _key_step(key, 0)), value


def _at_sentinel_default(value: Any, default: Any) -> bool:
    """A field still holding its class's default object, one no literal can write (strawberry's
    `UNSET`, phoenix's GraphQL inputs, wave 5): left out, the class gives it back. Any value the
    renderer can write is written, default or not, so examples captured before stay alike."""
    if value is not default or default is dataclasses.MISSING or type(value) in _EXACT:
        return False
    try:
        render_value(value)
    except UnrenderableValue:
        return True
    return False


def _dataclass(v: Any) -> str:
    st = _RENDER.st
    if st[0] is None:
        return _outermost(v, _dataclass_text, st)
    return _dataclass_text(v, st[0])


def _dataclass_text(v: Any, compact: bool) -> str:
    parts = []
    keys = []
    given: dict[str, Any] = {}
    left_out = False
    try:
        for f in dataclasses.fields(v):
            value = getattr(v, f.name)
            if f.init and not _at_sentinel_default(value, f.default):
                if compact:
                    if _omittable(value, f.default, f.default_factory):
                        left_out = True
                        continue
                    given[f.name] = value
                keys.append(f.name)
                parts.append(f"{f.name}={render_value(value)}")
        _check_init(type(v), keys)
        if left_out and _tells_keys_apart(type(v)):
            _check_rebuilt(v, given)
    except UnrenderableValue as exc:
        _within(exc, v, ((f".{f.name}", getattr(v, f.name, None)) for f in dataclasses.fields(v)))
        raise
    return f"{_cls_name(type(v))}(" + ", ".join(parts) + ")"


_STANDARD_INITS = frozenset({BaseModel.__init__, RootModel.__init__})
_INITS: "weakref.WeakKeyDictionary[type, tuple[str, bool, frozenset[str], frozenset[str]] | None]" = weakref.WeakKeyDictionary()
"""Per class with an `__init__` other than pydantic's: (its signature as text, takes **kwargs, the
names it takes by keyword, the names it requires); None for pydantic's own."""


def _init_of(cls: type) -> tuple[str, bool, frozenset[str], frozenset[str]] | None:
    try:
        return _INITS[cls]
    except (KeyError, TypeError):
        pass
    init = getattr(cls, "__init__")  # noqa: B009 (mypy: cls.__init__ on a type is "unsound")
    facts: tuple[str, bool, frozenset[str], frozenset[str]] | None = None
    if init not in _STANDARD_INITS:  # a dataclass's generated one passes the test below
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):  # a builtin's: nothing to read, so nothing proven
            facts = ("", False, frozenset(), frozenset())
        else:
            params = list(sig.parameters.values())[1:]  # self
            named = frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
            required = frozenset(p.name for p in params if p.default is p.empty
                                 and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
            var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
            stars: dict[Any, str] = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
            spelled = "(" + ", ".join(stars.get(p.kind, "") + p.name for p in params) + ")"
            facts = (spelled, var_kw, named, required)
    try:
        _INITS[cls] = facts
    except TypeError:
        pass
    return facts


def _check_init(cls: type, keys: list[str]) -> None:
    """The rendering `Cls(key=..., ...)` calls the class: a class with an `__init__` of its own
    (pyiceberg's `Reference(name)`, 89 of its 223 models) must take those keywords, and need no
    other argument, or the text does not evaluate back (`read_call` fails; wave 6)."""
    if getattr(cls, "__init__") in _STANDARD_INITS:  # noqa: B009 - pydantic's own: the common case, no lookup
        return
    facts = _init_of(cls)
    if facts is None:
        return
    spelled, var_kw, named, required = facts
    if not spelled:
        raise UnrenderableValue(f"cannot render a {_cls_name(cls)}: its own __init__ has no signature to read, "
                                "so nothing says the call text would evaluate back to it")
    refused = [k for k in keys if k not in named] if not var_kw else []
    missing = sorted(required - set(keys))
    if refused or missing:
        why = (f"does not take the field keyword(s) {', '.join(map(repr, refused))}" if refused
               else f"requires {', '.join(map(repr, missing))}, which is not a field the instance writes")
        raise UnrenderableValue(f"cannot render a {_cls_name(cls)}: its own __init__{spelled} {why}, "
                                "so the call text would not evaluate back to it")


def _enum(v: enum.Enum) -> str:
    return f"{_cls_name(type(v))}.{v.name}"


def _datetime(v: datetime.datetime) -> str:
    tz = v.tzinfo
    if tz is None or type(tz) is datetime.timezone:  # the common case: one attribute, one test
        return repr(v)  # datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
    return _aware(v, tz)


def _time(v: datetime.time) -> str:
    tz = v.tzinfo
    if tz is None or type(tz) is datetime.timezone:
        return repr(v)
    return _aware(v, tz)


_ZONE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]{0,63}(?:/[A-Za-z0-9_+\-]{1,64}){0,3}")
"""An IANA zone key (`Europe/Paris`, `Etc/GMT+5`, `America/Argentina/Buenos_Aires`): the keys
`read_call` passes to `zoneinfo.ZoneInfo`, and so the only ones rendered (no `..`, no absolute path)."""


def _aware(v: datetime.datetime | datetime.time, tz: datetime.tzinfo) -> str:
    """A datetime or time whose tzinfo is not a `datetime.timezone` (wave 9). Its repr spells the
    tzinfo's repr, which is no expression `read_call` reads (`TzInfo(0)`, `tzutc()`), and one
    instant had two spellings. A fixed offset (pydantic's `TzInfo`, what parsing `...Z` or
    `+01:00` gives) is written as the `datetime.timezone` of that offset (`datetime.timezone.utc`,
    `datetime.timezone(datetime.timedelta(seconds=3600))`): equal, with the same `utcoffset()`.
    A `zoneinfo.ZoneInfo` of a named zone is written as its repr, `zoneinfo.ZoneInfo(key='...')`,
    which `read_call` reads (the key checked, then looked up in the time zone database). Any other
    tzinfo (dateutil's, pytz's, a ZoneInfo from a file) is refused: nothing says what it is."""
    cls = type(tz)
    kind = type(v).__name__
    if cls is _PydanticTzInfo:
        try:
            fixed = datetime.timezone(tz.utcoffset(None))  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise UnrenderableValue(f"cannot render a {kind} whose tzinfo is {tz!r}: {exc}", v) from None
        return repr(v.replace(tzinfo=fixed))
    zi = sys.modules.get("zoneinfo")
    if zi is not None and cls is zi.ZoneInfo:
        key = getattr(tz, "key", None)
        if isinstance(key, str) and _ZONE_KEY.fullmatch(key):
            EVAL_NAMESPACE.setdefault("zoneinfo", zi)
            return repr(v)  # datetime.datetime(2025, 1, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris'))
        raise UnrenderableValue(f"cannot render a {kind} whose tzinfo is {tz!r}: a ZoneInfo is written by its "
                                "time zone key, and this one has no key of the time zone database", v)
    raise UnrenderableValue(f"cannot render a {kind} whose tzinfo is a {_type_name(cls)} ({tz!r}): only a fixed "
                            "offset (datetime.timezone, pydantic's TzInfo) or a zoneinfo.ZoneInfo is written "
                            "so that the call text reads back", v)


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
    datetime.time: _time,
    datetime.timedelta: repr,
    decimal.Decimal: lambda v: f"Decimal({str(v)!r})",
    uuid.UUID: lambda v: f"UUID({str(v)!r})",
}


def _same(base: Any, v: Any) -> Any:
    """`base`, the builtin value a subclass instance `v` is written as, when it equals `v`."""
    if base == v:
        return base
    raise UnrenderableValue(f"cannot render a {_type_name(type(v))} ({_short(v)}): written as its builtin value "
                            f"{base!r} it would not be equal to it (the subclass holds more)", v)


def _short(v: Any) -> str:
    try:
        text = repr(v)
    except Exception:
        return "?"
    return text if len(text) <= 80 else text[:77] + "..."


_SUBCLASSED: tuple[tuple[type, Callable[[Any], str]], ...] = (
    # a subclass instance is written as the builtin value it holds (`np.float64(1.5)` -> `1.5`,
    # `np.str_('x')` -> `'x'`, pandas' `Timestamp` -> `datetime.datetime(...)`), never with its
    # own repr: one value, one spelling, and the text reads back (wave 9). The builtin's own
    # method reads the value (`float.__float__`, `str.__str__`): a subclass's override is not called
    (int, lambda v: int.__repr__(v)),
    (str, lambda v: repr(str.__str__(v))),
    (bytes, lambda v: repr(bytes.__bytes__(v))),
    (float, lambda v: _float(float.__float__(v))),
    (list, _list),
    (tuple, _tuple),
    (set, _set),
    (frozenset, _frozenset),
    (dict, _dict),
    (bytearray, lambda v: repr(bytearray(v))),
    (datetime.datetime, lambda v: _datetime(_same(datetime.datetime(
        v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, v.tzinfo, fold=v.fold), v))),
    (datetime.date, lambda v: repr(_same(datetime.date(v.year, v.month, v.day), v))),
    (datetime.time, lambda v: _time(_same(datetime.time(v.hour, v.minute, v.second, v.microsecond, v.tzinfo,
                                                        fold=v.fold), v))),
    (datetime.timedelta, lambda v: repr(_same(datetime.timedelta(v.days, v.seconds, v.microseconds), v))),
    (decimal.Decimal, lambda v: f"Decimal({decimal.Decimal.__str__(v)!r})"),
    (uuid.UUID, lambda v: f"UUID({str(uuid.UUID(int=v.int))!r})"),
)
_PROXIES = frozenset(weakref.ProxyTypes)


def _proxy(v: Any) -> UnrenderableValue:
    try:
        target = f"a {_type_name(v.__class__)}"
    except ReferenceError:
        target = "an object no longer alive"
    # refused, not written as its referent: a proxy is a reference, and the structures that hold
    # them (ormar's reverse relations, wave 9) point back at the object holding them, so the
    # referent's rendering would loop; and evaluating the text would give a strong reference
    return UnrenderableValue(f"cannot render a weakref proxy (to {target}): a proxy is a reference, not a value "
                             "a call text can write", v)


def render_value(v: Any) -> str:
    """A Python expression that evaluates back to `v` (given the value's classes in scope)."""
    fast = _EXACT.get(type(v))
    if fast is not None:
        return fast(v)
    if type(v) in _PROXIES:  # isinstance() sees through a proxy: it would pass for a model, an enum, a str
        raise _proxy(v)
    if isinstance(v, BaseModel):
        return _model(v)
    if isinstance(v, enum.Enum):
        return _enum(v)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _dataclass(v)
    if isinstance(v, pathlib.PurePath):
        return _path(v)
    network = _network_types().get(type(v))
    if network is not None:  # AnyUrl('https://example.com/'): pydantic's URL types take their string
        if network == "NameEmail":
            return f"NameEmail({render_value(v.name)}, {render_value(v.email)})"
        return f"{network}({str(v)!r})"
    if type(v) in _IP_TYPES:  # IPv4Address('10.0.0.1'): pydantic's IPvAnyAddress gives these
        return f"{type(v).__name__}({str(v)!r})"
    # subclasses of builtins (e.g. a str subclass) render as their builtin value
    for base, fn in _SUBCLASSED:
        if isinstance(v, base):
            try:
                return fn(v)
            except UnrenderableValue as exc:  # from the builtin copy: the path stops at `v`
                _within(exc, v, ())
                raise
    raise UnrenderableValue(f"cannot render a {_type_name(type(v))} as a Python literal", v)


_NETWORK_NAMES = PYDANTIC_NETWORK_TYPES
_networks: dict[type, str] = {}


def _network_types(load: bool = False) -> dict[type, str]:
    """pydantic's URL classes (and `NameEmail`) -> their names, once `pydantic.networks` is
    imported (a value of one means it is: importing it costs ~15 ms, so capture never does;
    `load=True`, for `read_call`, does). Each takes its string back: `HttpUrl('http://x.org/')`
    equals the value it was written from (pydantic 2.10+ classes; before, `AnyUrl` is
    pydantic_core's `Url` and the others are `Annotated` aliases, left out). The names join
    EVAL_NAMESPACE and FIXED_CONSTRUCTORS then."""
    if not _networks:
        module = sys.modules.get("pydantic.networks")
        if module is None and load:
            import pydantic.networks as module
        if module is None:
            return _networks
        found = {}
        for name in _NETWORK_NAMES:
            cls = getattr(module, name, None)
            if isinstance(cls, type) and cls not in found:
                found[cls] = name
        EVAL_NAMESPACE.update({name: cls for cls, name in found.items()})
        FIXED_CONSTRUCTORS.update({name: cls for cls, name in found.items()})
        _networks.update(found)
    return _networks


def render_call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], params: Sequence[str] = ()) -> str:
    """`name(arg, ..., key=value, ...)` with arguments exactly as the caller passed them.

    An `UnrenderableValue` names the argument and the path inside it (`argument b.meta['count']`);
    a positional argument by its parameter's name when `params` (the positional parameters' names,
    in order) gives it, else as `args[1]`."""
    try:
        parts = [render_value(a) for a in args]
        parts.extend(f"{k}={render_value(v)}" for k, v in kwargs.items() if _plain_keyword(k))
        # `**kwargs` can receive keys no `k=v` can spell (`as`, `class`, `a-b`): pass those as a dict
        odd = {k: v for k, v in kwargs.items() if not _plain_keyword(k)}
        if odd:
            parts.append(f"**{render_value(odd)}")
    except UnrenderableValue as exc:
        _name_argument(exc, args, kwargs, params)
        raise
    return f"{name}({', '.join(parts)})"


def _name_argument(exc: UnrenderableValue, args: tuple[Any, ...], kwargs: dict[str, Any],
                   params: Sequence[str]) -> None:
    at = exc._at
    if at is None or exc.argument is not None:
        return
    for i, a in enumerate(args):
        if a is at:
            exc.argument = params[i] if i < len(params) else f"args[{i}]"
            return
    for k, v in kwargs.items():
        if v is at and _plain_keyword(k):
            exc.argument = k
            return
    if any(not _plain_keyword(k) for k in kwargs):  # the `**{...}` dict: its path starts at the key
        exc.argument = "**kwargs"


def _plain_keyword(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


# --- reading a rendering back, without eval --------------------------------------------------

class CallSyntaxError(ValueError):
    """A text that is not a call distilgen renders, or that names something outside the allow-list."""


def _zone_info(key: str) -> datetime.tzinfo:
    """`zoneinfo.ZoneInfo(key='Europe/Paris')` read back: a key of the time zone database only
    (checked before `zoneinfo` sees it: it opens a file under the TZPATH or the `tzdata` package)."""
    if type(key) is not str or not _ZONE_KEY.fullmatch(key):
        raise ValueError(f"{key!r} is not a time zone key")
    import zoneinfo

    return zoneinfo.ZoneInfo(key)


FIXED_CONSTRUCTORS: dict[str, Any] = {
    "datetime.date": datetime.date,
    "datetime.datetime": datetime.datetime,
    "datetime.time": datetime.time,
    "datetime.timedelta": datetime.timedelta,
    "datetime.timezone": datetime.timezone,  # tzinfo=datetime.timezone(datetime.timedelta(seconds=3600))
    "zoneinfo.ZoneInfo": _zone_info,  # tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris')
    "Decimal": decimal.Decimal,
    "UUID": uuid.UUID,
    "Path": pathlib.Path,
    "PurePosixPath": pathlib.PurePosixPath,
    "PureWindowsPath": pathlib.PureWindowsPath,
    "set": set,
    "frozenset": frozenset,
    **{t.__name__: t for t in _IP_TYPES},
}
"""Constructors any rendering may call besides the function's own types (pydantic's URL types
join once loaded: `_network_types`)."""

_CONSTANTS: dict[str, Any] = {"datetime.timezone.utc": datetime.timezone.utc}
_FLOAT_WORDS = frozenset({"nan", "inf", "-inf"})
_MAX_DEPTH = 100


def constructors_for(annotations: Iterable[Any]) -> dict[str, Any]:
    """Rendered name -> class for every model, dataclass and enum the annotations name, nested ones too."""
    found: dict[str, Any] = {}
    seen: set[int] = set()
    todo = list(annotations)
    while todo:
        t = todo.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        todo.extend(typing.get_args(t))  # Optional[M], list[M], Annotated[M, ...], Literal[Color.red]
        if isinstance(t, enum.Enum):
            t = type(t)
        if not isinstance(t, type):
            continue
        if issubclass(t, BaseModel):
            found[_cls_name(t)] = t
            todo.extend(f.annotation for f in t.model_fields.values())
        elif issubclass(t, enum.Enum):
            found[_cls_name(t)] = t
        elif dataclasses.is_dataclass(t):
            found[_cls_name(t)] = t
            try:
                hints = typing.get_type_hints(t)
            except Exception:  # an unresolvable forward reference: its own fields stay unknown
                hints = {}
            todo.extend(hints.values())
    return found


def _spell(node: ast.expr) -> str:
    """The source of a node for an error message, cut short."""
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError):
        text = type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


class _Builder:
    def __init__(self, constructors: Mapping[str, Any], source: str = "") -> None:
        self.constructors = constructors
        self.source = source
        self._generic: dict[str, str] | None = None

    def value(self, node: ast.expr, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise CallSyntaxError("nested too deeply")
        d = depth + 1
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = node.operand
            number = operand.value if isinstance(operand, ast.Constant) else None
            # exactly these types: a bool (or an int subclass) is not a signed number in a call
            if isinstance(number, (int, float, complex)) and type(number) in (int, float, complex):
                return -number if isinstance(node.op, ast.USub) else number
            raise CallSyntaxError("a sign applies to a number only")
        if isinstance(node, ast.List):
            return [self.value(x, d) for x in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.value(x, d) for x in node.elts)
        if isinstance(node, ast.Set):
            return self._hashable(lambda: {self.value(x, d) for x in node.elts})
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise CallSyntaxError("`**` inside a dict literal")
            return self._hashable(lambda: {self.value(k, d): self.value(v, d) for k, v in zip(node.keys, node.values)})  # type: ignore[arg-type]
        if isinstance(node, ast.Attribute):
            return self._member(node)
        if isinstance(node, ast.Call):
            return self._construct(node, d)
        raise CallSyntaxError(f"{type(node).__name__} is not allowed in a rendered call")

    @staticmethod
    def _hashable(build: Callable[[], Any]) -> Any:
        try:
            return build()
        except TypeError as exc:  # {[1]: 2}
            raise CallSyntaxError(str(exc)) from None

    def _member(self, node: ast.Attribute) -> Any:
        name = _dotted(node)
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if isinstance(node.value, (ast.Name, ast.Attribute)):
            owner = self.constructors.get(_dotted(node.value) or "")
            if isinstance(owner, type) and issubclass(owner, enum.Enum) and node.attr in owner.__members__:
                return owner.__members__[node.attr]
        raise CallSyntaxError(f"{name or _spell(node)} is not an allowed name")

    def _generic_name(self, node: ast.Subscript) -> str | None:
        """`Page[int]`, a parametrized generic model, as the name the render writes (its class's
        qualname, the key `constructors_for` gives it): looked up as text, never evaluated. The
        text as written first, then as `ast` spells it (`Page[ int ]` in a hand-written file)."""
        if _dotted(node.value) is None:
            return None
        written = ast.get_source_segment(self.source, node) if self.source else None
        if written is not None and written in self.constructors:
            return written
        if self._generic is None:
            self._generic = {}
            for key in self.constructors:
                if "[" in key:
                    try:
                        self._generic.setdefault(ast.unparse(_ast_parse.parse(key, mode="eval").body), key)
                    except (SyntaxError, ValueError, RecursionError, MemoryError):
                        pass
        try:
            spelled = ast.unparse(node)
        except (RecursionError, ValueError):
            return None
        return self._generic.get(spelled, written or spelled)

    def _construct(self, node: ast.Call, depth: int) -> Any:
        func = node.func
        name = self._generic_name(func) if isinstance(func, ast.Subscript) else _dotted(func)
        if name == "float":  # float('nan') / float('inf') / float('-inf'): all repr cannot spell
            if (len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value in _FLOAT_WORDS):
                return float(node.args[0].value)
            raise CallSyntaxError("float() takes only 'nan', 'inf' or '-inf'")
        if name == "bytearray":  # only bytearray(b'...'): bytearray(10**12) would allocate
            if len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, bytes):
                return bytearray(node.args[0].value)
            raise CallSyntaxError("bytearray() takes only a bytes literal")
        ctor = self.constructors.get(name or "")
        if ctor is None or (isinstance(ctor, type) and issubclass(ctor, enum.Enum)):
            raise CallSyntaxError(f"{name or _spell(node.func)} is not a constructor this function's types allow")
        args, kwargs = self.arguments(node, depth)
        try:
            return ctor(*args, **kwargs)
        except Exception as exc:  # a model's validation, a bad date, ...: the line is wrong, not us
            raise CallSyntaxError(f"{name}(...): {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None

    def arguments(self, node: ast.Call, depth: int) -> tuple[list[Any], dict[str, Any]]:
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise CallSyntaxError("`*` arguments are not allowed")
            args.append(self.value(a, depth))
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:  # **{'class': 1}: keys no keyword argument can spell
                if not isinstance(kw.value, ast.Dict):
                    raise CallSyntaxError("`**` takes a dict literal only")
                extra = self.value(kw.value, depth)
                if not all(isinstance(k, str) for k in extra):
                    raise CallSyntaxError("`**` keys must be strings")
            else:
                extra = {kw.arg: self.value(kw.value, depth)}
            for k, v in extra.items():
                if k in kwargs:
                    raise CallSyntaxError(f"keyword {k!r} given twice")
                kwargs[k] = v
        return args, kwargs


def read_call(text: str, name: str, constructors: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """`Return name(...)` -> (args, kwargs) built without eval; None when it calls another function.

    `constructors` maps rendered names to the classes allowed besides FIXED_CONSTRUCTORS (see
    `constructors_for`). A model method's receiver, `Model(...).meth(...)`, is the first argument.
    Raises CallSyntaxError for anything else: other names, attributes, operators, comprehensions.
    """
    expr = text.strip()
    if expr.startswith("Return "):
        expr = expr[len("Return "):]
    try:
        tree = _ast_parse.parse(expr, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        raise CallSyntaxError("not a rendered call (not a Python expression)") from None
    call = tree.body
    if not isinstance(call, ast.Call):
        raise CallSyntaxError("not a call")
    func = call.func
    callee = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if callee is None:
        raise CallSyntaxError("the callee is not a name")
    if callee != name:
        return None  # another function's line in a shared dataset
    _network_types(load=True)
    builder = _Builder({**FIXED_CONSTRUCTORS, **constructors}, expr)
    try:
        receiver: list[Any] = []
        if isinstance(func, ast.Attribute):
            if isinstance(func.value, ast.Call):  # a model method: `Model(...).meth(...)`
                receiver.append(builder.value(func.value))
            elif _dotted(func.value) is None:
                raise CallSyntaxError("the callee is not a name")
        args, kwargs = builder.arguments(call, 0)
    except RecursionError:
        raise CallSyntaxError("nested too deeply") from None
    return (*receiver, *args), kwargs
