"""The command line's plain text, without click: exit codes, the one-line error, paths as shown,
and the `check` command's body, shared by the click commands and the click-free launcher
(`_launch.py`, which runs a plain `distilgen check` without importing click).

Exit codes (ruff's contract): 0 clean; 1 findings (what a check or gate reports about the
user's code or data); 2 a usage or configuration error, a failed operation, or an internal error.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .errors import DistilgenError, InternalError

if TYPE_CHECKING:
    from . import api

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2  # usage, configuration, a failed operation, an internal error
EXIT_INTERRUPTED = 130


def error_line(exc: BaseException) -> str:
    """The one line an exception becomes (a DistilgenError says what to do; anything else is a bug)."""
    if isinstance(exc, InternalError):
        return internal_error_line(str(exc))
    if isinstance(exc, DistilgenError):
        return failure_line(str(exc))
    return internal_error_line(f"{type(exc).__name__}: {exc}")


def failure_line(message: str) -> str:
    return f"distilgen: error: {message}"


def internal_error_line(message: str) -> str:
    return f"distilgen: internal error: {message} (run with --debug for the traceback)"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def shown(root: Any, path: Any) -> str:
    """A path as seen from the current folder (clickable in the terminal that ran the command)."""
    from pathlib import Path

    full = Path(root) / path
    rel = os.path.relpath(full)
    return str(full) if rel.startswith("..") else rel


def format_check(reports: Sequence[api.CheckReport], fmt: str) -> str:
    findings = [(shown(rep.root, f.path), f) for rep in reports for f in rep.findings]
    if fmt == "json":
        return json_text([{"path": where, "line": f.line, "code": f.code, "message": f.message,
                           "function_id": f.function_id} for where, f in findings])
    if fmt == "github":
        return "".join(f"::error title=distilgen {f.code},file={where},line={f.line}::"
                       + f.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A") + "\n"
                       for where, f in findings)
    return "".join(f"{where}:{f.line}: {f.code} {f.message}\n" for where, f in findings)


def run_check(paths: Sequence[str], fmt: str, *, exit_zero: bool, python: str | None,
              out: Callable[[str], None], err: Callable[[str], None]) -> int:
    """`distilgen check`: the findings on `out`, their count on `err`; the exit code."""
    from . import api

    reports = api.check(tuple(paths) or (".",), python=python)
    text = format_check(reports, fmt)
    if text:
        out(text)
    count = sum(len(rep.findings) for rep in reports)
    if count and fmt != "json":
        err(f"distilgen check: {plural(count, 'finding')}\n")
    return EXIT_FINDINGS if count and not exit_zero else EXIT_CLEAN


def json_text(value: Any) -> str:
    """A result record (or a list of them) as indented JSON: `as_dict()` where a record has one,
    else its dataclass fields."""
    import dataclasses
    import json

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if hasattr(v, "as_dict"):
            return v.as_dict()
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return dataclasses.asdict(v)
        return v

    return json.dumps(plain(value), indent=2, ensure_ascii=False, default=str) + "\n"
