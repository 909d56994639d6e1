"""Fuzz: hostile JSONL lines through `dataset validate`, `generate --inputs` and `eval --dataset`.

Through the real CLI entry (click's CliRunner on `distilgen.cli.main`): every run ends with exit
0, 1 or 2, no exception escapes (a real user would see a traceback) and nothing runs that the
lines ask for. The lines mix real captured training lines, the same lines with hostile user
messages (a grammar of sandbox escapes: attribute chains to `os`, `__import__`, dunder walks,
lambdas, comprehensions, f-strings, a model class the signature does not name), strict-JSON
breakers (NaN, Infinity, deep nesting, huge numbers, BOM, invalid UTF-8) and random JSON.

Every escape in the grammar would create the canary file if it ran. Slow-marked; each test stops
drawing new work after its time budget.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distilgen.cli import main
from distilgen.testing import FakeOpenAI, Reply

pytestmark = pytest.mark.slow

BUDGET_S = 40.0  # per test: bounded whatever the machine's load
STATS: dict[str, dict[str, int]] = {}

MODULE = '''
import datetime
import enum
import os
from typing import Optional

from pydantic import BaseModel

CANARY = {canary!r}


def boom(*a, **k):
    open(CANARY, "w").close()


class Trap(BaseModel):
    """Not in the signature: constructing it means the reader called a class it must not."""

    def __init__(self, *a, **k):
        boom()
        super().__init__()


class Priority(enum.Enum):
    low = "low"
    high = "high"


class Ticket(BaseModel):
    subject: str
    body: str = ""


class Out(BaseModel):
    label: str
    score: float


def classify(ticket: Ticket, when: datetime.date, tags: list[str] = [], priority: Priority = Priority.low,
             weight: float = 1.0) -> Out:
    """Label a ticket."""
    return Out(label=ticket.subject[:3] or "x", score=weight)
'''


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import sys

    root = tmp_path_factory.mktemp("fuzzdata")
    canary = root / "CANARY"
    (root / "fuzzmod_datasets.py").write_text(MODULE.format(canary=str(canary)), encoding="utf-8")
    (root / "pyproject.toml").write_text("[tool.distilgen]\n", encoding="utf-8")
    sys.path.insert(0, str(root))
    target = "fuzzmod_datasets:classify"
    seeds: list[str] = []
    runner = CliRunner()
    for fmt in ("tools", "messages", "raw"):
        out = root / f"seed_{fmt}.jsonl"
        r = runner.invoke(main, ["generate", target, "-n", "4", "--finetune-format", fmt, "-o", str(out), "-q"])
        assert r.exit_code == 0, r.output
        seeds += out.read_text(encoding="utf-8").splitlines()
    srv = FakeOpenAI().start()
    srv.chat.respond(lambda req: Reply(arguments={"label": "abc", "score": 1.0}))
    try:
        yield {"root": root, "canary": canary, "target": target, "seeds": seeds, "srv": srv}
    finally:
        srv.stop()
        sys.path.remove(str(root))


# --- hostile user messages -----------------------------------------------------------------------

_ESCAPES = [
    "datetime.sys.modules.get('os').system('touch {c}')",
    "__import__('os').system('touch {c}')",
    "open('{c}', 'w')",
    "boom()",
    "Trap()",
    "fuzzmod_datasets.boom()",
    "Ticket.__init__.__globals__['boom']()",
    "Ticket.__class__.__subclasses__(Ticket)",
    "Priority.__init__.__globals__['os'].system('touch {c}')",
    "Path('{c}').touch()",
    "(lambda: boom())()",
    "[boom() for _ in [1]]",
    "f'{{boom()}}'",
    "Ticket(subject=boom())",
    "Ticket(**{{'subject': open('{c}', 'w')}})",
    "datetime.date.fromisoformat('2024-01-01')",
    "Priority('low')",
    "getattr(os, 'system')('touch {c}')",
]
_ATTRS = ["sys", "modules", "system", "__class__", "__globals__", "__init__", "mro", "touch", "low", "utc", "date"]


def _hostile_expr(canary: Path) -> st.SearchStrategy[str]:
    atoms = st.one_of(
        st.sampled_from(_ESCAPES).map(lambda s: s.format(c=canary)),
        st.sampled_from(["Ticket(subject='a')", "datetime.date(2024, 1, 2)", "Priority.high", "['x']", "1.5",
                         "float('nan')", "None", "'a'", "os", "boom", "Trap"]),
        st.text(max_size=8).map(repr),
    )
    return st.recursive(atoms, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(_ATTRS)).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(inner, st.lists(inner, max_size=2)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} + {t[1]})"),
        inner.map(lambda s: f"Ticket(subject={s})"),
    ), max_leaves=5)


def _user_message(canary: Path) -> st.SearchStrategy[str]:
    args = st.lists(_hostile_expr(canary), min_size=1, max_size=3).map(", ".join)
    return st.one_of(
        args.map(lambda a: f"Return classify({a})"),
        args.map(lambda a: f"Return Ticket(subject='s').classify({a})"),
        args.map(lambda a: f"Return classify(Ticket(subject='s'), datetime.date(2024, 1, 1), {a})"),
        st.text(max_size=40),
        st.just("Return classify(" + "[" * 5000 + "]" * 5000 + ")"),
        # 5,000, not more: dataset validate's token count is quadratic in a run of one character
        # (50,000 took minutes; see docs/dataset-and-jobs.md)
        st.just("Return classify(" + "-" * 5000 + "1)"),
        st.just("Return classify(" + "9" * 5000 + ")"),
    )


def _with_user(seed: str, user: str) -> str:
    obj = json.loads(seed)
    if "messages" in obj:
        for m in obj["messages"]:
            if m.get("role") == "user":
                m["content"] = user
    else:
        obj["call"] = user
    return json.dumps(obj)


def _nested(seed: str, depth: int, where: str) -> bytes:
    """A real line with something nested `depth` deep: near and past the interpreter's recursion limit."""
    obj = json.loads(seed)
    deep = "[" * depth + "]" * depth
    if where == "user":
        return _with_user(seed, f"Return classify({deep})").encode()
    if where == "arguments" and "messages" in obj:
        for m in obj["messages"]:
            for call in m.get("tool_calls") or []:
                call["function"]["arguments"] = '{"label": ' + deep + "}"
            if m.get("function_call"):
                m["function_call"]["arguments"] = '{"label": ' + deep + "}"
        return json.dumps(obj).encode()
    key = "kwargs" if "kwargs" in obj else "messages"
    return json.dumps(obj)[:-1].encode() + b', "' + key.encode() + b'x": ' + deep.encode() + b"}"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


def _line(world: dict[str, Any]) -> st.SearchStrategy[bytes]:
    seeds = world["seeds"]
    seed = st.sampled_from(seeds)
    chat_keys = st.sampled_from(["messages", "tools", "functions", "args", "kwargs", "output", "format", "call",
                                 "function_id", "schema", "role", "content", "tool_calls", "arguments", "subject"])
    return st.one_of(
        seed.map(str.encode),
        st.tuples(seed, _user_message(world["canary"])).map(lambda t: _with_user(*t).encode()),
        # JSON Python writes but JSON forbids, inside real lines
        st.tuples(seed, st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "null"])).map(
            lambda t: t[0].replace('"score":1.0', f'"score":{t[1]}').replace('\\"score\\":1.0', f'\\"score\\":{t[1]}').encode()),
        # a real line with one key's value replaced by random JSON
        st.tuples(seed, chat_keys, _json_values).map(
            lambda t: json.dumps({**json.loads(t[0]), t[1]: t[2]}).encode()),
        st.dictionaries(chat_keys, _json_values, max_size=4).map(lambda d: json.dumps(d).encode()),
        _json_values.map(lambda v: json.dumps(v).encode()),
        st.sampled_from([b"\xef\xbb\xbf{}", b"\xff\xfe", b"[" * 100000, b'{"messages": ' + b"[" * 3000 + b"]" * 3000 + b"}",
                         b'{"args": [' + b"9" * 5000 + b"]}", b"", b"   ", b'{"messages": [{"role": "user", "content": 1}]}',
                         b'{"subject": "a", "when": "2024-13-45"}', b'{"ticket": {"subject": "a"}, "when": "2024-01-02"}']),
        st.binary(max_size=30),
        st.tuples(seed, st.sampled_from([200, 490, 900, 990, 3000]), st.sampled_from(["user", "arguments", "value"])).map(
            lambda t: _nested(*t)),
    )


def _check(world: dict[str, Any], name: str, args: list[str]) -> None:
    stat = STATS.setdefault(name, {"runs": 0, "exit0": 0, "exit1": 0, "exit2": 0, "slowest_ms": 0})
    t = time.monotonic()
    result = CliRunner().invoke(main, args)
    stat["slowest_ms"] = max(stat["slowest_ms"], int((time.monotonic() - t) * 1000))
    stat["runs"] += 1
    code = result.exit_code
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{name}: {type(result.exception).__name__}: {result.exception}\n{result.output}")
    assert code in (0, 1, 2), (name, code, result.output)
    stat[f"exit{code}"] += 1
    assert "Traceback" not in result.output, result.output
    assert not world["canary"].exists(), f"{name} ran code from a dataset line: {args}"


def _budget(start: float) -> bool:
    return time.monotonic() - start < BUDGET_S


@pytest.mark.parametrize("command", ["validate", "generate", "eval"])
def test_hostile_jsonl_lines_through_the_cli(world: dict[str, Any], command: str, tmp_path: Path) -> None:
    start = time.monotonic()
    counter = [0]

    @settings(max_examples=400 if command == "validate" else 200, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(_line(world), min_size=1, max_size=3))
    def run(lines: list[bytes]) -> None:
        if not _budget(start):
            return
        counter[0] += 1
        f = tmp_path / f"in{counter[0] % 4}.jsonl"
        if command == "validate":  # ten clean lines first, so a file can also pass
            lines = [line.encode() for line in world["seeds"][:4]] * 3 + lines
        f.write_bytes(b"\n".join(lines) + b"\n")
        if command == "validate":
            _check(world, command, ["dataset", "validate", str(f)])
        elif command == "generate":
            _check(world, command, ["generate", world["target"], "-n", "2", "--inputs", str(f), "-o",
                                    str(tmp_path / "gen.jsonl"), "-q", "--seed", "1"])
        else:
            _check(world, command, ["eval", world["target"], "--model", "ft:fuzz", "--dataset", str(f),
                                    "--base-url", world["srv"].base_url, "--max-retries", "0", "--timeout", "10", "-q"])

    run()
    stat = STATS[command]
    print(f"\nfuzz {command}: {stat} in {time.monotonic() - start:.0f}s")
    assert stat["runs"] >= 20  # the budget allowed real work
    assert stat["exit0"] + stat["exit1"] and stat["exit2"] + stat["exit1"]  # both clean and refused inputs were tried
