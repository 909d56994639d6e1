"""The `distilgen` console script: answers `--help` and a plain `check` without importing click.

A pre-commit hook runs `distilgen check FILE...` on every commit, and importing click alone costs
about three bare interpreter starts (it imports `inspect`, `enum`, `typing`, `gettext`), more than
the check itself. So this module, which imports nothing but `os` and `sys`, serves the two
invocations that need no option parsing:

- `distilgen --help` / `-h`: the group's help, laid out as click lays it out (usage, description,
  options, the command table with click's truncation) for the terminal's width. Whenever the layout
  would need something this renderer does not reproduce (a long program name, a hyphenated word at
  a line break, a word longer than its column), it hands over to click instead.
  `tests/test_cli_launch.py` compares the two byte for byte at every width.
- `distilgen check [PATH...]` with no option: the same body the click command runs
  (`_cli_text.run_check`), with the same one-line errors and exit codes.

Anything else (any argument starting with `-`, any other command) goes to click (`cli.py`).
The command table lives here so both layers read one copy.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs more than the rest of --help
if TYPE_CHECKING:
    from typing import Mapping

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

# the group's own help (cli.py builds the click group from these same strings)
GROUP_HELP = "Distil typed Python functions into fine-tuned language models, and back."
DEBUG_HELP = "Show the traceback of an internal error."
HELP_OPTIONS = ("-h", "--help")
# the options section as click prints it: --version, --debug, then the help option
_OPTION_ROWS = (("--version", "Show the version and exit."), ("--debug", DEBUG_HELP),
                (", ".join(HELP_OPTIONS), "Show this message and exit."))
_USAGE_ARGS = "[OPTIONS] COMMAND [ARGS]..."


def main() -> None:
    argv = sys.argv[1:]
    if len(argv) == 1 and argv[0] in HELP_OPTIONS:
        text = fast_help()
        if text is not None:
            _write(sys.stdout, text)
            return
    elif argv[:1] == ["check"] and not any(arg.startswith("-") for arg in argv[1:]):
        sys.exit(_fast_check(argv[1:]))
    from .cli import main as click_main

    click_main()


# --- help ----------------------------------------------------------------------------------------


def fast_help() -> str | None:
    """The group's help as click would print it, or None where click must render it."""
    main_module = sys.modules.get("__main__")
    if getattr(main_module, "__package__", None) not in (None, ""):
        return None  # `python -m distilgen`: click derives the program name from the module
    return render_help(os.path.basename(sys.argv[0]), _help_width())


def _help_width() -> int:
    # click: max(min(shutil.get_terminal_size().columns, 80) - 2, 50), without importing shutil
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    try:
        lines = int(os.environ["LINES"])
    except (KeyError, ValueError):
        lines = 0
    if columns <= 0 or lines <= 0:
        try:
            size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            size = os.terminal_size((80, 24))
        if columns <= 0:
            columns = size.columns or 80
    return max(min(columns, 80) - 2, 50)


def render_help(prog: str, width: int) -> str | None:
    usage = f"Usage: {prog} {_USAGE_ARGS}"
    if len(usage) > width or len(prog) + 8 + 20 > width:
        return None  # click would wrap the usage line
    description = _wrap(GROUP_HELP, width, indent=2)
    options = _definition_list(_OPTION_ROWS, width)
    names = sorted(COMMANDS)
    limit = width - 6 - max(len(name) for name in names)
    shorts = [_short_help(COMMANDS[name][1], limit) for name in names]
    rows = [(name, short) for name, short in zip(names, shorts) if short is not None]
    commands = _definition_list(rows, width) if len(rows) == len(names) else None
    if description is None or options is None or commands is None:
        return None
    return "\n".join([usage, "", *description, "", "Options:", *options, "", "Commands:", *commands]) + "\n"


def _wrap(text: str, width: int, indent: int = 0) -> list[str] | None:
    """textwrap's greedy fill on spaces, or None where its hyphen splitting could differ."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if not line:
            line = word
        elif indent + len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            if "-" in word:
                return None  # textwrap might put the word's first half on this line
            lines.append(line)
            line = word
        if indent + len(line) > width:
            return None  # textwrap would cut the word
    lines.append(line)
    return [" " * indent + x for x in lines]


def _definition_list(rows: list[tuple[str, str]] | tuple[tuple[str, str], ...], width: int) -> list[str] | None:
    # click.HelpFormatter.write_dl inside a section (indent 2), for first columns under 30
    first_col = max(len(term) for term, _ in rows) + 2
    if first_col - 2 > 30:
        return None
    text_width = max(width - first_col - 2, 10)
    out = []
    for term, text in rows:
        wrapped = _wrap(text, text_width)
        if wrapped is None:
            return None
        out.append("  " + term + " " * (first_col - len(term)) + wrapped[0])
        out += [" " * (first_col + 2) + more for more in wrapped[1:]]
    return out


def _short_help(text: str, limit: int) -> str | None:
    """click's default short help: the first sentence, shortened to `limit` with '...'."""
    words = text.split()
    for i, word in enumerate(words):
        if word.endswith(".") and (i == len(words) - 1 or not words[i + 1][0].islower()):
            words = words[: i + 1]
            break
    whole = " ".join(words)
    if len(whole) <= limit:
        return whole
    if limit < 3 or len(words[0]) > limit:
        return None  # click's textwrap.shorten cuts or drops words here
    kept = ""
    for word in words:
        candidate = f"{kept} {word}" if kept else word
        if len(candidate) + 3 > limit:
            break
        kept = candidate
    return kept + "..." if kept else "..."


# --- check ---------------------------------------------------------------------------------------


def _fast_check(paths: list[str]) -> int:
    import gc

    # One short run whose records are small and acyclic (the scan and the checks turn the collector
    # off anyway): collections while its ~100 modules import cost ~1.3 ms of a ~50 ms warm check.
    gc.disable()
    from . import _cli_text

    try:
        return _cli_text.run_check(tuple(paths), "text", exit_zero=False, python=None,
                                   out=lambda text: _write(sys.stdout, text),
                                   err=lambda text: _write(sys.stderr, text))
    except KeyboardInterrupt:  # as click's main: a blank line, "Aborted!", exit 1
        _write(sys.stderr, "\nAborted!\n")
        return 1
    except Exception as exc:  # as the click command's handle_errors: one line, exit 2
        _write(sys.stderr, _cli_text.error_line(exc) + "\n")
        return _cli_text.EXIT_ERROR


def _write(stream: object, text: str) -> None:
    stream.write(text)  # type: ignore[attr-defined]
    stream.flush()  # type: ignore[attr-defined]
