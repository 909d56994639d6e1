"""`distilgen scan` and `distilgen config`."""

from __future__ import annotations

import click

from . import api
from .contracts import ReportFormat
from ._cli_common import echo, exit_with, format_option, handle_errors, python_option


@click.command("scan")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@format_option("text", "json", "github")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report to FILE instead of standard output.")
@click.option("--select", multiple=True, metavar="PATTERN",
              help="Only these functions: a path glob (inbox/*.py), a qualname pattern (Catalog.*) or module:qualname. Repeatable.")
@click.option("--exclude", multiple=True, metavar="PATTERN", help="Leave these functions out (same patterns). Repeatable.")
@click.option("--include-generated", is_flag=True, help="Also report files marked @generated.")
@click.option("--no-cache", is_flag=True, help="Ignore and do not write .distilgen_cache/.")
@click.option("--check", is_flag=True, help="Exit 1 when a candidate is not decorated yet.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings or unreadable files.")
@python_option
@handle_errors
def scan_cmd(paths: tuple[str, ...], fmt: ReportFormat, output: str | None, select: tuple[str, ...], exclude: tuple[str, ...],
             include_generated: bool, no_cache: bool, check: bool, exit_zero: bool, python: str | None) -> None:
    """Find every function whose return annotation resolves to a pydantic model."""
    report = api.scan(paths or (".",), select=select, exclude=exclude, include_generated=include_generated,
                      use_cache=not no_cache, python=python)
    text = api.format_scan(report, fmt)
    if output:
        from ._output import write_outputs

        write_outputs({output: text}, option="-o")
    else:
        echo(text)
    # a file that cannot be read or parsed is a finding, as a syntax error is for `ruff check`
    exit_with(bool(report.errors) or (check and bool(report.by_status("candidate"))), exit_zero=exit_zero)


@click.command("config")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=str))
@format_option("text", "toml", "json")
@python_option
@handle_errors
def config_cmd(path: str | None, fmt: str, python: str | None) -> None:
    """Print the effective [tool.distilgen] configuration (defaults included) and the interpreter."""
    echo(api.format_config(api.config_report(path, python=python), "json" if fmt == "json" else "text"))
