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
# --- end generate / eval / walkthrough ---------------------------------------------------------


if __name__ == "__main__":  # pragma: no cover
    main()
