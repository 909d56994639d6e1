"""The scan's records: what `distilgen scan` found, one small frozen dataclass per function.

These are the contract with `apply`, the prompts/lock layer and the pre-commit hooks; they never
carry AST or libcst nodes. `scan_project` (below) is the orchestration: discover files, index each
one (cached), resolve return annotations across modules, classify.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..contracts import DEF_KINDS, SCAN_STATUSES, DefKind, ScanStatus

__all__ = ["DecoratorInfo", "ScanResult", "FileError", "ScanReport", "STATUSES", "KINDS"]

STATUSES = SCAN_STATUSES
KINDS = DEF_KINDS


@dataclass(frozen=True)
class DecoratorInfo:
    """An `@X.distil` / `@X.distil(...)` decorator on a function."""

    instance: str
    """The Instructions instance as `module:attr` (where it is defined, after following imports)."""
    mode: str
    """The `mode=` keyword as the source spells it: normally one of `contracts.MODES` (`distil`, the
    default, `capture`, `dispatch`, `shadow`), but a typo in the user's code is reported as written."""
    model: str | None
    """The `model=` keyword when it is a string literal, else None."""
    lineno: int
    """Line of the decorator's `@`."""


@dataclass(frozen=True)
class ScanResult:
    """One function annotated to return a model: where it is, what it returns, and whether it can be distilled."""

    path: str
    """Relative to the scan root, posix separators."""
    qualname: str
    """As the interpreter spells it: `Cls.meth`, `outer.<locals>.inner`."""
    lineno: int
    """Line of the `def` keyword (1-based)."""
    col: int
    """Column of the `def` (or `async`) keyword, 1-based like ruff's output."""
    end_lineno: int
    model: str | None
    """Fully qualified return model (`inbox.models.ticket.Triage`), the wrapped model for `wrapped`."""
    status: ScanStatus
    reason: str | None
    decorator: DecoratorInfo | None
    is_async: bool
    module: str | None
    """Dotted module name (`inbox.triage`), None when the file is not importable as a module."""
    kind: DefKind
    decorator_lineno: int = 0
    """First decorator line, or the def line when undecorated: the def's full span is
    `decorator_lineno..end_lineno`."""

    def __post_init__(self) -> None:
        if not self.decorator_lineno:
            object.__setattr__(self, "decorator_lineno", self.lineno)

    @property
    def function_id(self) -> str:
        return f"{self.module}:{self.qualname}"

    def as_dict(self) -> dict[str, object]:
        """The documented JSON object of `distilgen scan --format json`."""
        dec = self.decorator
        return {
            "path": self.path,
            "qualname": self.qualname,
            "function_id": self.function_id,
            "module": self.module,
            "lineno": self.lineno,
            "col": self.col,
            "end_lineno": self.end_lineno,
            "decorator_lineno": self.decorator_lineno,
            "kind": self.kind,
            "is_async": self.is_async,
            "model": self.model,
            "status": self.status,
            "reason": self.reason,
            "decorator": None
            if dec is None
            else {"instance": dec.instance, "mode": dec.mode, "model": dec.model, "lineno": dec.lineno},
        }


@dataclass(frozen=True)
class FileError:
    """A file the scan could not read or parse (reported once; the scan goes on)."""

    path: str
    reason: str


@dataclass(frozen=True)
class ScanReport:
    """A scan's results and the files it could not read."""

    root: Path
    results: tuple[ScanResult, ...]
    errors: tuple[FileError, ...]
    files_scanned: int
    modules: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    """The module name of every scanned file: what a name can resolve to in the project today."""

    def by_status(self, status: ScanStatus) -> tuple[ScanResult, ...]:
        return tuple(r for r in self.results if r.status == status)
