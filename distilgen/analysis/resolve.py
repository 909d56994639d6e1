"""Cross-module resolution over file indexes: names -> definitions, classes -> "is it a model?".

Works on the `file_index.FileIndex` of every scanned module plus, lazily, modules located on the Python
path *without importing them* (an SDK's base model, `sqlmodel`, `pydantic_settings`): their source is
found by listing the search folders as the import system would (`project._Locator`) and indexed the
same way. The standard library and compiled modules are never read: nothing there subclasses pydantic's BaseModel.

Targets are tuples:
    ("cls", module, qualname)        a class statement we have the source of
    ("mod", module)                  a module
    ("alias", module, scope, expr)   `X = <annotation>` (a type alias)
    ("call", module, scope, name, f) `name = f(...)` (an Instructions instance, a TypeVar...)
    ("ext", "dotted.name")           something we know without source (stdlib, pydantic's roots)
    ("ext", root, where, name)       pydantic's root through a name that may be v1's (`maybe_v1`)
    ("missing", "dotted.name", why)  could not be located: why
    ("def", module, name)            a def at module or class level: not a type (named for decorators)
    ("other",)                       a constant, anything else: not a type
An annotation may also be ("t", target): a name resolved already (`Self` as its class).
A binding ("either", b1, b2) (a name both branches of a module-level `if` bind) is the first of
the two that resolves.
"""

from __future__ import annotations

import ast
import builtins
import sys
from typing import Any, Callable, Iterator, TypeVar

from .file_index import ClassRec, FileIndex, conv, thaw

__all__ = ["Module", "Resolver", "MODEL_ROOTS", "INSTRUCTIONS_CLASSES", "protobuf_message"]

# pydantic's own roots, by every public spelling -> the defining name. pydantic's __init__ exports
# them through a module-level __getattr__, which no static reader can follow, so they are known here.
MODEL_ROOTS = {
    "pydantic.BaseModel": "pydantic.main.BaseModel",
    "pydantic.main.BaseModel": "pydantic.main.BaseModel",
    "pydantic.RootModel": "pydantic.root_model.RootModel",
    "pydantic.root_model.RootModel": "pydantic.root_model.RootModel",
}

INSTRUCTIONS_CLASSES = frozenset({
    "distilgen.Instructions",
    "distilgen.runtime.instructions.Instructions",
    "instructor.Instructions",
    "instructor.distil.Instructions",
})

# Typing constructs by final name; resolved only when the name really comes from typing,
# typing_extensions, collections.abc or builtins.
_TYPING_MODULES = ("typing", "typing_extensions", "collections.abc", "builtins", "collections", "contextlib")
_ANNOTATED = {"Annotated"}
_OPTIONAL = {"Optional"}
_UNION = {"Union"}
_TRANSPARENT = {"Final", "ClassVar", "Required", "NotRequired", "ReadOnly"}
_NOT_INSTANCES = {"Literal", "Callable", "type", "Type", "TypeGuard", "TypeIs", "Unpack", "Concatenate"}
_BUILTIN_NAMES = frozenset(dir(builtins))
# How the interpreter spells typing's generic aliases once subscripted (their __origin__).
_TYPING_ORIGINS = {
    "List": "list", "Dict": "dict", "Set": "set", "FrozenSet": "frozenset", "Tuple": "tuple", "Type": "type",
    "list": "list", "dict": "dict", "set": "set", "frozenset": "frozenset", "tuple": "tuple", "type": "type",
    **{n: f"collections.abc.{n}" for n in (
        "Sequence", "MutableSequence", "Mapping", "MutableMapping", "Iterable", "Iterator", "Collection",
        "Generator", "AsyncIterator", "AsyncIterable", "AsyncGenerator", "Awaitable", "Coroutine",
        "AbstractSet", "MutableSet", "Container", "Callable")},
    "DefaultDict": "collections.defaultdict", "OrderedDict": "collections.OrderedDict", "Deque": "collections.deque",
    "Counter": "collections.Counter", "ChainMap": "collections.ChainMap",
}
_PLAIN_MODULES = frozenset({"typing_extensions", "__future__", "pydantic_core", "annotated_types"})


_MISS = object()
_T = TypeVar("_T")

Resolved = tuple[Any, ...]
"""A target, one of the tuples in the module docstring (plain tuples: hashed in memos, marshalled in the cache)."""
Shape = tuple[Any, ...]
"""What a return annotation is: ("model", fqn), ("wrapped", wrapper, fqn) or ("unresolved", why)."""


class Module:
    __slots__ = ("name", "is_pkg", "_index", "path")

    def __init__(self, name: str, is_pkg: bool, index: Any, path: str | None) -> None:
        self.name = name
        self.is_pkg = is_pkg
        self._index: FileIndex | tuple[Any, ...] | None = index
        self.path = path

    @property
    def index(self) -> FileIndex | None:
        """None for a located module we cannot read (compiled, namespace package, bad source).

        A cached index arrives as plain tuples and is turned back into named tuples on first use:
        a rescan after a small change reads only the modules it needs."""
        idx = self._index
        if idx is not None and not isinstance(idx, FileIndex):
            thawed = thaw(idx)
            idx = self._index = thawed if isinstance(thawed, FileIndex) else None
        return idx


def absolute(module: str, is_pkg: bool, level: int, target: str) -> str:
    """The absolute module named by `from <level dots><target> import ...` inside `module`."""
    if level == 0:
        return target
    parts = module.split(".")
    if not is_pkg:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
    if target:
        parts.append(target)
    return ".".join(parts)


def protobuf_message(dotted: str) -> bool:
    """A class of a module protoc generated (`pkg.a2a_pb2.Task`), or protobuf's own `Message`:
    never a pydantic model, and never written into a call (`analysis.writable`). Such modules
    build their classes at import time, so the scan finds no class by that name (a2a-sdk, wave 7:
    345 functions returning messages were listed as unresolved)."""
    mod, _, name = dotted.rpartition(".")
    return dotted == "google.protobuf.message.Message" or (mod.rpartition(".")[2].endswith("_pb2")
                                                             and name[:1].isupper())


class Resolver:
    def __init__(
        self,
        modules: dict[str, Module],
        locate: Callable[[str], Module | str | None],
        model_bases: tuple[str, ...] = (),
    ) -> None:
        """`locate(name)` finds a module outside the scanned files: a Module, "stdlib"/"compiled"
        for modules known to hold no models, or None when it cannot be found."""
        self.modules = modules
        self._locate = locate
        self._located: dict[str, Module | str | None] = {}
        self.roots = dict(MODEL_ROOTS)
        for b in model_bases:
            self.roots[b] = b
        self._model_memo: dict[tuple[str, str], Any] = {}
        self._in_progress: set[tuple[str, str]] = set()
        # The same annotation names recur across a module's functions: resolve each once.
        self._dotted_memo: dict[tuple[str, int, str], Any] = {}
        self._classify_memo: dict[tuple[str, int, Any], Any] = {}
        self._facts_memo: dict[Any, Any] = {}
        # Which modules each answer read (memo entries keep theirs), so a cached scan knows which
        # files a change can affect: frames nest like the calls, and a memo hit replays its set.
        self._frames: list[set[str]] = []
        self._export_memo: dict[tuple[str, str], tuple[Resolved, set[str]]] = {}
        self._exporting: set[tuple[str, str]] = set()
        self._cut = False
        """Set when an answer met a lookup in progress or the depth limit (see `export`)."""
        self._subclass_names: dict[str, list[tuple[str, str]]] | None = None
        """Last name of a written base -> the scanned classes naming it (`subclasses`)."""

    def begin(self) -> None:
        """Start recording the modules read (`end()` returns them)."""
        self._frames.append(set())

    def end(self) -> set[str]:
        deps = self._frames.pop()
        if self._frames:
            self._frames[-1].update(deps)
        return deps

    def _touch(self, name: str) -> None:
        if self._frames:
            self._frames[-1].add(name)

    def _mod(self, name: str) -> Module | str | None:
        self._touch(name)
        return self.modules.get(name) or self._located.get(name)

    def _memo(self, memo: dict[Any, Any], key: Any, fn: Callable[..., _T], *args: Any) -> _T:
        hit = memo.get(key, _MISS)
        if hit is not _MISS:
            if self._frames and hit[1]:
                self._frames[-1].update(hit[1])
            cached: _T = hit[0]
            return cached
        self.begin()
        try:
            value = fn(*args)
        finally:
            deps = self.end()
        memo[key] = (value, deps)
        return value

    def remember(self, key: Any, fn: Callable[..., _T], *args: Any) -> _T:
        """`fn(*args)` once per `key` for the whole scan, the modules it read replayed on each
        hit (a fact about a class that many functions ask: `writable.model_secret`)."""
        return self._memo(self._facts_memo, key, fn, *args)

    # -- modules -----------------------------------------------------------------------------
    def module(self, name: str) -> Module | str | None:
        self._touch(name)
        top = name.split(".", 1)[0]
        if top in _PLAIN_MODULES:
            return "stdlib"  # typing_extensions & co: known by name, even when part of the scan
        m = self.modules.get(name)
        if m is not None:
            return m
        if name in self._located:
            return self._located[name]
        if top in sys.stdlib_module_names:
            found: Module | str | None = "stdlib"
        else:
            found = self._locate(name)
        self._located[name] = found
        return found

    def _module_target(self, name: str) -> Resolved:
        m = self.module(name)
        if m is None:
            return ("missing", name, f"module {name!r} is not in the scanned files and not on the Python path")
        if isinstance(m, str):
            return ("ext", name)
        return ("mod", name)

    # -- names -------------------------------------------------------------------------------
    def _bind_target(self, module: str, scope: int, name: str, b: Resolved, depth: int) -> Resolved:
        kind = b[0]
        if kind == "either":
            # a name both branches of a module-level `if` (or `try`/`except`) bind: the first that
            # resolves; but pydantic v1's BaseModel in one branch and a model in the other is a
            # model that may be v1 at run time (`maybe_v1`; wave 9: evidently's compat module)
            first = self._bind_target(module, scope, name, b[1], depth)
            second = self._bind_target(module, scope, name, b[2], depth)
            v1 = _v1_root(self.fqn(first)) if first[0] != "other" else False
            if v1 != (_v1_root(self.fqn(second)) if second[0] != "other" else False):
                other = second if v1 else first
                if self.is_model(other)[0]:
                    home = self.modules.get(module)
                    where = home.path if home is not None and home.path else module
                    root = other[1] if other[0] == "ext" and other[1] in self.roots.values() else MODEL_ROOTS["pydantic.BaseModel"]
                    return ("ext", root, where, name)
            if first[0] != "missing":
                return first
            return first if second[0] == "missing" else second
        if kind == "cls":
            return ("cls", module, b[1])
        if kind == "imp":
            m = self._mod(module)
            is_pkg = m.is_pkg if isinstance(m, Module) else False
            src = absolute(module, is_pkg, b[1], b[2])
            if src == module:
                if is_pkg:
                    # `from . import sub` in a package's __init__: the submodule, not the binding itself.
                    return self._module_target(f"{src}.{b[3]}")
                # A module importing a name from itself: the class it defines under that name.
                if m is not None and not isinstance(m, str) and m.index is not None and b[3] in m.index.classes:
                    return ("cls", module, b[3])
                return ("missing", f"{src}.{b[3]}", f"{src} imports {b[3]!r} from itself")
            return self.export(src, b[3], depth + 1)
        if kind == "mod":
            return self._module_target(b[1])
        if kind == "expr":
            return ("alias", module, scope, b[1])
        if kind == "call":
            return ("call", module, scope, name, b[1])
        if kind == "def":
            return ("def", module, name)
        return ("other",)

    def export(self, modname: str, attr: str, depth: int = 0) -> Resolved:
        """`modname.attr` as another module sees it (`from modname import attr`).

        Each (module, name) is looked up once per scan (memoized with the modules it read), and
        a lookup that comes back to one in progress is a cycle: star imports between modules
        that star-import each other were searched path by path before (4 modules with 3 star
        imports each: a scan that never ended)."""
        key = (modname, attr)
        if key in self._exporting:
            self._cut = True  # this answer depends on where the search started: not memoized
            return ("missing", f"{modname}.{attr}", "an import cycle, or re-exported through more than 40 modules")
        hit = self._export_memo.get(key)
        if hit is not None:
            if self._frames and hit[1]:
                self._frames[-1].update(hit[1])
            return hit[0]
        outer_cut, self._cut = self._cut, False
        self._exporting.add(key)
        self.begin()
        try:
            value = self._export(modname, attr, depth)
        finally:
            deps = self.end()
            self._exporting.discard(key)
            cut, self._cut = self._cut, outer_cut or self._cut
        if not cut:
            self._export_memo[key] = (value, deps)
        return value

    def _export(self, modname: str, attr: str, depth: int) -> Resolved:
        dotted = f"{modname}.{attr}"
        if dotted in self.roots:
            return ("ext", self.roots[dotted])
        if depth > 40:
            self._cut = True
            return ("missing", dotted, "an import cycle, or re-exported through more than 40 modules")
        m = self.module(modname)
        if m is None:
            return ("missing", dotted, f"module {modname!r} is not in the scanned files and not on the Python path")
        if isinstance(m, str) or m.index is None:
            if isinstance(m, Module) and m.is_pkg:
                sub = self.module(dotted)
                if isinstance(sub, Module):
                    return ("mod", dotted)
            return ("ext", dotted)
        idx = m.index
        b = idx.names.get(attr)
        if b is not None:
            return self._bind_target(modname, 0, attr, b, depth)
        if not attr.startswith("_"):
            for level, star in idx.stars:
                src = absolute(modname, m.is_pkg, level, star)
                t = self.export(src, attr, depth + 1)
                if t[0] != "missing":
                    return t
        if m.is_pkg:
            sub = self.module(dotted)
            if sub is not None:
                return ("ext", dotted) if isinstance(sub, str) else ("mod", dotted)
        if "__getattr__" in idx.names:
            return ("missing", dotted, f"{modname} defines {attr!r} dynamically (module __getattr__)")
        return ("missing", dotted, f"module {modname!r} has no name {attr!r}")

    def lookup(self, module: str, scope: int, name: str, depth: int = 0) -> Resolved:
        """A bare name at `scope` of `module`: local scopes, module globals, star imports, builtins."""
        m = self._mod(module)
        if not isinstance(m, Module) or m.index is None:
            return ("missing", name, f"module {module!r} is unreadable")
        scopes = m.index.scopes
        s = scope
        first = True
        while s >= 0:
            parent, names, kind = scopes[s]
            # Class bodies are visible only from statements directly inside them.
            if first or kind != "class":
                b = names.get(name)
                if b is not None:
                    return self._bind_target(module, s, name, b, depth)
            first = False
            s = parent
        for level, star in m.index.stars:
            src = absolute(module, m.is_pkg, level, star)
            t = self.export(src, name, depth + 1)
            if t[0] != "missing":
                return t
        if name in _BUILTIN_NAMES:
            return ("ext", f"builtins.{name}")
        return ("missing", name, f"name {name!r} is not defined in {module}")

    def getattr_(self, target: Resolved, attr: str, depth: int = 0) -> Resolved:
        kind = target[0]
        if kind == "mod":
            return self.export(target[1], attr, depth + 1)
        if kind == "cls":
            module, qual = target[1], target[2]
            m = self._mod(module)
            assert isinstance(m, Module) and m.index is not None
            rec = m.index.classes.get(qual)
            if rec is not None:
                b = m.index.scopes[rec.body][1].get(attr)
                if b is not None and b[0] == "cls":
                    return ("cls", module, b[1])
                if b is not None and b[0] == "expr":
                    return ("alias", module, rec.body, b[1])
                if b is None or b[0] == "def":
                    return self._method(module, qual, attr, depth)
            return ("other",)
        if kind == "call" and depth < 20:
            # `_ctx.current()` on a module-level `_ctx = Holder()`: the method of the class made
            # (wave 10: a context variable read through a module-level object's method)
            made = self.resolve_dotted(target[1], target[2], target[4], depth + 1)
            if made[0] == "cls":
                return self._method(made[1], made[2], attr, depth + 1)
        if kind == "alias":
            inner = self.resolve_expr_target(target[1], target[2], target[3], depth + 1)
            return self.getattr_(inner, attr, depth + 1) if inner[0] != "alias" else ("other",)
        if kind == "ext":
            return ("ext", f"{target[1]}.{attr}")
        if kind == "missing":
            return ("missing", f"{target[1]}.{attr}", target[2])
        return ("other",)

    def _method(self, module: str, qual: str, attr: str, depth: int) -> Resolved:
        """("def", module, "Class.attr") for the def `attr` of class `qual` or, when its body binds
        no `attr`, of the first of its bases in the scan that does (depth first), the way
        `project._outside_call` reads `Other.fetch()` (wave 10: ical's classmethods); ("other",)
        when none does."""
        seen: set[tuple[str, str]] = set()
        todo = [(module, qual)]
        while todo and len(seen) < 30 and depth < 40:
            key = todo.pop()
            if key in seen:
                continue
            seen.add(key)
            rec = self.class_record(*key)
            if rec is None:
                continue
            m = self._mod(key[0])
            assert isinstance(m, Module) and m.index is not None
            b = m.index.scopes[rec.body][1].get(attr)
            if b is not None:
                return ("def", key[0], f"{key[1]}.{attr}") if b[0] == "def" else ("other",)
            todo.extend(reversed([(t[1], t[2]) for _, t in self.class_bases(key[0], rec) if t[0] == "cls"]))
        return ("other",)

    def resolve_dotted(self, module: str, scope: int, dotted: str, depth: int = 0) -> Resolved:
        return self._memo(self._dotted_memo, (module, scope, dotted), self._resolve_dotted, module, scope, dotted, depth)

    def _resolve_dotted(self, module: str, scope: int, dotted: str, depth: int) -> Resolved:
        head, *rest = dotted.split(".")
        t = self.lookup(module, scope, head, depth)
        for attr in rest:
            if dotted in self.roots and t[0] == "missing":
                break
            t = self.getattr_(t, attr, depth)
        return t

    def resolve_expr_target(self, module: str, scope: int, expr: Any, depth: int = 0) -> Resolved:
        """An alias's expression -> what it names (following alias chains); subscripts stay aliases."""
        for _ in range(20):
            if expr is None or expr[0] != "n":
                return ("alias", module, scope, expr)
            t = self.resolve_dotted(module, scope, expr[1], depth + 1)
            if t[0] != "alias":
                return t
            module, scope, expr = t[1], t[2], t[3]
        return ("missing", "?", "alias chain too long")

    # -- models ------------------------------------------------------------------------------
    def is_model(self, target: Resolved) -> tuple[bool | None, str | None]:
        """(True, None) a BaseModel subclass; (False, None) not; (None, why) cannot tell."""
        kind = target[0]
        if kind == "ext":
            return (target[1] in self.roots or target[1] in self.roots.values(), None)
        if kind == "missing":
            if target[1] in self.roots:
                return (True, None)
            if protobuf_message(target[1]):
                return (False, None)  # protoc's modules make their classes at import time: no model
            return (None, target[2])
        if kind == "alias":
            t = self.resolve_expr_target(target[1], target[2], target[3])
            if t[0] == "alias":
                expr = t[3]
                if expr is not None and expr[0] == "s":
                    t = self.resolve_expr_target(t[1], t[2], expr[1])
                    return self.is_model(t) if t[0] != "alias" else (False, None)
                return (False, None)
            return self.is_model(t)
        if kind != "cls":
            return (False, None)
        key = (target[1], target[2])
        fq = f"{key[0]}.{key[1]}"
        if fq in self.roots or fq in self.roots.values():
            return (True, None)
        if key in self._in_progress and key not in self._model_memo:
            return (False, None)
        return self._memo(self._model_memo, key, self._is_model_uncached, key)

    def _is_model_uncached(self, key: tuple[str, str]) -> tuple[bool | None, str | None]:
        self._in_progress.add(key)
        try:
            return self._class_is_model(*key)
        finally:
            self._in_progress.discard(key)

    def class_record(self, module: str, qual: str) -> ClassRec | None:
        """The record of class `qual` of `module`, when the scan reads that class."""
        m = self._mod(module)
        return m.index.classes.get(qual) if isinstance(m, Module) and m.index is not None else None

    def class_bases(self, module: str, rec: ClassRec) -> Iterator[tuple[str | None, Resolved]]:
        """Each base of class `rec` of `module`, as written (`Generic[T]` as `Generic`) and as
        resolved from the class statement's scope, one at a time (a caller that has its answer
        resolves no more); a base that is no (subscripted) name (a call, `*bases`) is
        (None, ("other",))."""
        for base in rec.bases:
            if base is not None and base[0] == "s":
                base = base[1]
            if base is None or base[0] != "n":
                yield None, ("other",)
            else:
                yield base[1], self.resolve_dotted(module, rec.scope, base[1])

    def _class_is_model(self, module: str, qual: str) -> tuple[bool | None, str | None]:
        rec = self.class_record(module, qual)
        assert rec is not None
        unresolved: str | None = None
        for written, t in self.class_bases(module, rec):
            ok, why = self.is_model(t)
            if ok:
                return (True, None)
            if ok is None and unresolved is None:
                unresolved = f"base {written} of {module}.{qual}: {why}"
        return (None, unresolved) if unresolved else (False, None)

    def subclasses(self, module: str, qual: str) -> list[tuple[str, str]]:
        """The classes of the scanned modules that name class `qual` of `module` among their
        bases (by the base's last name, then resolved): an ABC's implementations (`writable`).
        The name map is built once per scan, from the indexes alone; every scanned module counts
        as read (a file added with a new subclass changes the answer)."""
        if self._subclass_names is None:
            found: dict[str, list[tuple[str, str]]] = {}
            for name, m in self.modules.items():
                idx = m.index
                for q, crec in idx.classes.items() if idx is not None else ():
                    for base in crec.bases:
                        if base is not None and base[0] == "s":
                            base = base[1]
                        if base is not None and base[0] == "n":
                            found.setdefault(base[1].rsplit(".", 1)[-1], []).append((name, q))
            self._subclass_names = found
        for name in self.modules:
            self._touch(name)
        out: list[tuple[str, str]] = []
        for m2, q2 in self._subclass_names.get(qual.rsplit(".", 1)[-1], ()):
            rec = self.class_record(m2, q2)
            if rec is None:
                continue
            for _, t in self.class_bases(m2, rec):
                if t[0] == "alias":
                    t = self.resolve_expr_target(t[1], t[2], t[3])
                if t[0] == "cls" and t[1] == module and t[2] == qual:
                    out.append((m2, q2))
                    break
        return out

    def maybe_v1(self, module: str, qual: str) -> tuple[str, str] | None:
        """(where, name) when model class `qual` of `module` derives, at any depth of its bases
        in the scan, from a name bound to pydantic v1's BaseModel in one branch of a module-level
        `if`/`try` and to a model in the other (`_bind_target`): which runs depends on the installed
        pydantic, so the class may be no pydantic 2 model (wave 9: evidently's 271 v1 models)."""
        return self.remember(("v1", module, qual), self._maybe_v1, module, qual, set())

    def _maybe_v1(self, module: str, qual: str, seen: set[tuple[str, str]]) -> tuple[str, str] | None:
        if (module, qual) in seen or len(seen) > 50:
            return None
        seen.add((module, qual))
        rec = self.class_record(module, qual)
        if rec is None:
            return None
        for _, t in self.class_bases(module, rec):
            if t[0] == "alias":
                t = self.resolve_expr_target(t[1], t[2], t[3])
            if t[0] == "ext" and len(t) == 4:
                return (t[2], t[3])
            if t[0] == "cls" and self.is_model(t)[0]:
                hit = self._maybe_v1(t[1], t[2], seen)
                if hit:
                    return hit
        return None

    # -- return annotations ------------------------------------------------------------------
    def typing_name(self, t: Resolved) -> str | None:
        """`Optional` for typing.Optional (any spelling), `list` for builtins.list, ..."""
        if t[0] != "ext":
            return None
        mod, _, name = t[1].rpartition(".")
        return name if mod in _TYPING_MODULES else None

    def classify(self, module: str, scope: int, expr: Any, depth: int = 0) -> Shape | None:
        """A return annotation -> ("model", name) | ("wrapped", wrapper, name) | ("unresolved", why) | None."""
        if expr is None or depth > 30:
            return None
        return self._memo(self._classify_memo, (module, scope, expr), self._classify, module, scope, expr, depth)

    def _classify(self, module: str, scope: int, expr: Any, depth: int) -> Shape | None:
        k = expr[0]
        if k == "q":
            try:
                node = ast.parse(expr[1].strip(), mode="eval").body
            except SyntaxError as exc:
                return ("unresolved", f"string annotation {expr[1]!r} does not parse: {exc.msg}")
            return self.classify(module, scope, conv(node), depth + 1)
        if k == "n":
            return self._classify_target(self.resolve_dotted(module, scope, expr[1]), depth)
        if k == "t":  # a target resolved already (`Self` read as its class: `project._self_shape`)
            return self._classify_target(expr[1], depth)
        if k == "or":
            return self._union(module, scope, _flatten_or(expr), depth)
        if k == "overloads":
            shapes = [self.classify(module, scope, e, depth + 1) for e in expr[1]]
            if shapes and all(s == shapes[0] for s in shapes):
                return shapes[0]
            return self._union_shapes(shapes, has_none=False, via="overloads")
        if k != "s":
            return None
        base = self.resolve_dotted(module, scope, expr[1][1], depth) if expr[1][0] == "n" else ("other",)
        if base[0] == "alias":
            base = self.resolve_expr_target(base[1], base[2], base[3])
        args = expr[2]
        tname = self.typing_name(base)
        if tname is not None:
            if tname in _ANNOTATED or tname in _TRANSPARENT:
                return self.classify(module, scope, args[0], depth + 1) if args else None
            if tname in _OPTIONAL:
                return _wrap("Optional", self.classify(module, scope, args[0], depth + 1)) if args else None
            if tname in _UNION:
                return self._union(module, scope, list(args), depth)
            if tname in _NOT_INSTANCES:
                return None
            shapes = [self.classify(module, scope, a, depth + 1) for a in args]
            for s in shapes:
                if s is not None and s[0] in ("model", "wrapped"):
                    return _wrap(tname, s)
            for s in shapes:
                if s is not None:
                    return s
            return None
        if base[0] in ("cls", "ext", "missing"):
            ok, why = self.is_model(base)
            if ok:
                if base[0] == "cls" and self._arg_typevars(module, scope, args) == self._class_params(base):
                    # `Page[T]` with the class's own parameters is the generic class itself.
                    return ("model", self.fqn(base))
                rendered = ", ".join(self.render(module, scope, a) for a in args)
                return ("model", f"{self.fqn(base)}[{rendered}]")
            if ok is None:
                return ("unresolved", why)
            # A generic container class of the project or a library (`Paginator[M]`) wraps the model.
            for a in args:
                s = self.classify(module, scope, a, depth + 1)
                if s is not None and s[0] in ("model", "wrapped"):
                    return _wrap(self.fqn(base).rsplit(".", 1)[-1], s)
        return None

    def _arg_typevars(self, module: str, scope: int, args: Any) -> tuple[Any, ...] | None:
        out = []
        for a in args:
            if a is None or a[0] != "n":
                return None
            t = self.resolve_dotted(module, scope, a[1])
            if not (t[0] == "call" and t[4].rsplit(".", 1)[-1] in ("TypeVar", "ParamSpec", "TypeVarTuple")):
                return None
            out.append(t[:4])
        return tuple(out)

    def _class_params(self, cls: Resolved) -> tuple[Any, ...] | None:
        """A generic class's type parameters in order (`Generic[...]` wins, as at run time)."""
        m = self._mod(cls[1])
        if not isinstance(m, Module) or m.index is None or cls[2] not in m.index.classes:
            return None
        rec = m.index.classes[cls[2]]
        seen: list[Resolved] = []
        for b in rec.bases:
            if b is None or b[0] != "s":
                continue
            tvs = [t for t in (self._arg_typevars(cls[1], rec.scope, (a,)) for a in b[2]) if t]
            head = self.resolve_dotted(cls[1], rec.scope, b[1][1]) if b[1][0] == "n" else ("other",)
            if self.typing_name(head) in ("Generic", "Protocol"):
                return tuple(t[0] for t in tvs)
            for t in tvs:
                if t[0] not in seen:
                    seen.append(t[0])
        return tuple(seen)

    def _classify_target(self, t: Resolved, depth: int) -> Shape | None:
        kind = t[0]
        if kind == "alias":
            return self.classify(t[1], t[2], t[3], depth + 1)
        if kind in ("cls", "ext", "missing"):
            ok, why = self.is_model(t)
            if ok:
                return ("model", self.fqn(t))
            if ok is None:
                return ("unresolved", why)
        return None

    def _union(self, module: str, scope: int, members: list[Any], depth: int) -> Shape | None:
        has_none = any(m is not None and m[0] == "none" for m in members)
        rest = [m for m in members if m is not None and m[0] != "none"]
        shapes = [self.classify(module, scope, m, depth + 1) for m in rest]
        return self._union_shapes(shapes, has_none, "Union", single=len(rest) == 1)

    @staticmethod
    def _union_shapes(shapes: list[Shape | None], has_none: bool, via: str, single: bool = False) -> Shape | None:
        found = [s for s in shapes if s is not None and s[0] in ("model", "wrapped")]
        if not found:
            for s in shapes:
                if s is not None:
                    return s
            return None
        if has_none and single:
            return _wrap("Optional", found[0])
        return _wrap("Union" if via != "overloads" else "overloads", found[0])

    def fqn(self, t: Resolved) -> str:
        if t[0] in ("cls", "def"):
            return f"{t[1]}.{t[2]}"
        if t[0] == "ext":
            name: str = t[1]
            return self.roots.get(name, name)
        return str(t[1])

    def render(self, module: str, scope: int, expr: Any) -> str:
        """A generic model's type argument, spelled the way the ground truth spells runtime objects."""
        k = expr[0] if expr else "x"
        if k == "q":
            try:
                return self.render(module, scope, conv(ast.parse(expr[1].strip(), mode="eval").body))
            except SyntaxError:
                return str(expr[1])
        if k == "n":
            t = self.resolve_dotted(module, scope, expr[1])
            if t[0] == "alias":
                t = self.resolve_expr_target(t[1], t[2], t[3])
                if t[0] == "alias":
                    return self.render(t[1], t[2], t[3])
            if t[0] == "cls":
                return self.fqn(t)
            if t[0] == "ext":
                name = self.fqn(t)
                return name[len("builtins."):] if name.startswith("builtins.") else name
            if t[0] == "call":
                return str(t[3])  # a TypeVar: its name
            return str(expr[1])
        if k == "s":
            base = self.resolve_dotted(module, scope, expr[1][1]) if expr[1][0] == "n" else ("other",)
            tname = self.typing_name(base)
            if tname in _ANNOTATED and expr[2]:
                return self.render(module, scope, expr[2][0])
            if tname in _OPTIONAL and expr[2]:
                return f"typing.Union[{self.render(module, scope, expr[2][0])}, None]"
            if tname in _UNION:
                return "typing.Union[" + ", ".join(self.render(module, scope, a) for a in expr[2]) + "]"
            inner = ", ".join(self.render(module, scope, a) for a in expr[2])
            head = _TYPING_ORIGINS.get(tname, self.render(module, scope, expr[1])) if tname else self.render(module, scope, expr[1])
            return f"{head}[{inner}]"
        if k == "none":
            return "None"
        if k == "t":
            return self.fqn(expr[1])
        if k == "or":
            return "typing.Union[" + ", ".join(self.render(module, scope, m) for m in _flatten_or(expr)) + "]"
        if k == "l":
            return "[" + ", ".join(self.render(module, scope, a) for a in expr[1]) + "]"
        if k == "k":
            return str(expr[1])
        return "?"


def _v1_root(fqn: str) -> bool:
    """pydantic v1's BaseModel (`pydantic.v1.BaseModel`, located or not; `pydantic.v1.main.BaseModel`)."""
    return fqn.startswith("pydantic.v1.") and fqn.rsplit(".", 1)[-1] == "BaseModel"


def _flatten_or(expr: Any) -> list[Any]:
    if expr is not None and expr[0] == "or":
        return _flatten_or(expr[1]) + _flatten_or(expr[2])
    return [expr]


def _wrap(wrapper: str, inner: Shape | None) -> Shape | None:
    if inner is None or inner[0] == "unresolved":
        return inner
    if inner[0] == "model":
        return ("wrapped", wrapper, inner[1])
    return ("wrapped", wrapper, inner[2])
