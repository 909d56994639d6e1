"""`scan_project`: discover -> index (cached, on 2 processes when it pays) -> resolve -> classify."""

from __future__ import annotations

import ast
import fnmatch
import gc
import importlib.machinery
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple

from ..config import Config, load_config
from ..contracts import FALLBACK_INSTANCE_MODULE, ScanStatus
from ..errors import DistilgenError, InternalError, UsageError
from .cache import CachedExternal, CachedFile, FileStat, IndexCache, ScanCache, StoredScan, digest
from .discovery import FileEntry, discover, glob_regex
from .file_index import (NO_IMPLEMENTATION, HOOK_NAMES, INDEX_VERSION, STATE_REASON, FileIndex, FuncRec, UnindexableFile, build_index,
                         conv, decode, thaw)
from .index_shift import ShiftedFile, shifted_index
from .roots import source_roots
from .interpreter import find_interpreter
from .scan import DecoratorInfo, FileError, ScanReport, ScanResult
from .._hashes import blake2b

if TYPE_CHECKING:  # imported where files are (re)classified: an unchanged tree reuses the stored report
    from .resolve import Module, Resolver, Shape

__all__ = ["scan_project", "scan_root", "matches"]

# Below this much work, starting worker processes costs more than it saves.
_PARALLEL_MIN_FILES = 48
_PARALLEL_MIN_BYTES = 1_500_000
# Compiled modules (extensions, bytecode-only): never read, they define no pydantic models we can see.
_COMPILED_SUFFIXES = (*importlib.machinery.EXTENSION_SUFFIXES, ".pyc")
_EMPTY_INDEX = FileIndex({}, ((-1, {}, "module"),), (), None, {}, (), False, 0)


def scan_root(paths: list[Path], config: Config) -> Path:
    """The folder results are relative to: the project's (pyproject) folder, else the paths' common
    folder, or the project root the configuration found above it (`roots.import_root`: the
    folder `pkg/` is imported from, where the lock of `apply pkg/m.py` is written)."""
    if config.pyproject is not None:
        return config.root
    absolute = [os.path.abspath(p) for p in paths]
    folders = [p if os.path.isdir(p) else os.path.dirname(p) for p in absolute]
    if not folders:
        return config.root
    common = Path(os.path.commonpath(folders))
    return config.root if common.is_relative_to(config.root) else common


# -- indexing ------------------------------------------------------------------------------------
def _index_one(path: str) -> tuple[bytes | None, Any]:
    """(content digest, FileIndex | ("error", reason)) for one file. Runs in worker processes."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        from .discovery import _os_reason

        return None, ("error", f"cannot read: {_os_reason(exc, path)}")
    try:
        return digest(data), build_index(data, path)
    except UnindexableFile as exc:
        return digest(data), ("error", str(exc))
    except Exception as exc:  # a bug, not the file's fault: name the file, stop
        raise InternalError(f"{path}: while indexing: {type(exc).__name__}: {exc}") from exc


def _index_batch(paths: list[str]) -> list[tuple[bytes | None, Any]]:
    return [_index_one(p) for p in paths]


def _index_many(paths: list[str], sizes: list[int]) -> list[tuple[bytes | None, Any]]:
    if len(paths) < _PARALLEL_MIN_FILES or sum(sizes) < _PARALLEL_MIN_BYTES:
        return _index_batch(paths)
    from .processes import ordered_map, worker_count  # here: a warm scan starts no workers

    workers = worker_count()
    if workers < 2:
        return _index_batch(paths)
    # Interleave by size so both workers get the same amount of text; batches keep pickling cheap.
    order = sorted(range(len(paths)), key=lambda i: -sizes[i])
    nbatches = workers * 8
    batches: list[list[int]] = [[] for _ in range(nbatches)]
    for k, i in enumerate(order):
        batches[k % nbatches].append(i)
    out: list[Any] = [None] * len(paths)
    done = ordered_map(_index_batch, [[paths[i] for i in b] for b in batches], workers, ahead=nbatches)
    for idxs, res in zip(batches, done):
        for i, r in zip(idxs, res):
            out[i] = r
    return out


# -- third-party modules located without importing -----------------------------------------------
class _Locator:
    """Finds modules on the search path by looking at folders, the way the import system would,
    without importing anything (and without importlib's finders, whose namespace-package paths
    look parents up in sys.modules and raise KeyError when they were never imported)."""

    def __init__(self, search: list[str], ext_cache: dict[str, CachedExternal]) -> None:
        self.search = search
        self.ext_cache = ext_cache
        self.used: dict[str, tuple[int, int]] = {}
        self._found: dict[str, tuple[str, str | None, list[str] | None] | None] = {}
        self._listings: dict[str, dict[str, bool]] = {}

    def _listing(self, folder: str) -> dict[str, bool]:
        """name -> is a folder, for one search folder (read once)."""
        hit = self._listings.get(folder)
        if hit is None:
            hit = {}
            try:
                with os.scandir(folder) as it:
                    for e in it:
                        try:
                            hit[e.name] = e.is_dir()
                        except OSError:
                            continue
            except OSError:
                pass
            self._listings[folder] = hit
        return hit

    def _find_in(self, part: str, folders: list[str]) -> tuple[str, str | None, list[str] | None] | None:
        """("source", file, package folders | None) | ("compiled", None, ...) | ("namespace", None, portions)."""
        portions: list[str] = []
        for folder in folders:
            names = self._listing(folder)
            if names.get(part):
                pkg = os.path.join(folder, part)
                inner = self._listing(pkg)
                if "__init__.py" in inner and not inner["__init__.py"]:
                    return ("source", os.path.join(pkg, "__init__.py"), [pkg])
                if any(f"__init__{suf}" in inner for suf in _COMPILED_SUFFIXES):
                    return ("compiled", None, [pkg])
            if names.get(f"{part}.py") is False:
                return ("source", os.path.join(folder, f"{part}.py"), None)
            if any(names.get(part + suf) is False for suf in _COMPILED_SUFFIXES):
                return ("compiled", None, None)
            if names.get(part):
                portions.append(os.path.join(folder, part))
        return ("namespace", None, portions) if portions else None

    def _find(self, name: str) -> tuple[str, str | None, list[str] | None] | None:
        if name in self._found:
            return self._found[name]
        parent, _, last = name.rpartition(".")
        if parent:
            up = self._find(parent)
            found = self._find_in(last, up[2]) if up is not None and up[2] else None
        else:
            found = self._find_in(last, self.search)
        self._found[name] = found
        return found

    def __call__(self, name: str) -> Module | str | None:
        from .resolve import Module

        found = self._find(name)
        if found is None:
            return None
        kind, origin, locations = found
        is_pkg = locations is not None
        if kind == "namespace":
            return Module(name, True, _EMPTY_INDEX, None)
        if kind == "compiled" or origin is None:
            return "compiled"
        try:
            st = os.stat(origin)
        except OSError:
            return None
        self.used[origin] = (st.st_mtime_ns, st.st_size)
        hit = self.ext_cache.get(origin)
        if hit is not None and hit.mtime_ns == st.st_mtime_ns and hit.size == st.st_size:
            index = hit.index
        else:
            _, index = _index_one(origin)
            if isinstance(index, tuple) and index and index[0] == "error":
                index = None
            self.ext_cache[origin] = CachedExternal(st.st_mtime_ns, st.st_size, index)
        return Module(name, is_pkg, index, None)


# -- selection -----------------------------------------------------------------------------------
def matches(result: ScanResult, pattern: str) -> bool:
    """A --select/--exclude pattern: a path glob, a qualname pattern, or `module:qualname`."""
    if "/" in pattern or pattern.endswith(".py"):
        return bool(glob_regex(pattern.lstrip("./")).match(result.path))
    if ":" in pattern:
        return fnmatch.fnmatchcase(result.function_id, pattern)
    return (
        fnmatch.fnmatchcase(result.qualname, pattern)
        or fnmatch.fnmatchcase(result.qualname.rsplit(".", 1)[-1], pattern)
        or fnmatch.fnmatchcase(result.path, pattern)
        or fnmatch.fnmatchcase(result.path.rsplit("/", 1)[-1], pattern)
    )


# -- classification ------------------------------------------------------------------------------
def _decorator(res: Resolver, module: str, fn: FuncRec, configured: str) -> DecoratorInfo | None:
    conf_dotted = configured.replace(":", ".")
    for lineno, target, called, kwargs in fn.decorators:
        if not target or not target.endswith(".distil") or target == "distil":
            continue
        inst = target[: -len(".distil")]
        t = res.resolve_dotted(module, fn.scope, inst)
        instance = None
        for _ in range(10):  # follow `instructions = other.instructions` re-exports
            if t[0] == "alias" and t[3] is not None and t[3][0] == "n":
                t = res.resolve_dotted(t[1], t[2], t[3][1])
            else:
                break
        if t[0] == "call" and t[2] == 0:
            if f"{t[1]}.{t[3]}" == conf_dotted:
                instance = f"{t[1]}:{t[3]}"
            else:
                from .resolve import INSTRUCTIONS_CLASSES

                ft = res.resolve_dotted(t[1], 0, t[4])
                if res.fqn(ft) in INSTRUCTIONS_CLASSES:
                    instance = f"{t[1]}:{t[3]}"
        elif t[0] in ("missing", "ext") and t[1] == conf_dotted:
            instance = configured
        elif t[0] == "missing" and _placed_instance(t[1], module, configured):
            # the module `apply` created inside this package, deleted since: still the project's
            # instance (`check` and `apply` say it is missing), not an unknown decorator
            instance = ":".join(t[1].rsplit(".", 1))
        if instance is None:
            continue
        kw = dict(kwargs)
        mode = kw.get("mode") or "distil"
        return DecoratorInfo(instance=instance, mode=mode, model=kw.get("model"), lineno=lineno)
    return None


def _placed_instance(dotted: str, module: str, configured: str) -> bool:
    """Whether `pkg.distil.instructions` is where `apply` puts a one-part configured instance
    (`distil:instructions`, or its fallback name) for `module`: inside one of its packages."""
    conf_module, _, attr = configured.partition(":")
    parent, _, name = dotted.rpartition(".")
    package, _, leaf = parent.rpartition(".")
    return ("." not in conf_module and name == attr and leaf in (conf_module, FALLBACK_INSTANCE_MODULE)
            and bool(package) and module.startswith(package + "."))


# Decorators that make a def something other than a function to distil, by final name when the
# name resolves into these packages (through imports and aliases, not by spelling).
_PYDANTIC_HOOKS = HOOK_NAMES
# pydantic.BaseModel's own methods (v2 and the v1 names it keeps): a model class that overrides
# one changes the model's API, which pydantic and every user of the model call; capture would log
# each copy or validation (tests/test_scan_real_code.py checks the list against the installed pydantic).
PYDANTIC_API = frozenset({
    "construct", "copy", "dict", "from_orm", "json", "model_construct", "model_copy", "model_dump",
    "model_dump_json", "model_json_schema", "model_parametrized_name", "model_post_init", "model_rebuild",
    "model_validate", "model_validate_json", "model_validate_strings", "parse_file", "parse_obj", "parse_raw",
    "schema", "schema_json", "update_forward_refs", "validate",
})
_ABSTRACT = frozenset({"abc.abstractmethod", "abc.abstractclassmethod", "abc.abstractstaticmethod", "abc.abstractproperty"})
_OVERLOAD = frozenset({"typing.overload", "typing_extensions.overload"})
# wave 13: infrahub-sdk's `schema_base` fixtures were decorated; the call a test's setup makes is
# one no code writes (`schema_base()` with pytest's arguments)
_FIXTURES = frozenset({"pytest.fixture", "pytest.yield_fixture", "_pytest.fixtures.fixture", "pytest_asyncio.fixture"})


def _not_distillable(res: Resolver, entry: FileEntry, fn: FuncRec) -> str | None:
    """Why a def that returns a model is still not a function to distil (None: it may be)."""
    if entry.rel.endswith(".pyi"):
        return "declared in a .pyi stub (no body to run)"
    if fn.type_checking:
        return "defined under `if TYPE_CHECKING:` (never runs)"
    module = entry.module
    for _, target, _, _ in fn.decorators:
        if not target or target.endswith(".distil"):
            continue
        t = res.resolve_dotted(module, fn.scope, target)
        for _ in range(3):  # a wrapper of a wrapper too
            if t[0] != "def" or (forwarded := _forwarded_hook(res, t[1], t[2])) is None:
                break
            t = forwarded
        name = res.fqn(t) if t[0] in ("cls", "def", "ext", "missing") else ""
        top, last = name.split(".", 1)[0], name.rsplit(".", 1)[-1]
        if top == "pydantic" and last in _PYDANTIC_HOOKS:
            return f"pydantic @{last} (called by the model, not by your code)"
        if name in _ABSTRACT:
            return f"@{last} (no implementation to distil)"
        if name in _OVERLOAD:
            return "@overload stub (the implementation is the function)"
        if name in _FIXTURES:
            return "a pytest fixture (pytest calls it to set up a test; no code makes the call)"
    if fn.cls is not None and _is_protocol(res, module, fn.cls):
        return f"method of Protocol {fn.cls} (an interface, no implementation)"
    name = fn.qualname.rsplit(".", 1)[-1]
    if fn.cls is not None and name.startswith("__") and name.endswith("__") and len(name) > 4 and name != "__call__":
        return f"special method {name} (Python calls it for an operator or protocol, not your code)"
    if fn.cls is not None and name in PYDANTIC_API and res.is_model(("cls", module, fn.cls))[0]:
        return f"overrides pydantic's BaseModel.{name} (pydantic and every user of the model call it)"
    return None


def _forwarded_hook(res: Resolver, module: str, name: str) -> Any:
    """What a module-level def whose body only returns `pydantic.model_validator(*a, **k)` (a
    project's own name for the decorator: wave 12, sqlmesh.utils.pydantic) returns, resolved in its
    module, or None for any other def."""
    m = res.module(module)
    if m is None or isinstance(m, str) or m.index is None:
        return None
    b = m.index.names.get(name)
    if b is None or b[:2] != ("def", "hook") or len(b) != 3 or type(b[2]) is not str:
        return None
    return res.resolve_dotted(module, 0, b[2])


def _is_protocol(res: Resolver, module: str, cls: str) -> bool:
    rec = res.class_record(module, cls)
    return rec is not None and any(res.typing_name(t) == "Protocol" for _, t in res.class_bases(module, rec))


def _self_shape(res: Resolver, module: str, fn: FuncRec) -> Shape | None:
    """`-> Self` (typing's, or typing_extensions') on a model's method: the model itself, as the
    runtime reads it (pydantic-xml's `from_xml`, wave 4: such methods were not listed at all). A
    call through a subclass is refused at run time (`SubclassCall`). `Self` inside the annotation
    (`Optional[Self]`, `list[Self]`, `"Self | None"`) gets the shape the class's name written there
    would get (wave 9: daytona's ~270 `from_json -> Optional[Self]` were not listed at all)."""
    r = fn.returns
    if fn.cls is None or r is None or r[0] not in ("n", "q", "s", "or"):
        return None
    self_cls = ("cls", module, fn.cls)
    swapped = _swap_self(res, module, fn.scope, r, ("t", self_cls), 0)
    if swapped is None:
        return None
    if not res.is_model(self_cls)[0]:
        return None
    if swapped[0] == "t":
        return ("model", f"{module}.{fn.cls}")
    return res.classify(module, fn.scope, swapped)


def _swap_self(res: Resolver, module: str, scope: int, ann: Any, to: Any, depth: int) -> Any:
    """`ann` with each name that resolves to typing's `Self` replaced by `to` (string annotations
    read), or None when it names no `Self` (by the names written first: most annotations pay a
    string search only)."""
    if ann is None or depth > 20:
        return None
    k = ann[0]
    if k == "n":
        dotted = ann[1]
        if dotted.rsplit(".", 1)[-1] != "Self":
            return None
        return to if res.typing_name(res.resolve_dotted(module, scope, dotted)) == "Self" else None
    if k == "q":
        if "Self" not in ann[1]:
            return None
        try:
            node = ast.parse(ann[1].strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError):
            return None
        return _swap_self(res, module, scope, conv(node), to, depth + 1)
    if k == "s":
        parts = (ann[1], *ann[2])
    elif k == "or":
        parts = (ann[1], ann[2])
    else:
        return None
    swapped = [_swap_self(res, module, scope, p, to, depth + 1) for p in parts]
    if all(s is None for s in swapped):
        return None
    new = tuple(p if s is None else s for p, s in zip(parts, swapped))
    return ("s", new[0], new[1:]) if k == "s" else ("or", new[0], new[1])


def _maybe_v1(res: Resolver, module: str, fn: FuncRec, model: str) -> str | None:
    """A return model, or a model method's own class, that derives from a name bound to pydantic
    v1's BaseModel in one branch of a module-level `if`/`try` (`Resolver.maybe_v1`): under pydantic
    2 that branch runs in a compat module (wave 9: evidently's `_pydantic_compat`, 271 false
    candidates), and a v1 model has no `model_json_schema` nor `model_dump`."""
    from .file_index import conv_names

    found: list[tuple[str, str, str]] = []
    if fn.cls is not None and res.is_model(("cls", module, fn.cls))[0]:
        hit = res.maybe_v1(module, fn.cls)
        if hit:
            found.append((fn.cls.rsplit(".", 1)[-1], *hit))
    if not found and not (fn.cls is not None and model == f"{module}.{fn.cls}"):
        for dotted in conv_names(fn.returns):
            t = res.resolve_dotted(module, fn.scope, dotted)
            if t[0] == "alias":
                t = res.resolve_expr_target(t[1], t[2], t[3])
            if t[0] == "cls" and res.is_model(t)[0] is True and (hit := res.maybe_v1(t[1], t[2])):
                found.append((t[2].rsplit(".", 1)[-1], *hit))
                break
    if not found:
        return None
    cls, where, name = found[0]
    return f"{cls} may be a pydantic v1 model ({name} is bound from pydantic.v1 in {where})"


def _unwritable_param(res: Resolver, module: str, fn: FuncRec) -> str | None:
    """A parameter whose type no call text can carry (`analysis.writable`), said as the reason."""
    from .writable import credential_in, secret_in, unwritable

    for name, ann in fn.params:
        what = unwritable(res, module, fn.scope, ann)
        if what:
            return f"parameter {name} is {what} (no call can write its value)"
        # a model holding a secret, read by the names written where pydantic is not located (a
        # `SecretStr` renders as its mask: capture skips every such call); a bare one is `_credential`'s
        held = secret_in(res, module, fn.scope, ann)
        if held:
            return (f"parameter {name} holds a secret (field {held[1]} of {held[0]} is a {held[2]}, shown "
                    "masked: no call can write its value)")
    # a parameter with a default: the calls leaving it out are written, those passing it would carry
    # the secret or the credential (wave 11: datacontract's `import_mysql(config: Optional[Config] = None)`),
    # as a credential-named parameter with a default is `_credential`'s
    for name, ann in fn.defaulted:
        held = secret_in(res, module, fn.scope, ann)
        if held:
            return (f"parameter {name} holds a secret when passed (field {held[1]} of {held[0]} is a "
                    f"{held[2]}, shown masked: no call passing it can write its value)")
        clear = credential_in(res, module, fn.scope, ann)
        if clear:
            return (f"parameter {name} carries a credential when passed (field {clear[1]} of {clear[0]} is "
                    f"{clear[2]}: every example passing it would hold it in clear)")
    return None


def _outside_call(res: Resolver, module: str, fn: FuncRec) -> str | None:
    """A def it calls (of this module, another scanned module, or a located library) whose answer
    comes from outside its call (`FileIndex.effects`), said through the call: `calls
    load_profiles(), which calls .read_text() (its answer depends on a file's content, ...)`
    (wave 8: prefect's `load_profile`, fastapi-pagination's `create_links` through `request()`).
    Calls are read from the text, so a name that resolves to no def adds nothing."""
    helpers: list[tuple[str, str, str]] = []
    for called in fn.calls:
        head, _, attr = called.partition(".")
        if head in ("self", "cls"):
            if fn.cls is None or not attr or "." in attr:
                continue
            where, qual = module, f"{fn.cls}.{attr}"
        else:
            found = _called_def(res, module, _call_scope(res, module, fn, head), called)
            if found is None:
                continue
            where, qual = found
        if where == module and qual == fn.qualname:
            continue  # itself: its own body was judged already
        m = res.module(where)
        effect = m.index.effects.get(qual) if m is not None and not isinstance(m, str) and m.index is not None else None
        if effect and (not effect.endswith(STATE_REASON) or where.partition(".")[0] in _project_packages(res)):
            return f"calls {called}(), which {effect}"
        helpers.append((called, where, qual))
    for called, where, qual in helpers:  # then what they call, in other modules too
        if effect := _reached_effect(res, where, qual, _CHAIN):
            return f"calls {called}(), which {effect}"
    return None


def _call_scope(res: Resolver, module: str, fn: FuncRec, head: str) -> int:
    """The scope a call's `head` is read in: the def's own body when an import there binds it
    (`from .image import image_info`, `from . import reader`, `import pkg.reader as r` inside
    the function: wave 12, datachain's `ImageFile.get_info`), else the scope around the def."""
    m = res.module(module)
    if fn.body < 0 or m is None or isinstance(m, str) or m.index is None or fn.body >= len(m.index.scopes):
        return fn.scope
    b = m.index.scopes[fn.body][1].get(head)
    return fn.body if b is not None and b[0] in ("imp", "mod") else fn.scope


_CHAIN = 3
"""Calls followed beyond a function's own, as `FileIndex.spread_effects` follows them in a file."""


def _reached_effect(res: Resolver, where: str, qual: str, depth: int) -> str | None:
    """The effect def `qual` of `where` (a scanned module) reaches through the calls it makes
    (`FileIndex.reaches`), into other scanned modules too, `depth` calls deep at most (wave 11:
    datacontract's `import_odcs` -> `read_resource()` -> `files.read_file()` -> `open()`, conda-lock's
    `parse_pdm_pyproject_toml` -> `parse_python_requirement()` -> `pypi_name_to_conda_name()`).
    Only names bound to the project's own packages are resolved: no library is located for this."""
    return res.remember(("reached", where, qual, depth), _reached_uncached, res, where, qual, depth)


def _reached_uncached(res: Resolver, where: str, qual: str, depth: int) -> str | None:
    m = res.module(where)
    if m is None or isinstance(m, str) or m.index is None or qual not in m.index.reaches:
        return None
    index = m.index
    scope, names = index.reaches[qual]
    cls = qual.rpartition(".")[0]
    nexts: list[tuple[str, str, str]] = []
    for called in names:
        head, _, attr = called.partition(".")
        if head in ("self", "cls"):
            if cls not in index.classes:
                continue
            there, target = where, f"{cls}.{attr}"
        else:
            if not _in_project(res, m, scope, head):
                continue
            found = _called_def(res, where, scope, called)
            if found is None:
                continue
            there, target = found
        if there == where and target == qual:
            continue
        n = res.module(there)
        effect = n.index.effects.get(target) if n is not None and not isinstance(n, str) and n.index is not None else None
        if effect:
            return f"calls {called}(), which {effect}"
        nexts.append((called, there, target))
    for called, there, target in nexts if depth > 1 else ():
        if effect := _reached_effect(res, there, target, depth - 1):
            return f"calls {called}(), which {effect}"
    return None


def _called_def(res: Resolver, module: str, scope: int, called: str) -> tuple[str, str] | None:
    """(module, qualname) of the def a call names: `f`, `mod.f`, or a class's `Cls.f` (wave 11:
    conda-lock's `Channel.from_string`, read from another module), or None."""
    t = res.resolve_dotted(module, scope, called)
    if t[0] == "def":
        return t[1], t[2]
    owner, _, attr = called.rpartition(".")
    if owner and t[0] == "other":
        c = res.resolve_dotted(module, scope, owner)
        if c[0] == "cls":
            return c[1], f"{c[2]}.{attr}"
    return None


def _in_project(res: Resolver, m: Module, scope: int, head: str) -> bool:
    """`head`, seen from `scope` of module `m`, is a def or class of `m` or an import from a package of the
    scanned modules (a library is never located to follow a helper's call)."""
    from .resolve import absolute

    assert m.index is not None
    scopes = m.index.scopes
    s, first = scope, True
    while s >= 0:
        parent, names, kind = scopes[s]
        b = names.get(head) if first or kind != "class" else None
        if b is not None:
            if b[0] in ("def", "cls"):
                return True
            if b[0] == "imp":
                src = absolute(m.name, m.is_pkg, b[1], b[2])
            elif b[0] == "mod":
                src = b[1]
            else:
                return False
            return src.partition(".")[0] in _project_packages(res)
        first = False
        s = parent
    return False


def _project_packages(res: Resolver) -> frozenset[str]:
    """The top-level names of the scanned modules."""
    tops: frozenset[str] | None = getattr(res, "_project_tops", None)
    if tops is None:
        tops = frozenset(name.partition(".")[0] for name in res.modules)
        res._project_tops = tops  # type: ignore[attr-defined]
    return tops


def _makes_property(res: Resolver, module: str, fn: FuncRec) -> str | None:
    """A decorator the scan reads that makes a property of the def, as `@property` does: a def
    returning `property(...)` (wave 11: stravalib's `lazy_property`, its answers from the Strava
    API through an excluded field), a subclass of `property`, a descriptor class (`__get__` and
    no `__call__`: pyramid's `reify`), `functools.cached_property` under another name."""
    for _, target, _, _ in fn.decorators:
        if not target or target.endswith(".distil"):
            continue
        t = res.resolve_dotted(module, fn.scope, target)
        m = res.module(t[1]) if t[0] in ("def", "cls") else None
        idx = m.index if m is not None and not isinstance(m, str) else None
        made = False
        if t[0] == "ext":
            made = t[1] in ("builtins.property", "functools.cached_property")
        elif t[0] == "def" and idx is not None:
            made = idx.names.get(t[2], ("",))[1:2] == ("property",)
        elif t[0] == "cls" and idx is not None and (rec := idx.classes.get(t[2])) is not None:
            body = idx.scopes[rec.body][1]
            made = ("__get__" in body and "__call__" not in body) or any(
                res.fqn(b) in ("builtins.property", "functools.cached_property") for _, b in res.class_bases(t[1], rec))
        if made:
            return f"@{target} makes a property (no call to distil)"
    return None


def _secret_answer(res: Resolver, module: str, fn: FuncRec, model: str) -> str | None:
    """A return model holding a `SecretStr`/`SecretBytes` (at any depth of its fields): its answer
    is dumped as the mask, so the training data would teach the mask (wave 8: prefect's
    `Block._from_block_document`, its `Secret` block's value written "**********"); or holding a
    credential in plain text (`password: str`), written in clear into every example (wave 10)."""
    from .writable import credential_in, model_credential, model_secret, secret_in

    itself = fn.cls is not None and model == f"{module}.{fn.cls}"  # `-> Self`, or its class by name
    for of_class, in_ann, says in (
            (model_secret, secret_in, 'is a {} (its answer is written masked as "**********")'),
            # wave 10: a `password: str` in the answer is written in clear into every example
            (model_credential, credential_in, "({}) carries a credential every example would hold in clear")):
        if itself:
            assert fn.cls is not None
            hit = of_class(res, module, fn.cls)
            found = (fn.cls.rsplit(".", 1)[-1], *hit) if hit else None
        else:
            found = in_ann(res, module, fn.scope, fn.returns)
        if found is not None:
            name, path, kind = found
            return f"returns {name}, whose field {path} " + says.format(kind)
    return None


def _secret_self(res: Resolver, module: str, cls: str) -> str | None:
    """A model's method whose instance holds a `SecretStr`/`SecretBytes`: the instance is written
    into every call (wave 8: prefect's `Settings.copy_with_update`, its `api.key`)."""
    from .writable import model_credential, model_secret

    hit = model_secret(res, module, cls)
    if hit:
        return f"self holds a secret (field {hit[0]} is a {hit[1]}: no example may hold it)"
    clear = model_credential(res, module, cls)  # wave 10: written in clear into every call
    return f"self holds a credential (field {clear[0]} ({clear[1]}): every example would hold it in clear)" if clear else None


def _dataclass_self(res: Resolver, module: str, cls: str | None) -> str | None:
    from .writable import dataclass_self

    return dataclass_self(res, module, cls) if cls is not None else None


def _private_state_read(res: Resolver, module: str, fn: FuncRec) -> list[str]:
    """Which of a model method's `self._x` reads are private attributes its class or a base class
    in the project declares (or its own class's methods set): state a call does not carry, as the
    call writes the instance with its fields only. A base the scan cannot read adds nothing."""
    assert fn.cls is not None
    state: set[str] = set()
    todo = [(module, fn.cls)]
    seen: set[tuple[str, str]] = set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        rec = res.class_record(*key)
        if rec is None:
            continue
        state.update(rec.private)
        todo.extend((t[1], t[2]) for _, t in res.class_bases(key[0], rec) if t[0] == "cls")
    return [n for n in fn.private_reads if n in state]


def _classify(res: Resolver, entry: FileEntry, fn: FuncRec, configured: str) -> ScanResult | None:
    module = entry.module
    try:
        shape = _self_shape(res, module, fn) or res.classify(module, fn.scope, fn.returns)
    except RecursionError:  # thousands of classes, aliases or re-exports in one chain
        shape = ("unresolved", "the chain of bases, aliases or imports behind the annotation is too deep to follow")
    if shape is None:
        return None
    deco = _decorator(res, module, fn, configured)
    model: str | None = None
    reason: str | None = None
    status: ScanStatus
    if shape[0] == "unresolved":
        status, reason = "unresolved", shape[1]
    else:
        model = shape[1] if shape[0] == "model" else shape[2]
        status = "candidate"
        # Precedence: what the def is (a stub, a validator...), then generator, then wrapped (the
        # return type itself is the first obstacle), then the other reasons a direct return cannot
        # be distilled (named in a wrapped result's reason too).
        nature = _not_distillable(res, entry, fn)
        other: str | None = None
        # a method of a class that is not (known to be) a model: its instance is not in the call, so
        # only one whose body never reads it (wave 11: python-on-whales' `_parse_json_object(self,
        # json_object)`) can be; the runtime captures that one as `Cls.method(...)`
        plain = fn.kind == "method" and fn.cls is not None and not res.is_model(("cls", module, fn.cls))[0]
        # a dataclass's method: its instance is written into the call, as a model's (wave 10: hera's
        # `Parameter.as_input()`), when a call text can write it (`writable.dataclass_self`)
        dc_self = _dataclass_self(res, module, fn.cls) if plain else None
        if dc_self is not None:
            plain = False
        if shape[0] == "model" and model in res.roots.values():
            other = f"returns {model} itself (no concrete schema to train on)"
        elif v1 := _maybe_v1(res, module, fn, model):
            other = v1
        elif "<locals>" in model:
            other = f"return model {model.rsplit('.', 1)[-1]} is defined inside a function (its schema cannot be imported)"
        elif fn.kind == "property":
            other = "property (no call to distil)"
        elif fn.decorators and (made := _makes_property(res, module, fn)):
            other = made
        elif plain and fn.reads_instance:
            other = f"instance method of non-model class {fn.cls} (its state is not in the call)"
        elif plain and not fn.takes_args:  # never reads `self`: judged as a function of its arguments
            other = "takes no arguments (a call carries nothing its answer could depend on)"
        elif dc_self:
            other = f"self is {dc_self}" + ("" if "__post_init__" in dc_self else " (no call can write its value)")
        elif fn.no_input and not (deco is not None and fn.no_input.startswith(NO_IMPLEMENTATION)):
            # a dispatch stub (`@instructions.distil(mode="dispatch", ...)` over a docstring) has all
            # the body it needs: the model answers
            other = fn.no_input
        elif secret := _secret_answer(res, module, fn, model):
            other = secret
        elif fn.kind == "method" and fn.cls is not None and not plain and (secret := _secret_self(res, module, fn.cls)):
            other = secret
        elif fn.calls and (outside := _outside_call(res, module, fn)):
            other = outside
        elif fn.private_reads and (hit := _private_state_read(res, module, fn)):
            shown = ", ".join(f"`self.{n}`" for n in hit[:3])
            other = f"reads private state {shown} (not in the call: an instance is written with its fields only)"
        elif fn.params and (live := _unwritable_param(res, module, fn)):
            other = live
        if nature:
            status, reason = "ineligible", nature
        elif fn.is_generator:
            status, reason = "ineligible", "async generator" if fn.is_async else "generator"
        elif shape[0] == "wrapped":
            status, reason = "wrapped", f"wrapped in {shape[1]}" + (f"; also {other}" if other else "")
        elif other:
            status, reason = "ineligible", other
        if status == "candidate" and deco is not None:
            status = "decorated"
    return ScanResult(
        path=entry.rel, qualname=fn.qualname, lineno=fn.lineno, col=fn.col, end_lineno=fn.end_lineno,
        model=model, status=status, reason=reason, decorator=deco, is_async=fn.is_async, module=module,
        kind="method" if fn.kind == "property" else fn.kind, decorator_lineno=fn.decorator_lineno,
    )


def _dir_stamp(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _config_key(config: Config, root: Path, extra: Iterable[Any], search_path: Iterable[str]) -> str:
    # A search-path folder's mtime changes when a package is installed or removed there (pip always
    # adds or drops a top-level dist-info): a module the last scan could not find may exist now.
    path = [(p, _dir_stamp(p)) for p in search_path]
    payload = json.dumps([config.as_dict(), str(root), list(extra), path, INDEX_VERSION], sort_keys=True, default=str)
    return blake2b(payload.encode(), digest_size=16).hexdigest()


def scan_project(
    paths: list[Path],
    *,
    config: Config | None = None,
    select: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    include_generated: bool = False,
    use_cache: bool = True,
    shifted: Mapping[str, ShiftedFile] | None = None,
) -> ScanReport:
    """`shifted`: the files `apply` just edited by inserting lines (see `_index_files`)."""
    # The scan allocates many small, acyclic tuples: the cyclic collector only slows that down.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            return _scan_project(paths, config, select, exclude, include_generated, use_cache, shifted=shifted)
        except (InternalError, TypeError, ValueError, AttributeError, KeyError, IndexError):
            if not use_cache:
                raise
            # A cache entry of the right outline but wrong contents (a committed or damaged file):
            # redo the scan without reading the cache; a real bug raises again from there.
            return _scan_project(paths, config, select, exclude, include_generated, use_cache, read_cache=False)
    finally:
        if was_enabled:
            gc.enable()


class _ScanPlan(NamedTuple):  # not a dataclass: ~6x cheaper to define, on the warm `check` path
    """What one scan reads, and the key its stored report must match to be reused."""

    root: Path
    config: Config
    entries: list[FileEntry]
    walk_errors: list[tuple[str, str]]
    import_roots: list[Path]
    project_path: list[str]
    """The project's interpreter's sys.path: where third-party bases are located."""
    key: str
    stats: tuple[FileStat, ...]
    include_generated: bool
    cache: ScanCache


class _Indexed(NamedTuple):
    """Every scanned file's index (FileIndex or an ("error", reason) entry), and the cache entries to keep."""

    by_rel: dict[str, Any]
    files: dict[str, CachedFile]


class _Reuse(NamedTuple):
    """Results of the last scan still valid for files whose dependencies did not change."""

    by_path: dict[str, tuple[ScanResult, ...]]
    ext_used: dict[str, tuple[int, int]]
    deps: dict[str, frozenset[str]]


def _scan_project(
    paths: list[Path],
    config: Config | None,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    include_generated: bool,
    use_cache: bool,
    read_cache: bool = True,
    shifted: Mapping[str, ShiftedFile] | None = None,
) -> ScanReport:
    plan = _plan(paths, config, select, exclude, include_generated, use_cache)
    stored = plan.cache.load_results() if read_cache else None
    if stored is not None and stored.key == plan.key and stored.stats == plan.stats and _ext_unchanged(stored.ext):
        # nothing changed since the last scan: the stored report, without reading any index
        return ScanReport(root=plan.root, results=stored.results, errors=stored.errors, files_scanned=len(plan.entries),
                          modules=frozenset(s.module for s in plan.stats))
    from .resolve import Resolver

    index_cache = plan.cache.load_index() if read_cache else IndexCache({}, {})
    indexed = _index_files(plan.entries, index_cache.files, shifted)
    modules, errors = _modules(plan, indexed.by_rel)
    digests = {e.rel: indexed.files[e.path].digest if e.path in indexed.files else None for e in plan.entries}
    reuse = _reusable(plan, stored, digests)
    search = [str(r) for r in plan.import_roots] + [p for p in plan.project_path if p and os.path.isdir(p)]
    locator = _Locator(search, index_cache.ext)
    resolver = Resolver(modules, locator, plan.config.model_bases)
    deps = dict(reuse.deps)
    by_path = _classify_files(plan, modules, resolver, reuse, select, exclude, deps)
    results = sorted((r for rs in by_path.values() for r in rs), key=lambda r: (r.path, r.lineno, r.col))
    errors.sort(key=lambda x: x.path)
    report = ScanReport(root=plan.root, results=tuple(results), errors=tuple(errors), files_scanned=len(plan.entries),
                        modules=frozenset(s.module for s in plan.stats))
    if use_cache:
        ext_used = {**reuse.ext_used, **locator.used}
        plan.cache.save(
            IndexCache(indexed.files, {k: v for k, v in index_cache.ext.items() if k in ext_used}),
            StoredScan(key=plan.key, stats=plan.stats, ext=ext_used, results=report.results, errors=report.errors,
                       by_path=by_path, digests=digests, deps=deps),
        )
    return report


def _plan(paths: list[Path], config: Config | None, select: tuple[str, ...], exclude: tuple[str, ...],
          include_generated: bool, use_cache: bool) -> _ScanPlan:
    """Check the paths, read the configuration, list the files: everything before any file is read."""
    if not paths:
        paths = [Path(".")]
    for p in paths:
        if not os.path.lexists(p):
            raise UsageError(f"path does not exist: {p}")
    if config is None:
        config = load_config(paths[0])
    root = scan_root(paths, config)
    include_generated = include_generated or config.include_generated
    import_roots = source_roots(root, config.source_roots)
    entries, walk_errors = discover(paths, root, config.include, config.exclude, import_roots)
    cache = ScanCache(config.cache_path if config.pyproject is not None else root / config.cache_dir, use_cache)
    # third-party bases are located on the project's interpreter's path, not distilgen's own
    project_path = find_interpreter(config, use_cache=use_cache).sys_path
    key = _config_key(config, root, [select, exclude, include_generated, [str(p) for p in paths]], project_path)
    stats = tuple(FileStat(e.rel, e.mtime_ns, e.size, e.module) for e in entries)
    return _ScanPlan(root, config, entries, walk_errors, list(import_roots), list(project_path), key, stats,
                     include_generated, cache)


def _index_files(entries: list[FileEntry], cached: dict[str, CachedFile],
                 shifted: Mapping[str, ShiftedFile] | None = None) -> _Indexed:
    """Each file's index: from the cache when its mtime and size (or, touched, its digest) match,
    moved from its index before the edit for a file `apply` just edited by inserting lines
    (`shifted`, by path: `index_shift`), else built."""
    by_rel: dict[str, Any] = {}
    files: dict[str, CachedFile] = {}
    stale: list[FileEntry] = []
    for e in entries:
        hit = cached.get(e.path)
        if hit is not None and hit.mtime_ns == e.mtime_ns and hit.size == e.size:
            by_rel[e.rel] = hit.index
            files[e.path] = hit
        else:
            stale.append(e)
    todo: list[FileEntry] = []
    for e in stale:
        hit = cached.get(e.path)
        if hit is not None and hit.size == e.size and _same_digest(e.path, hit.digest):
            # a touched-but-identical file: one read, no parse
            by_rel[e.rel] = hit.index
            files[e.path] = hit._replace(mtime_ns=e.mtime_ns)
        elif hit is not None and shifted and e.rel in shifted and (moved := _moved(e, hit, shifted[e.rel])) is not None:
            by_rel[e.rel] = moved
            files[e.path] = CachedFile(e.mtime_ns, e.size, shifted[e.rel].new_digest, moved)
        else:
            todo.append(e)
    for e, (dg, idx) in zip(todo, _index_many([e.path for e in todo], [e.size for e in todo])):
        by_rel[e.rel] = idx
        if dg is not None:
            files[e.path] = CachedFile(e.mtime_ns, e.size, dg, idx)
    return _Indexed(by_rel, files)


def _moved(e: FileEntry, hit: CachedFile, edit: ShiftedFile) -> FileIndex | None:
    """The index of a file `apply` edited by inserting lines, moved from its index before the edit:
    only when that index is of the text the edit read, and the file holds what the edit wrote."""
    if hit.digest != edit.old_digest:
        return None
    old = hit.index if isinstance(hit.index, FileIndex) else thaw(hit.index)
    if not isinstance(old, FileIndex):
        return None  # an ("error", reason) entry
    try:
        with open(e.path, "rb") as fh:
            data = fh.read()
        if digest(data) != edit.new_digest:
            return None
        return shifted_index(old, edit.edit, decode(data))
    except (OSError, UnindexableFile):
        return None


def _same_digest(path: str, expected: bytes) -> bool:
    try:
        with open(path, "rb") as fh:
            return digest(fh.read()) == expected
    except OSError:
        return False


def _modules(plan: _ScanPlan, indexes: dict[str, Any]) -> tuple[dict[str, Module], list[FileError]]:
    """The scanned modules by name (the first file of a name wins), and every file that failed."""
    from .resolve import Module

    errors: list[FileError] = [FileError(p, r) for p, r in plan.walk_errors]
    modules: dict[str, Module] = {}
    for e in plan.entries:
        idx = indexes[e.rel]
        if isinstance(idx, tuple) and idx and idx[0] == "error":
            errors.append(FileError(e.rel, idx[1]))
            continue
        modules.setdefault(e.module, Module(e.module, e.is_pkg, idx, e.rel))
    return modules, errors


def _reusable(plan: _ScanPlan, stored: StoredScan | None, digests: dict[str, bytes | None]) -> _Reuse:
    """Same settings, some files changed: a file's results are reused unless its module or one of
    the modules its resolution read (recorded last time) changed. A file added, removed or named
    another module changes its module names: a resolution that looked one up recorded it, whether
    it was found then or not (`apply` adds the instructions module: only the files that could
    have named it are resolved again, not the whole tree)."""
    if stored is None or stored.key != plan.key or not _ext_unchanged(stored.ext):
        return _Reuse({}, {}, {})
    before = {s.rel: s.module for s in stored.stats}
    now = {s.rel: s.module for s in plan.stats}
    changed = {m for rel, m in before.items() if now.get(rel) != m} | {m for rel, m in now.items() if before.get(rel) != m}
    changed |= {e.module for e in plan.entries if digests[e.rel] is None or digests[e.rel] != stored.digests.get(e.rel)}
    by_path = {e.rel: stored.by_path.get(e.rel, ()) for e in plan.entries
               if e.module not in changed and e.rel in stored.deps and changed.isdisjoint(stored.deps[e.rel])}
    return _Reuse(by_path, dict(stored.ext), {rel: stored.deps[rel] for rel in by_path})


def _classify_files(plan: _ScanPlan, modules: dict[str, Module], resolver: Resolver, reuse: _Reuse,
                    select: tuple[str, ...], exclude: tuple[str, ...],
                    deps: dict[str, frozenset[str]]) -> dict[str, tuple[ScanResult, ...]]:
    """Each file's selected results (reused, or classified now; `deps` gets what each one read)."""
    by_path: dict[str, tuple[ScanResult, ...]] = {}
    for e in plan.entries:
        if e.rel in reuse.by_path:
            by_path[e.rel] = reuse.by_path[e.rel]
            continue
        m = modules.get(e.module)
        if m is None or m.path != e.rel or m.index is None:
            continue
        if m.index.generated and not plan.include_generated and not e.explicit:
            continue
        found = tuple(r for r in _classify_file(resolver, e, m.index, plan.config.instructions, deps)
                      if _selected(r, select, exclude))
        if found:
            by_path[e.rel] = found
    return by_path


def _classify_file(resolver: Resolver, e: FileEntry, index: FileIndex, configured: str,
                   deps: dict[str, frozenset[str]]) -> list[ScanResult]:
    resolver.begin()
    try:
        classified = [_classify(resolver, e, fn, configured) for fn in index.funcs]
    except DistilgenError:
        raise
    except Exception as exc:  # a bug, not the file's fault: name the file, stop
        raise InternalError(f"{e.rel}: while resolving its functions: {type(exc).__name__}: {exc}") from exc
    finally:
        deps[e.rel] = frozenset(resolver.end())
    return _one_definition_per_id([r for r in classified if r is not None])


def _one_definition_per_id(results: list[ScanResult]) -> list[ScanResult]:
    """Candidates whose qualname another distillable definition in the file shares (a nested
    function defined in both branches of an `if`, browser-use's `mcp_action_wrapper`) are
    ineligible: both would carry one function id, and the lock keeps one entry per id, so
    `prompts` recorded one and `check` reported the other forever."""
    seen: dict[str, list[int]] = {}
    for r in results:
        if r.status in ("candidate", "decorated"):
            seen.setdefault(r.qualname, []).append(r.lineno)
    if all(len(lines) == 1 for lines in seen.values()):
        return results
    out = []
    for r in results:
        lines = seen.get(r.qualname, [])
        if r.status == "candidate" and len(lines) > 1:
            others = ", ".join(str(n) for n in lines if n != r.lineno)
            r = replace(r, status="ineligible",
                        reason=f"defined again at line {others}: one function id for two definitions")
        out.append(r)
    return out


def _selected(r: ScanResult, select: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if select and not any(matches(r, p) for p in select):
        return False
    return not (exclude and any(matches(r, p) for p in exclude))


def _ext_unchanged(ext: dict[str, tuple[int, int]]) -> bool:
    for path, (mtime, size) in ext.items():
        try:
            st = os.stat(path)
        except OSError:
            return False
        if st.st_mtime_ns != mtime or st.st_size != size:
            return False
    return True
