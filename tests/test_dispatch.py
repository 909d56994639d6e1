"""Dispatch through `@instructions.distil(mode="dispatch")`, with the real openai client against
distilgen.testing.FakeOpenAI on loopback (nothing patched)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import openai
import pytest
from pydantic import BaseModel

from distilgen import DistilDispatchError, Instructions, UsageError
from distilgen.config import Config
from distilgen.runtime.clients import (
    EndpointAuthError,
    EndpointConnectionError,
    EndpointError,
    EndpointResponseError,
    EndpointServerError,
    EndpointTimeoutError,
    ModelNotFoundError,
    RateLimitedError,
)
from distilgen.runtime.dispatch import LOCAL_MAX_TOKENS, DispatchSettings
from distilgen.testing import FakeOpenAI, Reply

MODEL = "ft:gpt-4o-mini:org::abc"


class Multiply(BaseModel):
    a: int
    b: int
    result: int


def ready(fn):
    # Builds the spec before the first call: instructions.py's runner() holds the state lock
    # while _make_runner reads state.spec, which takes the same (non-reentrant) lock.
    fn.__distil__.spec
    return fn


def multiply_answer(req):
    """The fake 'model': evaluates the `Return fn(a, b=...)` user message it was sent."""
    call = next(m["content"] for m in req.messages if m["role"] == "user").removeprefix("Return ")
    args = eval("(lambda *a, **k: (a, k))" + call[call.index("("):])
    values = list(args[0]) + list(args[1].values())
    return {"a": values[0], "b": values[1], "result": values[0] * values[1]}


@pytest.fixture()
def srv():
    with FakeOpenAI() as s:
        s.chat.respond(multiply_answer)
        yield s


def make(srv, *, mode="dispatch", model=MODEL, asyncfn=False, client_kw=None, **options):
    # Only a sync client: async functions get an AsyncOpenAI derived from it, one per event loop
    # (each test's asyncio.run is a new loop; a user's AsyncOpenAI is bound to its first loop).
    client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", **(client_kw or {"max_retries": 0}))
    ins = Instructions(openai_client=client, config=Config(root=Path.cwd()))
    calls = []
    if asyncfn:
        @ins.distil(mode=mode, model=model, **options)
        async def fn(a: int, b: int) -> Multiply:
            """Multiply two integers."""
            calls.append((a, b))
            return Multiply(a=a, b=b, result=a * b)
    else:
        @ins.distil(mode=mode, model=model, **options)
        def fn(a: int, b: int) -> Multiply:
            """Multiply two integers."""
            calls.append((a, b))
            return Multiply(a=a, b=b, result=a * b)
    fn.calls = calls
    return ready(fn)


def chat_requests(srv):
    return [r.json for r in srv.requests_to("/v1/chat/completions")]


# -- the happy path --------------------------------------------------------------------------

def test_issue_example_returns_the_validated_model_computed_by_the_model(srv):
    fn = make(srv)
    out = fn(133, 539)
    assert out == Multiply(a=133, b=539, result=71687)
    assert fn.calls == []  # the body never ran
    body = chat_requests(srv)[0]
    assert body["model"] == MODEL
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Multiply"}}
    assert body["messages"][1] == {"role": "user", "content": "Return fn(133, 539)"}


def test_request_matches_the_captured_training_line(srv, tmp_path):
    """Same system prompt, user message and tools as capture writes for the same call."""
    ds = tmp_path / "d.jsonl"
    cap = Instructions(dataset=ds)

    @cap.distil
    def fn(a: int, b: int) -> Multiply:
        """Multiply two integers."""
        return Multiply(a=a, b=b, result=a * b)

    fn(7, b=6)
    line = json.loads(ds.read_text().splitlines()[0])
    ins = Instructions(openai_client=openai.OpenAI(base_url=srv.base_url, api_key="x"), config=Config(root=Path.cwd()))

    @ins.distil(mode="dispatch", model=MODEL)
    def fn(a: int, b: int) -> Multiply:  # noqa: F811 - the same function, now dispatched
        """Multiply two integers."""
        return Multiply(a=a, b=b, result=a * b)

    assert ready(fn)(7, b=6).result == 42
    body = chat_requests(srv)[0]
    assert body["messages"] == line["messages"][:2]
    assert body["tools"] == line["tools"]


def test_legacy_messages_format_forces_a_function_call(srv):
    fn = make(srv, response_format="messages")
    assert fn(3, 4).result == 12
    body = chat_requests(srv)[0]
    assert body["function_call"] == {"name": "Multiply"} and body["functions"][0]["name"] == "Multiply"
    assert "tools" not in body


def test_json_schema_structured_output(srv):
    fn = make(srv, response_format="json_schema")
    assert fn(3, 4).result == 12
    body = chat_requests(srv)[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["a", "b", "result"]


def test_finish_reason_stop_with_named_tool_choice_is_accepted(srv):
    fn = make(srv)
    assert fn(2, 2).result == 4
    answer = srv.requests_to("/v1/chat/completions")[0].response_json
    # a named tool_choice finishes with "stop", not "tool_calls": dispatch must not insist on the latter
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "Multiply"


# -- invalid output: re-ask with the error, then the fallback policy ------------------------

@pytest.mark.parametrize("bad, error_text", [
    (Reply.malformed('{"a": 3, "b": 4,'), "Invalid JSON"),
    (Reply(arguments={"a": 3, "b": 4}), "result: Field required"),
    (Reply(arguments={"a": 3, "b": 4, "result": "twelve"}), "result: Input should be a valid integer"),
    (Reply(arguments={"a": 3, "b": 4, "result": 12}, name="Divide"), "called 'Divide'"),
    (Reply.refused("I can't do maths"), "the model refused: I can't do maths"),
    (Reply.truncated({"a": 3, "b": 4, "result": 12}), "cut off"),
    (Reply(content="The answer is 12."), "no tool call in the answer"),
])
def test_bad_answer_is_reasked_with_the_error_fed_back(srv, bad, error_text):
    fn = make(srv)
    srv.chat.push(bad)
    assert fn(3, 4) == Multiply(a=3, b=4, result=12)
    first, second = chat_requests(srv)
    assert len(first["messages"]) == 2
    feedback = second["messages"][-1]
    assert error_text in feedback["content"]
    assert second["messages"][:2] == first["messages"]
    if feedback["role"] == "tool":  # answered to the tool call it complains about
        assert second["messages"][2]["tool_calls"][0]["id"] == feedback["tool_call_id"]
    assert fn.__distil__.runner().stats().reasks == 1


def test_messages_format_reask_uses_a_function_turn(srv):
    fn = make(srv, response_format="messages")
    srv.chat.push(Reply.malformed())
    assert fn(3, 4).result == 12
    second = chat_requests(srv)[1]
    assert second["messages"][2]["function_call"]["name"] == "Multiply"
    assert second["messages"][3]["role"] == "function" and "Invalid JSON" in second["messages"][3]["content"]


def test_raise_after_max_retries_carries_everything(srv):
    fn = make(srv, max_retries=2)
    srv.chat.push(Reply.malformed("{oops"), Reply(arguments={"a": 1}), Reply.malformed("{still"))
    with pytest.raises(DistilDispatchError) as exc:
        fn(3, 4)
    err = exc.value
    assert err.function_id.endswith(":make.<locals>.fn") and err.model == MODEL
    assert err.raw_output == "{still"
    assert len(err.errors) == 3 and err.errors[0].startswith("attempt 1:") and "b: Field required" in err.errors[1]
    assert "no valid Multiply in 3 attempt(s)" in str(err)
    assert len(chat_requests(srv)) == 3
    assert fn.calls == []


def test_max_retries_zero_asks_once(srv):
    fn = make(srv, max_retries=0)
    srv.chat.push(Reply.refused())
    with pytest.raises(DistilDispatchError):
        fn(3, 4)
    assert len(chat_requests(srv)) == 1


def test_fallback_function_runs_the_original_and_logs(srv, caplog):
    fn = make(srv, max_retries=1, fallback="function")
    srv.chat.push(Reply.malformed(), Reply.malformed())
    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert fn(3, 4) == Multiply(a=3, b=4, result=12)
    assert fn.calls == [(3, 4)]
    assert any("ran the original function" in r.getMessage() for r in caplog.records)
    assert fn.__distil__.runner().stats().fallbacks == 1


# -- endpoint errors: clear DistilgenError subclasses after the client's own retries --------

def _assert_clean(err: EndpointError, fn):
    assert err.function_id == fn.__distil__.function_id and err.model == MODEL
    assert err.__cause__ is None and (err.__suppress_context__ or err.__context__ is None)  # no chained traceback
    assert err.function_id in str(err) and MODEL in str(err)


def test_bad_key_is_an_auth_error():
    with FakeOpenAI(api_key="sk-right") as srv:
        fn = make(srv)
        with pytest.raises(EndpointAuthError) as exc:
            fn(3, 4)
        _assert_clean(exc.value, fn)
        assert exc.value.status == 401 and "OPENAI_API_KEY" in str(exc.value)


def test_unknown_model_is_model_not_found():
    with FakeOpenAI(strict_models=True) as srv:
        fn = make(srv)
        with pytest.raises(ModelNotFoundError) as exc:
            fn(3, 4)
        _assert_clean(exc.value, fn)
        assert "does not exist" in str(exc.value)


def test_persistent_429_is_rate_limited_after_client_retries(srv):
    fn = make(srv, client_kw={"max_retries": 2})
    srv.faults.add(path="/v1/chat/completions", status=429, retry_after_ms=1, times=None)
    with pytest.raises(RateLimitedError) as exc:
        fn(3, 4)
    _assert_clean(exc.value, fn)
    assert "after 2 automatic retries" in str(exc.value)
    assert len(srv.requests_to("/v1/chat/completions")) == 3


def test_transient_429_and_503_are_absorbed_by_the_client(srv):
    fn = make(srv, client_kw={"max_retries": 2})
    srv.faults.add(path="/v1/chat/completions", status=429, retry_after_ms=1, times=1)
    srv.faults.add(path="/v1/chat/completions", status=503, retry_after_ms=1, times=1)
    assert fn(3, 4).result == 12
    assert [r.status for r in srv.requests_to("/v1/chat/completions")] == [429, 503, 200]


def test_persistent_5xx_is_a_server_error(srv):
    fn = make(srv)
    srv.faults.add(path="/v1/chat/completions", status=500, times=None)
    with pytest.raises(EndpointServerError) as exc:
        fn(3, 4)
    _assert_clean(exc.value, fn)


def test_timeout_is_a_timeout_error(srv):
    fn = make(srv, client_kw={"max_retries": 0, "timeout": 0.2})
    srv.faults.add(path="/v1/chat/completions", delay=0.6)
    with pytest.raises(EndpointTimeoutError) as exc:
        fn(3, 4)
    _assert_clean(exc.value, fn)


def test_dropped_connection_is_a_connection_error(srv):
    fn = make(srv)
    srv.faults.add(path="/v1/chat/completions", drop=True, times=None)
    with pytest.raises(EndpointConnectionError) as exc:
        fn(3, 4)
    _assert_clean(exc.value, fn)


def test_unreachable_endpoint_is_a_connection_error():
    with FakeOpenAI() as srv:
        fn = make(srv)
    with pytest.raises(EndpointConnectionError) as exc:  # the server is gone
        fn(3, 4)
    assert "cannot reach the endpoint" in str(exc.value)


def test_html_page_with_status_200_is_a_response_error(srv):
    fn = make(srv)
    srv.faults.add(path="/v1/chat/completions", status=200, body="<html>Sign in to the proxy</html>", content_type="text/html")
    with pytest.raises(EndpointResponseError) as exc:
        fn(3, 4)
    assert "<html>Sign in" in str(exc.value) and "did not answer with a chat completion" in str(exc.value)


def test_fallback_function_does_not_hide_endpoint_errors(srv):
    fn = make(srv, fallback="function")
    srv.faults.add(path="/v1/chat/completions", status=500, times=None)
    with pytest.raises(EndpointServerError):
        fn(3, 4)
    assert fn.calls == []


def test_no_api_key_is_one_clear_error(no_api_key, tmp_path):
    ins = Instructions(config=Config(root=tmp_path))

    @ins.distil(mode="dispatch", model=MODEL)
    def fn(a: int, b: int) -> Multiply:
        return Multiply(a=a, b=b, result=a * b)

    with pytest.raises(EndpointAuthError) as exc:
        ready(fn)(3, 4)
    assert "no API key" in str(exc.value) and "OPENAI_API_KEY" in str(exc.value)
    assert exc.value.__cause__ is None


# -- clients: environment, config, local models, aliases ------------------------------------

def test_client_built_from_environment(srv, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
    ins = Instructions(config=Config(root=tmp_path))

    @ins.distil(mode="dispatch", model=MODEL)
    def fn(a: int, b: int) -> Multiply:
        return Multiply(a=a, b=b, result=a * b)

    assert ready(fn)(5, 6).result == 30
    assert srv.requests_to("/v1/chat/completions")[0].headers["authorization"] == "Bearer sk-env"


def test_client_built_from_config_base_url(srv, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    ins = Instructions(config=Config(root=tmp_path, base_url=srv.base_url))

    @ins.distil(mode="dispatch", model=MODEL)
    def fn(a: int, b: int) -> Multiply:
        return Multiply(a=a, b=b, result=a * b)

    assert ready(fn)(5, 6).result == 30


def test_local_model_goes_to_local_base_url_and_alias_resolves(srv, no_api_key, tmp_path):
    with FakeOpenAI() as other:  # the user's client points elsewhere: local models must not go there
        cfg = Config(root=tmp_path, local_base_url=srv.base_url, models={"mul": "local:mul-q4"})
        ins = Instructions(openai_client=openai.OpenAI(base_url=other.base_url, api_key="x"), config=cfg)

        @ins.distil(mode="dispatch", model="local:mul-q4")
        def fn(a: int, b: int) -> Multiply:
            return Multiply(a=a, b=b, result=a * b)

        @ins.distil(mode="dispatch", model="mul")
        def g(a: int, b: int) -> Multiply:
            return Multiply(a=a, b=b, result=a * b)

        assert ready(fn)(2, 3).result == 6
        assert ready(g)(4, 3).result == 12
        assert [b["model"] for b in chat_requests(srv)] == ["mul-q4", "mul-q4"]
        # a lost small model must not run to the end of its context: local models get a cap
        assert [b["max_tokens"] for b in chat_requests(srv)] == [LOCAL_MAX_TOKENS, LOCAL_MAX_TOKENS]
        assert other.requests == []


def test_settings_are_checked():
    with pytest.raises(UsageError, match="fallback"):
        DispatchSettings(model="m", fallback="ignore")
    with pytest.raises(UsageError, match="response_format"):
        DispatchSettings(model="m", response_format="xml")
    with pytest.raises(UsageError, match="max_retries"):
        DispatchSettings(model="m", max_retries=-1)
    for bad in (0, -5, 2.5, True, "64"):
        with pytest.raises(UsageError, match="max_tokens must be a positive integer"):
            DispatchSettings(model="m", max_tokens=bad)
    with pytest.raises(UsageError, match="timeout must be a positive number"):
        DispatchSettings(model="m", timeout=0)
    with pytest.raises(UsageError, match="temperature must be a number from 0 to 2"):
        DispatchSettings(model="m", temperature=3)


def test_request_options_reach_the_server_and_bad_ones_fail_at_decoration(srv):
    fn = make(srv, max_tokens=64, temperature=0.5, timeout=30)
    assert fn(2, 3).result == 6
    body = chat_requests(srv)[0]
    assert (body["max_tokens"], body["temperature"]) == (64, 0.5)
    with pytest.raises(UsageError, match="max_tokens must be a positive integer, got 0"):
        make(srv, max_tokens=0)
    with pytest.raises(UsageError, match="unknown argument"):
        make(srv, max_token=64)
    plain = make(srv)
    plain(1, 1)
    assert "max_tokens" not in chat_requests(srv)[-1]  # hosted models: no cap unless asked


# -- methods render the same user message as capture ----------------------------------------

def test_staticmethod_and_model_method_user_messages(srv):
    ins = Instructions(openai_client=openai.OpenAI(base_url=srv.base_url, api_key="x"), config=Config(root=Path.cwd()))

    class Calc:
        @ins.distil(mode="dispatch", model=MODEL)
        @staticmethod
        def mul(a: int, b: int) -> Multiply:
            return Multiply(a=a, b=b, result=a * b)

    ready(Calc.__dict__["mul"].__func__)
    assert Calc.mul(3, b=5).result == 15
    assert chat_requests(srv)[0]["messages"][1]["content"] == "Return Calc.mul(3, b=5)"


# -- async ---------------------------------------------------------------------------------

def test_async_dispatch_and_100_concurrent_calls(srv):
    fn = make(srv, asyncfn=True)

    async def main():
        return await asyncio.gather(*[fn(i, 3) for i in range(100)])

    results = asyncio.run(main())
    assert [r.result for r in results] == [i * 3 for i in range(100)]
    assert fn.calls == [] and len(srv.requests_to("/v1/chat/completions")) == 100


def test_async_reask_then_raise_and_fallback(srv):
    fn = make(srv, asyncfn=True, max_retries=1)
    srv.chat.push(Reply.malformed())
    assert asyncio.run(fn(2, 5)).result == 10
    srv.chat.push(Reply.refused(), Reply.refused())
    with pytest.raises(DistilDispatchError) as exc:
        asyncio.run(fn(2, 5))
    assert "refused" in exc.value.errors[-1]
    fb = make(srv, asyncfn=True, max_retries=0, fallback="function")
    srv.chat.push(Reply.malformed())
    assert asyncio.run(fb(4, 4)).result == 16 and fb.calls == [(4, 4)]


def test_async_endpoint_errors(srv):
    fn = make(srv, asyncfn=True)
    srv.faults.add(path="/v1/chat/completions", status=503, times=1)
    with pytest.raises(EndpointServerError) as exc:
        asyncio.run(fn(1, 1))
    _assert_clean(exc.value, fn)


def test_async_client_derived_from_a_sync_client_works_across_event_loops(srv, tmp_path):
    ins = Instructions(openai_client=openai.OpenAI(base_url=srv.base_url, api_key="sk-derived"), config=Config(root=tmp_path))

    @ins.distil(mode="dispatch", model=MODEL)
    async def fn(a: int, b: int) -> Multiply:
        return Multiply(a=a, b=b, result=a * b)

    ready(fn)
    assert asyncio.run(fn(2, 2)).result == 4
    assert asyncio.run(fn(3, 3)).result == 9  # a second loop gets its own AsyncOpenAI
    assert {r.headers["authorization"] for r in srv.requests_to("/v1/chat/completions")} == {"Bearer sk-derived"}


def test_users_async_client_is_used_for_async_functions(srv, tmp_path):
    async def main():
        aclient = openai.AsyncOpenAI(base_url=srv.base_url, api_key="sk-async")
        ins = Instructions(openai_client=openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-sync"),
                           async_openai_client=aclient, config=Config(root=tmp_path))

        @ins.distil(mode="dispatch", model=MODEL)
        async def fn(a: int, b: int) -> Multiply:
            return Multiply(a=a, b=b, result=a * b)

        out = await ready(fn)(6, 7)
        await aclient.close()
        return out

    assert asyncio.run(main()).result == 42
    assert srv.requests_to("/v1/chat/completions")[0].headers["authorization"] == "Bearer sk-async"


# -- the lock decides the system prompt -----------------------------------------------------

def pin_trained_prompt(lock, spec, trained_prompt, model):
    """A lock where `model` was trained on `trained_prompt` and the source has changed since: the
    current prompt is recorded after, and the trained one stays pinned for `model`."""
    from distilgen.prompts.lock import PromptRecord, record_model, record_prompts

    def record(prompt):
        record_prompts(lock, [PromptRecord(spec.function_id, "tests/test_dispatch.py", spec.qualname, 1, 5,
                                           spec.tool_name, False, prompt, spec.schema)])

    record(trained_prompt)
    record_model(lock, spec.function_id, model)
    record(spec.prompt)


def test_prompt_the_model_was_trained_on_is_sent(srv, tmp_path):
    from distilgen.runtime.clients import ClientProvider
    from distilgen.runtime.dispatch import Dispatcher

    fn = make(srv)
    spec = fn.__distil__.spec
    lock = tmp_path / "distilgen.lock"
    pin_trained_prompt(lock, spec, "You multiply. (the prompt as it was at training time)", MODEL)
    clients = ClientProvider(client=openai.OpenAI(base_url=srv.base_url, api_key="x"), config=Config(root=tmp_path))
    trained = Dispatcher(spec, DispatchSettings(model=MODEL, lock_path=lock), clients)
    assert trained.call((3, 4), {}, None).result == 12
    other = Dispatcher(spec, DispatchSettings(model="ft:gpt-4o-mini:org::other", lock_path=lock), clients)
    assert other.call((3, 4), {}, None).result == 12
    systems = [b["messages"][0]["content"] for b in chat_requests(srv)]
    assert systems == ["You multiply. (the prompt as it was at training time)", spec.prompt]


def test_first_call_without_a_prebuilt_spec_does_not_hang(srv):
    import threading

    ins = Instructions(openai_client=openai.OpenAI(base_url=srv.base_url, api_key="x"), config=Config(root=Path.cwd()))

    @ins.distil(mode="dispatch", model=MODEL)
    def fn(a: int, b: int) -> Multiply:
        return Multiply(a=a, b=b, result=a * b)

    out = []
    t = threading.Thread(target=lambda: out.append(fn(3, 4)), daemon=True)
    t.start()
    t.join(3)
    assert out == [Multiply(a=3, b=4, result=12)]


class Total(BaseModel):
    value: int


def test_model_method_and_classmethod_dispatch(srv):
    srv.chat.respond(lambda req: {"value": 6})
    ins = Instructions(openai_client=openai.OpenAI(base_url=srv.base_url, api_key="x"), config=Config(root=Path.cwd()))

    class Bill(BaseModel):
        items: list[int]

        @ins.distil(mode="dispatch", model=MODEL)
        def total(self, tax: int = 0) -> Total:
            return Total(value=sum(self.items) + tax)

        @ins.distil(mode="dispatch", model=MODEL)
        @classmethod
        def empty_total(cls, tax: int) -> Total:
            return Total(value=tax)

    ready(Bill.__dict__["total"])
    ready(Bill.__dict__["empty_total"].__func__)
    assert Bill(items=[1, 2]).total(tax=3) == Total(value=6)
    assert Bill.empty_total(6) == Total(value=6)
    users = [b["messages"][1]["content"] for b in chat_requests(srv)]
    assert users == ["Return Bill(items=[1, 2]).total(tax=3)", "Return Bill.empty_total(6)"]


@pytest.mark.parametrize("fault, error", [
    ({"status": 401, "code": "invalid_api_key"}, EndpointAuthError),
    ({"status": 404, "code": "model_not_found"}, ModelNotFoundError),
    ({"status": 429, "retry_after_ms": 1}, RateLimitedError),
    ({"drop": True}, EndpointConnectionError),
    ({"status": 200, "body": "<html>x</html>", "content_type": "text/html"}, EndpointResponseError),
])
def test_async_endpoint_error_kinds(srv, fault, error):
    fn = make(srv, asyncfn=True, client_kw={"max_retries": 1})
    srv.faults.add(path="/v1/chat/completions", times=None, **fault)
    with pytest.raises(error) as exc:
        asyncio.run(fn(1, 1))
    _assert_clean(exc.value, fn)


def test_messages_finetune_format_dispatches_with_functions_by_default(srv):
    ins = Instructions(finetune_format="messages", openai_client=openai.OpenAI(base_url=srv.base_url, api_key="x"),
                       config=Config(root=Path.cwd()))

    @ins.distil(mode="dispatch", model=MODEL)
    def fn(a: int, b: int) -> Multiply:
        return Multiply(a=a, b=b, result=a * b)

    assert ready(fn)(3, 4).result == 12
    body = chat_requests(srv)[0]
    assert body["function_call"] == {"name": "Multiply"}
    assert body["functions"][0]["parameters"]["required"] == ["a", "b", "result"]  # the full schema, as trained


def test_local_model_gets_the_prompt_pinned_under_its_local_id(srv, tmp_path):
    # `distilgen train` records `local:NAME` in the lock; the request goes to model NAME on the
    # local server, but the pinned prompt is looked up under the id the decorator names
    from distilgen.runtime.clients import ClientProvider
    from distilgen.runtime.dispatch import Dispatcher

    fn = make(srv)
    spec = fn.__distil__.spec
    lock = tmp_path / "distilgen.lock"
    pin_trained_prompt(lock, spec, "You multiply. (trained locally)", "local:tiny")
    clients = ClientProvider(config=Config(root=tmp_path, local_base_url=srv.base_url))
    local = Dispatcher(spec, DispatchSettings(model="local:tiny", lock_path=lock), clients)
    assert local.call((3, 4), {}, None).result == 12
    (body,) = chat_requests(srv)
    assert body["model"] == "tiny"
    assert body["messages"][0]["content"] == "You multiply. (trained locally)"


def test_each_event_loops_async_client_is_closed_when_the_loop_ends(srv):
    """An application calling `asyncio.run(fn(...))` again and again: the AsyncOpenAI built for each
    loop is closed as that loop shuts down (its sockets would leak otherwise), and neither the
    client nor the loop is kept once the loop is gone."""
    import gc

    def alive() -> list:
        gc.collect()
        return [o for o in gc.get_objects() if isinstance(o, openai.AsyncOpenAI)]

    import warnings

    with warnings.catch_warnings():  # earlier tests' garbage is not this test's
        warnings.simplefilter("ignore", ResourceWarning)
        before = {id(o) for o in alive()}
    fn = make(srv, asyncfn=True)
    assert [asyncio.run(fn(i, 3)).result for i in range(3)] == [0, 3, 6]
    assert fn.calls == []  # every call went to the model
    built = [o for o in alive() if id(o) not in before]
    assert len(built) <= 1  # the dispatcher remembers the last loop's client only
    assert all(c.is_closed() for c in built)
