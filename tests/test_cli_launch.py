"""The console script's click-free fast paths (issue 16, fast start): `distilgen --help` and a plain
`distilgen check [PATH...]` print exactly what the click commands print, exit the same way, and
never import click; anything else is handed to click."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from distilgen import _launch, cli

SAMPLE = Path(__file__).resolve().parent.parent / "sample_project"


def _click_help(prog: str, width: int) -> str:
    result = CliRunner().invoke(cli.main, ["--help"], prog_name=prog, terminal_width=width)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("width", range(30, 141))
def test_help_is_clicks_help_byte_for_byte_at_every_width(width: int) -> None:
    fast = _launch.render_help("distilgen", width)
    if 50 <= width <= 78:  # every width click can pick for a terminal (min(columns, 80) - 2, at least 50)
        assert fast is not None, width
    if fast is not None:
        assert fast == _click_help("distilgen", width)


def test_help_hands_over_to_click_where_it_would_lay_out_differently() -> None:
    long_prog = "a-very-long-name-for-the-distilgen-console-script"
    assert _launch.render_help(long_prog, 60) is None  # click moves the usage arguments to their own line
    assert textwrap.wrap("models are fine-tuned", 16) == ["models are fine-", "tuned"]
    assert _launch._wrap("models are fine-tuned", 16) is None  # so a hyphenated word at a break goes to click
    assert _launch._wrap("one two three four", 9) == ["one two", "three", "four"]
    assert _launch._short_help("Averyveryverylongword and more.", 10) is None  # textwrap.shorten would cut it


def _console(args: list[str], cwd: Path, columns: str | None = "80", probe: bool = False,
             ) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `_launch.main` as the console script does (a plain script, `__main__` without a package)."""
    code = (f"import sys\nsys.argv = ['distilgen', *{args!r}]\nfrom distilgen._launch import main\n"
            "try:\n    main()\n    code = 0\nexcept SystemExit as exc:\n    code = exc.code\n")
    if probe:
        code += "import json\nprint('\\nMODULES ' + json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    code += "sys.exit(code)\n"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["DISTILGEN_CACHE"] = str(cwd / ".user-cache")  # the TOML parse cache: this test's own
    if columns is not None:
        env["COLUMNS"] = columns
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)
    modules: set[str] = set()
    if probe:
        head, _, tail = proc.stderr.rpartition("\nMODULES ")
        modules = set(json.loads(tail))
        proc = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout, head)
    return proc, modules


@pytest.mark.parametrize("columns", ["50", "64", "200", None])
def test_the_console_script_prints_clicks_help_without_importing_click(tmp_path: Path, columns: str | None) -> None:
    for flag in ("--help", "-h"):
        proc, modules = _console([flag], tmp_path, columns, probe=True)
        assert proc.returncode == 0 and proc.stderr == ""
        width = max(min(int(columns or 80), 80) - 2, 50)  # no terminal here: COLUMNS, else 80
        assert proc.stdout == _click_help("distilgen", width)
        assert "click" not in modules
        assert not {m for m in modules if m.startswith("distilgen.") and m != "distilgen._launch"} - {
            "distilgen._version", "distilgen.errors"}


def test_options_and_other_commands_go_to_click(tmp_path: Path) -> None:
    proc, modules = _console(["--version"], tmp_path, probe=True)
    assert proc.returncode == 0 and "distilgen, version" in proc.stdout and "click" in modules
    proc, _ = _console(["chekc"], tmp_path)
    assert proc.returncode == 2 and "No such command 'chekc'" in proc.stderr


def _sample(tmp_path: Path) -> Path:
    project = tmp_path / "sample"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns(".distilgen_cache", "__pycache__"))
    return project


def test_a_plain_check_is_the_click_command_without_click(tmp_path: Path) -> None:
    project = _sample(tmp_path)
    # the same command through click (an option sends it there) and through the fast path
    slow, slow_modules = _console(["check", "--format", "text", str(project)], tmp_path, probe=True)
    fast, fast_modules = _console(["check", str(project)], tmp_path, probe=True)
    assert "click" in slow_modules and "click" not in fast_modules
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr) == (0, "", "")
    # findings: the project requires its candidates to be decorated, and none is yet
    config = project / "pyproject.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[tool.distilgen]\n", "[tool.distilgen]\nrequire-decorated = true\n"), encoding="utf-8")
    slow, _ = _console(["check", "--format", "text", "inbox"], project)
    fast, _ = _console(["check", "inbox"], project)
    assert fast.returncode == 1 and "inbox/triage.py:" in fast.stdout and fast.stderr.endswith("findings\n")
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)


def test_a_plain_check_fails_with_the_same_one_line_errors(tmp_path: Path) -> None:
    project = _sample(tmp_path)
    (project / "pyproject.toml").write_text("[tool.distilgen]\nbogus = 1\n", encoding="utf-8")
    slow, _ = _console(["check", "--format", "text"], project)
    fast, _ = _console(["check"], project)
    assert fast.returncode == 2 and fast.stderr.startswith("distilgen: error: ") and fast.stdout == ""
    assert len(fast.stderr.strip().splitlines()) == 1
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)


def test_a_warm_plain_check_imports_only_what_checking_needs(tmp_path: Path) -> None:
    project = _sample(tmp_path)
    _console(["check", str(project)], tmp_path)  # warm the scan cache, started the same way
    proc, modules = _console(["check", str(project)], tmp_path, probe=True)
    assert proc.returncode == 0, proc.stderr
    assert {m for m in modules if m.startswith("distilgen._cli")} == {"distilgen._cli_text"}
    for area in ("codemods", "ops", "train", "evals", "runtime", "walkthrough"):
        assert not {m for m in modules if m.startswith(f"distilgen.{area}")}, area
    for module in ("click", "tempfile", "subprocess", "shutil", "libcst", "openai", "pydantic", "_hashlib",
                   "textwrap", "distilgen.analysis.resolve", "distilgen.prompts.recording", "tomllib", "string",
                   "signal", "distilgen.analysis.processes"):
        assert module not in modules, f"a warm check imported {module}"


def test_a_path_in_no_project_is_an_error_not_a_scan_of_the_folder_above(tmp_path: Path) -> None:
    # it used to fall back to the parent folder: `check /nonexistent` scanned `/` (and crashed in /proc)
    missing = tmp_path / "no" / "such" / "place"
    for args in (["check", str(missing)], ["check", "--format", "text", str(missing)]):
        proc, _ = _console(args, tmp_path)
        assert (proc.returncode, proc.stdout) == (2, ""), proc.stderr
        assert proc.stderr == f"distilgen: error: path does not exist: {missing}\n"
    # a file the commit deleted still selects its project (pre-commit passes its name)
    project = _sample(tmp_path)
    proc, _ = _console(["check", str(project / "inbox" / "deleted_in_this_commit.py")], tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_a_symlink_that_vanishes_while_it_is_described_is_still_one_reason(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from distilgen.analysis import discovery

    gone = tmp_path / "gone"  # a /proc/PID/exe of a process that exited between listing and reading
    monkeypatch.setattr(discovery.os.path, "islink", lambda path: True)
    err = FileNotFoundError(errno.ENOENT, "No such file or directory")
    assert discovery._os_reason(err, str(gone)) == "broken symlink"


def test_an_empty_path_is_an_error_not_a_check_of_the_current_folder(tmp_path: Path) -> None:
    project = _sample(tmp_path)
    before = {p: p.read_bytes() for p in project.rglob("*.py")}
    for args in (["check", ""], ["check", "--format", "text", ""], ["prompts", ""], ["apply", ""], ["scan", ""],
                 ["stubs", "--model", "m", ""]):
        proc, _ = _console(args, project)
        assert proc.returncode == 2 and proc.stderr.startswith("distilgen: error: an empty path was given"), proc
    assert {p: p.read_bytes() for p in project.rglob("*.py")} == before  # `apply ""` edited nothing


@pytest.mark.parametrize("columns", ["abc", "0", "-5"])
def test_a_nonsense_columns_variable_falls_back_as_click_does(tmp_path: Path, columns: str) -> None:
    proc, _ = _console(["--help"], tmp_path, columns)
    clicks = subprocess.run([sys.executable, "-c", "from distilgen.cli import main; main(prog_name='distilgen')", "--help"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**{k: v for k, v in os.environ.items() if k != "LINES"}, "COLUMNS": columns})
    assert proc.returncode == clicks.returncode == 0
    assert proc.stdout == clicks.stdout == _click_help("distilgen", 78)  # no terminal: 80 columns
