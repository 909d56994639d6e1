"""Source roots and module names: a file's module is the name `import` gives it from those roots.

The source roots are the folders a project's modules are imported from: the `source-roots` of
`[tool.distilgen]` (if any), then `src/` (when it is a folder and not itself a package), then the
project root (or, when the root is itself a package, the folder above its top package); this is also their order on `sys.path` wherever distilgen imports the project (the
`prompts` schema child). A file is named relative to the deepest root that contains it, every
folder on the way being a package (regular or PEP 420 namespace), exactly as
`python -c "import a.b.c"` run with those roots on `sys.path` names it: `examples/shop/api.py`
under a folder without `__init__.py` is `examples.shop.api`, `src/pkg/mod.py` is `pkg.mod`.

A root inside a regular package (`distilgen scan nsorg/spec/envs.py`, `scan nsorg/spec/`, with no
pyproject.toml: the scan root is `nsorg/spec/`) takes the roots of the folder its top package is
imported from: the nearest folder above, through importable names, that holds a project file, or
the current folder (`_import_base`). `nsorg/` may be a PEP 420 namespace folder: named from it,
`nsorg/spec/envs.py` was `spec.envs` while `scan .` said `nsorg.spec.envs` (wave 8, bioimageio.spec).
A folder named on the command line that is no package stays the root, as before (`scan myproj`).

A file that cannot be imported from any root (a folder named `my-scripts`, outside the root) is
named after its enclosing regular packages only, as if the folder above its top package were on
`sys.path` (what `distilgen eval TARGET` does for a file path).

A folder below the root that holds a project of its own (a `pyproject.toml`, `setup.py` or
`setup.cfg`, in no package: a uv workspace member, an example project) is a source root too, or
its `src/`: once installed, its packages are imported by their own names, and naming them through
the member's folder (`fastmcp_slim.fastmcp.server`) made `apply` write imports the installed
package could not run.
"""

from __future__ import annotations

import keyword
import os
from functools import lru_cache
from pathlib import Path
from collections import Counter
from typing import Any, Iterable, Sequence

from .._import_paths import import_folder

__all__ = ["source_roots", "module_name", "import_folders", "import_root"]


def source_roots(root: Path | str, configured: Iterable[str] | None = None) -> tuple[Path, ...]:
    """The project's source roots, in `sys.path` order (first wins), absolute.

    `configured` are the `source-roots` setting (relative to `root`); None reads them from the
    `[tool.distilgen]` of the pyproject.toml in `root`, for callers that hold only the root."""
    root = Path(root).absolute()
    if configured is None:
        configured = _configured(root)
    out: list[Path] = []
    for rel in configured:
        p = Path(os.path.normpath(root / rel))
        if p not in out:
            out.append(p)
    src = _src_layout(root)
    if src is not None and src not in out:
        out.append(src)
    # A root that is itself a package (`distilgen scan mypkg/` with no pyproject.toml) is imported
    # from the folder above its top package, as the interpreter would.
    top = root
    while (top / "__init__.py").is_file() and top.parent != top:
        top = top.parent
    if top != root:
        # Inside a regular package (`scan nsorg/spec/envs.py`, `scan nsorg/spec/`): the folder above
        # the top package may itself be a PEP 420 namespace folder, imported from further up. Then
        # the roots are those of that project folder (or the current one), as a whole-tree scan
        # from there has them: `nsorg.spec.envs`, never `spec.envs` (wave 8: bioimageio.spec's
        # wheel tree, whose schema child then imported the package a second time as `spec`).
        base = _import_base(top)
        if base != top:
            for p in source_roots(base):
                if p not in out:
                    out.append(p)
            return tuple(out)
    if top not in out:
        out.append(top)
    for member in _nested_projects(root):
        # a workspace member (`fastmcp_slim/` of fastmcp's uv workspace): installed, its packages
        # are imported from its own folder (or its `src/`), never through the member's folder name
        p = _src_layout(member) or member
        if p not in out:
            out.append(p)
    return tuple(out)


def import_root(folder: Path) -> Path:
    """The folder a project without a pyproject.toml is rooted at, given a folder it names: the
    folder its packages are imported from (out of the regular packages around `folder`, then as
    `_import_base` walks), so that `apply pkg/m.py` and `apply .` from the project agree on one
    lock, one cache and one instructions module (the lock used to land inside `pkg/`)."""
    top = folder
    while (top / "__init__.py").is_file() and top.parent != top:
        top = top.parent
    return _import_base(top) if top != folder else folder


def _src_layout(folder: Path) -> Path | None:
    """`folder/src` when it is a folder and not itself a package (a src layout), else None."""
    src = folder / "src"
    return src if src.is_dir() and not (src / "__init__.py").is_file() else None


# what marks a folder as a project of its own (pip installs it from there)
_PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
# folders never looked into for nested projects: the scan's own skips and build output
_NOT_PROJECTS = frozenset({"build", "dist", "site-packages"})
_NESTED_DEPTH = 4


def _import_base(top: Path) -> Path:
    """The folder the packages in `top` (a folder that is no regular package) are imported from.

    `top` itself, unless it is a namespace folder of a project further up: walking up through
    folders whose names can be imported, the first that holds a project file (`_PROJECT_FILES`,
    what makes a folder below a whole-tree scan's root a source root too) or is the current
    folder (what `scan .` there, and `python -m` there, import from) is the answer. A folder
    whose name cannot be imported (`my-repo/`) ends the walk: nothing above imports through it.
    Nothing found (a path outside the current folder, in no project): `top`, as before."""
    try:
        cwd = os.path.realpath(os.getcwd())
    except OSError:  # the current folder was deleted
        cwd = None
    d = top
    while True:
        if any(os.path.isfile(os.path.join(d, f)) for f in _PROJECT_FILES):
            return d
        if cwd is not None and os.path.realpath(d) == cwd:
            return d
        if d.parent == d or not _importable(d.name):
            return top
        d = d.parent


def _nested_projects(root: Path) -> list[Path]:
    """Folders below `root` that hold a project file of their own and are in no package, at most
    `_NESTED_DEPTH` levels down, in walk order. Packages are not looked into: a project inside a
    package is imported through it."""
    from .discovery import DEFAULT_SKIP_DIRS

    found: list[Path] = []
    level = [str(root)]
    for _ in range(_NESTED_DEPTH):
        below: list[str] = []
        for folder in level:
            try:
                entries = sorted((e for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)), key=lambda e: e.name)
            except OSError:
                continue
            for e in entries:
                if e.name.startswith(".") or e.name in DEFAULT_SKIP_DIRS or e.name in _NOT_PROJECTS:
                    continue
                if os.path.isfile(os.path.join(e.path, "__init__.py")):
                    continue
                if any(os.path.isfile(os.path.join(e.path, f)) for f in _PROJECT_FILES):
                    found.append(Path(e.path))
                below.append(e.path)
        level = below
    return found


def _configured(root: Path) -> tuple[str, ...]:
    from ..config import load_config

    if not (root / "pyproject.toml").is_file():
        return ()
    return load_config(root).source_roots


def _importable(part: str) -> bool:
    return part.isidentifier() and not keyword.iskeyword(part)


@lru_cache(maxsize=4096)
def _is_pkg_dir(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "__init__.py"))


@lru_cache(maxsize=8192)
def _folder_module(folder: str, roots: tuple[str, ...]) -> str | None:
    """The dotted package a folder's modules live in ("" at a root), or None when not importable
    from any root."""
    best: str | None = None
    for r in roots:
        if folder == r:
            return ""
        if folder.startswith(r.rstrip(os.sep) + os.sep):
            rel = folder[len(r.rstrip(os.sep)) + 1:]
            if best is None or len(rel) < len(best):  # the deepest root wins
                best = rel
    if best is None:
        return None
    parts = best.split(os.sep)
    if not all(_importable(p) for p in parts):
        return None
    return ".".join(parts)


@lru_cache(maxsize=4096)
def _package_prefix(folder: str) -> str:
    """Enclosing regular packages only (walk up while `__init__.py` exists)."""
    parts: list[str] = []
    d = folder
    while _is_pkg_dir(d):
        d, name = os.path.split(d)
        if not name:
            break
        parts.append(name)
    return ".".join(reversed(parts))


def module_name(path: str, roots: Sequence[str | Path]) -> tuple[str, bool]:
    """(dotted module name, is a package's `__init__`) for the source file at absolute `path`."""
    folder, filename = os.path.split(os.path.abspath(path))
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    prefix = _folder_module(folder, tuple(str(r) for r in roots))
    if prefix is None or not (stem == "__init__" or _importable(stem)):
        prefix = _package_prefix(folder)
    if stem == "__init__":
        return prefix or stem, True
    return (f"{prefix}.{stem}" if prefix else stem), False


def import_folders(results: Iterable[Any]) -> list[str]:
    """The folders (relative to the root, "" for the root) that the scan records' modules are
    imported from, most used first, then "" and "src": where a module of the project is looked for
    by name (records: anything with `path` and `module`)."""
    counts: Counter[str] = Counter()
    for r in results:
        folder = import_folder(r.path, r.module)
        if folder is not None:
            counts[folder] += 1
    ordered = [k for k, _ in counts.most_common()]
    return ordered + [d for d in ("", "src") if d not in ordered]
