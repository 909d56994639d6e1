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
# --- end scan / config -------------------------------------------------------------------------

# --- apply / stubs (codemods) ------------------------------------------------------------------
# --- end apply / stubs -------------------------------------------------------------------------

# --- prompts / check (lock) --------------------------------------------------------------------
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
