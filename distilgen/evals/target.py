"""`module:qualname` or `path.py:qualname` -> the real function, its parameters and return model.

The function is always taken undecorated (`inspect.unwrap`): it is the ground truth for `generate`
and `eval`, even when the source already binds it to a model in dispatch mode.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from pydantic import BaseModel

from ..analysis.roots import module_name, source_roots
from ..errors import UsageError
from ..runtime.spec import resolve_annotation
from .strategies import call_params

__all__ = ["Target", "resolve_target"]


@dataclass(frozen=True)
class Target:
    function_id: str
    """`module:qualname`, as the runtime spells it."""
    module: str
    qualname: str
    name: str
    original: Callable[..., Any]
    """The undecorated function (for a model method: the plain function taking `self`)."""
    params: dict[str, Any]
    """Parameter name -> annotation; a model method's `self` is typed as its class."""
    positional: tuple[str, ...]
    """Parameters passed positionally, in order (positional-only and positional-or-keyword)."""
    return_model: type[BaseModel]
    is_async: bool
    unresolved: Mapping[str, str] = field(default_factory=dict)
    """Parameters whose hint cannot be evaluated (imported only under TYPE_CHECKING): `Any` in
    `params`; name -> why."""

    def split(self, values: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Argument dict -> (args, kwargs) the way people call it: positional first, keywords after."""
        args = []
        for name in self.positional:
            if name not in values:
                break
            args.append(values[name])
        used = set(self.positional[: len(args)])
        return tuple(args), {k: v for k, v in values.items() if k not in used}

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """(args, kwargs) -> argument dict, defaults not filled in."""
        try:
            bound = inspect.signature(self.original).bind(*args, **kwargs)
        except TypeError as exc:
            raise UsageError(f"{self.function_id}: arguments do not fit the signature: {exc}") from None
        return dict(bound.arguments)


def _stored_name(holder: Any, name: str) -> str:
    """The attribute a class stores `name` under: `__hnsw` in class `_IndexWrappers` is
    `_IndexWrappers__hnsw` (private name mangling), while ids and qualnames keep `__hnsw`
    (weaviate, third held-out wave). The schema child's `_resolve` applies the same rule."""
    if inspect.isclass(holder) and name.startswith("__") and not name.endswith("__") and holder.__name__.strip("_"):
        return f"_{holder.__name__.lstrip('_')}{name}"
    return name


def _add_path(p: Path) -> None:
    s = str(p)
    if s not in sys.path:
        sys.path.insert(0, s)


def _add_source_roots(root: Path) -> tuple[Path, ...]:
    roots = source_roots(root)
    for r in reversed(roots):  # first root first on sys.path, as `prompts` puts them
        _add_path(r)
    return roots


def _module_for_path(path: Path, root: Path) -> str:
    """The dotted module name of a file as the scan, the lock and capture name it
    (`analysis.roots`), with the folder that name is relative to put on sys.path."""
    path = path.resolve()
    name, is_package = module_name(str(path), _add_source_roots(root))
    depth = name.count(".") + (1 if is_package else 0)
    _add_path(path.parents[depth])  # the folder the dotted name starts from
    return name


def resolve_target(target: str, root: Path | None = None) -> Target:
    """Import the function a TARGET names; errors name the target and what is wrong."""
    left, sep, qualname = target.rpartition(":")
    if not sep or not left or not qualname:
        raise UsageError(f"TARGET {target!r}: expected 'module:qualname' or 'path.py:qualname'")
    if "<locals>" in qualname:
        raise UsageError(f"TARGET {target!r}: a function nested in another cannot be called on its own")
    root = (root or Path.cwd()).resolve()
    if left.endswith(".py") or "/" in left or "\\" in left:
        path = Path(left)
        if not path.is_absolute() and not path.exists():
            path = root / path
        if not path.is_file():
            raise UsageError(f"TARGET {target!r}: no such file {left}")
        mod_name = _module_for_path(path, root)
    else:
        mod_name = left
        _add_path(Path.cwd())
        _add_source_roots(root)
    try:
        module = importlib.import_module(mod_name)
    except Exception as exc:
        raise UsageError(f"TARGET {target!r}: cannot import {mod_name}: {type(exc).__name__}: {exc}") from None
    owner: Any = module
    obj: Any = module
    parts = qualname.split(".")
    for i, part in enumerate(parts):
        owner = obj
        try:
            obj = inspect.getattr_static(obj, _stored_name(obj, part))
        except AttributeError:
            raise UsageError(f"TARGET {target!r}: {mod_name} has no {'.'.join(parts[: i + 1])}") from None
    kind = "function"
    if isinstance(obj, staticmethod):
        obj = obj.__func__
    elif isinstance(obj, classmethod):
        raise UsageError(f"TARGET {target!r}: classmethods are not supported by generate/eval yet")
    elif inspect.isclass(owner) and inspect.isfunction(inspect.unwrap(obj)):
        if not issubclass(owner, BaseModel):
            raise UsageError(f"TARGET {target!r}: an instance method of a plain class depends on state not in the call")
        kind = "model_method"
    if inspect.isclass(obj) or not callable(obj):
        raise UsageError(f"TARGET {target!r}: {qualname} is not a function")
    original = inspect.unwrap(obj)
    if "return" not in getattr(original, "__annotations__", {}):
        raise UsageError(f"TARGET {target!r}: has no return annotation (a pydantic model)")
    try:
        # the return annotation on its own: a parameter hint imported only under TYPE_CHECKING
        # must not make the function unusable
        ret = resolve_annotation(original, "return", include_extras=True)
    except Exception as exc:
        raise UsageError(f"TARGET {target!r}: cannot resolve its return annotation: {type(exc).__name__}: {exc}") from None
    while typing.get_origin(ret) is typing.Annotated:
        ret = typing.get_args(ret)[0]
    if not (inspect.isclass(ret) and issubclass(ret, BaseModel)):
        raise UsageError(f"TARGET {target!r}: returns {ret!r}, not a pydantic model")
    params, unresolved = call_params(original)
    if kind == "model_method":
        first = next(iter(inspect.signature(original).parameters))
        params = {first: owner, **params}
    positional = tuple(
        n for n, p in inspect.signature(original).parameters.items()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    )
    return Target(
        function_id=f"{original.__module__}:{original.__qualname__}",
        module=original.__module__,
        qualname=original.__qualname__,
        name=original.__name__,
        original=original,
        params=params,
        positional=positional,
        return_model=ret,
        is_async=inspect.iscoroutinefunction(original),
        unresolved=unresolved,
    )
