"""The `distilgen` command line: click only, each command a thin call into `distilgen.api`.

The commands live in `_cli_*.py` modules, one per area, and are imported only when invoked: the
table (`_launch.COMMANDS`) names each command's module and its short help, so `distilgen --help`
through click imports nothing else of distilgen's, and `distilgen check` imports only what
checking needs. The console script itself is `_launch.main`, which answers `--help` and a plain
`check` without importing click at all, and hands everything else to `main` here.
`tests/test_cli_contract.py` keeps the table equal to the commands (same names, same short help).

Exit codes (ruff's contract, `_cli_common.py`): 0 clean, 1 findings, 2 a usage or configuration
error, a failed operation or an internal error. Every library error is one line, never a traceback.
"""

from __future__ import annotations

import importlib
from gettext import gettext as _
from typing import Any, Mapping

import click

from ._launch import COMMANDS, DEBUG_HELP, GROUP_HELP, HELP_OPTIONS
from ._version import __version__

__all__ = ["COMMANDS", "LazyGroup", "main"]

class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use, from a table of import paths.

    Help lists each command with click's own layout and truncation, from the table's short help
    for a command not imported yet, so `--help` imports no command module."""

    def __init__(self, *args: Any, lazy: Mapping[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name][0].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return self.commands.get(cmd_name)

    def summary(self, cmd_name: str) -> click.Command:
        """The command if imported, else a stand-in carrying the table's short help."""
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return click.Command(cmd_name, help=self.lazy[cmd_name][1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click.Group.format_commands, with summary() where click calls get_command()
        commands = [(name, self.summary(name)) for name in self.list_commands(ctx)]
        commands = [(name, cmd) for name, cmd in commands if not cmd.hidden]
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section(_("Commands")):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in commands])


@click.group(cls=LazyGroup, lazy=COMMANDS, help=GROUP_HELP,
             context_settings={"help_option_names": list(HELP_OPTIONS)})
@click.version_option(__version__, prog_name="distilgen")
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    ctx.meta["distilgen.debug"] = debug


if __name__ == "__main__":  # pragma: no cover
    main()
