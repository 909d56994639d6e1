"""What a distilled function's prompt and answer schema depend on, read statically.

`distilgen check` must catch a field edited in a return model three modules away without importing
anything (it runs in pre-commit's isolated environment). So beside each prompt the lock records a
static fingerprint (`prompts.render.static_fingerprint`): the prompt plus the *closure digest*
computed here, over the source text of

- the return model's class statement, and recursively
- its base classes and the types named in its field annotations (and theirs),
- type aliases (`Status = Literal[...]`) by their expression,

as far as they are defined in the project. A class from a third-party package contributes its
dotted name only: its body belongs to a pinned dependency, and the hook's environment may not
have it (a pydantic or sqlmodel upgrade is a job for `distilgen prompts --check` in CI).

Everything is read once per run: one discovery walk, each file's index from the scan's cache (or
built once; it holds each class statement's span and field annotations), each file whose class
statements are needed read once and sliced, never parsed again. Results are cached as JSON in
the cache folder per function, keyed on the (mtime, size) of every file they read and on the
module names they looked up and did not find in the project (a file added under one of those
names changes what a name resolves to), so a warm `check` stats a few files and parses nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, TypeGuard

from .._version import __version__
from ..config import Config
from .cache import ScanCache
from .discovery import FileEntry, discover
from .file_index import INDEX_VERSION, UnindexableFile, build_index, conv_names
from .roots import source_roots
from .._hashes import blake2b

if TYPE_CHECKING:  # imported where a closure is computed: a warm check reads cached facts only
    from ..prompts.recording import ModuleSource
    from .resolve import Module, Resolver

__all__ = ["StaticFacts", "prompt_digest"]

_FORMAT = 3


class _Texts:
    """Module texts, each read at most once per run. Nothing here parses a whole module: the
    closures slice class statements out at the positions the index recorded, the prompts parse
    a function's own lines."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._texts: dict[str, ModuleSource | None] = {}

    def source(self, rel: str) -> ModuleSource | None:
        if rel not in self._texts:
            from ..prompts.recording import ModuleSource, read_source

            try:
                text = read_source(self.root / rel)
                self._texts[rel] = ModuleSource(text)
            except (OSError, SyntaxError, UnicodeDecodeError):
                self._texts[rel] = None
        return self._texts[rel]


class _Files:
    """The project's modules as the resolver needs them: one walk, indexes from the scan's cache."""

    def __init__(self, root: Path, config: Config) -> None:
        from .resolve import Module

        self.root = root
        entries, _ = discover([root], root, config.include, config.exclude)
        self.by_module: dict[str, FileEntry] = {}
        for e in entries:
            self.by_module.setdefault(e.module, e)
        cached = ScanCache(config.cache_path).load_index().files
        self.modules: dict[str, Module] = {}
        for name, e in self.by_module.items():
            hit = cached.get(e.path)
            if hit is not None and hit.mtime_ns == e.mtime_ns and hit.size == e.size:
                idx = hit.index
            else:
                try:
                    with open(e.path, "rb") as fh:
                        idx = build_index(fh.read(), e.path)
                except (OSError, UnindexableFile):
                    idx = None
            if isinstance(idx, tuple) and idx and idx[0] == "error":
                idx = None
            self.modules[name] = Module(name, e.is_pkg, idx, e.rel)
        self.roots = [Path(r) for r in source_roots(root)]
        self.located: dict[str, str] = {}
        """Modules found as files under the source roots by a name the discovery did not give them
        (a namespace package's modules): name -> path relative to the root."""

    def locate(self, name: str) -> Module | None:
        """`name` as a project file under a source root, read like a scanned one; None elsewhere
        (third-party modules are never read: their classes count by name)."""
        from .resolve import Module

        parts = name.split(".")
        for base in self.roots:
            for path, is_pkg in _module_files(base, parts):
                if path.is_file():
                    try:
                        idx: Any = build_index(path.read_bytes(), str(path))
                    except (OSError, UnindexableFile):
                        idx = None
                    rel = path.relative_to(self.root).as_posix()
                    self.located[name] = rel
                    return Module(name, is_pkg, idx, rel)
            if base.joinpath(*parts).is_dir():
                return Module(name, True, build_index(b"", name), None)  # a namespace folder
        return None


def _module_files(base: Path, parts: list[str]) -> tuple[tuple[Path, bool], ...]:
    """Where module `parts` is a file under source root `base`: (path, is a package), in order."""
    return ((base.joinpath(*parts[:-1], parts[-1] + ".py"), False), (base.joinpath(*parts, "__init__.py"), True))


def _digest(text: str) -> str:
    return blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def prompt_digest(prompt: str) -> str:
    """What the facts cache keeps of a prompt (the text itself would make it slow to load)."""
    return _digest(prompt)


class StaticFacts:
    """Per project run: each decorated function's closure digest and statically rendered prompt.

    `closure(r)` and `prompt(r, tool, include_body)` take scan records (`path`, `qualname`,
    `lineno`, `module`); `save()` writes the cache. Nothing is imported. `modules`: the module
    names of the project's files today (`ScanReport.modules`), so that a cached answer which
    looked one of them up in vain is computed again."""

    def __init__(self, root: Path, config: Config, *, modules: Iterable[str] = (), use_cache: bool = True) -> None:
        self.root = Path(root)
        self._modules = frozenset(modules)
        self._appeared: dict[str, bool] = {}
        self._root_s = str(self.root)
        self.config = config
        self.use_cache = use_cache
        key = blake2b(json.dumps([__version__, INDEX_VERSION, _FORMAT, str(self.root), list(config.model_bases),
                                          list(config.include), list(config.exclude)]).encode(), digest_size=6).hexdigest()
        self.cache_file = config.cache_path / f"check-facts-{key}.json"
        self._cache: dict[str, Any] = self._load() if use_cache else {}
        self._entries: dict[str, Any] = self._cache.get("entries", {}) if isinstance(self._cache.get("entries"), dict) else {}
        self._changed: set[str] | None = None
        self._fresh: dict[str, dict[str, Any]] = {}
        self._dirty = False
        self._texts = _Texts(self.root)
        self._files: _Files | None = None
        self._resolver: Resolver | None = None
        self._stats: dict[str, Any] = {}
        self._source_roots: tuple[Path, ...] | None = None

    # -- cache -----------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.cache_file.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def save(self) -> None:
        if not self.use_cache or not self._dirty:
            return
        entries = {k: v for k, v in self._entries.items() if k not in self._fresh and self._valid(v)}
        entries.update(self._fresh)
        used = {rel for e in entries.values() for rel in e["deps"]}
        data = {"files": {rel: self._stat(rel) for rel in sorted(used)}, "entries": entries}
        if "verified-lock" in self._cache:
            data["verified-lock"] = self._cache["verified-lock"]
        try:
            folder = self.cache_file.parent
            if not folder.is_dir():
                return  # the scan creates it (with its .gitignore); never litter a project
            text = json.dumps(data, separators=(",", ":"))  # dumps: several times faster than dump
            from .._atomic import write_cache_file

            write_cache_file(self.cache_file, text.encode("utf-8"))
        except OSError:
            pass

    def _stat(self, rel: str) -> Any:
        if rel not in self._stats:
            try:
                st = os.stat(os.path.join(self._root_s, rel))
                self._stats[rel] = [st.st_mtime_ns, st.st_size]
            except OSError:
                self._stats[rel] = None
        return self._stats[rel]

    @property
    def changed(self) -> set[str]:
        """Files read by cached facts that changed since: one stat per file, not per function."""
        if self._changed is None:
            files = self._cache.get("files", {})
            self._changed = {rel for rel, stamp in files.items() if self._stat(rel) != stamp} \
                if isinstance(files, dict) else set()
        return self._changed

    def _valid(self, hit: Any) -> TypeGuard[dict[str, Any]]:
        files = self._cache.get("files", {})
        return isinstance(hit, dict) and isinstance(hit.get("deps"), list) and isinstance(hit.get("absent"), list) \
            and self.changed.isdisjoint(hit["deps"]) and all(rel in files for rel in hit["deps"]) \
            and not any(self.module_exists(name) for name in hit["absent"])

    def module_exists(self, name: str) -> bool:
        """Whether module `name` is a project file now: scanned under that name, or where
        `_Files.locate` would find it (a stat or two per name, once per run)."""
        known = self._appeared.get(name)
        if known is None:
            parts = name.split(".")
            known = name in self._modules or any(
                path.is_file() for base in self._roots() for path, _ in _module_files(base, parts))
            self._appeared[name] = known
        return known

    def _roots(self) -> tuple[Path, ...]:
        if self._source_roots is None:
            self._source_roots = source_roots(self.root)
        return self._source_roots

    def _entry(self, r: Any) -> dict[str, Any]:
        key = f"{r.path}::{r.qualname}::{r.lineno}"
        fresh = self._fresh.get(key)
        if fresh is not None:
            return fresh
        stored = self._entries.get(key)
        hit = stored if self._valid(stored) else self._compute(r)
        if hit is not stored:
            self._dirty = True
        self._fresh[key] = hit
        return hit

    # -- computing -------------------------------------------------------------------------------
    def _project(self) -> tuple[_Files, Resolver]:
        if self._files is None or self._resolver is None:
            from .resolve import Resolver

            self._files = _Files(self.root, self.config)
            # third-party modules are never read: their classes count by name (see module docstring)
            self._resolver = Resolver(self._files.modules, self._files.locate, self.config.model_bases)
        return self._files, self._resolver

    def _compute(self, r: Any) -> dict[str, Any]:
        files, res = self._project()
        deps: set[str] = {r.path}
        absent: set[str] = set()
        closure: str | None = None
        m = files.modules.get(r.module) if r.module else None
        fn = None
        if m is not None and m.index is not None and m.path == r.path:
            fn = next((f for f in m.index.funcs if f.qualname == r.qualname and f.lineno == r.lineno), None)
        if fn is not None:
            res.begin()
            try:
                closure = self._closure(files, res, r.module, fn.scope, fn.returns, deps)
            finally:
                touched = res.end()
            for name in touched:
                e = files.by_module.get(name)
                if e is not None:
                    deps.add(e.rel)
                elif name in files.located:
                    deps.add(files.located[name])
                else:
                    absent.add(name)  # third-party, stdlib or missing today: a project file later
        return {"deps": sorted(deps), "absent": sorted(absent), "closure": closure, "prompts": {}}

    def _closure(self, files: _Files, res: Resolver, module: str, scope: int, returns: Any, deps: set[str]) -> str:
        items: dict[str, str] = {}
        todo: list[tuple[str, int, Any]] = [(module, scope, returns)]
        seen_exprs: set[tuple[str, int, Any]] = set()
        while todo:
            mod, sc, expr = todo.pop()
            if (mod, sc, expr) in seen_exprs:
                continue
            seen_exprs.add((mod, sc, expr))
            names: list[str] = []
            names.extend(conv_names(expr))
            for name in names:
                t = res.resolve_dotted(mod, sc, name)
                self._visit(files, res, t, items, todo, deps)
        payload = "\n".join(f"{k}\0{v}" for k, v in sorted(items.items()))
        return "closure:" + _digest(payload)

    def _visit(self, files: _Files, res: Resolver, t: tuple[Any, ...], items: dict[str, str],
               todo: list[tuple[str, int, Any]], deps: set[str]) -> None:
        from .resolve import Module

        kind = t[0]
        if kind == "cls":
            key = f"class {t[1]}.{t[2]}"
            if key in items:
                return
            found = files.modules.get(t[1]) or res.module(t[1])
            m = found if isinstance(found, Module) else None
            rec = m.index.classes.get(t[2]) if m is not None and m.index is not None else None
            path = m.path if m is not None else None
            src = self._texts.source(path) if path and rec is not None and rec.span is not None else None
            text = src.segment_at(*rec.span) if src is not None and rec is not None and rec.span is not None else None
            if rec is None or text is None or path is None:
                items[key] = "?"
                return
            deps.add(path)
            items[key] = _digest(text)
            for base in rec.bases:
                todo.append((t[1], rec.scope, base))
            for ann in rec.fields:
                todo.append((t[1], rec.body, ann))
        elif kind == "alias":
            key = f"alias {t[1]}:{t[2]} {t[3]!r}"
            if key not in items:
                items[key] = ""
                todo.append((t[1], t[2], t[3]))
        elif kind in ("ext", "missing"):
            items[f"name {t[1]}"] = ""
        elif kind == "call":
            items[f"call {t[1]}.{t[3]} = {t[4]}(...)"] = ""
        else:
            items[f"other {t!r}"] = ""

    @property
    def sources(self) -> dict[str, ModuleSource | None]:
        """The module texts read so far (path -> its text; None: unreadable), to share with
        `prompts.recording.build_records`: one read per file."""
        return self._texts._texts

    # -- the answers ---------------------------------------------------------------------------
    def closure(self, r: Any) -> str | None:
        """The closure digest of scan record `r`, or None when its definition cannot be read."""
        return self._entry(r)["closure"]  # type: ignore[no-any-return]

    def prompt(self, r: Any, tool: str, include_body: bool) -> str | None:
        """The prompt the runtime renders for `r` with this tool name and include-body setting."""
        from ..prompts.recording import scanned_lines

        src = self._texts.source(r.path)
        try:
            return src.prompt(r.qualname, tool, include_body=include_body, lineno=r.lineno,
                              lines=scanned_lines(r)) if src is not None else None
        except (SyntaxError, ValueError):
            return None

    def prompt_digest(self, r: Any, tool: str, include_body: bool) -> str | None:
        """`prompt_digest` of `prompt(r, tool, include_body)`, cached with the function's facts."""
        entry = self._entry(r)
        pkey = f"{tool}|{int(include_body)}"
        if pkey not in entry["prompts"]:
            text = self.prompt(r, tool, include_body)
            entry["prompts"][pkey] = None if text is None else prompt_digest(text)
            self._dirty = True
        return entry["prompts"][pkey]  # type: ignore[no-any-return]

    def lock_verified(self, lock_path: Path) -> bool:
        """True when the lock file is byte-for-byte the one whose fingerprints were last verified."""
        return self._cache.get("verified-lock") == self._lock_stamp(lock_path)

    def mark_lock_verified(self, lock_path: Path) -> None:
        stamp = self._lock_stamp(lock_path)
        if stamp is not None and self._cache.get("verified-lock") != stamp:
            self._cache["verified-lock"] = stamp
            self._dirty = True

    @staticmethod
    def _lock_stamp(lock_path: Path) -> list[int] | None:
        try:
            st = os.stat(lock_path)
        except OSError:
            return None
        return [st.st_mtime_ns, st.st_size, st.st_ino]

    def closures(self, results: Iterable[Any]) -> dict[str, str]:
        """`path::qualname` -> closure digest for each record that has one (what `prompts` records)."""
        out = {}
        for r in results:
            c = self.closure(r)
            if c is not None:
                out[f"{r.path}::{r.qualname}"] = c
        return out
