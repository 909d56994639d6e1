"""What every command module shares: one-line errors and ruff's exit codes, `--python`, and the
one output flag (`--format text|json[|github]`, `--json` kept as its alias).

Exit codes (ruff's contract): 0 clean; 1 findings (what a check or gate reports about the
user's code or data); 2 a usage or configuration error, a failed operation, or an internal error.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable, Sequence, TypeVar

import click

from ._cli_text import (
    EXIT_CLEAN as EXIT_CLEAN,  # re-exported for the command modules
    EXIT_ERROR as EXIT_ERROR,
    EXIT_FINDINGS as EXIT_FINDINGS,
    EXIT_INTERRUPTED as EXIT_INTERRUPTED,
    error_line,
    json_text as json_text,
    plural as plural,
)
from .errors import DistilgenError, InternalError

__all__ = ["EXIT_CLEAN", "EXIT_ERROR", "EXIT_FINDINGS", "EXIT_INTERRUPTED", "Progress", "echo", "exit_with",
           "format_option", "handle_errors", "joined", "json_text", "plural", "python_option"]

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """distilgen's own errors become one line on stderr and exit 2 (usage, configuration or a
    failed operation: none of them is a finding); any other exception is a bug, reported the same
    way (its traceback with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # the line is `_cli_text.error_line`'s, as on the click-free path
            if isinstance(exc, InternalError) or not isinstance(exc, DistilgenError):
                ctx = click.get_current_context(silent=True)
                if ctx is not None and ctx.find_root().meta.get("distilgen.debug"):
                    raise  # a bug: its traceback with --debug
            click.echo(error_line(exc), err=True)
            sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]


def python_option(fn: F) -> F:
    """--python PATH: the project's interpreter (its sys.path locates third-party base classes)."""
    return click.option("--python", "python", metavar="PATH", default=None,
                        help="The project's Python interpreter (default: [tool.distilgen] python, VIRTUAL_ENV, "
                             ".venv/ or venv/ at the project root, else this one).")(fn)


_FORMAT_HELP = {
    "text": "text: lines for people",
    "json": "json: one JSON document",
    "github": "github: workflow commands that annotate the pull request",
    "toml": "toml: the same as text",
}


class _FormatChoice(click.Choice):  # type: ignore[type-arg]  # generic only in some click releases
    """A format choice that points values which used to be accepted at the option that takes them now."""

    def __init__(self, choices: Sequence[str], moved: dict[str, str]) -> None:
        super().__init__(list(choices))
        self.moved = moved

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value in self.moved:
            self.fail(f"{value!r} is not an output format: use {self.moved[value]} {value}", param, ctx)
        return super().convert(value, param, ctx)


def format_option(*choices: str, default: str = "text", moved: dict[str, str] | None = None) -> Callable[[F], F]:
    """`--format CHOICE` (the one output flag of every command that prints results) and `--json`,
    its alias; the command receives the chosen format as `fmt`. `moved`: values that now belong to
    another option (generate's line formats), named in the error."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, fmt: str, as_json: bool, **kwargs: Any) -> Any:
            if as_json and fmt not in (default, "json"):
                raise click.UsageError(f"--json and --format {fmt} disagree: give one of them")
            return fn(*args, fmt="json" if as_json else fmt, **kwargs)

        wrapped = click.option("--json", "as_json", is_flag=True, help="The same as --format json.")(wrapper)
        return click.option(  # type: ignore[return-value]
            "--format", "fmt", type=_FormatChoice(choices, moved or {}), default=default, show_default=True,
            help="; ".join(_FORMAT_HELP[c] for c in choices) + ".")(wrapped)

    return decorate


def echo(text: str) -> None:
    """Print a formatter's output as is (it ends with a newline when it is not empty)."""
    if text:
        click.echo(text, nl=not text.endswith("\n"))


def exit_with(findings: bool, *, exit_zero: bool = False) -> None:
    """Exit 1 when there are findings (unless --exit-zero), else return (exit 0)."""
    if findings and not exit_zero:
        sys.exit(EXIT_FINDINGS)


class Progress:
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


def joined(parts: Sequence[str]) -> str:
    return "".join(p + "\n" for p in parts)
