"""Wave 5 (arize-phoenix 20.26.1): three runtime defects a held-out test found.

1. A function that fills in its argument (phoenix's `_set_parameter_enums(tool, ...)`) or a model
   method that sets a field of `self` was logged with the mutated input: the call was rendered
   after the body ran. It is rendered before now (capture and shadow), only for calls captured.
2. A model argument with `extra="allow"` was rendered without its extras (phoenix's OTel GenAI
   models): two inputs, one call text, and the text did not evaluate back to the argument.
3. A function returning `RootModel[str]` (phoenix's `Identifier`) wrote lines whose arguments are a
   bare JSON string, which `dataset validate` refuses: refused by the runtime and by `apply`.
4. A dataclass argument whose fields default to a sentinel (strawberry's `UNSET`, phoenix's GraphQL
   inputs) could not be rendered: a field still at such a default is left out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, RootModel
from test_interpreter import write

from distilgen import DecorationError, Instructions, api
from distilgen.config import Config
from distilgen.prompts._schema_worker import compact_schema
from distilgen.runtime import instructions as instructions_module
from distilgen.runtime.calls import EVAL_NAMESPACE, constructors_for, read_call, render_call, render_value
from distilgen.testing import FakeOpenAI

REPO = Path(__file__).resolve().parent.parent
MODEL = "ft:gpt-4o-mini:org::abc"
NOT_OBJECT = ("returns Identifier, a RootModel whose JSON schema is a string, not an object: "
              "a tool call's arguments must be a JSON object")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def user_messages(path: Path) -> list[str]:
    return [ex["messages"][1]["content"] for ex in lines(path)]


def skipped_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "distilgen" and "example not captured" in r.getMessage()]


class Tool(BaseModel):
    name: str
    params: dict[str, Any]


class Total(BaseModel):
    value: int


# --- 1. the call is rendered as the caller passed it -------------------------------------------

@pytest.mark.parametrize("fmt", ["tools", "messages"])
def test_an_argument_the_body_fills_in_is_logged_as_passed(tmp_path: Path, fmt: str) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds, finetune_format=fmt)

    @inst.distil
    def set_enums(tool: Tool, allowed: list[str]) -> Tool:
        tool.params["enum"] = list(allowed)
        allowed.append("z")
        return tool

    out = set_enums(Tool(name="t", params={}), ["a", "b"])
    assert out.params == {"enum": ["a", "b"]}
    assert user_messages(ds) == ["Return set_enums(Tool(name='t', params={}), ['a', 'b'])"]
    assert inst.stats().captured == 1


def test_a_raw_line_records_the_arguments_as_passed(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds, finetune_format="raw")

    @inst.distil
    def set_enums(tool: Tool, *, allowed: list[str]) -> Tool:
        tool.params["enum"] = list(allowed)
        allowed.clear()
        return tool

    set_enums(Tool(name="t", params={}), allowed=["a"])
    (ex,) = lines(ds)
    assert ex["call"] == "set_enums(Tool(name='t', params={}), allowed=['a'])"
    assert ex["args"] == [{"name": "t", "params": {}}] and ex["kwargs"] == {"allowed": ["a"]}
    assert ex["output"] == {"name": "t", "params": {"enum": ["a"]}}


def test_a_model_method_that_sets_a_field_of_self_is_logged_with_the_instance_as_it_was(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    class Counter(BaseModel):
        n: int

        @inst.distil
        def bump(self, by: int) -> Total:
            self.n += by
            return Total(value=self.n)

    c = Counter(n=1)
    assert c.bump(2) == Total(value=3) and c.n == 3
    assert user_messages(ds) == ["Return Counter(n=1).bump(2)"]


def test_an_async_function_is_rendered_before_it_awaits(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    async def fill(tool: Tool) -> Tool:
        await asyncio.sleep(0)
        tool.params["x"] = 1
        return tool

    assert asyncio.run(fill(Tool(name="t", params={}))).params == {"x": 1}
    assert user_messages(ds) == ["Return fill(Tool(name='t', params={}))"]


def test_an_unsampled_call_renders_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[str] = []
    real = instructions_module.render_call

    def counting(*a: Any, **k: Any) -> str:
        rendered.append("x")
        return real(*a, **k)

    monkeypatch.setattr(instructions_module, "render_call", counting)
    inst = Instructions(dataset=tmp_path / "d.jsonl", sample_rate=0.0)

    @inst.distil
    def f(x: int) -> Total:
        return Total(value=x)

    assert [f(i).value for i in range(5)] == list(range(5))
    assert rendered == [] and inst.stats().sampled_out == 5


def test_an_unrenderable_argument_still_runs_the_body_and_is_counted_after_it(tmp_path: Path,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)
    ran: list[int] = []

    @inst.distil
    def f(x: Any, fail: bool = False) -> Total:
        ran.append(1)
        if fail:
            raise ValueError("boom")
        return Total(value=1)

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert f(object()).value == 1
        with pytest.raises(ValueError, match="boom"):
            f(object(), fail=True)  # a body that raises: no example, nothing counted
        with pytest.raises(ValueError, match="boom"):
            f(1, fail=True)
    assert len(ran) == 3 and not ds.exists()
    st_ = inst.stats()
    assert st_.captured == 0 and st_.skipped == 1 and list(st_.causes.values()) == [1]
    assert "UnrenderableValue" in next(iter(st_.causes))
    (msg,) = skipped_logs(caplog)
    assert "test_an_unrenderable_argument_still_runs_the_body_and_is_counted_after_it.<locals>.f" in msg


def test_shadow_asks_the_model_the_call_as_passed(tmp_path: Path) -> None:
    log = tmp_path / "shadow.jsonl"
    asked: list[str] = []

    def answer(req: Any) -> dict[str, Any]:
        asked.append(next(m["content"] for m in req.messages if m["role"] == "user"))
        return {"name": "t", "params": {"enum": ["a"]}}

    with FakeOpenAI() as srv:
        srv.chat.respond(answer)
        client = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0)
        inst = Instructions(openai_client=client, config=Config(root=tmp_path), shadow_rate=1.0, shadow_log=log)

        @inst.distil(mode="shadow", model=MODEL)
        def set_enums(tool: Tool, allowed: list[str]) -> Tool:
            tool.params["enum"] = list(allowed)
            return tool

        set_enums.__distil__.spec
        set_enums(Tool(name="t", params={}), ["a"])
        assert set_enums.__distil__.runner().drain(20)
    assert asked == ["Return set_enums(Tool(name='t', params={}), ['a'])"]
    (rec,) = lines(log)
    assert rec["call"] == "set_enums(Tool(name='t', params={}), ['a'])" and rec["agree"] is True


# --- 2. extra="allow": the extras are part of the value ---------------------------------------

class Event(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: str


class Summary(BaseModel):
    text: str


def test_extra_fields_are_rendered_and_evaluate_back(tmp_path: Path) -> None:
    e = Event(kind="click", x=3, y=4)
    assert render_value(e) == "Event(kind='click', x=3, y=4)"
    odd = Event(kind="k", **{"a-b": 1, "class": [2], "ok": None})
    text = render_call("f", (odd,), {})
    assert text == "f(Event(kind='k', ok=None, **{'a-b': 1, 'class': [2]}))"
    got = eval(text, {**EVAL_NAMESPACE, "Event": Event, "f": lambda *a, **k: (a, k)})
    assert got == ((odd,), {}) and got[0][0].model_extra == {"a-b": 1, "class": [2], "ok": None}
    assert read_call("Return " + text, "f", constructors_for([Event])) == ((odd,), {})
    assert render_value(Event(kind="click")) != render_value(e)


extra_keys = st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True).filter(lambda k: k != "kind") \
    | st.sampled_from(["as", "class", "a-b", "2x", "", "None"])
extra_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4) | st.floats(allow_nan=False),
                            lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
                            max_leaves=5)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=5), st.dictionaries(extra_keys, extra_values, max_size=4))
def test_rendering_of_a_model_with_extras_round_trips(kind: str, extras: dict[str, Any]) -> None:
    """The renderer's promise (tests/test_calls.py's round-trip property), for extras."""
    value = Event(kind=kind, **extras)
    text = render_call("f", (value,), {"e": value})
    got = eval(text, {**EVAL_NAMESPACE, "Event": Event, "f": lambda *a, **k: (a, k)})
    assert got == ((value,), {"e": value})
    assert got[0][0].model_extra == extras
    assert read_call(text, "f", constructors_for([Event])) == got


def test_two_inputs_that_differ_in_extras_give_two_examples(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def summarise(e: Event) -> Summary:
        return Summary(text=f"{e.kind}: {e.model_extra}")

    summarise(Event(kind="click", x=3, y=4))
    summarise(Event(kind="click"))
    assert user_messages(ds) == ["Return summarise(Event(kind='click', x=3, y=4))", "Return summarise(Event(kind='click'))"]


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    value: int


def test_a_returned_model_with_extras_declares_them_and_dispatch_reads_them_back(tmp_path: Path) -> None:
    """The return side: the answer's extra keys are allowed by the tool schema (pydantic writes
    `additionalProperties: true`), and dispatch validates them back into the model's extras."""
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds, tool_schema="full")

    @inst.distil
    def loose(n: int) -> Loose:
        return Loose(value=n, note=f"n={n}")

    loose(2)
    (ex,) = lines(ds)
    assert ex["tools"][0]["function"]["parameters"]["additionalProperties"] is True
    answer = ex["messages"][2]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(answer) == {"value": 2, "note": "n=2"}
    with FakeOpenAI() as srv:
        srv.chat.respond(lambda req: json.loads(answer))
        dispatched = Instructions(openai_client=openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0),
                                  config=Config(root=tmp_path))

        @dispatched.distil(mode="dispatch", model=MODEL)
        def loose(n: int) -> Loose:  # noqa: F811 - the same function, now dispatched
            return Loose(value=n, note=f"n={n}")

        loose.__distil__.spec
        got = loose(2)
    assert got == Loose(value=2, note="n=2") and got.model_extra == {"note": "n=2"}


# --- 3. a return model whose values are not JSON objects ---------------------------------------

class Identifier(RootModel[str]):
    pass


class Counts(RootModel[dict[str, int]]):
    pass


class Inner(BaseModel):
    a: int


class Wrapped(RootModel[Inner]):
    pass


class Maybe(RootModel[Optional[Inner]]):
    pass


class Many(RootModel[list[int]]):
    pass


def problem(model: type[BaseModel]) -> str | None:
    from distilgen.prompts._schema_worker import object_schema_problem

    return object_schema_problem(model, compact_schema(model.model_json_schema()))


def test_which_return_models_can_be_a_tool_call() -> None:
    assert problem(Identifier) == NOT_OBJECT
    assert problem(Counts) is None and problem(Wrapped) is None and problem(Total) is None
    assert problem(Maybe) == ("returns Maybe, a RootModel whose JSON schema is a union that can be null, not an object: "
                              "a tool call's arguments must be a JSON object")
    assert "whose JSON schema is an array, not an object" in (problem(Many) or "")


def test_capture_of_a_rootmodel_str_writes_nothing_and_says_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def slug(name: str) -> Identifier:
        return Identifier(name.lower().replace(" ", "-"))

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert slug("Hello World") == Identifier("hello-world")
        assert slug("b") == Identifier("b")
    assert not ds.exists()
    fid = f"{__name__}:test_capture_of_a_rootmodel_str_writes_nothing_and_says_why.<locals>.slug"
    assert inst.stats().causes == {f"{fid}: DecorationError": 2}
    (msg,) = skipped_logs(caplog)
    assert f"{fid}: {NOT_OBJECT}" in msg
    with pytest.raises(DecorationError, match="a RootModel whose JSON schema is a string"):
        slug.__distil__.spec


def test_dispatch_of_a_rootmodel_str_raises_a_decoration_error_and_sends_nothing(tmp_path: Path) -> None:
    with FakeOpenAI() as srv:
        srv.chat.respond(lambda req: '"x"')
        inst = Instructions(openai_client=openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0),
                            config=Config(root=tmp_path))

        @inst.distil(mode="dispatch", model=MODEL)
        def slug(name: str) -> Identifier:
            return Identifier(name)

        with pytest.raises(DecorationError) as err:
            slug("a")
        assert str(err.value).endswith(f"slug: {NOT_OBJECT}") and ":test_dispatch_of" in str(err.value)
        assert srv.requests_to("/v1/chat/completions") == []


def test_a_rootmodel_whose_schema_is_an_object_round_trips_through_capture_validate_and_dispatch(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def tally(words: str) -> Counts:
        out: dict[str, int] = {}
        for w in words.split():
            out[w] = out.get(w, 0) + 1
        return Counts(out)

    texts = [" ".join(["a"] * i + ["b"]) for i in range(12)]
    for t in texts:
        tally(t)
    examples = lines(ds)
    assert len(examples) == 12 and inst.stats().skipped == 0
    assert json.loads(examples[2]["messages"][2]["tool_calls"][0]["function"]["arguments"]) == {"a": 2, "b": 1}
    done = subprocess.run([sys.executable, "-m", "distilgen", "dataset", "validate", str(ds)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    by_user = {ex["messages"][1]["content"]: ex["messages"][2]["tool_calls"][0]["function"]["arguments"] for ex in examples}
    with FakeOpenAI() as srv:
        srv.chat.respond(lambda req: json.loads(by_user[next(m["content"] for m in req.messages if m["role"] == "user")]))
        dispatched = Instructions(openai_client=openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0),
                                  config=Config(root=tmp_path))

        @dispatched.distil(mode="dispatch", model=MODEL)
        def tally(words: str) -> Counts:  # noqa: F811 - the same function, now dispatched
            raise NotImplementedError

        tally.__distil__.spec
        assert tally(texts[3]) == Counts({"a": 3, "b": 1})
        (body,) = [r.json for r in srv.requests_to("/v1/chat/completions")]
    assert body["messages"][:2] == examples[3]["messages"][:2] and body["tools"] == examples[3]["tools"]


IDENT = """\
    from pydantic import BaseModel, RootModel


    class Identifier(RootModel[str]):
        pass


    class Good(BaseModel):
        total: int
    """


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=root, capture_output=True, text=True,
                          timeout=180, env=env)


def test_apply_leaves_a_rootmodel_str_function_alone_saying_why(tmp_path: Path) -> None:
    root = write(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "shop/__init__.py": "",
        "shop/models.py": IDENT,
        "shop/logic.py": """\
            from shop.models import Good, Identifier


            def total(a: int, b: int) -> Good:
                \"\"\"Add them.\"\"\"
                return Good(total=a + b)


            def slug(name: str) -> Identifier:
                \"\"\"A slug.\"\"\"
                return Identifier(name.lower())
            """,
    })
    report = api.apply([root])
    assert report.errors == ()
    decorated = {r.qualname for r in api.scan([root], use_cache=False).by_status("decorated")}
    assert decorated == {"total"}
    line = next(n for n in report.notes if ": slug: " in n)
    assert line.startswith("shop/logic.py:") and "ineligible" in line, report.notes
    assert f"slug cannot be distilled: {NOT_OBJECT}" in line, line
    assert cli(root, "prompts").returncode == 0


def test_prompts_says_why_for_a_hand_decorated_rootmodel_str_function(tmp_path: Path) -> None:
    root = write(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "shop/__init__.py": "",
        "shop/models.py": IDENT,
        "shop/distil.py": "from distilgen import Instructions\n\ninstructions = Instructions(name='shop')\n",
        "shop/logic.py": """\
            from shop.distil import instructions
            from shop.models import Identifier


            @instructions.distil
            def slug(name: str) -> Identifier:
                return Identifier(name.lower())
            """,
    })
    done = cli(root, "prompts")
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert f"shop/logic.py:5: slug cannot be distilled: {NOT_OBJECT}" in done.stdout, done.stdout


# -- a field left at a sentinel default (strawberry's UNSET: phoenix's GraphQL inputs) ------------


class _Unset:
    """A sentinel with no literal form, like strawberry's `UNSET`."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclasses.dataclass
class SpanFilter:
    name: str
    limit: Optional[int] = UNSET
    after: Optional[str] = dataclasses.field(default=UNSET)


class Query(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    text: str
    cursor: Any = UNSET


def test_a_field_left_at_a_sentinel_default_is_left_out_and_evaluates_back() -> None:
    value = SpanFilter(name="a", after="x")
    text = render_call("f", (value,), {"q": Query(text="t")})
    assert text == "f(SpanFilter(name='a', after='x'), q=Query(text='t'))"
    got = read_call(text, "f", constructors_for([SpanFilter, Query]))
    assert got is not None and got[0][0] == value and got[0][0].limit is UNSET
    assert got[1]["q"].cursor is UNSET
    # a value the renderer can write is written, default or not (examples captured before stay alike)
    assert render_value(SpanFilter(name="a", limit=None)) == "SpanFilter(name='a', limit=None)"


def test_a_sentinel_that_is_not_the_default_still_cannot_be_rendered() -> None:
    from distilgen.runtime.calls import UnrenderableValue

    @dataclasses.dataclass
    class Other:
        a: Any = None

    with pytest.raises(UnrenderableValue, match="_Unset"):
        render_value(Other(a=UNSET))
    with pytest.raises(UnrenderableValue, match="_Unset"):
        render_value(Query(text="t", cursor=_Unset()))  # another instance: not the default itself


class Hit(BaseModel):
    name: str
    limited: bool


def test_a_call_with_a_sentinel_default_is_captured(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def find(f: SpanFilter) -> Hit:
        return Hit(name=f.name, limited=f.limit is not UNSET)

    assert find(SpanFilter(name="a")) == Hit(name="a", limited=False)
    assert user_messages(ds) == ["Return find(SpanFilter(name='a'))"]
    assert inst.stats().captured == 1
