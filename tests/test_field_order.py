"""Field order of the return model is kept everywhere a schema is stored or sent (issue 14).

llama.cpp's JSON-schema grammar emits properties in the schema's order (required ones first), and
every training answer is `model_dump_json()`: all fields in field order. A schema stored key-sorted
made the served model answer `{"day":..,"month":..,"year":20}` for a date trained as year, month,
day. These tests use models whose field order is not alphabetical.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from distilgen import Instructions
from distilgen.config import Config
from distilgen.prompts.lock import PromptRecord, canonical_schema, load_lock, record_prompts
from distilgen.prompts.render import fingerprint
from distilgen.runtime.formats import decoding_schema, order_like, tool_schema
from distilgen.testing import FakeOpenAI
from distilgen.train._llama_server import rewrite_request
from distilgen.train.data import Example
from distilgen.train.run import trained_schema


class Date(BaseModel):
    year: int
    month: int
    day: int


class Event(BaseModel):
    title: str
    zone: str = "utc"  # a default before a required field: llama.cpp would force `when` first
    when: Date
    tags: list[Date] = []


FIELDS = ["year", "month", "day"]
EVENT_FIELDS = ["title", "zone", "when", "tags"]


def props(schema: dict[str, Any], name: str | None = None) -> list[str]:
    node = schema["$defs"][name] if name else schema
    return list(node["properties"])


def test_lock_stores_field_order_and_fingerprint_is_unchanged(tmp_path: Path) -> None:
    lock = tmp_path / "distilgen.lock"
    schema = tool_schema(Event)
    record_prompts(lock, [PromptRecord("m:parse", "m.py", "parse", 1, 3, "Event", False, "P", schema)])
    entry = load_lock(lock).get("m:parse")
    assert entry is not None
    assert props(entry.schema) == EVENT_FIELDS and props(entry.schema, "Date") == FIELDS
    assert entry.schema["required"] == ["title", "when"]  # pydantic's, in field order
    assert '"properties":{"title":' in lock.read_text()
    # the fingerprint sorts keys itself: a lock written key-sorted keeps its fingerprints
    sorted_schema = json.loads(json.dumps(schema, sort_keys=True))
    assert entry.fingerprint == fingerprint("P", sorted_schema)
    assert canonical_schema(schema) != json.dumps(sorted_schema, separators=(",", ":"))


def test_decoding_schema_requires_every_field_in_field_order() -> None:
    got = decoding_schema(tool_schema(Event))
    assert props(got) == EVENT_FIELDS and got["required"] == EVENT_FIELDS
    assert got["$defs"]["Date"]["required"] == FIELDS
    assert tool_schema(Event)["required"] == ["title", "when"]  # the input is not modified


def test_order_like_repairs_a_key_sorted_schema_from_an_answer() -> None:
    sorted_schema = json.loads(json.dumps(tool_schema(Event), sort_keys=True))
    assert props(sorted_schema) == sorted(EVENT_FIELDS)
    answer = json.loads(Event(title="x", when=Date(year=2029, month=10, day=7), tags=[Date(year=1, month=2, day=3)]).model_dump_json())
    fixed = order_like(sorted_schema, answer)
    assert props(fixed) == EVENT_FIELDS and props(fixed, "Date") == FIELDS
    assert fixed["required"] == ["title", "when"]
    # an answer of another shape leaves the schema as it was, never drops a property
    assert props(order_like(sorted_schema, {"unknown": 1})) == sorted(EVENT_FIELDS)


def test_model_json_schema_follows_training_answers_even_from_a_sorted_lock(tmp_path: Path) -> None:
    lock = tmp_path / "distilgen.lock"
    # a lock written before field order was kept: schema key-sorted
    sorted_json = json.dumps(tool_schema(Date), sort_keys=True, separators=(",", ":"))
    lock.write_text(
        "version = 1\n\n[functions.\"m:parse\"]\npath = \"m.py\"\nqualname = \"parse\"\nlines = [1, 3]\n"
        f"tool = \"Date\"\ninclude-body = false\nrenderer = \"2\"\nfingerprint = \"{fingerprint('P', tool_schema(Date))}\"\n"
        f"schema = '{sorted_json}'\nprompt = '''\nP'''\n")
    entry = load_lock(lock).get("m:parse")
    assert entry is not None and props(entry.schema) == ["day", "month", "year"]
    ex = Example("d.jsonl:1", None, "parse", "Date", "P", "Return parse('x')", Date(year=2029, month=10, day=7).model_dump_json(), "{}")
    assert props(trained_schema(entry, [ex]) or {}) == FIELDS
    assert trained_schema(None, [ex]) is None  # compact tools lines, no lock: nothing to serve with


def test_serve_shim_sends_field_order_with_every_field_required() -> None:
    compact = {"model": "x", "messages": [], "tools": [{"type": "function", "function": {"name": "Event"}}],
               "tool_choice": {"type": "function", "function": {"name": "Event"}}}
    out = json.loads(rewrite_request(json.dumps(compact).encode(), {"Event": tool_schema(Event)}))
    params = out["tools"][0]["function"]["parameters"]
    assert props(params) == EVENT_FIELDS and params["required"] == EVENT_FIELDS
    assert out["repeat_penalty"] == 1.0  # llama_cpp.server's default 1.1 penalises copying from the prompt
    kept = json.loads(rewrite_request(json.dumps({**compact, "repeat_penalty": 1.3}).encode(), {"Event": tool_schema(Event)}))
    assert kept["repeat_penalty"] == 1.3
    js = {"model": "x", "messages": [], "response_format": {"type": "json_schema", "json_schema": {"name": "Date", "schema": tool_schema(Date)}}}
    rf = json.loads(rewrite_request(json.dumps(js).encode(), {}))["response_format"]
    assert rf["type"] == "json_object" and props(rf["schema"]) == FIELDS and rf["schema"]["required"] == FIELDS


@pytest.mark.parametrize("fmt,tool_schema_kind", [("json_schema", "compact"), ("tools", "full"), ("messages", "full")])
def test_dispatch_sends_field_order(tmp_path: Path, fmt: str, tool_schema_kind: str) -> None:
    with FakeOpenAI() as srv:
        srv.chat.push({"year": 2029, "month": 10, "day": 7})
        ins = Instructions(openai_client=openai.OpenAI(base_url=srv.base_url, api_key="x"), config=Config(root=tmp_path),
                           tool_schema=tool_schema_kind, finetune_format="messages" if fmt == "messages" else "tools")

        @ins.distil(mode="dispatch", model="ft:x", response_format=fmt)
        def parse(text: str) -> Date:
            ...

        assert parse("October 7, 2029") == Date(year=2029, month=10, day=7)
        body = srv.requests_to("/v1/chat/completions")[0].json
    if fmt == "json_schema":
        sent = body["response_format"]["json_schema"]["schema"]
    elif fmt == "tools":
        sent = body["tools"][0]["function"]["parameters"]
    else:
        sent = body["functions"][0]["parameters"]
    assert props(sent) == FIELDS and sent["required"] == FIELDS


def test_llama_cpp_grammar_follows_the_decoding_schema() -> None:
    """llama.cpp's own converter: the object rule lists the fields in field order."""
    grammar = pytest.importorskip("llama_cpp.llama_grammar")
    gbnf = grammar.json_schema_to_gbnf(json.dumps(decoding_schema(tool_schema(Event))))
    root = next(line for line in gbnf.splitlines() if line.startswith("root ::="))
    at = [root.index(f'{name}-kv') for name in EVENT_FIELDS]
    assert at == sorted(at), root
    # the raw pydantic schema would not: llama.cpp moves the required `when` before the optional `zone`
    raw_root = next(line for line in grammar.json_schema_to_gbnf(json.dumps(tool_schema(Event))).splitlines()
                    if line.startswith("root ::="))
    assert raw_root.index("when-kv") < raw_root.index("zone-kv")
