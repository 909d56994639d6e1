"""Which files a scan reads: walk the paths, honour .gitignore and include/exclude globs.

Also names each file's module (`roots.module_name`) and reports what cannot be
walked (symlink loops, broken links, unreadable folders) exactly once each.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

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
    import_roots = tuple(str(r) for r in (roots if roots is not None else source_roots(root, ())))
    inc, excluded = GlobSet(include), GlobSet(exclude)
    entries: dict[str, FileEntry] = {}
    errors: dict[str, str] = {}
    ancestors = _ancestor_gitignores(root)

    root_prefix = root_s.rstrip(os.sep) + os.sep

    def rel_of(p: str) -> str:
        if p.startswith(root_prefix):  # the common case, without os.path.relpath's cost
            r = p[len(root_prefix):]
        else:
            r = os.path.relpath(p, root_s)
        return "" if r == "." else r.replace(os.sep, "/") if os.sep != "/" else r

    def ignored(rules: list[_Rules], rel: str, is_dir: bool) -> bool:
        verdict = None
        for gi in rules:
            v = gi.verdict(rel, is_dir)
            if v is not None:
                verdict = v
        return bool(verdict)

    def add(p: str, rel: str, st: os.stat_result, explicit: bool) -> None:
        mod, is_pkg = module_name(p, import_roots)
        entries.setdefault(rel, FileEntry(rel, p, st.st_mtime_ns, st.st_size, mod, is_pkg, explicit))

    def gitignores_for(folder: str) -> list[_Rules]:
        """Rules that apply inside `folder`: the ancestors' plus every .gitignore from root down."""
        rules = list(ancestors)
        rel = rel_of(folder)
        if rel.startswith(".."):
            gi = _read_gitignore(folder, "")
            return [gi] if gi else []
        parts = rel.split("/") if rel else []
        d = root_s
        gi = _read_gitignore(d, "")
        if gi:
            rules.append(gi)
        for i, part in enumerate(parts):
            d = os.path.join(d, part)
            gi = _read_gitignore(d, "/".join(parts[: i + 1]))
            if gi:
                rules.append(gi)
        return rules

    for given in paths:
        p = os.path.abspath(str(given))
        try:
            st = os.stat(p)
        except OSError as oserr:
            errors[rel_of(p) or str(given)] = _os_reason(oserr, p)  # same key as the walk: reported once
            continue
        if stat.S_ISREG(st.st_mode):
            add(p, rel_of(p), st, True)
            continue
        if not stat.S_ISDIR(st.st_mode):
            errors[rel_of(p) or str(given)] = "not a file or folder"
            continue
        rules0 = gitignores_for(p)
        real = os.path.realpath(p)
        stack: list[tuple[str, list[_Rules], tuple[str, ...]]] = [(p, rules0, (real,))]
        while stack:
            folder, rules, chain = stack.pop()
            try:
                with os.scandir(folder) as it:
                    items = sorted(it, key=lambda e: e.name)
            except OSError as oserr:
                errors[rel_of(folder) or "."] = _os_reason(oserr, folder)
                continue
            subdirs = []
            for e in items:
                name = e.name
                rel = rel_of(e.path)
                try:
                    is_dir = e.is_dir()
                    is_file = not is_dir and e.is_file()
                except OSError as err:
                    errors[rel] = _os_reason(err, e.path)
                    continue
                if is_dir:
                    if name in DEFAULT_SKIP_DIRS or ignored(rules, rel, True) or excluded.match(rel, True):
                        continue
                    if e.is_symlink():
                        target = os.path.realpath(e.path)
                        if target in chain or any(c.startswith(target + os.sep) for c in chain):
                            errors[rel] = f"symlink loop: points back to {os.readlink(e.path)}"
                            continue
                    subdirs.append((e.path, name, rel))
                elif is_file:
                    if not name.endswith(".py"):
                        continue
                    if ignored(rules, rel, False) or excluded.match(rel) or (inc and not inc.match(rel)):
                        continue
                    try:
                        add(e.path, rel, e.stat(), False)
                    except OSError as err:
                        errors[rel] = _os_reason(err, e.path)
                elif name.endswith(".py") or e.is_symlink():
                    try:
                        os.stat(e.path)
                    except OSError as err:
                        if not ignored(rules, rel, False):
                            errors[rel] = _os_reason(err, e.path)
            for path, name, rel in reversed(subdirs):
                gi = _read_gitignore(path, rel)
                stack.append((path, rules + [gi] if gi else rules, chain + (os.path.realpath(path),)))
    return [entries[k] for k in sorted(entries)], sorted(errors.items())


def _os_reason(e: OSError, path: str) -> str:
    import errno

    if e.errno == errno.ELOOP:
        return "symlink loop"
    if e.errno == errno.ENOENT and os.path.islink(path):
        return f"broken symlink (points to {os.readlink(path)})"
    if e.errno == errno.EACCES:
        return "permission denied"
    return e.strerror or str(e)
