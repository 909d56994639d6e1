"""Type hints to hypothesis strategies: how `generate` draws a function's arguments.

hypothesis is the `generate` extra, imported only here and only when a command needs it, so a
missing install fails with one line (`MissingExtraError`) instead of an ImportError traceback.
Pydantic models are drawn field by field (not `st.builds`) so optional fields vary too and the
fields' `Field(...)` bounds and patterns are honoured; every drawn value is validated before use.
"""

from __future__ import annotations

import datetime
import enum
import importlib
import inspect
import math
import os
import sys
import types
import typing
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from .._user_cache import cache_root
from ..errors import MissingExtraError, UsageError
from ..runtime.spec import parameter_hints

__all__ = ["require_hypothesis", "strategy_for", "model_strategy", "load_user_strategies", "args_strategy"]


def require_hypothesis() -> Any:
    """The `hypothesis.strategies` module, or one clear line naming the install to run."""
    try:
        from hypothesis import configuration
        from hypothesis import strategies as st
    except ImportError:
        raise MissingExtraError("generate", "hypothesis") from None
    # hypothesis writes `.hypothesis/` (a constants cache gathered from the caller's source) into the
    # current folder: a `distilgen generate` run in a project must not leave that behind there.
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        configuration.set_hypothesis_home_dir(cache_root() / "hypothesis")
    return st


def _unsupported_meta(meta: Any) -> bool:
    return type(meta).__name__ in ("_PydanticGeneralMetadata", "Strict")


def _expand(metadata: tuple[Any, ...]) -> tuple[Any, ...]:
    """`Field(ge=0)` inside `Annotated` carries its constraints in `.metadata`: flatten them."""
    out: list[Any] = []
    for m in metadata:
        if isinstance(m, FieldInfo):
            out.extend(_expand(tuple(m.metadata)))
        else:
            out.append(m)
    return tuple(out)


def _pattern(metadata: tuple[Any, ...]) -> str | None:
    for m in metadata:
        p = getattr(m, "pattern", None)
        if isinstance(p, str):
            return p
    return None


def _validated(tp: Any, metadata: tuple[Any, ...], strategy: Any) -> Any:
    """Keep only values pydantic accepts for the (annotated) type: bounds hypothesis ignored stay honoured."""
    annotated = typing.Annotated[(tp, *metadata)] if metadata else tp
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotated)  # type: ignore[arg-type]
    except Exception:  # a type pydantic cannot build a validator for: trust the strategy
        return strategy

    def ok(v: Any) -> bool:
        try:
            adapter.validate_python(v)
        except ValidationError:
            return False
        return True

    return strategy.filter(ok)


def _bounded_number(st: Any, tp: Any, metadata: tuple[Any, ...]) -> Any:
    """`int`/`float` with ge/gt/le/lt bounds drawn inside them, or None. hypothesis's own
    `from_type(Annotated[int, Ge(10), Le(20)])` filters a deferred `from_type(int)`, and whether that
    filter is rewritten into bounds depends on what was resolved before in the process: in a long
    test run it was not, and every draw failed the filter (Unsatisfiable)."""
    if tp not in (int, float):
        return None
    bound: dict[str, int | float | None] = {k: None for k in ("ge", "gt", "le", "lt")}
    for m in metadata:
        for k in bound:
            v = getattr(m, k, None)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                bound[k] = v
    if all(v is None for v in bound.values()):
        return None
    if tp is int:
        lo = bound["ge"] if bound["ge"] is not None else (math.floor(bound["gt"]) + 1 if bound["gt"] is not None else None)
        hi = bound["le"] if bound["le"] is not None else (math.ceil(bound["lt"]) - 1 if bound["lt"] is not None else None)
        return st.integers(min_value=None if lo is None else math.ceil(lo), max_value=None if hi is None else math.floor(hi))
    lo = bound["ge"] if bound["ge"] is not None else bound["gt"]
    hi = bound["le"] if bound["le"] is not None else bound["lt"]
    return st.floats(min_value=-1e9 if lo is None else lo, max_value=1e9 if hi is None else hi,
                     exclude_min=lo is not None and bound["ge"] is None, exclude_max=hi is not None and bound["le"] is None,
                     allow_nan=False, allow_infinity=False)


def strategy_for(tp: Any, metadata: tuple[Any, ...] = (), *, overrides: Mapping[type, Any] | None = None) -> Any:
    """A strategy for values of `tp`, honouring `Annotated` constraints, Literal, enums, models, optionals."""
    st = require_hypothesis()
    overrides = overrides or {}
    metadata = _expand(metadata)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return strategy_for(args[0], tuple(tp.__metadata__) + metadata, overrides=overrides)
    if isinstance(tp, type) and tp in overrides:
        return overrides[tp]
    if tp is type(None) or tp is None:
        return st.none()
    if origin is typing.Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
        return st.one_of(*(strategy_for(a, metadata, overrides=overrides) for a in args))
    if origin is typing.Literal:
        return st.sampled_from(args)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return model_strategy(tp, overrides=overrides)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if origin in (list, typing.List, set, frozenset, tuple) and args:
        lo = next((getattr(m, "min_length") for m in metadata if getattr(m, "min_length", None) is not None), 0)
        hi = next((getattr(m, "max_length") for m in metadata if getattr(m, "max_length", None) is not None), 5)
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return st.lists(strategy_for(args[0], overrides=overrides), min_size=lo, max_size=hi).map(tuple)
            return st.tuples(*(strategy_for(a, overrides=overrides) for a in args))
        inner = st.lists(strategy_for(args[0], overrides=overrides), min_size=lo, max_size=hi)
        return inner if origin in (list, typing.List) else inner.map(origin)
    if origin is dict and len(args) == 2:
        return st.dictionaries(strategy_for(args[0], overrides=overrides),
                               strategy_for(args[1], overrides=overrides), max_size=4)
    if tp is str and _pattern(metadata):
        lengths = tuple(m for m in metadata if not _unsupported_meta(m))
        return _validated(str, lengths, st.from_regex(_pattern(metadata), fullmatch=True))
    if tp is datetime.datetime:
        base = st.datetimes(min_value=datetime.datetime(1990, 1, 1), max_value=datetime.datetime(2040, 1, 1))
        return _validated(tp, metadata, base)
    if tp is datetime.date:
        base = st.dates(min_value=datetime.date(1990, 1, 1), max_value=datetime.date(2040, 12, 31))
        return _validated(tp, metadata, base)
    if tp is float and not metadata:
        return st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)
    bounded = _bounded_number(st, tp, metadata)
    if bounded is not None:
        return _validated(tp, metadata, bounded)
    supported = tuple(m for m in metadata if not _unsupported_meta(m))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            base = st.from_type(typing.Annotated[(tp, *supported)]) if supported else st.from_type(tp)
        except Exception as exc:
            raise UsageError(f"no strategy for type {tp!r}: {exc}; give one with --strategies") from None
    if tp is float:
        base = base.filter(lambda v: v == v and v not in (float("inf"), float("-inf")))
    return _validated(tp, metadata, base) if metadata else base


def model_strategy(model: type[BaseModel], *, overrides: Mapping[type, Any] | None = None) -> Any:
    """Instances of `model`, drawn field by field; optional fields sometimes keep their default."""
    st = require_hypothesis()
    required: dict[str, Any] = {}
    optional: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        strat = strategy_for(field.annotation, tuple(field.metadata), overrides=overrides)
        (required if field.is_required() else optional)[key] = strat

    def build(values: dict[str, Any]) -> Any:
        try:
            return model.model_validate(values)
        except ValidationError:
            return None  # cross-field validators said no: filtered out below

    return st.fixed_dictionaries(required, optional=optional).map(build).filter(lambda v: v is not None)


def args_strategy(params: Mapping[str, Any], user: Mapping[str, Any] | None = None) -> Any:
    """A strategy of `{param: value}` dicts; `user` strategies (by parameter name) win over hints."""
    st = require_hypothesis()
    user = user or {}
    return st.fixed_dictionaries({name: user[name] if name in user else strategy_for(tp) for name, tp in params.items()})


def load_user_strategies(spec: str, root: Path) -> Any:
    """The object named by `module:attribute` (e.g. `inbox.strategies:STRATEGIES`), imported from `root`."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--strategies: expected 'module:object', got {spec!r}")
    require_hypothesis()
    root_s = str(root)
    if root_s not in sys.path:
        sys.path.insert(0, root_s)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise UsageError(f"--strategies {spec}: cannot import {module_name}: {type(exc).__name__}: {exc}") from None
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"--strategies {spec}: {module_name} has no attribute {attr!r}") from None
    if callable(obj) and not isinstance(obj, Mapping) and not hasattr(obj, "example"):
        obj = obj()
    if not isinstance(obj, Mapping):
        raise UsageError(f"--strategies {spec}: expected a dict of name -> strategy, got {type(obj).__name__}")
    return obj


def strategies_for_function(user: Mapping[str, Any], qualname: str, name: str, params: Mapping[str, Any]) -> tuple[Any | None, dict[str, Any]]:
    """Pick, from a user mapping, a whole-call strategy and per-parameter strategies for one function.

    Keys, most specific first: `qualname` or `name` (a strategy of kwargs dicts for the whole call),
    `qualname.param` / `name.param`, then `param` alone.
    """
    st = require_hypothesis()
    whole = user.get(qualname, user.get(name))
    per: dict[str, Any] = {}
    for param in params:
        for key in (f"{qualname}.{param}", f"{name}.{param}", param):
            if key in user:
                per[param] = user[key]
                break
    for key, value in list(per.items()) + ([("<whole>", whole)] if whole is not None else []):
        if not isinstance(value, st.SearchStrategy):
            raise UsageError(f"--strategies: entry for {key!r} is a {type(value).__name__}, not a hypothesis strategy")
    return whole, per


def call_params(fn: Callable[..., Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(parameter name -> annotation with extras, *args/**kwargs excluded; {name: why its hint
    cannot be resolved}). Hints are resolved one by one (`runtime.spec.parameter_hints`): a class
    imported only under `if TYPE_CHECKING:` leaves that parameter `Any`, not the whole function
    unusable; `generate` asks for a strategy for it."""
    hints, failed = parameter_hints(fn, include_extras=True)
    out: dict[str, Any] = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name in failed:
            out[name] = Any
            continue
        if name not in hints:
            if name in ("self", "cls"):
                continue
            raise UsageError(f"{fn.__qualname__}: parameter {name!r} has no type hint; give a strategy with --strategies")
        out[name] = hints[name]
    return out, {n: why for n, why in failed.items() if n in out}
