"""The `distilgen` command line: click only, each command a thin call into `distilgen.api`.

The commands live in `_cli_*.py` modules, one per area, and are imported only when invoked: the
table below names each command's module and its short help, so `distilgen --help` imports click
and nothing else of distilgen's, and `distilgen check` imports only what checking needs.
`tests/test_cli_lazy.py` keeps the table equal to the commands (same names, same short help).

Exit codes (ruff's contract, `_cli_common.py`): 0 clean, 1 findings, 2 a usage or configuration
error, a failed operation or an internal error. Every library error is one line, never a traceback.
"""

from __future__ import annotations

import importlib
from gettext import gettext as _
from typing import Any, Mapping

import click

from ._version import __version__

# command -> (module:attribute, short help: the first paragraph of the command's docstring)
COMMANDS: Mapping[str, tuple[str, str]] = {
    "scan": ("distilgen._cli_scan:scan_cmd",
             "Find every function whose return annotation resolves to a pydantic model."),
    "config": ("distilgen._cli_scan:config_cmd",
               "Print the effective [tool.distilgen] configuration (defaults included) and the interpreter."),
    "apply": ("distilgen._cli_codemods:apply_cmd",
              "Add @instructions.distil to candidates; or rebind (--dispatch/--capture) or --remove it."),
    "stubs": ("distilgen._cli_codemods:stubs_cmd",
              "Write a module of dispatch-mode stubs: same signatures, docstrings and return models, bodies `...`."),
    "prompts": ("distilgen._cli_lock:prompts_cmd",
                "Record the system prompt of every distilled function in distilgen.lock."),
    "check": ("distilgen._cli_lock:check_cmd", "Fail when distilled functions drifted from distilgen.lock."),
    "dataset": ("distilgen._cli_ops:dataset_group",
                "Check, measure, split and convert fine-tuning datasets (no API key needed)."),
    "jobs": ("distilgen._cli_ops:jobs_group", "Fine-tuning jobs on OpenAI or any service with the same API."),
    "files": ("distilgen._cli_ops:files_group", "Files on OpenAI or any service with the same API."),
    "train": ("distilgen._cli_train:train_cmd",
              "Fine-tune a small local model (LoRA, CPU or GPU) on captured examples of one function."),
    "serve": ("distilgen._cli_train:serve_cmd",
              "Serve `distilgen train` folders with llama.cpp's OpenAI-compatible server until Ctrl-C."),
    "generate": ("distilgen._cli_eval:generate_cmd",
                 "Capture training calls of TARGET (module:qualname or path.py:qualname) on drawn arguments."),
    "eval": ("distilgen._cli_eval:eval_cmd",
             "Score a model against the real function TARGET (module:qualname or path.py:qualname)."),
    "walkthrough": ("distilgen._cli_eval:walkthrough_cmd",
                    "Run the whole loop on a copy of sample_project/: scan, apply, generate, dataset, train, "
                    "serve, apply --dispatch, check, run the app, eval, report."),
}


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


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distilgen")
@click.option("--debug", is_flag=True, help="Show the traceback of an internal error.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Distil typed Python functions into fine-tuned language models, and back."""
    ctx.meta["distilgen.debug"] = debug


if __name__ == "__main__":  # pragma: no cover
    main()
