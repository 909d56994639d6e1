"""Ground truth for the scan corpus, independent of the scanner: import it, ask the interpreter.

Run as `python ground_truth.py CORPUS_ROOT [PACKAGE ...]`; prints one JSON object per function that has a return
annotation involving a pydantic model, as the *runtime* sees it: `typing.get_type_hints` resolves
the annotation, `issubclass(..., pydantic.BaseModel)` decides, `inspect` decides generators and
signatures, and the real `Instructions.distil` wrapper (`fn.__distil__`) says what is decorated.
Names imported only under `if TYPE_CHECKING:` are made real by running those blocks (and only
those) in a copy of the module's namespace when `get_type_hints` first fails with a NameError. Modules that cannot be imported here are listed under "unimportable".
"""

from __future__ import annotations

import collections.abc
import gc
import uuid
import pathlib
import enum
import decimal
import datetime
import dataclasses
import importlib
import inspect
import re
import json
import os
import sys
import types
import textwrap
import typing

import pydantic

import ast

SKIP_DIRS = {"_site", "_runtime_only", "__pycache__"}


def modules(root: str, packages: list[str]) -> list[str]:
    out = []
    starts = [os.path.join(root, p) for p in packages] if packages else [root]
    for folder, dirs, files in (w for start in starts for w in os.walk(start)):
        # Real packages' own test suites are left out: some of their fixtures block when imported.
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not (packages and d == "tests"))
        for f in sorted(files):
            if not f.endswith(".py") or folder == root:
                continue
            rel = os.path.relpath(os.path.join(folder, f), root)[:-3].split(os.sep)
            if rel[-1] == "__init__":
                rel = rel[:-1]
            out.append(".".join(rel))
    return out


def fqn(tp: typing.Any) -> str:
    if isinstance(tp, typing.TypeVar):
        return tp.__name__
    if tp is type(None):
        return "None"
    meta = getattr(tp, "__pydantic_generic_metadata__", None)
    if meta and meta.get("origin") is not None:
        return f"{fqn(meta['origin'])}[{', '.join(fqn(a) for a in meta['args'])}]"
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:  # pydantic keeps Annotated in its generic arguments; the scan drops it
        return fqn(tp.__origin__)
    if origin in (typing.Union, types.UnionType):
        return f"typing.Union[{', '.join(fqn(a) for a in typing.get_args(tp))}]"
    if origin is not None:
        return f"{fqn(origin)}[{', '.join(fqn(a) for a in typing.get_args(tp))}]"
    if isinstance(tp, type):
        return tp.__qualname__ if tp.__module__ == "builtins" else f"{tp.__module__}.{tp.__qualname__}"
    return repr(tp)


def is_model(tp: typing.Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


NOT_INSTANCES = {typing.Literal, collections.abc.Callable, type, typing.Callable}


def shape(tp: typing.Any) -> tuple | None:
    """("model", name) | ("wrapped", name) | None, by the rules docs/scan-accuracy.md states."""
    if hasattr(typing, "TypeAliasType") and isinstance(tp, getattr(typing, "TypeAliasType")):
        return shape(tp.__value__)
    if is_model(tp):
        return ("model", fqn(tp))
    origin = typing.get_origin(tp)
    if origin is None or origin in NOT_INSTANCES:
        return None
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        found = [s for s in (shape(a) for a in rest) if s]
        return ("wrapped", found[0][1]) if found else None
    for a in args:
        s = shape(a)
        if s:
            return ("wrapped", s[1])
    return None


def type_checking_namespace(fn: typing.Any) -> dict:
    """The function's globals plus what its module imports under `if TYPE_CHECKING:`."""
    module = sys.modules[fn.__module__]
    ns = dict(vars(module))
    tree = ast.parse(inspect.getsource(module))
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            exec(compile(ast.Module(body=node.body, type_ignores=[]), module.__file__, "exec"), ns)
    return ns


def hints_return(fn: typing.Any) -> typing.Any:
    raw = inspect.unwrap(fn)
    if "return" not in getattr(raw, "__annotations__", {}):
        return inspect.Signature.empty

    # Only the return annotation matters: a parameter's unresolvable annotation must not hide it.
    def only_return() -> None: ...
    only_return.__annotations__ = {"return": raw.__annotations__["return"]}
    try:
        hints = typing.get_type_hints(only_return, globalns=raw.__globals__)
    except NameError:
        hints = typing.get_type_hints(only_return, globalns={**raw.__globals__, **type_checking_namespace(raw)})
        TYPE_CHECKING_ONLY.add(id(raw))  # resolved for type checkers; at run time it is not there
    return hints.get("return", inspect.Signature.empty)


TYPE_CHECKING_ONLY: set[int] = set()


def unwritable(ann: typing.Any) -> bool:
    """A parameter type no call can write a value of (a function, a coroutine, a live iterator)."""
    if isinstance(ann, str):
        head = re.match(r"[A-Za-z_][\w.]*(?=\[|$)", ann)
        name = head.group() if head else ""
    else:
        origin = typing.get_origin(ann) or ann
        name = getattr(origin, "__name__", "") or ""
    return name.rsplit(".", 1)[-1] in {"Callable", "Coroutine", "Awaitable", "Generator", "AsyncGenerator",
                                       "Iterator", "AsyncIterator"}


WRITABLE = (int, float, complex, str, bytes, bool, list, dict, tuple, set, frozenset, enum.Enum, datetime.date,
            datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID, pathlib.PurePath)


def unwritable_type(tp: typing.Any) -> bool:
    """A parameter type no call text can carry: a class the renderer has no form for (not a
    model, dataclass, enum, builtin value, date, Decimal, UUID or path), an exception, a function
    or a class object; a union only when every member but None is; a container when what it holds is."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return unwritable_type(args[0])
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return bool(rest) and all(unwritable_type(a) for a in rest)
    if origin in (collections.abc.Callable, type) or tp in (collections.abc.Callable, type):
        return True
    if origin is typing.Literal:
        return False
    if origin is not None:
        return any(unwritable_type(a) for a in args if not isinstance(a, list) and a is not Ellipsis)
    if not isinstance(tp, type) or tp is object or tp is typing.Any or getattr(tp, "_is_protocol", False):
        return False  # Any, a TypeVar, a Protocol: any value
    if issubclass(tp, BaseException):
        return True
    return not (issubclass(tp, pydantic.BaseModel) or issubclass(tp, WRITABLE) or dataclasses.is_dataclass(tp))


def param_types(fn: typing.Any) -> list[typing.Any]:
    """The evaluated annotation of each parameter that has one (unresolvable ones left out)."""
    out = []
    for name, ann in getattr(fn, "__annotations__", {}).items():
        if name == "return":
            continue
        def one() -> None: ...
        one.__annotations__ = {"x": ann}
        try:
            out.append(typing.get_type_hints(one, globalns=fn.__globals__, include_extras=True)["x"])
        except Exception:
            continue
    return out


def reads_private_state(fn: typing.Any, owner: type) -> bool:
    """The method reads `self._x` for a private attribute pydantic gave the class (inherited too)."""
    private = set(getattr(owner, "__private_attributes__", {}))
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    me = next(iter(inspect.signature(fn).parameters))
    return any(isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == me
               and n.attr in private for n in ast.walk(tree))


def uses_instance(fn: typing.Any) -> bool:
    """The method's body names its instance (its first parameter), `super` or `__class__`."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    node = tree.body[0]
    me = next(iter(inspect.signature(fn).parameters), None)
    return any(isinstance(n, ast.Name) and n.id in (me, "super", "__class__")
               for st in node.body for n in ast.walk(st))  # type: ignore[attr-defined]


def plain_dataclass(owner: type) -> bool | None:
    """True: a dataclass (its own decorator) the runtime writes as it is; False: one with a
    `__post_init__`, which may change what it is given; None: no dataclass of its own."""
    if "__dataclass_fields__" not in vars(owner):
        return None
    return not any("__post_init__" in vars(c) for c in owner.__mro__)


def record(out: dict, mod: str, fn: typing.Any, kind: str, owner: type | None) -> None:
    raw = inspect.unwrap(fn)
    key = f"{raw.__module__}:{raw.__qualname__}"  # the function's own module, whatever re-exports it
    if key in out:
        return
    try:
        ret = hints_return(fn)
    except Exception as exc:  # the runtime cannot resolve it either
        out[key] = {"function_id": key, "status": "unresolved", "model": None, "why": repr(exc)}
        return
    if ret is inspect.Signature.empty:
        overloads = typing.get_overloads(raw)
        if not overloads:
            return
        shapes = [shape(hints_return(o)) for o in overloads]
        if all(s == shapes[0] for s in shapes):
            s = shapes[0]
        else:
            found = [x for x in shapes if x]
            s = ("wrapped", found[0][1]) if found else None
    else:
        s = shape(ret)
    if s is None:
        return
    status = "wrapped" if s[0] == "wrapped" else "candidate"
    params = list(inspect.signature(raw).parameters.values())
    if kind in ("method", "classmethod", "property"):
        params = params[1:]
    # a model's instance method is written with its instance (wave 12: sqlmesh's `to_sqlmesh(self, **kwargs)`)
    varargs_only = bool(params) and all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params) and kind != "method"
    no_input = (not params and kind != "method") or any(unwritable(p.annotation) for p in params)
    if inspect.isgeneratorfunction(raw) or inspect.isasyncgenfunction(raw):
        status = "ineligible"
    elif status == "wrapped":
        pass
    elif ret is pydantic.BaseModel or ret is pydantic.RootModel:
        status = "ineligible"  # no concrete schema
    elif "<locals>" in getattr(ret, "__qualname__", ""):
        status = "ineligible"  # a local class: its schema cannot be imported
    elif kind == "property":
        status = "ineligible"
    elif kind == "method" and owner is not None and not is_model(owner) and plain_dataclass(owner) is False:
        status = "ineligible"  # its written instance may not be the one it answered for
    elif kind == "method" and owner is not None and not is_model(owner) and plain_dataclass(owner) is None \
            and (uses_instance(raw) or not params):
        status = "ineligible"  # its state is not in the call, or (never reading it) it takes no arguments
    elif varargs_only or no_input:
        status = "ineligible"  # its calls cannot carry what its answer depends on
    elif id(raw) in TYPE_CHECKING_ONLY:
        status = "ineligible"  # the runtime cannot resolve its return annotation
    elif any(unwritable_type(t) for t in param_types(raw)):
        status = "ineligible"  # a parameter no call can write
    elif kind == "method" and owner is not None and reads_private_state(raw, owner):
        status = "ineligible"  # its answer depends on state the call leaves out
    state = getattr(fn, "__distil__", None)
    decorator = None
    if state is not None:
        inst = state.instructions
        home = sys.modules[CREATED_IN[id(inst)]]
        names = sorted(n for n, v in vars(home).items() if v is inst)
        decorator = {"instance": f"{home.__name__}:{names[0]}" if names else None, "mode": state.mode,
                     "model": state.model}
        if status == "candidate":
            status = "decorated"
    lines, first = inspect.getsourcelines(raw)
    out[key] = {"function_id": key, "status": status, "model": s[1], "decorator": decorator,
                "first_line": raw.__code__.co_firstlineno, "last_line": first + len(lines) - 1}


def walk_class(out: dict, mod: str, cls: type) -> None:
    for name, v in list(vars(cls).items()):
        if isinstance(v, staticmethod):
            record(out, mod, v.__func__, "staticmethod", cls)
        elif isinstance(v, classmethod):
            record(out, mod, v.__func__, "classmethod", cls)
        elif isinstance(v, property) and v.fget is not None:
            record(out, mod, v.fget, "property", cls)
        elif type(v).__name__ == "cached_property":
            record(out, mod, v.func, "property", cls)
        elif inspect.isfunction(v):
            record(out, mod, v, "method", cls)
        elif isinstance(v, type) and v.__qualname__.startswith(cls.__qualname__ + ".") and v.__module__ == mod:
            walk_class(out, mod, v)


CREATED_IN: dict[int, str] = {}


def _remember_creation_site() -> None:
    """Each Instructions instance's home module: where `Instructions(...)` was called."""
    from distilgen import Instructions

    original = Instructions.__init__

    def init(self: typing.Any, *args: typing.Any, **kwargs: typing.Any) -> None:
        CREATED_IN[id(self)] = sys._getframe(1).f_globals["__name__"]
        original(self, *args, **kwargs)

    Instructions.__init__ = init  # type: ignore[method-assign]


def main(root: str, packages: list[str]) -> None:
    _remember_creation_site()
    for extra in (root, os.path.join(root, "_site"), os.path.join(root, "_runtime_only")):
        sys.path.insert(0, extra)
    out: dict[str, dict] = {}
    unimportable: dict[str, str] = {}
    names = modules(root, packages)
    loaded = {}
    for name in names:
        if os.environ.get("GROUND_TRUTH_VERBOSE"):
            print("import", name, file=sys.stderr, flush=True)
        try:
            loaded[name] = importlib.import_module(name)
        except BaseException as exc:  # SyntaxError on older Pythons, ImportError for absent SDKs
            unimportable[name] = f"{type(exc).__name__}: {exc}"
    for name, mod in loaded.items():
        for v in list(vars(mod).values()):
            if inspect.isfunction(v) and inspect.unwrap(v).__module__ == name:
                record(out, name, v, "function", None)
            elif isinstance(v, type) and v.__module__ == name and "." not in v.__qualname__:
                walk_class(out, name, v)
    # Functions and classes defined inside functions exist only once the outer function ran; the
    # corpus keeps them alive, and the garbage collector can list them.
    for obj in gc.get_objects():
        if not (inspect.isfunction(obj) or isinstance(obj, type)):
            continue  # (proxies and other objects with odd attributes are never functions or classes)
        mod = obj.__module__
        if not isinstance(mod, str) or mod not in loaded or "<locals>" not in obj.__qualname__:
            continue
        if inspect.isfunction(obj) and obj.__qualname__.rsplit(".<locals>.", 1)[1].count(".") == 0:
            record(out, mod, obj, "nested", None)
        elif isinstance(obj, type):
            walk_class(out, mod, obj)
    json.dump({"results": sorted(out.values(), key=lambda r: r["function_id"]), "unimportable": unimportable,
               "imported": len(loaded)},
              sys.stdout, indent=1)


if __name__ == "__main__":
    # `ground_truth.py ROOT [PACKAGE ...]`: the corpus by default; real packages for docs/scan-accuracy.md
    main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(__file__)), sys.argv[2:])
