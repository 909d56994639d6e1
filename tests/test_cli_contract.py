"""The command line's contracts (issues 15 and 16): commands load lazily from a table that cannot
drift from them, each imports only `api` and its own module, exit codes follow ruff (0 clean,
1 findings, 2 usage/config error, failed operation or internal error), and one output flag
(`--format`, `--json` its alias) on every command that prints results."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import distilgen
from distilgen import cli

PACKAGE = Path(distilgen.__file__).parent
SAMPLE = PACKAGE.parent / "sample_project"

# commands that print results; serve and walkthrough print progress lines as they go
NO_RESULT = {"serve", "walkthrough"}


def _real(name: str) -> click.Command:
    module, _, attr = cli.COMMANDS[name][0].partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def _leaves() -> list[tuple[str, click.Command]]:
    out = []
    for name in cli.COMMANDS:
        cmd = _real(name)
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
        else:
            out.append((name, cmd))
    return out


def _fresh(code: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=cwd)
    assert proc.stdout, proc.stderr
    return proc, set(json.loads(proc.stdout.splitlines()[-1]))


def _run_main(args: list[str]) -> str:
    return ("from distilgen.cli import main\n"
            f"try:\n    main({args!r}, prog_name='distilgen')\nexcept SystemExit as exc:\n"
            "    assert exc.code in (0, None), exc.code\n")


# --- the lazy table ------------------------------------------------------------------------------


def test_the_table_names_each_command_with_its_own_short_help() -> None:
    for name, (path, short) in cli.COMMANDS.items():
        cmd = _real(name)
        assert isinstance(cmd, click.Command) and cmd.name == name, path
        stand_in = click.Command(name, help=short)
        for limit in range(20, 160):  # click truncates to the terminal width: same text at every width
            assert stand_in.get_short_help_str(limit) == cmd.get_short_help_str(limit), (name, limit)


def test_lazy_help_is_exactly_the_help_of_the_loaded_commands(tmp_path: Path) -> None:
    lazy, loaded = _fresh(_run_main(["--help"]), tmp_path)
    assert not {m for m in loaded if m.startswith("distilgen._cli_")}, "--help imported a command module"
    for name in cli.COMMANDS:  # load every command, then ask again
        cli.main.get_command(click.Context(cli.main), name)
    assert set(cli.main.commands) == set(cli.COMMANDS)
    eager = CliRunner().invoke(cli.main, ["--help"], prog_name="distilgen", terminal_width=80)
    assert eager.exit_code == 0
    lazy_at_80 = subprocess.run([sys.executable, "-c", "from distilgen.cli import main; "
                                 "main(['--help'], prog_name='distilgen', terminal_width=80)"],
                                capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert lazy_at_80.stdout == eager.output and "walkthrough" in eager.output
    assert lazy.stdout.startswith(lazy_at_80.stdout.split("Commands:")[0][:40])


def test_an_unknown_command_is_a_usage_error() -> None:
    r = CliRunner().invoke(cli.main, ["scna"])
    assert r.exit_code == 2 and "No such command 'scna'" in r.output


def test_help_imports_click_and_nothing_else_of_distilgens(tmp_path: Path) -> None:
    _, loaded = _fresh(_run_main(["--help"]), tmp_path)
    ours = {m for m in loaded if m == "distilgen" or m.startswith("distilgen.")}
    assert ours == {"distilgen", "distilgen._version", "distilgen.errors", "distilgen.cli", "distilgen._launch"}


def test_check_imports_only_its_own_command_module(tmp_path: Path) -> None:
    import shutil

    project = tmp_path / "p"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns(".distilgen_cache", "__pycache__"))
    _fresh(_run_main(["check", str(project)]), tmp_path)  # warm the cache, started the same way
    assert (project / ".distilgen_cache").is_dir()
    _, loaded = _fresh(_run_main(["check", str(project)]), tmp_path)
    commands = {m for m in loaded if m.startswith("distilgen._cli_")}
    assert commands == {"distilgen._cli_common", "distilgen._cli_lock", "distilgen._cli_text"}
    # nothing that checking does not need: no codemods, no ops, no train, no evals, no runtime
    for area in ("codemods", "ops", "train", "evals", "runtime", "walkthrough"):
        assert not {m for m in loaded if m.startswith(f"distilgen.{area}")}, area
    # a warm check writes nothing and starts no process: the writers import these when they write
    for module in ("tempfile", "subprocess", "shutil"):
        assert module not in loaded, f"check imported {module}"


# --- thin commands -------------------------------------------------------------------------------

# contracts: the closed vocabularies (Literal types, a leaf module) the api verbs are typed with
ALLOWED = {"api", "errors", "contracts", "_version", "_cli_common", "_cli_text", "_launch", "_output", ""}  # "" = `from . import <public name>`


def test_commands_import_only_api_and_the_cli_helpers() -> None:
    offenders = []
    for path in [PACKAGE / "cli.py", *sorted(PACKAGE.glob("_cli_*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                module = node.module or ""
                if module.split(".")[0] not in ALLOWED:
                    offenders.append(f"{path.name}:{node.lineno}: from {'.' * node.level}{module}")
                if module == "":
                    offenders += [f"{path.name}:{node.lineno}: {a.name} is not public" for a in node.names
                                  if a.name != "api" and a.name not in distilgen.__all__]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                offenders += [f"{path.name}:{node.lineno}: {n}" for n in names if n.startswith("distilgen")]
    assert offenders == []


# --- one output flag ----------------------------------------------------------------------------


def test_every_command_that_prints_results_has_format_and_the_json_alias() -> None:
    for name, cmd in _leaves():
        params = {p.name: p for p in cmd.params}
        if name in NO_RESULT:
            assert "fmt" not in params
            continue
        assert "fmt" in params and "as_json" in params, name
        fmt = params["fmt"]
        assert fmt.opts == ["--format"] and isinstance(fmt.type, click.Choice), name
        assert {"text", "json"} <= set(fmt.type.choices) and fmt.default == "text", name
        assert params["as_json"].opts == ["--json"], name


def test_json_is_an_alias_and_a_contradiction_is_a_usage_error(tmp_path: Path) -> None:
    runner = CliRunner()
    project = tmp_path / "p"
    (project / "app").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.distilgen]\n")
    (project / "app" / "m.py").write_text(
        "from pydantic import BaseModel\n\nclass M(BaseModel):\n    n: int\n\ndef f(k: int) -> M:\n    return M(n=k)\n")
    a = runner.invoke(cli.main, ["scan", str(project), "--json", "--no-cache"])
    b = runner.invoke(cli.main, ["scan", str(project), "--format", "json", "--no-cache"])
    assert a.exit_code == b.exit_code == 0 and a.output == b.output
    assert json.loads(a.output)[0]["qualname"] == "f"
    bad = runner.invoke(cli.main, ["scan", str(project), "--json", "--format", "github"])
    assert bad.exit_code == 2 and "--json and --format github disagree" in bad.output


# --- exit codes ---------------------------------------------------------------------------------


def _project(tmp_path: Path, body: str) -> Path:
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.distilgen]\n")
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "distil.py").write_text("from distilgen import Instructions\n\ninstructions = Instructions()\n")
    (root / "app" / "m.py").write_text(body)
    return root


DISTILLED = ("from pydantic import BaseModel\n\nfrom app.distil import instructions\n\n\n"
             "class M(BaseModel):\n    n: int\n\n\n@instructions.distil\ndef f(k: int) -> M:\n    return M(n=k)\n")


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=root, capture_output=True, text=True,
                          timeout=120)


def test_prompts_and_check_exit_0_clean_1_findings_2_failures(tmp_path: Path) -> None:
    root = _project(tmp_path, DISTILLED)
    # findings: the function's prompt is not recorded yet
    assert _cli(root, "check").returncode == 1
    pending = _cli(root, "prompts", "--check", "--json")
    assert pending.returncode == 1 and json.loads(pending.stdout)[0]["added"] == ["app.m:f"]
    assert _cli(root, "prompts").returncode == 0
    clean = _cli(root, "check", "--format", "json")
    assert clean.returncode == 0 and json.loads(clean.stdout) == []
    # drift is a finding
    (root / "app" / "m.py").write_text(DISTILLED.replace("    n: int\n", "    n: int\n    extra: str = ''\n"))
    drift = _cli(root, "check", "--format", "json")
    assert drift.returncode == 1, drift.stderr
    [finding] = json.loads(drift.stdout)
    assert finding["path"].endswith("m.py") and finding["function_id"] == "app.m:f"
    # a module that cannot be imported to read the schema: the operation failed, exit 2 (and the
    # entry is kept), whether or not --check asked
    (root / "app" / "m.py").write_text("import no_such_module_anywhere\n" + DISTILLED)
    for args in (("prompts",), ("prompts", "--check")):
        failed = _cli(root, *args)
        assert failed.returncode == 2, (args, failed.stdout, failed.stderr)
        assert "no_such_module_anywhere" in failed.stdout
    # a broken configuration: exit 2, one line
    (root / "pyproject.toml").write_text("[tool.distilgen]\nbogus = 1\n")
    broken = _cli(root, "check")
    assert broken.returncode == 2 and len(broken.stderr.strip().splitlines()) == 1, broken.stderr


def test_apply_exit_codes(tmp_path: Path) -> None:
    root = _project(tmp_path, DISTILLED.replace("@instructions.distil\n", ""))
    assert _cli(root, "apply", "--check", "--no-lock").returncode == 1  # a change is pending
    usage = _cli(root, "apply", "--model", "x")
    assert usage.returncode == 2 and usage.stderr.strip() == "distilgen: error: --model only goes with --dispatch"
    done = _cli(root, "apply", "--no-lock", "--json")
    assert done.returncode == 0, done.stderr
    assert [e["functions"] for e in json.loads(done.stdout)["edits"] if e["status"] == "changed"] == [["f"]]
    assert _cli(root, "apply", "--check", "--no-lock").returncode == 0


def test_an_internal_error_is_one_line_exit_2_and_a_traceback_with_debug(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    from distilgen import api

    def boom(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr(api, "check", boom)
    r = CliRunner().invoke(cli.main, ["check", str(tmp_path)])
    assert r.exit_code == 2
    assert r.output.strip() == ("distilgen: internal error: RuntimeError: a bug (run with --debug for the traceback)")
    r = CliRunner().invoke(cli.main, ["--debug", "check", str(tmp_path)])
    assert isinstance(r.exception, RuntimeError)


def test_a_failed_operation_is_exit_2_not_1(tmp_path: Path) -> None:
    # a DistilgenError that is not a usage error: the dataset file is missing
    r = CliRunner().invoke(cli.main, ["dataset", "split", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 2 and r.output.startswith("distilgen: error: "), r.output
    # findings in a dataset are exit 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    r = CliRunner().invoke(cli.main, ["dataset", "validate", str(bad), "--min-examples", "1"])
    assert r.exit_code == 1 and f"{bad}:1:" in r.output


def test_generate_names_the_moved_line_format_option() -> None:
    r = CliRunner().invoke(cli.main, ["generate", "m:f", "--format", "tools"])
    assert r.exit_code == 2 and "'tools' is not an output format: use --finetune-format tools" in r.output
    assert "--finetune-format [tools|messages|raw]" in CliRunner().invoke(cli.main, ["generate", "--help"]).output
