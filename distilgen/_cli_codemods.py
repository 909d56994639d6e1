"""`distilgen apply` and `distilgen stubs`: edits to the project's source.

A file that could not be edited (or read) is a failed operation, exit 2, as a file `ruff format`
cannot format; the other files are still written. `--check` with changes pending exits 1.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable

import click

from . import api
from .contracts import ApplyAction
from ._cli_common import (
    EXIT_ERROR,
    echo,
    exit_with,
    format_option,
    handle_errors,
    json_text,
    plural,
    python_option,
)
from .errors import UsageError


def edit_lines(edits: Iterable[Any], root: Any, verb: str) -> tuple[list[str], list[str]]:
    """(stdout lines, one per changed file; stderr lines, one per file that failed)."""
    out, err = [], []
    for e in edits:
        shown = os.path.relpath(os.path.join(root, e.path))
        if e.status == "error":
            err.append(f"{shown}: error: {e.reason}")
        elif e.status == "changed" and e.created:
            out.append(f"{shown}: {'would be ' if verb.startswith('would') else ''}created"
                       + (f" ({e.reason})" if e.reason else ""))
        elif e.status == "changed":
            what = ", ".join(e.functions)
            out.append(f"{shown}: {verb}{': ' + what if what else ''}")
    return out, err


def _finish(out: list[str], err: list[str], failed: bool, pending: bool) -> None:
    for line in err:
        click.echo(line, err=True)
    echo("".join(x + "\n" for x in out))
    if failed:
        sys.exit(EXIT_ERROR)
    exit_with(pending)


@click.command("apply")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--select", multiple=True, metavar="PATTERN",
              help="Only these functions: a path glob, a qualname pattern (Catalog.*) or module:qualname. Repeatable.")
@click.option("--dispatch", is_flag=True, help="Bind the selected functions to --model: mode=\"dispatch\".")
@click.option("--model", metavar="ID", help="The fine-tuned model id for --dispatch (e.g. ft:gpt-4o-mini:org::id).")
@click.option("--capture", is_flag=True, help="Turn dispatch/shadow decorators back into capture ones.")
@click.option("--remove", is_flag=True, help="Take the decorators out again (and imports left unused).")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff; write nothing.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when changes are pending.")
@click.option("--no-lock", is_flag=True, help="Do not re-record prompts or pin the model in the lock file.")
@format_option("text", "json")
@python_option
@handle_errors
def apply_cmd(paths: tuple[str, ...], select: tuple[str, ...], dispatch: bool, model: str | None, capture: bool,
              remove: bool, show_diff: bool, check: bool, no_lock: bool, fmt: str, python: str | None) -> None:
    """Add @instructions.distil to candidates; or rebind (--dispatch/--capture) or --remove it."""
    chosen = [name for name, on in (("--dispatch", dispatch), ("--capture", capture), ("--remove", remove)) if on]
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)} cannot be combined: pick one")
    if model is not None and not dispatch:
        raise UsageError("--model only goes with --dispatch")
    if dispatch and not model:
        raise UsageError("--dispatch needs --model ID")
    actions: dict[str, ApplyAction] = {"--dispatch": "dispatch", "--capture": "capture", "--remove": "remove"}
    action: ApplyAction = actions.get(chosen[0] if chosen else "", "decorate")
    write = not (show_diff or check)
    report = api.apply(paths or (".",), select=select, action=action, model=model, write=write, lock=not no_lock,
                       python=python)
    failed, pending = bool(report.errors), check and bool(report.changed)
    if fmt == "json":
        echo(json_text(report))
        _finish([], [], failed, pending)
        return
    for note in report.notes:
        click.echo(note, err=True)
    verb = {"decorate": "decorated", "dispatch": f"bound to {model} (dispatch)", "capture": "set back to capture",
            "remove": "undecorated"}[action]
    if show_diff:
        echo(report.diff)
        _, err = edit_lines(report.errors, report.root, verb)
        _finish([], err, failed, pending)
        return
    out, err = edit_lines(report.edits, report.root, verb if write else f"would be {verb}")
    out.append(f"{plural(len(report.changed), 'file')} {'changed' if write else 'would change'}"
               + (f", {len(err)} failed" if err else ""))
    _finish(out, err, failed, pending)


@click.command("stubs")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--model", required=True, metavar="ID", help="The fine-tuned model id the stubs dispatch to.")
@click.option("--select", multiple=True, metavar="PATTERN", help="Only these functions (same patterns as scan).")
@click.option("-o", "--output", metavar="FILE",
              help="Where to write the module ('-' for standard output; default: distil_stubs.py beside the "
                   "Instructions module).")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff against the existing file; write nothing.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the stubs module is out of date.")
@format_option("text", "json")
@python_option
@handle_errors
def stubs_cmd(paths: tuple[str, ...], model: str, select: tuple[str, ...], output: str | None, show_diff: bool,
              check: bool, fmt: str, python: str | None) -> None:
    """Write a module of dispatch-mode stubs: same signatures, docstrings and return models, bodies `...`."""
    to_stdout = output == "-"
    if to_stdout and fmt == "json":
        raise UsageError("-o - prints the module itself: it cannot be combined with --format json")
    write = not (show_diff or check or to_stdout)
    report = api.stubs(paths or (".",), model=model, select=select, output=None if to_stdout else output,
                       write=write, python=python)
    errors = [e for e in report.edits if e.status == "error"]
    failed, pending = bool(errors), check and any(e.status == "changed" for e in report.edits)
    if fmt == "json":
        echo(json_text(report))
        _finish([], [], failed, pending)
        return
    for s in report.skipped:
        click.echo(f"{s.path}:{s.lineno}: skipped {s.qualname}: {s.reason}", err=True)
    if to_stdout or show_diff:
        echo(report.text if to_stdout else "".join(e.diff for e in report.edits))
        _, err = edit_lines(errors, report.root, "")
        _finish([], err, failed, pending)
        return
    out, err = edit_lines(report.edits, report.root, "written" if write else "would be written")
    out.append(f"{plural(len(report.functions), 'stub')} for {model}"
               + (f", {len(report.skipped)} skipped" if report.skipped else ""))
    _finish(out, err, failed, pending)
