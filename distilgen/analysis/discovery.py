"""Which files a scan reads: walk the paths, honour .gitignore and include/exclude globs.

Also names each file's module (`roots.module_name`) and reports what cannot be
walked (symlink loops, broken links, unreadable folders) exactly once each.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Sequence

from .._globs import glob_regex
from .roots import module_name, source_roots

__all__ = ["FileEntry", "discover", "glob_regex", "GlobSet", "module_name"]

# Folders nobody wants scanned (ruff's defaults, plus our own cache).
DEFAULT_SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".bzr", "__pycache__", ".distilgen_cache", ".venv", "venv", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".pytype", ".eggs", "node_modules", "__pypackages__",
    "_build", "buck-out", ".direnv",
})


@dataclass(frozen=True)
class FileEntry:
    """One .py file a scan reads, with the stat and module name it was found with."""

    rel: str
    """Path relative to the scan root, posix."""
    path: str
    """Absolute path (symlinks not resolved)."""
    mtime_ns: int
    size: int
    module: str
    is_pkg: bool
    explicit: bool
    """Named on the command line (never dropped by include/exclude globs)."""


class GlobSet:
    """Patterns with a `/` match the whole relative path; others match any single path component."""

    def __init__(self, patterns: tuple[str, ...] | list[str]) -> None:
        self.patterns = tuple(p for p in (p.strip() for p in patterns) if p)
        self._full = [glob_regex(p.lstrip("/").rstrip("/")) for p in self.patterns if "/" in p.rstrip("/")]
        self._name = [glob_regex(p.rstrip("/")) for p in self.patterns if "/" not in p.rstrip("/")]

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def match(self, rel: str, is_dir: bool = False) -> bool:
        for rx in self._full:
            if rx.match(rel) or (is_dir and rx.match(rel + "/")):
                return True
        if self._name:
            for part in rel.split("/"):
                for rx in self._name:
                    if rx.match(part):
                        return True
        return False


class _GitIgnore:
    """The rules of one .gitignore file, relative to its folder."""

    def __init__(self, base: str, text: str) -> None:
        self.base = base  # folder relative to the scan root ("" for the root), posix
        self.rules: list[tuple[re.Pattern[str], bool, bool, bool]] = []  # (rx, negate, dir_only, anchored)
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            if line.startswith("\\"):
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line
            line = line.lstrip("/")
            if line:
                self.rules.append((glob_regex(line), negate, dir_only, anchored))

    def verdict(self, rel: str, is_dir: bool) -> bool | None:
        """True ignored, False re-included, None no rule matched. `rel` is relative to the scan root."""
        if self.base:
            if not rel.startswith(self.base + "/"):
                return None
            rel = rel[len(self.base) + 1 :]
        name = rel.rsplit("/", 1)[-1]
        result = None
        for rx, negate, dir_only, anchored in self.rules:
            if dir_only and not is_dir:
                continue
            if rx.match(rel if anchored else name):
                result = not negate
        return result


def _read_gitignore(folder: str, base: str) -> _GitIgnore | None:
    try:
        with open(os.path.join(folder, ".gitignore"), encoding="utf-8", errors="replace") as fh:
            return _GitIgnore(base, fh.read())
    except OSError:
        return None


def _ancestor_gitignores(root: Path) -> list[_Rules]:
    """`.gitignore`s above the root, up to the repository's top, as rules over root-relative paths."""
    chain: list[Path] = []
    for d in (root, *root.parents):
        if (d / ".git").exists():
            chain = [p for p in (root, *root.parents) if p == d or d in p.parents]
            break
    else:
        return []
    out: list[_Rules] = []
    for d in reversed(chain[1:]):  # the top first; the root's own file is read by the walk
        gi = _read_gitignore(str(d), "")
        if gi is not None:
            prefix = root.relative_to(d).as_posix()
            out.append(_PrefixedGitIgnore(gi, prefix))
    return out


class _PrefixedGitIgnore:
    """An ancestor's .gitignore: paths are re-prefixed with the root's place under that ancestor."""

    def __init__(self, inner: _GitIgnore, prefix: str) -> None:
        self.inner, self.prefix = inner, prefix

    def verdict(self, rel: str, is_dir: bool) -> bool | None:
        return self.inner.verdict(f"{self.prefix}/{rel}" if rel else self.prefix, is_dir)


_Rules = _GitIgnore | _PrefixedGitIgnore
"""One .gitignore's rules, over paths relative to the scan root."""


class _WalkSettings(NamedTuple):  # not a dataclass: ~6x cheaper to define, on the warm `check` path
    """What every step of one discovery shares."""

    root: str
    root_prefix: str
    import_roots: tuple[str, ...]
    include: GlobSet
    exclude: GlobSet
    ancestors: tuple[_Rules, ...]
    """The .gitignores above the root (up to the repository's top)."""

    def rel(self, p: str) -> str:
        if p.startswith(self.root_prefix):  # the common case, without os.path.relpath's cost
            r = p[len(self.root_prefix):]
        else:
            r = os.path.relpath(p, self.root)
        return "" if r == "." else r.replace(os.sep, "/") if os.sep != "/" else r


class _Folder(NamedTuple):
    """A folder still to walk, with the .gitignore rules in force there and its real-path chain."""

    path: str
    rules: tuple[_Rules, ...]
    chain: tuple[str, ...]
    """Real paths of this folder and its walked parents: a symlink back into one is a loop."""


@dataclass
class _Found:
    """What a walk found so far: the files, and the paths it could not walk."""

    entries: dict[str, FileEntry] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    """rel path -> why it could not be walked (reported once each)."""


def discover(
    paths: list[Path],
    root: Path,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    roots: Sequence[Path] | None = None,
) -> tuple[list[FileEntry], list[tuple[str, str]]]:
    """Every .py file to scan under `paths`, and (path, reason) for what could not be walked.

    Modules are named from the source `roots` (default: `roots.source_roots(root)`)."""
    root_s = str(root)
    settings = _WalkSettings(
        root=root_s, root_prefix=root_s.rstrip(os.sep) + os.sep,
        import_roots=tuple(str(r) for r in (roots if roots is not None else source_roots(root, ()))),
        include=GlobSet(include), exclude=GlobSet(exclude), ancestors=tuple(_ancestor_gitignores(root)),
    )
    found = _Found()
    for given in paths:
        start = _start(settings, os.path.abspath(str(given)), str(given), found)
        stack = [start] if start is not None else []
        while stack:
            stack.extend(reversed(_walk_folder(settings, stack.pop(), found)))
    return [found.entries[k] for k in sorted(found.entries)], sorted(found.errors.items())


def _start(settings: _WalkSettings, p: str, given: str, found: _Found) -> _Folder | None:
    """A path named on the command line: a file is added (whatever the globs say), a folder is walked."""
    try:
        st = os.stat(p)
    except OSError as oserr:
        found.errors[settings.rel(p) or given] = _os_reason(oserr, p)  # same key as the walk: reported once
        return None
    if stat.S_ISREG(st.st_mode):
        _add(settings, found, p, settings.rel(p), st, explicit=True)
        return None
    if not stat.S_ISDIR(st.st_mode):
        found.errors[settings.rel(p) or given] = "not a file or folder"
        return None
    return _Folder(p, _gitignores_for(settings, p), (os.path.realpath(p),))


def _add(settings: _WalkSettings, found: _Found, p: str, rel: str, st: os.stat_result, explicit: bool) -> None:
    mod, is_pkg = module_name(p, settings.import_roots)
    found.entries.setdefault(rel, FileEntry(rel, p, st.st_mtime_ns, st.st_size, mod, is_pkg, explicit))


def _ignored(rules: tuple[_Rules, ...], rel: str, is_dir: bool) -> bool:
    verdict = None
    for gi in rules:
        v = gi.verdict(rel, is_dir)
        if v is not None:
            verdict = v
    return bool(verdict)


def _gitignores_for(settings: _WalkSettings, folder: str) -> tuple[_Rules, ...]:
    """Rules that apply inside `folder`: the ancestors' plus every .gitignore from root down."""
    rel = settings.rel(folder)
    if rel.startswith(".."):
        gi = _read_gitignore(folder, "")
        return (gi,) if gi else ()
    rules = list(settings.ancestors)
    parts = rel.split("/") if rel else []
    d = settings.root
    gi = _read_gitignore(d, "")
    if gi:
        rules.append(gi)
    for i, part in enumerate(parts):
        d = os.path.join(d, part)
        gi = _read_gitignore(d, "/".join(parts[: i + 1]))
        if gi:
            rules.append(gi)
    return tuple(rules)


def _walk_folder(settings: _WalkSettings, folder: _Folder, found: _Found) -> list[_Folder]:
    """Add the folder's .py files; return its subfolders to walk, in name order."""
    try:
        with os.scandir(folder.path) as it:
            items = sorted(it, key=lambda e: e.name)
    except OSError as oserr:
        found.errors[settings.rel(folder.path) or "."] = _os_reason(oserr, folder.path)
        return []
    subdirs: list[_Folder] = []
    for e in items:
        rel = settings.rel(e.path)
        try:
            is_dir = e.is_dir()
            is_file = not is_dir and e.is_file()
        except OSError as err:
            found.errors[rel] = _os_reason(err, e.path)
            continue
        if is_dir:
            sub = _subfolder(settings, folder, e, rel, found)
            if sub is not None:
                subdirs.append(sub)
        elif is_file:
            _file(settings, folder, e, rel, found)
        elif e.name.endswith(".py") or (e.is_symlink() and "." not in e.name):
            # a dangling `x.py`, or a dangling link that could have been a package folder; not
            # `modules.conf` or `node`: a scan reports what could have been Python source
            _dangling(folder, e, rel, found)
    return subdirs


def _setuptools_build(path: str) -> bool:
    """`build/` as setuptools leaves it (`build/lib/pkg/...`, `build/bdist.linux-x86_64/`): a second
    copy of the package, which a scan would list (and `apply` decorate) under `build.lib.pkg...`
    (wave 6: docling-core after `pip wheel`). A package named `build` has an `__init__.py`."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return "__init__.py" not in names and any(n == "lib" or n.startswith(("lib.", "bdist.")) for n in names)


def _subfolder(settings: _WalkSettings, folder: _Folder, e: os.DirEntry[str], rel: str, found: _Found) -> _Folder | None:
    if e.name in DEFAULT_SKIP_DIRS or _ignored(folder.rules, rel, True) or settings.exclude.match(rel, True):
        return None
    if e.name == "build" and _setuptools_build(e.path):
        return None
    if e.is_symlink():
        target = os.path.realpath(e.path)
        if target in folder.chain or any(c.startswith(target + os.sep) for c in folder.chain):
            try:
                found.errors[rel] = f"symlink loop: points back to {os.readlink(e.path)}"
            except OSError:  # replaced meanwhile
                found.errors[rel] = "symlink loop"
            return None
    gi = _read_gitignore(e.path, rel)
    return _Folder(e.path, folder.rules + (gi,) if gi else folder.rules, folder.chain + (os.path.realpath(e.path),))


def _file(settings: _WalkSettings, folder: _Folder, e: os.DirEntry[str], rel: str, found: _Found) -> None:
    if not e.name.endswith(".py"):
        return
    if _ignored(folder.rules, rel, False) or settings.exclude.match(rel) or (settings.include and not settings.include.match(rel)):
        return
    try:
        _add(settings, found, e.path, rel, e.stat(), explicit=False)
    except OSError as err:
        found.errors[rel] = _os_reason(err, e.path)


def _dangling(folder: _Folder, e: os.DirEntry[str], rel: str, found: _Found) -> None:
    """Neither file nor folder: a broken symlink or a special file; reported when it looks like source."""
    try:
        os.stat(e.path)
    except OSError as err:
        if not _ignored(folder.rules, rel, False):
            found.errors[rel] = _os_reason(err, e.path)


def _os_reason(e: OSError, path: str) -> str:
    import errno

    if e.errno == errno.ELOOP:
        return "symlink loop"
    if e.errno == errno.ENOENT and os.path.islink(path):
        try:
            return f"broken symlink (points to {os.readlink(path)})"
        except OSError:  # gone meanwhile (a process's /proc entry, a file being replaced)
            return "broken symlink"
    if e.errno == errno.EACCES:
        return "permission denied"
    return e.strerror or str(e)
