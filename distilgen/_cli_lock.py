"""`distilgen prompts` and `distilgen check`: the lock file.

A plain `distilgen check [PATH...]` (no option) never gets here: the console script runs the same
`_cli_text.run_check` without importing click (`_launch.py`)."""

from __future__ import annotations

import sys
from typing import Sequence

import click

from . import api
from ._cli_common import EXIT_ERROR, echo, exit_with, format_option, handle_errors, json_text, python_option
from ._cli_text import plural, run_check, shown

_KINDS = ("added", "changed", "moved", "removed", "restamped")


def format_prompts(reports: Sequence[api.PromptsReport], fmt: str, check_only: bool) -> str:
    if fmt == "json":
        return json_text([{"root": str(rep.root), "lock": str(rep.lock_path), "up_to_date": not rep.changed,
                           "written": rep.result.written, "pinned": list(rep.result.pinned),
                           **{k: list(getattr(rep.result, k)) for k in _KINDS},
                           "problems": [{"path": p.path, "line": p.line, "message": p.message} for p in rep.problems]}
                          for rep in reports])
    lines = []
    for rep in reports:
        r = rep.result
        lines += [f"{shown(rep.root, prob.path)}:{prob.line}: {prob.message}" for prob in rep.problems]
        lock = shown(rep.root, rep.lock_path.name)
        parts = [f"{len(v)} {k.replace('restamped', 're-stamped')}" for k in _KINDS if (v := getattr(r, k))]
        lines += [f"{lock}: + {fid}" for fid in r.added]
        lines += [f"{lock}: ~ {fid}" for fid in r.changed]
        lines += [f"{lock}: - {fid}" for fid in r.removed]
        lines += [f"{lock}: = {fid} (static fingerprint only: prompt and schema unchanged)" for fid in r.restamped]
        lines += [f"{lock}: pinned {pin} (a bound model was trained on it)" for pin in r.pinned]
        if not parts and rep.problems:
            # not "up to date": the functions above could not be read, their entries kept as they were
            lines.append(f"{lock}: {plural(len(rep.problems), 'function')} not recorded (above); nothing else to change")
        elif not parts:
            lines.append(f"{lock}: up to date")
        elif check_only:
            lines.append(f"{lock}: out of date ({', '.join(parts)}); run `distilgen prompts` to record")
        else:
            lines.append(f"{lock}: {', '.join(parts)}" + ("" if r.written else " (unchanged on disk)"))
    return "".join(x + "\n" for x in lines)


@click.command("prompts")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 when the lock is not up to date (imports the project for schemas).")
@format_option("text", "json")
@python_option
@handle_errors
def prompts_cmd(paths: tuple[str, ...], check_only: bool, fmt: str, python: str | None) -> None:
    """Record the system prompt of every distilled function in distilgen.lock.

    PATHS (default: .) select the project(s) by their nearest pyproject.toml; the whole project is
    always recorded, so a pre-commit hook passing a few file names still refreshes every entry.
    A function whose prompt could not be read (its module failed to import) is a failed operation:
    exit 2, with its entry kept as it was. With --check, a lock out of date exits 1.
    """
    reports = api.prompts(paths or (".",), check=check_only, python=python)
    echo(format_prompts(reports, fmt, check_only))
    if any(rep.problems for rep in reports):
        sys.exit(EXIT_ERROR)
    exit_with(check_only and any(rep.changed for rep in reports))


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@format_option("text", "json", "github")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@python_option
@handle_errors
def check_cmd(paths: tuple[str, ...], fmt: str, exit_zero: bool, python: str | None) -> None:
    """Fail when distilled functions drifted from distilgen.lock.

    Static and read-only (nothing is imported): prompts that no longer match their source,
    dispatch bindings whose trained-on prompt is unknown or gone, undecorated candidates when
    require-decorated is set, and lock entries for functions that are gone. One line per finding:
    `path:line: CODE what, how to fix`. PATHS select the project(s), which are checked whole.
    """
    sys.exit(run_check(paths, fmt, exit_zero=exit_zero, python=python,
                       out=echo, err=lambda text: click.echo(text, err=True, nl=False)))
