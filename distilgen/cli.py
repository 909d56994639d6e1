"""The `distilgen` command line: click only, each command a thin call into `distilgen.api`.

Exit codes (ruff's contract): 0 clean, 1 findings (under --check) or a failed operation, 2 usage or
configuration error. Every library error is printed as one line, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable, TypeVar

import click

from . import api
from ._version import __version__
from .errors import ConfigError, DistilgenError, UsageError

F = TypeVar("F", bound=Callable[..., Any])


def _handle_errors(fn: F) -> F:
    """Turn distilgen's own errors into one line on stderr and the contract's exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, UsageError) as exc:
            click.echo(f"distilgen: error: {exc}", err=True)
            sys.exit(2)
        except DistilgenError as exc:
            click.echo(f"distilgen: error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distilgen")
def main() -> None:
    """Distil typed Python functions into fine-tuned language models, and back."""


# --- scan / config (analysis) ------------------------------------------------------------------
@main.command("scan")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True,
              help="text: clickable path:line:col lines; json: a documented list of objects; github: annotations.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report to FILE instead of standard output.")
@click.option("--select", multiple=True, metavar="PATTERN",
              help="Only these functions: a path glob (inbox/*.py), a qualname pattern (Catalog.*) or module:qualname. Repeatable.")
@click.option("--exclude", multiple=True, metavar="PATTERN", help="Leave these functions out (same patterns). Repeatable.")
@click.option("--include-generated", is_flag=True, help="Also report files marked @generated.")
@click.option("--no-cache", is_flag=True, help="Ignore and do not write .distilgen_cache/.")
@click.option("--check", is_flag=True, help="Exit 1 when a candidate is not decorated yet.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings or unreadable files.")
@_handle_errors
def scan_cmd(paths: tuple[str, ...], fmt: str, output: str | None, select: tuple[str, ...], exclude: tuple[str, ...],
             include_generated: bool, no_cache: bool, check: bool, exit_zero: bool) -> None:
    """Find every function whose return annotation resolves to a pydantic model."""
    from .analysis.report import check_failures, format_report

    report = api.scan(paths or (".",), select=select, exclude=exclude, include_generated=include_generated,
                      use_cache=not no_cache)
    text = format_report(report, fmt)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)
    failed = bool(report.errors) or (check and bool(check_failures(report)))
    if failed and not exit_zero:
        sys.exit(1)


@main.command("config")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=str))
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True)
@_handle_errors
def config_cmd(path: str | None, fmt: str) -> None:
    """Print the effective [tool.distilgen] configuration (defaults included)."""
    import json as _json

    from .analysis.report import config_toml

    config = api.effective_config(path)
    click.echo(_json.dumps(config.as_dict(), indent=2) if fmt == "json" else config_toml(config), nl=fmt == "json")


# --- end scan / config -------------------------------------------------------------------------

# --- apply / stubs (codemods) ------------------------------------------------------------------
# --- end apply / stubs -------------------------------------------------------------------------

# --- prompts / check (lock) --------------------------------------------------------------------
def _shown(root: Any, path: Any) -> str:
    """A path as seen from the current folder (clickable in the terminal that ran the command)."""
    import os
    from pathlib import Path

    full = Path(root) / path
    rel = os.path.relpath(full)
    return str(full) if rel.startswith("..") else rel


@main.command("prompts")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 when the lock is not up to date (imports the project for schemas).")
@_handle_errors
def prompts_cmd(paths: tuple[str, ...], check_only: bool) -> None:
    """Record the system prompt of every distilled function in distilgen.lock.

    PATHS (default: .) select the project(s) by their nearest pyproject.toml; the whole project is
    always recorded, so a pre-commit hook passing a few file names still refreshes every entry.
    """
    failed = False
    for rep in api.prompts(paths or (".",), check=check_only):
        r = rep.result
        for prob in rep.problems:
            click.echo(f"{_shown(rep.root, prob.path)}:{prob.line}: {prob.message}")
            failed = True
        lock = _shown(rep.root, rep.lock_path.name)
        parts = [f"{len(v)} {k}" for k, v in (("added", r.added), ("changed", r.changed), ("moved", r.moved),
                                               ("removed", r.removed)) if v]
        for fid in r.added:
            click.echo(f"{lock}: + {fid}")
        for fid in r.changed:
            click.echo(f"{lock}: ~ {fid}")
        for fid in r.removed:
            click.echo(f"{lock}: - {fid}")
        for pin in r.pinned:
            click.echo(f"{lock}: pinned {pin} (a bound model was trained on it)")
        if not parts:
            click.echo(f"{lock}: up to date")
        elif check_only:
            click.echo(f"{lock}: out of date ({', '.join(parts)}); run `distilgen prompts` to record")
            failed = True
        else:
            click.echo(f"{lock}: {', '.join(parts)}" + ("" if r.written else " (unchanged on disk)"))
    if failed:
        sys.exit(1)


@main.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@_handle_errors
def check_cmd(paths: tuple[str, ...], exit_zero: bool) -> None:
    """Fail when distilled functions drifted from distilgen.lock.

    Static and read-only (nothing is imported): prompts that no longer match their source,
    dispatch bindings whose trained-on prompt is unknown or gone, undecorated candidates when
    require-decorated is set, and lock entries for functions that are gone. One line per finding:
    `path:line: CODE what, how to fix`. PATHS select the project(s), which are checked whole.
    """
    count = 0
    for rep in api.check(paths or (".",)):
        for f in rep.findings:
            click.echo(f"{_shown(rep.root, f.path)}:{f.line}: {f.code} {f.message}")
            count += 1
    if count:
        click.echo(f"distilgen check: {count} finding{'s' if count != 1 else ''}", err=True)
        if not exit_zero:
            sys.exit(1)


# --- end prompts / check -----------------------------------------------------------------------

# --- dataset / jobs / files (ops) --------------------------------------------------------------
# --- end dataset / jobs / files ----------------------------------------------------------------

# --- train / serve (local) ---------------------------------------------------------------------
# --- end train / serve -------------------------------------------------------------------------

# --- generate / eval / walkthrough -------------------------------------------------------------
class _Progress:
    """A click progress bar on stderr, opened at the first report (when the total is known)."""

    def __init__(self, label: str, enabled: bool = True) -> None:
        self.label = label
        self.enabled = enabled
        self.bar: Any = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_pos=True,
                                         show_eta=True)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@main.command("generate")
@click.argument("target")
@click.option("-n", "n", type=int, default=100, show_default=True, help="How many distinct calls to capture.")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Dataset file (default: [tool.distilgen] dataset).")
@click.option("--format", "finetune_format", type=click.Choice(["tools", "messages", "raw"]),
              help="Line format (default: [tool.distilgen] finetune-format).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same calls.")
@click.option("--inputs", type=click.Path(exists=True, dir_okay=False),
              help="JSONL of argument sets to use first, then to mutate.")
@click.option("--strategies", help="'module:object': a dict of parameter or function name -> hypothesis strategy.")
@click.option("--timeout", type=float, help="Seconds per call; a slower call is skipped and counted.")
@click.option("--no-mutate", is_flag=True, help="With --inputs: draw fresh arguments instead of mutating the inputs.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_handle_errors
def generate_cmd(target: str, n: int, out: str | None, finetune_format: str | None, seed: int, inputs: str | None,
                 strategies: str | None, timeout: float | None, no_mutate: bool, as_json: bool, quiet: bool) -> None:
    """Capture training calls of TARGET (module:qualname or path.py:qualname) on drawn arguments."""
    progress = _Progress("calling", enabled=not quiet and not as_json)
    try:
        result = api.generate(target, n, out=out, finetune_format=finetune_format, seed=seed, inputs=inputs,
                              strategies=strategies, timeout=timeout, mutate=not no_mutate, progress=progress)
    finally:
        progress.close()
    if as_json:
        import dataclasses
        import json

        click.echo(json.dumps(dataclasses.asdict(result), indent=2))
    else:
        from .evals.summary import format_generate

        click.echo(format_generate(result))
# --- end generate / eval / walkthrough ---------------------------------------------------------


if __name__ == "__main__":  # pragma: no cover
    main()
