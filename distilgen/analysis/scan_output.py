"""Scan reports as text (clickable `path:line:col:` lines, ruff style), JSON, or GitHub annotations.

And the effective configuration as TOML, for `distilgen config`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from ..config import Config
from ..contracts import REPORT_FORMATS, ReportFormat
from .scan import STATUSES, ScanReport, ScanResult

__all__ = ["format_report", "FORMATS", "config_toml", "check_failures"]

FORMATS = REPORT_FORMATS


def _display_path(report: ScanReport, rel: str, cwd: Path) -> str:
    """Paths relative to the current folder, so `path:line:col` is clickable in a terminal."""
    full = os.path.normpath(os.path.join(report.root, rel))
    try:
        shown = os.path.relpath(full, cwd)
    except ValueError:
        return full
    return full if shown.startswith("..") else shown.replace(os.sep, "/")


def _status_text(r: ScanResult) -> str:
    if r.status == "decorated" and r.decorator is not None:
        d = r.decorator
        bits = [d.instance] + ([d.mode] if d.mode != "distil" else []) + ([f"model={d.model}"] if d.model else [])
        return f"decorated: {', '.join(bits)}"
    text = f"{r.status}: {r.reason}" if r.reason else r.status
    if r.decorator is not None:  # from an older `apply` or by hand: still runs, never recorded
        text += (f"; still decorated ({r.decorator.instance}): `distilgen apply --remove --select "
                 f"'{r.qualname}'` takes it off")
    return text


def summary(report: ScanReport) -> str:
    counts = Counter(r.status for r in report.results)
    # an unresolved annotation is not known to name a model (wave 5: flytekit's 137 protobuf
    # messages were counted as "functions returning a model"): said apart
    parts = [f"{counts[s]} {s}" for s in STATUSES if counts[s] and s != "unresolved"]
    n = len(report.results) - counts["unresolved"]
    line = f"{n} function{'s' if n != 1 else ''} returning a model in {report.files_scanned} file{'s' if report.files_scanned != 1 else ''}"
    if parts:
        line += ": " + ", ".join(parts)
    if counts["unresolved"]:
        u = counts["unresolved"]
        line += (f"; {u} more whose return type could not be resolved (unresolved: a model or not, "
                 f"{'it' if u == 1 else 'they'} cannot be told)")
    if report.errors:
        line += f"; {len(report.errors)} file{'s' if len(report.errors) != 1 else ''} could not be scanned"
    return line


def format_report(report: ScanReport, fmt: ReportFormat = "text", cwd: Path | None = None) -> str:
    cwd = cwd or Path.cwd()
    if fmt == "json":
        return json.dumps([r.as_dict() for r in report.results], indent=2) + "\n"
    lines: list[str] = []
    if fmt == "github":
        for r in report.results:
            level = "notice" if r.status == "decorated" else "warning"
            msg = f"{r.qualname} -> {r.model or '?'} [{_status_text(r)}]"
            lines.append(f"::{level} title=distilgen scan ({r.status}),file={_display_path(report, r.path, cwd)},"
                         f"line={r.lineno},col={r.col},endLine={r.end_lineno}::{_escape(msg)}")
        for e in report.errors:
            lines.append(f"::error title=distilgen scan,file={_display_path(report, e.path, cwd)}::{_escape(e.reason)}")
        return "".join(x + "\n" for x in lines)
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    for r in report.results:
        lines.append(f"{_display_path(report, r.path, cwd)}:{r.lineno}:{r.col}: {r.qualname} -> {r.model or '?'} [{_status_text(r)}]")
    for e in report.errors:
        lines.append(f"{_display_path(report, e.path, cwd)}: error: {e.reason}")
    lines.append(summary(report))
    return "".join(x + "\n" for x in lines)


def _escape(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def check_failures(report: ScanReport) -> list[str]:
    """What makes `distilgen scan --check` exit 1: candidates that are not decorated yet."""
    return [f"{r.path}:{r.lineno}: {r.qualname} is a candidate but not decorated" for r in report.by_status("candidate")]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(json.dumps(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {json.dumps(x)}" for k, x in v.items()) + " }" if v else "{}"
    return json.dumps(v)


def config_toml(config: Config) -> str:
    """The effective `[tool.distilgen]` table: every key, defaults included, with where it came from."""
    d = config.as_dict()
    src = d.pop("pyproject")
    root = d.pop("root")
    head = [f"# read from: {src}" if src else "# no pyproject.toml found: defaults", f"# project root: {root}", "[tool.distilgen]"]
    body = [f"# {k} is not set" if v is None else f"{k} = {_toml_value(v)}" for k, v in d.items()]
    return "\n".join(head + body) + "\n"
