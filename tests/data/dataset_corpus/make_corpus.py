"""Regenerate the good files of this corpus with the runtime's own line writer (`runtime/formats.py`).

Run from the repo root: `python tests/data/dataset_corpus/make_corpus.py`. The bad lines
(`bad_*.jsonl`) are written by hand: each breaks exactly one rule, listed in `bad_expected.json`.
"""

from __future__ import annotations

import datetime
import enum
import json
from pathlib import Path
from typing import Optional

from pydantic import BaseModel

from distilgen.runtime.calls import render_call
from distilgen.runtime.formats import LineWriter, tool_description, tool_schema

HERE = Path(__file__).parent


class Multiply(BaseModel):
    a: int
    b: int
    result: int


class Priority(str, enum.Enum):
    low = "low"
    high = "high"


class Address(BaseModel):
    city: str
    zip: Optional[str] = None


class Ticket(BaseModel):
    """A support ticket."""

    title: str
    priority: Priority
    due: datetime.date
    tags: list[str] = []
    address: Optional[Address] = None


PROMPT_MUL = "Predict the results of this function:\n\ndef fn(a: int, b: int) -> Multiply:\n    ..."
PROMPT_TICKET = "Predict the results of this function:\n\ndef triage(text: str, day: int) -> Ticket:\n    ..."


def writer(fmt: str, model: type[BaseModel], prompt: str, fid: str) -> LineWriter:
    # full declarations (the schema in `parameters`), so the argument checks have a schema to use;
    # good_compact_tools.jsonl is the compact form capture writes by default
    schema = tool_schema(model)
    return LineWriter(fmt, fid, model.__name__, prompt, schema, tool_description(model) or f"Return a {model.__name__}.",
                      parameters=schema)


def main() -> None:
    for fmt in ("tools", "messages", "raw"):
        w = writer(fmt, Multiply, PROMPT_MUL, "math_demo:fn")
        lines = []
        for i in range(12):
            a, b = 100 + 37 * i, 900 - 41 * i
            call = render_call("fn", (a,), {"b": b})
            lines.append(w.line("Return " + call, call, (a,), {"b": b}, Multiply(a=a, b=b, result=a * b)))
        (HERE / f"good_{fmt}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    w = writer("tools", Ticket, PROMPT_TICKET, "support:triage")
    lines = []
    for i in range(10):
        text = f"printer {i} on floor {i % 3} is broken"
        call = render_call("triage", (text, i), {})
        t = Ticket(title=f"Printer {i}", priority=Priority.high if i % 2 else Priority.low,
                   due=datetime.date(2026, 1, 1 + i), tags=["printer"] * (i % 2),
                   address=Address(city="Lyon", zip=None) if i % 3 == 0 else None)
        lines.append(w.line("Return " + call, call, (text, i), {}, t))
    (HERE / "good_rich_tools.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # compact: the tool declared by name only; a lock holding the schema checks the arguments
    compact = []
    for line in lines:
        obj = json.loads(line)
        obj["tools"] = [{"type": "function", "function": {"name": "Ticket"}}]
        compact.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
    (HERE / "good_compact_tools.jsonl").write_text("\n".join(compact) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()


def _j(obj: object) -> str:
    import json

    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def bad_corpus() -> None:
    """Each bad line breaks one rule; `bad_expected.json` maps FILE:LINE to a fragment of its error."""
    import copy
    import json

    base = json.loads((HERE / "good_tools.jsonl").read_text(encoding="utf-8").splitlines()[0])
    rich = json.loads((HERE / "good_rich_tools.jsonl").read_text(encoding="utf-8").splitlines()[0])
    legacy = json.loads((HERE / "good_messages.jsonl").read_text(encoding="utf-8").splitlines()[0])

    def mut(src: dict, fn) -> str:  # type: ignore[no-untyped-def]
        obj = copy.deepcopy(src)
        fn(obj)
        return _j(obj)

    def args(obj: dict, value: object) -> None:
        obj["messages"][2]["tool_calls"][0]["function"]["arguments"] = value if not isinstance(value, dict) else _j(value)

    def rich_args(change: dict) -> object:
        a = json.loads(rich["messages"][2]["tool_calls"][0]["function"]["arguments"])
        a.update(change)
        return lambda o: args(o, a)

    strict_tool = {"type": "function", "function": {"name": "Multiply", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"},
                                          "result": {"type": "integer"}, "kind": {"const": "product"}},
        "required": ["a", "b", "result"], "additionalProperties": False}}}
    cases: list[tuple[str, str]] = [
        (_j(base)[:-20], "invalid JSON"),
        ("", "blank line"),
        ("[1, 2]", "must be a JSON object"),
        (_j({"prompt": "hi"}), "not a fine-tuning example"),
        (mut(base, lambda o: o.update(messages=[])), "`messages` must be a non-empty list"),
        (mut(base, lambda o: o["messages"][1].update(role="robot")), "unknown role 'robot'"),
        (mut(base, lambda o: o["messages"][1].update(foo=1)), "unknown keys: foo"),
        (mut(base, lambda o: o["messages"][1].pop("content")), "messages[1] (user) has no content"),
        (mut(base, lambda o: o.update(messages=o["messages"][:2])), "no assistant message"),
        (mut(base, lambda o: o["messages"][2].update(weight=2)), "weight must be 0 or 1, got 2"),
        (mut(base, lambda o: args(o, {"a": 1, "b": 2, "result": 2})[0] if False else o["messages"][2]["tool_calls"][0]["function"].update(arguments={"a": 1})), "arguments must be a JSON string"),
        (mut(base, lambda o: args(o, '{"a": 1,')), "arguments is not valid JSON"),
        (mut(base, lambda o: args(o, {"a": 1, "b": 2})), "missing required property 'result'"),
        (mut(base, lambda o: args(o, {"a": 1, "b": 2, "result": "many"})), "arguments.result: expected integer"),
        (mut(base, lambda o: o["messages"][2]["tool_calls"][0]["function"].update(name="Divide")), "calls 'Divide', which is not among the declared tools"),
        (mut(base, lambda o: o["messages"][2]["tool_calls"][0].update(type="func")), "type must be \"function\""),
        (mut(base, lambda o: o["messages"][2]["tool_calls"][0].pop("id")), ".id must be a non-empty string"),
        (mut(base, lambda o: o.update(metadata={"x": 1})), "unknown top-level keys: metadata"),
        (mut(base, lambda o: o["messages"][2]["tool_calls"].append(o["messages"][2]["tool_calls"][0])), "`parallel_tool_calls` is false"),
        (mut(base, lambda o: o["messages"].append({"role": "tool", "tool_call_id": "call_nope", "content": "ok"})), "no earlier assistant tool call has"),
        (mut(base, lambda o: o.update(functions=legacy["functions"])), "both `tools` and legacy `functions`"),
        (mut(base, lambda o: o["messages"][2].update(weight=0)), "every assistant message has weight 0"),
        (mut(base, lambda o: (o.update(tools=[strict_tool]), args(o, {"a": 1, "b": 2, "result": 2, "note": "x"}))), "unexpected property 'note'"),
        (mut(base, lambda o: (o.update(tools=[strict_tool]), args(o, {"a": 1, "b": 2, "result": 2, "kind": "sum"}))), "arguments.kind: expected 'product'"),
        (mut(rich, rich_args({"priority": "urgent"})), "'urgent' is not one of 'low', 'high'"),
        (mut(rich, rich_args({"due": "tomorrow"})), "'tomorrow' is not a valid date"),
        (mut(rich, rich_args({"address": {"city": 69000}})), "arguments.address.city: expected string, got integer 69000"),
        (mut(rich, rich_args({"tags": "printer"})), "arguments.tags: expected array"),
        (mut(legacy, lambda o: o["messages"][2]["function_call"].update(arguments={"a": 1})), "function_call.arguments must be a JSON string"),
        (mut(legacy, lambda o: o["messages"][2]["function_call"].update(name="Divide")), "not among the declared functions"),
        (mut(base, lambda o: o["tools"][0]["function"].update(parameters={"type": "array"})), "parameters must describe an object"),
        (mut(base, lambda o: o["tools"][0].update(type="retrieval")), "tools[0].type must be \"function\""),
        (mut(base, lambda o: o["messages"][2].update(weight=True)), "weight must be 0 or 1, got True"),
        (mut(base, lambda o: o["messages"][2].update(tool_calls=[])), "tool_calls must be a non-empty list"),
        (mut(base, lambda o: o.update(tools=[])), "`tools` must be a non-empty list"),
    ]
    expected = {}
    text = []
    for number, (line, fragment) in enumerate(cases, start=1):
        text.append(line)
        expected[f"bad_tools.jsonl:{number}"] = fragment
    (HERE / "bad_tools.jsonl").write_text("\n".join(text) + "\n", encoding="utf-8")

    raw = json.loads((HERE / "good_raw.jsonl").read_text(encoding="utf-8").splitlines()[0])
    raw_cases = [
        (mut(raw, lambda o: o["output"].update(result="x")), "raw output.result: expected integer"),
        (mut(raw, lambda o: o.pop("call")), "raw record has no `call`"),
        (mut(raw, lambda o: o.update(args={"a": 1})), "raw `args` must be a list"),
        (mut(raw, lambda o: o.update(function_id="fn")), "must be 'module:qualname'"),
        (mut(raw, lambda o: o.update(extra=1)), "raw record has unknown keys: extra"),
        (_j(base), "raw records and chat examples cannot share a file"),
    ]
    text = []
    for number, (line, fragment) in enumerate(raw_cases, start=1):
        text.append(line)
        expected[f"bad_raw.jsonl:{number}"] = fragment
    (HERE / "bad_raw.jsonl").write_text("\n".join(text) + "\n", encoding="utf-8")
    # a line that is not UTF-8, between two good lines
    good = (HERE / "good_tools.jsonl").read_bytes().splitlines()
    (HERE / "bad_encoding.jsonl").write_bytes(b"\n".join([good[0], b'{"messages": "caf\xe9"}', good[1]]) + b"\n")
    expected["bad_encoding.jsonl:2"] = "not UTF-8"
    (HERE / "bad_expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    bad_corpus()
