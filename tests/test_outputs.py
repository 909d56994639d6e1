"""`scan -o`, `dataset export --out`, `dataset split --out` on paths that cannot be written: one
line naming the path, exit 2, and nothing half-written (distilgen/_output.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from distilgen.cli import main

GOOD = Path(__file__).parent / "data" / "dataset_corpus" / "good_tools.jsonl"
SOURCE = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: int\n\n\ndef f(a: int) -> M:\n    return M(x=a)\n"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _commands(tmp_path: Path, out: str) -> list[list[str]]:
    (tmp_path / "proj").mkdir(exist_ok=True)
    (tmp_path / "proj" / "m.py").write_text(SOURCE, encoding="utf-8")
    return [["scan", str(tmp_path / "proj"), "--no-cache", "-o", out],
            ["dataset", "export", str(GOOD), "--to", "hf-chat", "--out", out],
            ["dataset", "split", str(GOOD), "--out", out]]


@pytest.mark.parametrize("where", ["missing-folder", "under-a-file", "dev-full"])
def test_unwritable_outputs_are_one_line_exit_2(tmp_path: Path, where: str) -> None:
    (tmp_path / "afile").write_text("keep", encoding="utf-8")
    out = {"missing-folder": str(tmp_path / "nonexistent" / "x"), "under-a-file": str(tmp_path / "afile" / "x"),
           "dev-full": "/dev/full"}[where]
    if where == "dev-full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    commands = _commands(tmp_path, out)
    before = sorted(p.name for p in tmp_path.iterdir())
    for args in commands:
        code, stdout, err = run(*args)
        line = one_line(err)
        assert code == 2, (args, err)
        assert line.startswith(f"distilgen: error: {args[-2]} {out}: "), line
        if where == "dev-full" and args[1] != "split":
            assert line.endswith("cannot write: no space left on device"), line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no folder, file or temp file left
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "keep"
    assert not (tmp_path / "nonexistent").exists()


def test_split_writes_both_files_or_neither(tmp_path: Path) -> None:
    out = tmp_path / "split"
    out.mkdir()
    (out / "train.jsonl").write_text("old train\n", encoding="utf-8")
    (out / "val.jsonl").mkdir()  # val cannot be written: train must stay as it was
    code, _, err = run("dataset", "split", str(GOOD), "--out", str(out))
    assert code == 2 and "val.jsonl: is a folder, not a file" in one_line(err)
    assert (out / "train.jsonl").read_text(encoding="utf-8") == "old train\n"
    assert sorted(p.name for p in out.iterdir()) == ["train.jsonl", "val.jsonl"]


def test_outputs_still_written_whole_and_to_devices(tmp_path: Path) -> None:
    code, stdout, err = run("dataset", "split", str(GOOD), "--out", str(tmp_path / "s"))
    assert code == 0, err
    lines = len(GOOD.read_text(encoding="utf-8").splitlines())
    written = [(tmp_path / "s" / n).read_text(encoding="utf-8").splitlines() for n in ("train.jsonl", "val.jsonl")]
    assert sum(map(len, written)) == lines
    code, _, err = run("dataset", "export", str(GOOD), "--to", "sharegpt", "--out", "/dev/null")
    assert code == 0, err
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")  # a device is written to, not replaced


@pytest.mark.parametrize("toml", ["tool = 3\n", 'tool = "x"\n', "tool = [1]\n", "[tool]\ndistilgen = 3\n"])
def test_a_tool_key_that_is_not_a_table_is_a_config_error(tmp_path: Path, toml: str) -> None:
    (tmp_path / "pyproject.toml").write_text(toml, encoding="utf-8")
    (tmp_path / "m.py").write_text(SOURCE, encoding="utf-8")
    for args in (["scan", str(tmp_path), "--no-cache"], ["config", str(tmp_path)]):
        code, _, err = run(*args)
        assert code == 2, (args, err)
        line = one_line(err)
        assert str(tmp_path / "pyproject.toml") in line and "must be a table" in line, line
