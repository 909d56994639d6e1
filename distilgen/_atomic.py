"""Replace a file atomically: readers see the old bytes or the new, never half of either.

Shared by the codemods (rewriting users' sources) and the lock file writer.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["replace_atomically", "default_mode"]


def default_mode() -> int:
    """Permissions a new file gets from the umask (what `open(..., "w")` would give)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def replace_atomically(path: Path, data: bytes, *, mode: int | None = None,
                       check: Callable[[], None] | None = None, suffix: str = ".tmp") -> None:
    """Temp file in the same folder, fsync, chmod, `os.replace` over `path`.

    `mode` None keeps the current file's permissions (the umask default for a new file). `check`
    runs just before the replace, as late as possible: raising there aborts the write. On any
    failure the temp file is removed and `path` is untouched."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = default_mode()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=suffix)
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
