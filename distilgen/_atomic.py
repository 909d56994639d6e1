"""Replace a file atomically: readers see the old bytes or the new, never half of either.

Shared by the codemods (rewriting users' sources) and the lock file writer. Cache files (scan
cache, check facts, interpreter answers, remembered verdicts) use `write_cache_file`: the same
replace-whole contract without fsync, because a cache lost in a crash is only rebuilt.

The temp file is `.<name>.distilgen-<pid>-<random>.tmp` beside the target. A process killed
between creating and renaming it (kill -9, power loss) leaves it behind; the next write to the same
folder removes such leftovers of this pattern only, and only stale ones (the owner process is gone,
or the file is over an hour old). In a git work tree the pattern is added once to the repository's
local `.git/info/exclude` (never a tracked file), so a leftover never shows in `git status`.
"""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path
from typing import Callable

__all__ = ["replace_atomically", "write_cache_file", "default_mode", "TEMP_GLOB", "remove_stale_temps"]

TEMP_GLOB = ".*.distilgen-*.tmp"
"""The temp files' names, as a gitignore pattern."""
# compiled on first use (re's cache): a warm `check` never uses it
_TEMP = r"^\.(?P<name>.+)\.distilgen-(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp$"
_STALE_AFTER_S = 3600.0
_swept: set[str] = set()  # folders already cleaned by this process
_excluded: set[str] = set()  # git dirs whose info/exclude already has the pattern


def default_mode() -> int:
    """Permissions a new file gets from the umask (what `open(..., "w")` would give)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or we cannot tell: keep it
    return True


def remove_stale_temps(folder: Path, *, now: float | None = None) -> list[str]:
    """Remove leftover temp files of this module's pattern in `folder`; returns their names."""
    now = time.time() if now is None else now
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = re.match(_TEMP, e.name)
        if m is None:
            continue
        try:
            st = e.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            if _alive(int(m["pid"])) and now - st.st_mtime < _STALE_AFTER_S:
                continue
            os.unlink(e.path)
            removed.append(e.name)
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def _git_dir(folder: Path) -> Path | None:
    """The git directory holding `info/exclude` for the work tree containing `folder`."""
    for d in (folder, *folder.parents):
        dotgit = d / ".git"
        if dotgit.is_dir():
            return dotgit
        if dotgit.is_file():  # a linked worktree or submodule: `gitdir: <path>`
            try:
                text = dotgit.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                return None
            if not text.startswith("gitdir:"):
                return None
            gitdir = (d / text[len("gitdir:"):].strip()).resolve()
            common = gitdir / "commondir"
            if common.is_file():
                try:
                    return (gitdir / common.read_text(encoding="utf-8").strip()).resolve()
                except (OSError, UnicodeDecodeError):
                    return gitdir
            return gitdir
    return None


def _exclude_in_git(folder: Path) -> None:
    """Add TEMP_GLOB to the repository's local exclude file (once; best effort)."""
    gitdir = _git_dir(folder)
    if gitdir is None or str(gitdir) in _excluded:
        return
    _excluded.add(str(gitdir))
    exclude = gitdir / "info" / "exclude"
    try:
        current = exclude.read_text(encoding="utf-8") if exclude.is_file() else ""
        if TEMP_GLOB in current.splitlines():
            return
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with open(exclude, "a", encoding="utf-8") as fh:
            sep = "" if not current or current.endswith("\n") else "\n"
            fh.write(f"{sep}# distilgen's temp files of interrupted atomic writes\n{TEMP_GLOB}\n")
    except (OSError, UnicodeDecodeError):
        pass  # a read-only or odd repository: the next run still removes leftovers


def replace_atomically(path: Path, data: bytes, *, mode: int | None = None,
                       check: Callable[[], None] | None = None, suffix: str = ".tmp") -> None:
    """Temp file in the same folder, fsync, chmod, `os.replace` over `path`.

    `mode` None keeps the current file's permissions (the umask default for a new file). `check`
    runs just before the replace, as late as possible: raising there aborts the write. On any
    failure the temp file is removed and `path` is untouched. `suffix` is accepted for callers
    of the old signature; temp names always follow TEMP_GLOB."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    key = str(folder.resolve())
    if key not in _swept:
        _swept.add(key)
        remove_stale_temps(folder)
        _exclude_in_git(folder.resolve())
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = default_mode()
    import tempfile  # here: importing the writers (check, scan) should not pay for it

    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.distilgen-{os.getpid()}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if check is not None:
            check()
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_cache_file(path: Path, data: bytes) -> bool:
    """Replace a cache file whole or leave it as it was: a temp file beside it, then `os.replace`,
    so a concurrent reader (pre-commit runs hooks in parallel) never reads half a file. No fsync
    and no error: a cache that cannot be written only makes the next run slower. True if written."""
    import tempfile  # here: a warm run writes nothing and should not pay for it

    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
