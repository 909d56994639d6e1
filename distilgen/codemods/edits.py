"""Safe writes for codemod output: validate, diff, write atomically, never clobber or escape the root.

A `PlannedEdit` is what a codemod wants a file to become, together with the snapshot of what it
read. `commit_edits` turns each into a `FileEdit` record; one bad file never stops the others.
"""

from __future__ import annotations

import ast
import os
import stat
import symtable
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable


from ..analysis.parsing import UnparsableSource, parse_cst
from ..prompts.source import source_lines
from .line_diff import unified_diff_lines

from .._atomic import default_mode, replace_atomically
from ..contracts import EDIT_STATUSES, EditStatus

__all__ = [
    "FileEdit", "Snapshot", "PlannedEdit", "EditError", "read_snapshot", "check_edit", "commit_edits", "unified_diff",
    "inside",
]

STATUSES = EDIT_STATUSES


@dataclass(frozen=True)
class FileEdit:
    path: str
    """Relative to the root, posix separators."""
    status: EditStatus
    """`changed` (written, or pending under --diff/--check), `unchanged` or `error`."""
    reason: str | None = None
    diff: str = ""
    functions: tuple[str, ...] = ()
    """Qualnames whose decorators changed."""
    created: bool = False


@dataclass(frozen=True)
class Snapshot:
    path: Path
    """Absolute, symlinks resolved."""
    data: bytes | None
    """None when the file does not exist (it is to be created)."""
    mtime_ns: int = 0
    size: int = 0
    mode: int | None = None


@dataclass(frozen=True)
class PlannedEdit:
    rel: str
    snapshot: Snapshot
    new: bytes
    functions: tuple[str, ...] = ()
    encoding: str = "utf-8"
    python: bool = True
    """Re-parse the output as Python before writing it."""
    note: str | None = None
    """Shown as the FileEdit's reason when it changes (`created from template`)."""
    std_parsed: bool | None = None
    """Whether the original parses with this interpreter's parser, when the planner knows."""
    checked: FileEdit | None = None
    """`check_edit`'s answer, when it was already computed (in a worker process)."""
    inserts: tuple[tuple[int, int, int], ...] | None = None
    """Where the edit only inserted whole lines (`ModuleEdit.line_inserts`)."""


class EditError(Exception):
    """Why one file was not written (the message is the FileEdit's reason)."""


def inside(root: Path, path: Path) -> Path:
    """`path` with symlinks resolved, when it lies inside `root`; else EditError."""
    real_root = root.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise EditError(f"refusing to write outside the scanned root {real_root}: {real}")
    return real


def read_snapshot(path: Path) -> Snapshot:
    real = path.resolve()
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return Snapshot(real, None)
    with open(real, "rb") as fh:
        data = fh.read()
    return Snapshot(real, data, st.st_mtime_ns, st.st_size, stat.S_IMODE(st.st_mode))


def _parses_with_ast(data: bytes | None, rel: str) -> bool:
    try:
        ast.parse(data or b"", filename=rel)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _parse_check(data: bytes, rel: str) -> None:
    """SyntaxError unless the interpreter's parser accepts `data`. `symtable` parses without
    building Python AST objects (about half the cost of `ast.parse` on a big module); it also
    refuses what only the compiler checks (`nonlocal` at module level), so its refusal is
    confirmed by `ast.parse` before it counts."""
    try:
        symtable.symtable(data, rel, "exec")  # type: ignore[arg-type]  # bytes: the coding cookie is honoured
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        ast.parse(data, filename=rel)


def _validate(data: bytes, rel: str, original: bytes | None, std_parsed: bool | None = None) -> None:
    try:
        # the running interpreter's parser (a tenth of libcst's cost); libcst's only for a file
        # whose syntax is newer than this interpreter knows
        if std_parsed is None:
            std_parsed = original is None or _parses_with_ast(original, rel)
        if std_parsed:
            _parse_check(data, rel)
        else:
            parse_cst(data, rel)
    except (SyntaxError, UnparsableSource, ValueError, MemoryError, RecursionError) as exc:
        what = "the generated source" if original is None else "the edited source"  # distilgen's own text either way
        raise EditError(f"{what} does not parse ({exc.__class__.__name__}: {exc}); not written") from None


def unified_diff(rel: str, old: bytes | None, new: bytes, encoding: str = "utf-8") -> str:
    def lines(data: bytes | None) -> list[str]:
        if data is None:
            return []
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            text = data.decode("latin-1")
        # lines as the parser and `patch` count them: splitlines would also cut at a form feed,
        # giving a hunk with a bogus "No newline" marker and wrong line counts
        return source_lines(text)

    out = []
    for line in unified_diff_lines(lines(old), lines(new), "/dev/null" if old is None else f"a/{rel}", f"b/{rel}"):
        if line.startswith(("---", "+++")):
            line = line.rstrip("\n") + "\n"
        elif not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def _unchanged_on_disk(snap: Snapshot) -> None:
    now = read_snapshot(snap.path)
    if snap.data is None:
        if now.data is not None:
            raise EditError("the file appeared on disk since it was planned; not overwritten")
        return
    if now.data is None:
        raise EditError("the file was deleted since it was read; not written")
    if now.data != snap.data or now.mtime_ns != snap.mtime_ns or now.size != snap.size:
        raise EditError("the file changed on disk since it was read; not overwritten (run again)")


def write_atomic(snap: Snapshot, data: bytes) -> None:
    """Replace the file atomically with its permissions kept, if it is still what we read."""
    replace_atomically(snap.path, data, mode=snap.mode if snap.mode is not None else default_mode(),
                       check=lambda: _unchanged_on_disk(snap), suffix=".distilgen-tmp")


def check_edit(root: Path, p: PlannedEdit) -> FileEdit:
    """What committing `p` would report, with nothing written: `unchanged`, `changed` (with its
    diff, the output re-parsed) or `error`. Pure: `apply` runs it in its worker processes."""
    created = p.snapshot.data is None
    if p.snapshot.data == p.new:
        return FileEdit(p.rel, "unchanged")
    try:
        inside(root, p.snapshot.path)
        if p.python:
            _validate(p.new, p.rel, p.snapshot.data, p.std_parsed)
        diff = unified_diff(p.rel, p.snapshot.data, p.new, p.encoding)
    except EditError as exc:
        return FileEdit(p.rel, "error", str(exc), functions=p.functions, created=created)
    except OSError as exc:
        return FileEdit(p.rel, "error", f"cannot write: {exc}", functions=p.functions, created=created)
    return FileEdit(p.rel, "changed", p.note, diff, p.functions, created)


def commit_edits(root: Path, planned: Iterable[PlannedEdit], *, write: bool) -> list[FileEdit]:
    """Validate every planned edit, diff it, and (with write=True) write it safely, one file after
    the other in the given order (`p.checked`: `check_edit` already ran, in a worker)."""
    out: list[FileEdit] = []
    for p in planned:
        checked = p.checked if p.checked is not None else check_edit(root, p)
        if write and checked.status == "changed":
            try:
                inside(root, p.snapshot.path)  # again, just before writing: cheap, and the last word
                write_atomic(p.snapshot, p.new)
            except EditError as exc:
                checked = FileEdit(p.rel, "error", str(exc), functions=p.functions, created=checked.created)
            except OSError as exc:
                checked = FileEdit(p.rel, "error", f"cannot write: {exc}", functions=p.functions,
                                   created=checked.created)
        out.append(checked)
    return out
