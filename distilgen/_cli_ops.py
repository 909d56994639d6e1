"""`distilgen dataset`, `distilgen jobs` and `distilgen files`: datasets and an OpenAI-compatible
fine-tuning service.

Findings (lines that break the dataset rules) exit 1; a job that failed or was cancelled, a file
the service would not delete, or an API error is a failed operation: exit 2.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, TypeVar

import click

from . import api
from ._cli_common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    echo,
    exit_with,
    format_option,
    handle_errors,
    json_text,
)

F = TypeVar("F", bound=Callable[..., Any])


def echo_json(value: Any) -> None:
    echo(json_text(value))


def _api_options(fn: F) -> F:
    """--base-url / --api-key / --format, shared by every jobs and files command."""
    fn = format_option("text", "json")(fn)
    fn = click.option("--api-key", envvar="OPENAI_API_KEY", show_envvar=True, default=None,
                      help="API key (default: $OPENAI_API_KEY).")(fn)
    fn = click.option("--base-url", envvar="OPENAI_BASE_URL", show_envvar=True, default=None,
                      help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL, then [tool.distilgen] base-url).")(fn)
    return fn


@click.group("dataset")
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
    fn = format_option("text", "json")(fn)
    return fn


@dataset_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@_dataset_options
@click.option("--strict", is_flag=True, help="Warnings (duplicates, stale prompts) fail too.")
@click.option("--min-examples", type=int, default=api.dataset_min_examples(), show_default=True,
              help="Fewest examples a file may hold (OpenAI's minimum for a training file; 1 for a validation file).")
@handle_errors
def dataset_validate_cmd(files: tuple[str, ...], model: str | None, max_tokens: int | None, epochs: int | None,
                         price_per_million: float | None, lock: str | None, fmt: str, strict: bool,
                         min_examples: int) -> None:
    """Check every line against OpenAI's chat fine-tuning rules (tools / messages) or the raw schema.

    Problems print as FILE:LINE: what is wrong. Exit 1 on errors (and on warnings with --strict).
    """
    reports = api.dataset_validate(files, model=model, max_tokens=max_tokens, epochs=epochs,
                                   price_per_million=price_per_million, lock=lock, min_examples=min_examples)
    failed = any(not r.ok or (strict and r.warnings) for r in reports)
    if fmt == "json":
        echo_json(reports)
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
    exit_with(failed)


@dataset_group.command("stats")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@_dataset_options
@handle_errors
def dataset_stats_cmd(files: tuple[str, ...], model: str | None, max_tokens: int | None, epochs: int | None,
                      price_per_million: float | None, lock: str | None, fmt: str) -> None:
    """Examples, tokens per example, epochs and training tokens (and cost with --price-per-million)."""
    reports = api.dataset_validate(files, model=model, max_tokens=max_tokens, epochs=epochs,
                                   price_per_million=price_per_million, lock=lock, stale=False)
    if fmt == "json":
        echo_json([{"path": r.path, "shape": r.shape, "stats": r.stats.as_dict() if r.stats else None,
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
@format_option("text", "json")
@handle_errors
def dataset_split_cmd(file: str, val: float, seed: int, out: str | None, fmt: str) -> None:
    """Split into train and validation sets; the same call never lands on both sides."""
    res = api.dataset_split(file, val=val, seed=seed, out=out)
    if fmt == "json":
        echo_json(res)
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
@format_option("text", "json")
@handle_errors
def dataset_export_cmd(file: str, to: str, out: str | None, tool_schema: str, fmt: str) -> None:
    """Convert for open-model trainers (hf-chat, sharegpt) or to OpenAI's current tools shape."""
    res = api.dataset_export(file, to=to, out=out, tool_schema=tool_schema)
    if fmt == "json":
        echo_json(res)
    else:
        click.echo(f"{res.path}: {res.examples} examples ({res.fmt})")


@click.group("jobs")
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


def _finish_job(job: Any, fmt: str, extra: dict[str, Any] | None = None, functions: tuple[str, ...] = ()) -> None:
    """A succeeded job prints its model and how to use it; a failed or cancelled one is a failed
    operation: one line, exit 2."""
    if fmt == "json":
        payload = dict(extra or {}, job=job.as_dict())
        if job.status == "succeeded" and job.fine_tuned_model:
            payload["use"] = api.dispatch_command(job.fine_tuned_model, functions)
        echo_json(payload)
    if job.status == "succeeded":
        if fmt != "json":
            click.echo(f"{job.id}: succeeded")
            click.echo(f"fine-tuned model: {job.fine_tuned_model}")
            click.echo(f"use it: {api.dispatch_command(job.fine_tuned_model, functions)}")
        return
    if job.status == "failed":
        click.echo(f"distilgen: error: job {job.id} failed: {job.error_line()}", err=True)
    elif job.status == "cancelled":
        click.echo(f"distilgen: error: job {job.id} was cancelled", err=True)
    sys.exit(EXIT_ERROR)


def _create(source: str, uploaded: bool, fmt: str, no_wait: bool, poll_interval: float, **options: Any) -> None:
    """Create the job, say so on stderr, and (unless --no-wait) watch it to the end."""
    line = _JobLine(enabled=fmt != "json")
    created: list[Any] = []

    def on_created(result: Any) -> None:
        created.append(result)
        job = result.job
        if fmt != "json":
            for f in (result.training_file, result.validation_file):
                if f is not None:
                    click.echo(f"uploaded {f.filename}: {f.id}", err=True)
            how = " (found through jobs list after a lost answer)" if result.reconciled else ""
            click.echo(f"created job {job.id} on {job.model}{how}", err=True)
        if not no_wait:
            line(job, [])  # the state it was created in: the first poll may already see the next one

    try:
        result = api.jobs_create(source, uploaded=uploaded, wait=not no_wait, poll_interval=poll_interval,
                                 on_created=on_created, on_update=line, **options)
    except KeyboardInterrupt:
        line.close()
        if not created:
            raise
        click.echo(f"stopped watching; the job goes on: distilgen jobs watch {created[0].job.id}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    line.close()
    if no_wait:
        if fmt == "json":
            echo_json(result)
        else:
            click.echo(result.job.id)
            click.echo(f"watch it: distilgen jobs watch {result.job.id}", err=True)
        return
    _finish_job(result.job, fmt, {"request_id": result.request_id, "reconciled": result.reconciled},
                result.functions)


@jobs_group.command("create-from-file")
@click.argument("file", type=click.Path())
@click.option("--validation-file", type=click.Path(), default=None)
@_hyper_options
@_api_options
@handle_errors
def jobs_create_from_file_cmd(file: str, no_wait: bool, poll_interval: float, fmt: str, **options: Any) -> None:
    """Validate FILE (refuse on errors), upload it, create the job, and watch it to the end."""
    _create(file, False, fmt, no_wait, poll_interval, **options)


@jobs_group.command("create-from-id")
@click.argument("file_id")
@click.option("--validation-file", default=None, help="Id of an uploaded validation file.")
@_hyper_options
@_api_options
@handle_errors
def jobs_create_from_id_cmd(file_id: str, no_wait: bool, poll_interval: float, fmt: str, **options: Any) -> None:
    """Create a job from an uploaded file id, and watch it to the end."""
    _create(file_id, True, fmt, no_wait, poll_interval, **options)


@jobs_group.command("watch")
@click.argument("job_id", required=False)
@click.option("--poll-interval", type=float, default=10.0, show_default=True)
@_api_options
@handle_errors
def jobs_watch_cmd(job_id: str | None, poll_interval: float, base_url: str | None, api_key: str | None,
                   fmt: str) -> None:
    """Follow a job (default: the latest running one) until it ends."""
    line = _JobLine(enabled=fmt != "json")
    try:
        job = api.jobs_watch(job_id, poll_interval=poll_interval, on_update=line, base_url=base_url, api_key=api_key)
    except KeyboardInterrupt:
        line.close()
        click.echo("stopped watching; the job goes on", err=True)
        sys.exit(EXIT_INTERRUPTED)
    line.close()
    _finish_job(job, fmt)


@jobs_group.command("list")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--request-id", default=None, metavar="ID",
              help="Only the job a distilgen create tagged with this request id (after an unknown outcome).")
@_api_options
@handle_errors
def jobs_list_cmd(limit: int, base_url: str | None, api_key: str | None, fmt: str, request_id: str | None) -> None:
    """Recent fine-tuning jobs, newest first."""
    jobs = api.jobs_list(limit=limit, request_id=request_id, base_url=base_url, api_key=api_key)
    if fmt == "json":
        echo_json(jobs)
        return
    for j in jobs:
        click.echo(f"{j.id}  {j.status:<16} {j.model}  {j.fine_tuned_model or '-'}")
    if not jobs:
        click.echo(f"no fine-tuning job tagged {request_id}" if request_id else "no fine-tuning jobs", err=True)


@jobs_group.command("events")
@click.argument("job_id")
@click.option("--limit", type=int, default=100, show_default=True)
@_api_options
@handle_errors
def jobs_events_cmd(job_id: str, limit: int, base_url: str | None, api_key: str | None, fmt: str) -> None:
    """A job's events, oldest first."""
    import datetime as _dt

    events = api.jobs_events(job_id, limit=limit, base_url=base_url, api_key=api_key)
    if fmt == "json":
        echo_json(events)
        return
    for e in events:
        when = _dt.datetime.fromtimestamp(e.created_at, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{when}  {e.level:<5} {e.message}")


@jobs_group.command("checkpoints")
@click.argument("job_id")
@_api_options
@handle_errors
def jobs_checkpoints_cmd(job_id: str, base_url: str | None, api_key: str | None, fmt: str) -> None:
    """A job's checkpoints (a fine-tuned model per saved step)."""
    cps = api.jobs_checkpoints(job_id, base_url=base_url, api_key=api_key)
    if fmt == "json":
        echo_json(cps)
        return
    for c in cps:
        metrics = ", ".join(f"{k}={v}" for k, v in sorted(c.metrics.items()) if k != "step")
        click.echo(f"step {c.step}  {c.model}  {metrics}")
    if not cps:
        click.echo(f"{job_id}: no checkpoints yet", err=True)


@jobs_group.command("cancel")
@click.argument("job_id")
@_api_options
@handle_errors
def jobs_cancel_cmd(job_id: str, base_url: str | None, api_key: str | None, fmt: str) -> None:
    """Cancel a running job."""
    job = api.jobs_cancel(job_id, base_url=base_url, api_key=api_key)
    if fmt == "json":
        echo_json(job)
    else:
        click.echo(f"{job.id}: {job.status}")


@click.group("files")
def files_group() -> None:
    """Files on OpenAI or any service with the same API."""


@files_group.command("upload")
@click.argument("file", type=click.Path())
@click.option("--purpose", default="fine-tune", show_default=True)
@click.option("--no-validate", is_flag=True, help="Upload a fine-tune file even when it has errors.")
@click.option("--model", default=None, help="Base model whose limits validation applies.")
@_api_options
@handle_errors
def files_upload_cmd(file: str, purpose: str, no_validate: bool, model: str | None, base_url: str | None,
                     api_key: str | None, fmt: str) -> None:
    """Upload FILE (a fine-tune file is validated first)."""
    info = api.files_upload(file, purpose=purpose, validate=not no_validate, model=model, base_url=base_url,
                            api_key=api_key)
    if fmt == "json":
        echo_json(info)
    else:
        click.echo(info.id)


@files_group.command("list")
@click.option("--purpose", default=None)
@click.option("--limit", type=int, default=100, show_default=True)
@_api_options
@handle_errors
def files_list_cmd(purpose: str | None, limit: int, base_url: str | None, api_key: str | None, fmt: str) -> None:
    """Uploaded files."""
    files = api.files_list(purpose=purpose, limit=limit, base_url=base_url, api_key=api_key)
    if fmt == "json":
        echo_json(files)
        return
    for f in files:
        click.echo(f"{f.id}  {f.purpose:<18} {f.bytes:>10}  {f.filename}")
    if not files:
        click.echo("no files", err=True)


@files_group.command("delete")
@click.argument("file_id")
@_api_options
@handle_errors
def files_delete_cmd(file_id: str, base_url: str | None, api_key: str | None, fmt: str) -> None:
    """Delete an uploaded file."""
    deleted = api.files_delete(file_id, base_url=base_url, api_key=api_key)
    if fmt == "json":
        echo_json({"id": file_id, "deleted": deleted})
    else:
        click.echo(f"{file_id}: {'deleted' if deleted else 'not deleted'}")
    if not deleted:  # the service refused: a failed operation
        sys.exit(EXIT_ERROR)
