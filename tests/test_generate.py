"""`distilgen generate`: strategies for each kind of hint, determinism, dedupe, failures, inputs, CLI."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from distilgen.errors import UsageError
from distilgen.evals.generate import generate, plan_inputs
from distilgen.evals.inputs import read_inputs
from distilgen.evals.target import resolve_target

MODULE = '''
from __future__ import annotations

import datetime
import enum
import time
from typing import Annotated, Literal, Optional

import annotated_types as at
from pydantic import BaseModel, Field


class Colour(enum.Enum):
    red = "red"
    green = "green"
    blue = "blue"


class Address(BaseModel):
    city: str = Field(min_length=1, max_length=12)
    zip_code: str = Field(pattern=r"[0-9]{5}")


class Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)
    address: Optional[Address] = None


class Out(BaseModel):
    label: Literal["small", "big"]
    colour: Colour
    score: float
    ok: bool


def hinted(n: Annotated[int, at.Ge(10), at.Le(20)], size: Literal["s", "m", "l"], colour: Colour,
           person: Person, when: datetime.date, tags: list[str], maybe: Optional[int] = None,
           ratio: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5) -> Out:
    """Uses every kind of hint generate must draw."""
    return Out(label="big" if n > 15 else "small", colour=colour, score=ratio, ok=maybe is None)


def flag(on: bool) -> Out:
    """Only two possible calls."""
    return Out(label="big" if on else "small", colour=Colour.red, score=1.0, ok=on)


def constant(x: int) -> Out:
    """Always the same answer: generate must flag it."""
    return Out(label="small", colour=Colour.red, score=0.0, ok=True)


def fragile(x: int) -> Out:
    """Raises for some inputs, sleeps for one."""
    if x < 0:
        raise ValueError("negative")
    if x == 7:
        raise KeyError("seven")
    if x == 3:
        time.sleep(5)
    return Out(label="small", colour=Colour.green, score=float(x), ok=True)


def plain(x: int) -> int:
    return x


def texts(subject: str, body: str) -> Out:
    return Out(label="big" if len(body) > 20 else "small", colour=Colour.blue, score=0.0, ok=True)
'''

STRATS = '''
from hypothesis import strategies as st

STRATEGIES = {
    "texts": st.fixed_dictionaries({"subject": st.sampled_from(["Hi", "Help"])}),
    "texts.body": st.sampled_from(["short", "a much longer body of text here"]),
    "x": st.integers(-3, 9),
}
'''


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    name = f"genmod_{tmp_path.name.replace('-', '_')}"
    (root / f"{name}.py").write_text(MODULE)
    (root / f"{name}_strats.py").write_text(STRATS)
    (root / "pyproject.toml").write_text(textwrap.dedent(f'''
        [tool.distilgen]
        dataset = "data/out.jsonl"
        finetune-format = "raw"
        strategies = "{name}_strats:STRATEGIES"
    '''))
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    return root


def _mod(project: Path) -> str:
    return next(p.stem for p in project.glob("genmod_*.py") if not p.stem.endswith("_strats"))


def test_strategies_honour_every_kind_of_hint(project: Path) -> None:
    target = resolve_target(f"{_mod(project)}:hinted", project)
    planned, _, _ = plan_inputs(target, 60, seed=1)
    assert len(planned) == 60
    mod = sys.modules[_mod(project)]
    sizes, colours, with_address, maybes = set(), set(), 0, set()
    for v in planned:
        assert 10 <= v["n"] <= 20
        sizes.add(v["size"])
        colours.add(v["colour"])
        assert isinstance(v["person"], mod.Person) and 0 <= v["person"].age <= 130
        if v["person"].address is not None:
            with_address += 1
            assert len(v["person"].address.zip_code) == 5 and v["person"].address.zip_code.isdigit()
            assert 1 <= len(v["person"].address.city) <= 12
        assert isinstance(v["when"], datetime.date)
        assert isinstance(v["tags"], list) and all(isinstance(t, str) for t in v["tags"])
        maybes.add(v.get("maybe") is None)
        assert 0.0 <= v["ratio"] <= 1.0
    assert sizes == {"s", "m", "l"}
    assert colours == set(mod.Colour)
    assert with_address > 0  # the optional nested model is drawn too, not always left at its default
    assert maybes == {True, False}


def test_same_seed_same_calls_other_seed_other_calls(project: Path) -> None:
    target = resolve_target(f"{_mod(project)}:hinted", project)
    a, _, _ = plan_inputs(target, 15, seed=4)
    b, _, _ = plan_inputs(target, 15, seed=4)
    c, _, _ = plan_inputs(target, 15, seed=5)
    assert a == b
    assert a != c


def test_dedupe_stops_at_the_size_of_the_input_space(project: Path) -> None:
    result = generate(f"{_mod(project)}:flag", 10, seed=0)
    assert result.planned == 2 and result.written == 2
    assert result.duplicates > 0
    lines = (project / "data/out.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["args"][0] for line in lines) == [False, True]


def test_failures_are_counted_by_type_and_timeouts_cut(project: Path) -> None:
    result = generate(f"{_mod(project)}:fragile", 13, seed=0, timeout=0.5, out="f.jsonl")
    errors = dict(result.errors)
    # x in -3..9 (from the project's strategies): 3 negatives, 7 raises KeyError, 3 times out
    assert result.planned == 13
    assert errors == {"ValueError": 3, "KeyError": 1, "CallTimeout": 1}
    assert result.written == 13 - 5
    assert result.seconds < 4  # the 5 s sleep was cut
    written = [json.loads(line)["args"][0] for line in (project / "f.jsonl").read_text().splitlines()]
    assert sorted(written) == [0, 1, 2, 4, 5, 6, 8, 9]


def test_user_strategies_whole_call_and_per_parameter(project: Path) -> None:
    result = generate(f"{_mod(project)}:texts", 4, seed=0, out="t.jsonl")
    rows = [json.loads(line) for line in (project / "t.jsonl").read_text().splitlines()]
    calls = {(r["args"][0], r["args"][1]) for r in rows}
    assert calls == {("Hi", "short"), ("Help", "short"), ("Hi", "a much longer body of text here"),
                     ("Help", "a much longer body of text here")}
    assert result.written == 4


def test_variety_flags_a_constant_answer(project: Path) -> None:
    result = generate(f"{_mod(project)}:constant", 12, seed=0, out="c.jsonl")
    assert result.variety.distinct == 1
    assert any("every one of the 12 answers is the same" in f for f in result.variety.flags)
    label = next(f for f in result.variety.fields if f.field == "label")
    assert label.counts == (("small", 12),) and label.single


def test_inputs_used_first_then_mutated(project: Path) -> None:
    inputs = project / "in.jsonl"
    inputs.write_text('{"subject": "Refund", "body": "I was charged twice for my order"}\n'
                      '{"args": ["Parcel", "tracking has not moved since Monday"]}\n')
    result = generate(f"{_mod(project)}:texts", 12, seed=2, inputs=str(inputs), out="m.jsonl")
    rows = [json.loads(line) for line in (project / "m.jsonl").read_text().splitlines()]
    assert [r["args"] for r in rows[:2]] == [["Refund", "I was charged twice for my order"],
                                             ["Parcel", "tracking has not moved since Monday"]]
    assert result.from_inputs == 2 and result.written == 12
    words = set("I was charged twice for my order tracking has not moved since Monday".lower().split())
    # mutations keep to the inputs' vocabulary or the configured strategies
    mutated_bodies = [r["args"][1] for r in rows[2:]]
    assert any(set(b.lower().split()) <= words for b in mutated_bodies)


def test_bad_inputs_line_names_file_and_line(project: Path) -> None:
    target = resolve_target(f"{_mod(project)}:flag", project)
    bad = project / "bad.jsonl"
    bad.write_text('{"on": true}\n{"on": "maybe"}\n')
    with pytest.raises(UsageError, match=r"bad.jsonl:2: parameter 'on'"):
        read_inputs(bad, target)
    bad.write_text('{"on": true}\n\n{"off": 1}\n')
    with pytest.raises(UsageError, match=r"bad.jsonl:3: .* has no parameter 'off'"):
        read_inputs(bad, target)
    bad.write_text('{"on": tru\n')
    with pytest.raises(UsageError, match=r"bad.jsonl:1: invalid JSON"):
        read_inputs(bad, target)


def test_training_lines_read_back_as_inputs(project: Path) -> None:
    generate(f"{_mod(project)}:hinted", 8, seed=3, out="tools.jsonl", finetune_format="tools")
    target = resolve_target(f"{_mod(project)}:hinted", project)
    pairs = read_inputs(project / "tools.jsonl", target, with_outputs=True)
    assert len(pairs) == 8
    for values, output in pairs:
        out = target.original(*target.split(values)[0], **target.split(values)[1])
        assert out.model_dump(mode="json") == output


def test_a_dataset_line_cannot_run_code_through_its_user_message(project: Path, tmp_path: Path) -> None:
    """Issue 17: the rendered call is read with an ast walk, so the old allow-list escape is an error."""
    from click.testing import CliRunner

    from distilgen.cli import main

    generate(f"{_mod(project)}:hinted", 2, seed=3, out="tools.jsonl", finetune_format="tools")
    line = json.loads((project / "tools.jsonl").read_text().splitlines()[0])
    canary = tmp_path / "x"
    line["messages"][1]["content"] = f"Return hinted(datetime.sys.modules.get('os').system('touch {canary}'), 'b')"
    bad = project / "hostile.jsonl"
    bad.write_text((project / "tools.jsonl").read_text().splitlines()[1] + "\n" + json.dumps(line) + "\n")
    for args in (["generate", f"{_mod(project)}:hinted", "-n", "3", "--inputs", str(bad), "-o", "o.jsonl", "-q"],
                 ["eval", f"{_mod(project)}:hinted", "--model", "m", "--dataset", str(bad), "--base-url", "http://127.0.0.1:9/v1"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2 and isinstance(r.exception, SystemExit), r.output
        assert f"{bad}:2: user message is not a rendered call of hinted: datetime.sys.modules.get('os').system is not a constructor" in r.output, r.output
    assert not canary.exists()
    # what capture wrote reads back: nested models, enums, dates
    target = resolve_target(f"{_mod(project)}:hinted", project)
    assert len(read_inputs(project / "tools.jsonl", target)) == 2


def test_lines_nested_past_the_recursion_limit_are_one_line_errors(project: Path) -> None:
    """Found by tests/fuzz/test_fuzz_datasets.py: these were RecursionError tracebacks."""
    generate(f"{_mod(project)}:flag", 2, seed=3, out="tools.jsonl", finetune_format="tools")
    target = resolve_target(f"{_mod(project)}:flag", project)
    line = json.loads((project / "tools.jsonl").read_text().splitlines()[0])
    line["messages"][2]["tool_calls"][0]["function"]["arguments"] = '{"label": ' + "[" * 3000 + "]" * 3000 + "}"
    deep = project / "deep.jsonl"
    deep.write_text(json.dumps(line) + "\n")
    ((values, output),) = read_inputs(deep, target, with_outputs=True)
    assert output is None and values  # the call is still usable; the recorded answer is not
    deep.write_text("[" * 100000 + "\n")
    with pytest.raises(UsageError, match=r"deep.jsonl:1: invalid JSON: maximum recursion depth"):
        read_inputs(deep, target)


def test_bad_targets_are_one_clear_error(project: Path) -> None:
    with pytest.raises(UsageError, match="expected 'module:qualname'"):
        resolve_target("nocolon", project)
    with pytest.raises(UsageError, match="has no missing"):
        resolve_target(f"{_mod(project)}:missing", project)
    with pytest.raises(UsageError, match="cannot import"):
        resolve_target("no_such_module_xyz:f", project)
    with pytest.raises(UsageError, match="is not a function"):
        resolve_target(f"{_mod(project)}:Colour", project)
    with pytest.raises(UsageError, match="not a pydantic model"):
        resolve_target(f"{_mod(project)}:plain", project)


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_cli_generate_on_the_sample_project(tmp_path: Path) -> None:
    sample = tmp_path / "sample_project"
    shutil.copytree(Path(__file__).resolve().parents[1] / "sample_project", sample,
                    ignore=shutil.ignore_patterns(".hypothesis", "__pycache__", ".distilgen_cache"))
    before = sorted(p.name for p in sample.iterdir())
    out = tmp_path / "triage.jsonl"
    r = _cli("generate", "inbox.triage:classify_ticket", "-n", "30", "--seed", "1", "-o", str(out), cwd=sample,
             env={"DISTILGEN_CACHE": str(tmp_path / "cache"), "HYPOTHESIS_STORAGE_DIRECTORY": ""})
    assert r.returncode == 0, r.stderr
    # hypothesis's own files (its constants cache) go to distilgen's cache, not into the user's project
    assert sorted(p.name for p in sample.iterdir()) == before
    assert (tmp_path / "cache" / "hypothesis").is_dir()
    assert "30 examples written" in r.stdout
    assert "urgency:" in r.stdout and "team:" in r.stdout
    assert "warning" not in r.stdout  # the sample's strategies reach every label
    assert len(out.read_text().splitlines()) == 30
    r2 = _cli("generate", "inbox/extract.py:extract_order", "-n", "5", "-o", str(tmp_path / "o.jsonl"), "--json",
              cwd=sample)
    assert r2.returncode == 0, r2.stderr
    assert json.loads(r2.stdout)["written"] == 5


def test_cli_without_hypothesis_fails_with_one_line(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['hypothesis'] = None; from distilgen.cli import main; "
            "sys.argv = ['distilgen', 'generate', 'inbox.triage:classify_ticket', '-n', '2', '-o', "
            f"{str(tmp_path / 'x.jsonl')!r}]; main()")
    sample = Path(__file__).resolve().parents[1] / "sample_project"
    r = subprocess.run([sys.executable, "-c", code], cwd=sample, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "distilgen: error: this needs the 'generate' extra (hypothesis is not installed): "
        "pip install 'distilgen[generate]'"]


def test_whole_call_strategy_with_a_wrong_key_is_one_clear_error(project: Path) -> None:
    from hypothesis import strategies as st

    target = resolve_target(f"{_mod(project)}:texts", project)
    with pytest.raises(UsageError, match=r"strategy for texts must give a dict of its parameters \(subject, body\)"):
        plan_inputs(target, 3, user_strategies={"texts": st.just({"subjct": "x"})})
