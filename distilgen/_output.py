"""Writing what a command was asked to write (`scan -o`, `dataset split/export --out`): whole or not at all.

A regular file is replaced atomically (`_atomic.replace_atomically`), so a full disk or a kill leaves
the old file or none, never half a report; several files go in together (each one's replace waits
until every other is written). A device or pipe (`/dev/stdout`, `/dev/null`, a FIFO) is written
directly: it cannot be replaced. A missing parent folder is an error rather than created, so a
mistyped path is caught. Every failure is one UsageError (exit 2) naming the option and the path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable, Mapping

from ._atomic import replace_atomically
from .errors import UsageError

__all__ = ["write_outputs", "make_output_folder"]


def _failure(option: str, path: Path, exc: OSError) -> UsageError:
    reason = exc.strerror or type(exc).__name__
    return UsageError(f"{option} {path}: cannot write: {reason[:1].lower() + reason[1:]}")


def _is_special(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _write_direct(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()


def write_outputs(files: Mapping[str | Path, str | bytes], *, option: str, folder: str | Path | None = None) -> None:
    """Write every file whole, or leave every regular one as it was and raise one UsageError.

    `folder`: create it first (its parent must exist), and remove it again if nothing could be written."""
    undo = make_output_folder(folder, option=option) if folder is not None else (lambda: None)
    try:
        _write_all(files, option)
    except UsageError:
        undo()
        raise


def _write_all(files: Mapping[str | Path, str | bytes], option: str) -> None:
    items = [(Path(p), d.encode("utf-8") if isinstance(d, str) else d) for p, d in files.items()]
    for path, _ in items:
        if path.is_dir():
            raise UsageError(f"{option} {path}: is a folder, not a file")
        if not path.parent.is_dir():
            what = "is not a folder" if path.parent.exists() else "no such folder"
            raise UsageError(f"{option} {path}: cannot write: {path.parent}: {what}")
    special = [(p, d) for p, d in items if _is_special(p)]
    regular = [(p, d) for p, d in items if not _is_special(p)]

    def replace_from(i: int) -> Callable[[], None] | None:
        if i >= len(regular):
            return None
        path, data = regular[i]
        later = replace_from(i + 1)

        def run() -> None:
            try:
                replace_atomically(path, data, check=later)
            except OSError as exc:
                if isinstance(exc, _Raised):
                    raise
                raise _Raised(_failure(option, path, exc)) from None

        return run

    try:
        for path, data in special:
            try:
                _write_direct(path, data)
            except OSError as exc:
                raise _Raised(_failure(option, path, exc)) from None
        first = replace_from(0)
        if first is not None:
            first()
    except _Raised as raised:
        raise raised.error from None


class _Raised(OSError):
    """Carries the UsageError of the innermost failing write out through the nested replaces."""

    def __init__(self, error: UsageError) -> None:
        super().__init__(str(error))
        self.error = error


def make_output_folder(folder: str | Path, *, option: str) -> Callable[[], None]:
    """Create `folder` (its parent must exist); returns an undo that removes it again if it was new
    and is still empty, for when nothing could be written into it."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: exists and is not a folder")
    if path.is_dir():
        return lambda: None
    try:
        path.mkdir()
    except OSError as exc:
        if not path.parent.is_dir():
            what = "is not a folder" if path.parent.exists() else "no such folder"
            raise UsageError(f"{option} {path}: cannot create the folder: {path.parent}: {what}") from None
        raise _failure(option, path, exc) from None

    def undo() -> None:
        try:
            os.rmdir(path)
        except OSError:
            pass

    return undo
