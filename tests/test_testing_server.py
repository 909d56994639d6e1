"""distilgen.testing.FakeOpenAI, exercised with the real openai client over HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import openai
import pydantic
import pytest

from distilgen.testing import FakeOpenAI, Reply, value_for_schema

TOOLS = [{
    "type": "function",
    "function": {
        "name": "Multiply",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}, "result": {"type": "integer"}},
            "required": ["a", "b", "result"],
        },
    },
}]
NAMED = {"type": "function", "function": {"name": "Multiply"}}
MSGS = [{"role": "system", "content": "You multiply."}, {"role": "user", "content": "Return fn(3, b=4)"}]


@pytest.fixture()
def srv():
    with FakeOpenAI() as s:
        yield s


@pytest.fixture()
def client(srv):
    return openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=2)


def chat(client, **kw):
    kw.setdefault("model", "gpt-4o-mini")
    kw.setdefault("messages", MSGS)
    return client.chat.completions.create(**kw)


# -- chat completions ----------------------------------------------------------------------

def test_base_url_is_loopback_v1(srv):
    assert srv.base_url.startswith("http://127.0.0.1:") and srv.base_url.endswith("/v1")
    assert srv.port > 0


def test_named_tool_choice_finishes_with_stop_and_args_follow_schema(client):
    r = chat(client, tools=TOOLS, tool_choice=NAMED)
    choice = r.choices[0]
    assert choice.finish_reason == "stop"  # as OpenAI does for a named tool_choice
    call = choice.message.tool_calls[0]
    assert call.function.name == "Multiply"
    assert json.loads(call.function.arguments) == {"a": 0, "b": 0, "result": 0}
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_auto_tool_choice_finishes_with_tool_calls(client):
    assert chat(client, tools=TOOLS, tool_choice="required").choices[0].finish_reason == "tool_calls"


def test_legacy_functions_and_function_call(client, srv):
    srv.chat.push({"a": 3, "b": 4, "result": 12})
    r = chat(client, functions=[TOOLS[0]["function"]], function_call={"name": "Multiply"})
    msg = r.choices[0].message
    assert msg.function_call.name == "Multiply"
    assert json.loads(msg.function_call.arguments)["result"] == 12
    assert r.choices[0].finish_reason == "stop"


def test_json_schema_response_format(client, srv):
    rf = {"type": "json_schema", "json_schema": {"name": "Multiply", "strict": True,
                                                 "schema": TOOLS[0]["function"]["parameters"]}}
    r = chat(client, response_format=rf)
    assert json.loads(r.choices[0].message.content) == {"a": 0, "b": 0, "result": 0}


def test_scripted_queue_then_callable_receives_parsed_request(client, srv):
    seen = []

    def answer(req):
        seen.append((req.model, req.system, req.user, req.answer_name, req.mode))
        a, b = 3, 4
        return {"a": a, "b": b, "result": a * b}

    srv.chat.push({"a": 1, "b": 1, "result": 1})
    srv.chat.respond(answer)
    first = chat(client, tools=TOOLS, tool_choice=NAMED)
    second = chat(client, tools=TOOLS, tool_choice=NAMED)
    assert json.loads(first.choices[0].message.tool_calls[0].function.arguments)["result"] == 1
    assert json.loads(second.choices[0].message.tool_calls[0].function.arguments)["result"] == 12
    assert seen == [("gpt-4o-mini", "You multiply.", "Return fn(3, b=4)", "Multiply", "tools")]


def test_malformed_arguments_come_back_verbatim_and_parse_raises_validation_error(client, srv):
    srv.chat.push(Reply.malformed('{"a": 1,'))
    r = chat(client, tools=TOOLS, tool_choice=NAMED)
    assert r.choices[0].message.tool_calls[0].function.arguments == '{"a": 1,'

    class Multiply(pydantic.BaseModel):
        a: int
        b: int
        result: int

    srv.chat.push({"a": "not a number"})
    with pytest.raises(pydantic.ValidationError):
        client.chat.completions.parse(model="gpt-4o-mini", messages=MSGS,
                                      tools=[openai.pydantic_function_tool(Multiply)], tool_choice=NAMED)


def test_truncated_and_refusal_and_wrong_tool(client, srv):
    srv.chat.push(Reply.truncated({"a": 3, "b": 4, "result": 12}), Reply.refused("nope"), Reply(arguments={}, name="Other"))
    r = chat(client, tools=TOOLS, tool_choice=NAMED)
    assert r.choices[0].finish_reason == "length"
    with pytest.raises(ValueError):
        json.loads(r.choices[0].message.tool_calls[0].function.arguments)
    r = chat(client, tools=TOOLS, tool_choice=NAMED)
    assert r.choices[0].message.refusal == "nope" and not r.choices[0].message.tool_calls
    r = chat(client, tools=TOOLS, tool_choice=NAMED)
    assert r.choices[0].message.tool_calls[0].function.name == "Other"


def test_max_tokens_truncates_with_length(client, srv):
    srv.chat.push({"text": "x" * 400})
    r = chat(client, tools=TOOLS, tool_choice=NAMED, max_completion_tokens=5)
    assert r.choices[0].finish_reason == "length"
    assert len(r.choices[0].message.tool_calls[0].function.arguments) <= 20


def test_plain_text_and_streaming(client, srv):
    srv.chat.push("hello there")
    assert chat(client).choices[0].message.content == "hello there"
    srv.chat.push("streamed")
    chunks = list(chat(client, stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed"
    assert chunks[-1].usage.total_tokens > 0


def test_bad_requests_get_openai_error_bodies(client):
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "Nope"}})
    assert exc.value.param == "tool_choice" and exc.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, messages=[])
    assert exc.value.param == "messages"


def test_value_for_schema_handles_refs_unions_and_bounds():
    schema = {
        "type": "object",
        "properties": {
            "item": {"$ref": "#/$defs/Item"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "string", "minLength": 3}]},
            "n": {"type": "integer", "minimum": 5},
            "kind": {"enum": ["x", "y"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "$defs": {"Item": {"type": "object", "properties": {"ok": {"type": "boolean"}}}},
    }
    assert value_for_schema(schema) == {"item": {"ok": False}, "maybe": "string", "n": 5, "kind": "x", "tags": ["string"]}


# -- auth and models -----------------------------------------------------------------------

def test_wrong_key_is_401_and_unknown_model_is_404():
    with FakeOpenAI(api_key="sk-right", strict_models=True) as srv:
        bad = openai.OpenAI(base_url=srv.base_url, api_key="sk-wrong-key", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as exc:
            chat(bad)
        assert exc.value.code == "invalid_api_key"
        good = openai.OpenAI(base_url=srv.base_url, api_key="sk-right", max_retries=0)
        with pytest.raises(openai.NotFoundError) as exc:
            chat(good, model="ft:gpt-4o-mini:org::nope")
        assert exc.value.code == "model_not_found"
        assert "gpt-4o-mini" in [m.id for m in good.models.list()]
        assert good.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"


def test_unknown_url_is_404(client):
    with pytest.raises(openai.NotFoundError):
        client.get("/nope", cast_to=object)


# -- files ---------------------------------------------------------------------------------

def test_files_upload_list_retrieve_content_delete(client, srv):
    data = b'{"messages": []}\n' * 3
    f = client.files.create(file=("train.jsonl", data), purpose="fine-tune")
    assert (f.filename, f.bytes, f.purpose, f.status) == ("train.jsonl", len(data), "fine-tune", "processed")
    g = client.files.create(file=("other.jsonl", b"{}\n"), purpose="batch")
    assert [x.id for x in client.files.list()] == [g.id, f.id]
    assert [x.id for x in client.files.list(purpose="fine-tune")] == [f.id]
    assert client.files.retrieve(f.id).id == f.id
    assert client.files.content(f.id).read() == data
    assert client.files.delete(f.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)


# -- fine-tuning jobs ----------------------------------------------------------------------

def _upload(client):
    return client.files.create(file=("t.jsonl", b"{}\n"), purpose="fine-tune").id


def test_job_advances_one_status_per_retrieve_and_succeeds(client):
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=_upload(client), suffix="mul",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
        metadata={"distilgen": "abc"})
    assert job.status == "validating_files" and job.metadata == {"distilgen": "abc"}
    assert job.method.type == "supervised" and job.hyperparameters.n_epochs == 2
    statuses = [client.fine_tuning.jobs.retrieve(job.id).status for _ in range(4)]
    assert statuses == ["queued", "running", "succeeded", "succeeded"]
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.fine_tuned_model.startswith("ft:gpt-4o-mini:") and ":mul:" in done.fine_tuned_model
    assert done.fine_tuned_model in [m.id for m in client.models.list()]
    cps = client.fine_tuning.jobs.checkpoints.list(job.id)
    assert [c.step_number for c in cps] == [6, 3]
    events = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    assert events[0] == "The job has successfully completed"


def test_job_scripted_failure_has_error_object(client, srv):
    srv.jobs.fail_next(at="validating_files", code="invalid_training_file", message="line 3 is bad")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=_upload(client))
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed"
    assert (failed.error.code, failed.error.message, failed.error.param) == ("invalid_training_file", "line 3 is bad", "training_file")
    assert client.fine_tuning.jobs.retrieve(job.id).status == "failed"


def test_job_cancel_and_cancel_twice_is_400(client):
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=_upload(client))
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.cancel(job.id)


def test_job_create_rejects_unknown_file_and_unknown_job_is_404(client):
    with pytest.raises(openai.BadRequestError) as exc:
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-nope")
    assert exc.value.param == "training_file"
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.retrieve("ftjob-nope")


def test_job_list_cursor_pages_and_metadata_filter(client):
    fid = _upload(client)
    ids = [client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=fid,
                                          metadata={"n": str(i % 2)}).id for i in range(5)]
    first = client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in first.data] == ids[::-1][:2] and first.has_more
    second = client.fine_tuning.jobs.list(limit=2, after=first.data[-1].id)
    assert [j.id for j in second.data] == ids[::-1][2:4]
    assert [j.id for j in client.fine_tuning.jobs.list(limit=2)] == ids[::-1]  # auto-pagination
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"n": "1"})] == [ids[3], ids[1]]


# -- faults and the client's retry behaviour -----------------------------------------------

def _statuses(srv, path="/v1/chat/completions"):
    return [r.status for r in srv.requests_to(path)]


def test_429_with_retry_after_ms_is_retried_and_honoured(client, srv):
    srv.faults.add(path="/v1/chat/completions", status=429, retry_after_ms=300, times=1)
    t0 = time.perf_counter()
    chat(client)
    assert time.perf_counter() - t0 >= 0.3
    assert _statuses(srv) == [429, 200]
    assert srv.requests[0].fault is not None


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
def test_client_retries_these_statuses(client, srv, status):
    srv.faults.add(path="/v1/chat/completions", status=status, retry_after_ms=1, times=2)
    chat(client)
    assert _statuses(srv) == [status, status, 200]


def test_client_gives_up_after_max_retries(client, srv):
    srv.faults.add(path="/v1/chat/completions", status=503, retry_after_ms=1, times=None)
    with pytest.raises(openai.InternalServerError) as exc:
        chat(client)
    assert exc.value.status_code == 503 and exc.value.body["type"] == "server_error"
    assert len(srv.requests_to("/v1/chat/completions")) == 3


def test_x_should_retry_header_wins(client, srv):
    srv.faults.add(path="/v1/chat/completions", status=500, should_retry=False)
    with pytest.raises(openai.InternalServerError):
        chat(client)
    assert _statuses(srv) == [500]
    srv.faults.add(path="/v1/chat/completions", status=400, should_retry=True, retry_after_ms=1)
    chat(client)
    assert _statuses(srv) == [500, 400, 200]


def test_400_is_not_retried(client, srv):
    srv.faults.add(path="/v1/chat/completions", status=400, message="bad thing", param="messages")
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client)
    assert exc.value.message.endswith("bad thing") or "bad thing" in str(exc.value)
    assert _statuses(srv) == [400]


def test_dropped_connection_is_retried_then_connection_error():
    with FakeOpenAI() as srv:
        c = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=1)
        srv.faults.add(path="/v1/chat/completions", drop=True, times=1)
        chat(c)
        assert _statuses(srv) == [None, 200]
        srv.faults.add(path="/v1/chat/completions", drop=True, times=None)
        with pytest.raises(openai.APIConnectionError):
            chat(c)


def test_slow_server_times_out():
    with FakeOpenAI() as srv:
        c = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0, timeout=0.2)
        srv.faults.add(path="/v1/chat/completions", delay=0.6)
        with pytest.raises(openai.APITimeoutError):
            chat(c)


def test_html_200_comes_back_as_str(client, srv):
    srv.faults.add(path="/v1/chat/completions", status=200, body="<html>proxy login</html>", content_type="text/html")
    assert chat(client) == "<html>proxy login</html>"


def test_after_effect_502_on_job_create_makes_a_duplicate_with_default_retries(client, srv):
    srv.faults.add(path="/v1/fine_tuning/jobs", method="POST", status=502, after_effect=True, times=1, retry_after_ms=1)
    fid = _upload(client)
    client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=fid)
    # The 502 came after the job was made: the client's retry made a second, paid, job.
    assert len(srv.jobs.jobs) == 2
    assert _statuses(srv, "/v1/fine_tuning/jobs") == [502, 200]


def test_after_effect_without_retries_creates_exactly_one(srv):
    c = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0)
    srv.faults.add(path="/v1/fine_tuning/jobs", method="POST", status=502, after_effect=True)
    fid = _upload(c)
    with pytest.raises(openai.InternalServerError):
        c.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=fid, metadata={"key": "k1"})
    assert [j.metadata for j in c.fine_tuning.jobs.list(metadata={"key": "k1"})] == [{"key": "k1"}]


def test_fault_skip_and_glob_path(client, srv):
    fault = srv.faults.add(path="/v1/fine_tuning/jobs/*", method="GET", status=500, skip=1, times=1, should_retry=False)
    fid = _upload(client)
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=fid)
    client.fine_tuning.jobs.retrieve(job.id)
    with pytest.raises(openai.InternalServerError):
        client.fine_tuning.jobs.retrieve(job.id)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "running"  # the faulted poll did not advance
    assert (fault.seen, fault.hits, fault.exhausted) == (2, 1, True)


def test_fault_needs_an_action(srv):
    with pytest.raises(ValueError):
        srv.faults.add(path="/v1/models")


def test_request_log_records_bodies_and_headers(client, srv):
    chat(client, tools=TOOLS, tool_choice=NAMED)
    rec = srv.requests_to("/v1/chat/completions", "POST")[0]
    assert rec.json["tool_choice"] == NAMED
    assert rec.headers["authorization"] == "Bearer sk-test"


# -- async and concurrency -----------------------------------------------------------------

def test_async_client_concurrent_calls(srv):
    async def main():
        c = openai.AsyncOpenAI(base_url=srv.base_url, api_key="x")
        srv.chat.respond(lambda req: {"a": 1, "b": 2, "result": int(req.user.split("(")[1].split(",")[0])})
        rs = await asyncio.gather(*[c.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"fn({i}, 2)"}], tools=TOOLS, tool_choice=NAMED)
            for i in range(50)])
        await c.close()
        return [json.loads(r.choices[0].message.tool_calls[0].function.arguments)["result"] for r in rs]

    assert asyncio.run(main()) == list(range(50))


# -- as a subprocess -----------------------------------------------------------------------

def test_subprocess_server_prints_base_url_and_is_scriptable():
    from distilgen.testing import spawn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with spawn(port) as proc:
        assert proc.base_url == f"http://127.0.0.1:{port}/v1"
        c = openai.OpenAI(base_url=proc.base_url, api_key="x", max_retries=1)
        proc.push_replies({"arguments": {"a": 2, "b": 3, "result": 6}}, {"refusal": "no"})
        proc.add_fault(path="/v1/chat/completions", status=503, retry_after_ms=1, times=1)
        proc.add_fault(path="/v1/chat/completions", reply={"refusal": "by fault"}, skip=3, times=1)
        r = chat(c, tools=TOOLS, tool_choice=NAMED)
        assert json.loads(r.choices[0].message.tool_calls[0].function.arguments)["result"] == 6
        assert chat(c, tools=TOOLS, tool_choice=NAMED).choices[0].message.refusal == "no"
        assert chat(c, tools=TOOLS, tool_choice=NAMED).choices[0].message.refusal == "by fault"
        assert [r["status"] for r in proc.requests()] == [503, 200, 200, 200]
    assert proc.process.returncode is not None


def test_retry_after_over_two_minutes_is_not_retried_at_all(client, srv):
    # openai 3.57: a server-directed delay above 120 s makes the client give up at once
    srv.faults.add(path="/v1/chat/completions", status=429, retry_after=121, times=1)
    with pytest.raises(openai.RateLimitError):
        chat(client)
    assert _statuses(srv) == [429]


def test_retry_after_seconds_header_is_honoured(client, srv):
    srv.faults.add(path="/v1/chat/completions", status=503, retry_after=0.4, times=1)
    t0 = time.perf_counter()
    chat(client)
    assert time.perf_counter() - t0 >= 0.4
    assert _statuses(srv) == [503, 200]


def test_timeout_is_retried_by_the_client():
    with FakeOpenAI() as srv:
        c = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=1, timeout=0.3)
        srv.faults.add(path="/v1/chat/completions", delay=0.8, times=1)
        chat(c)
        assert len(srv.requests_to("/v1/chat/completions")) == 2


def test_fault_reply_overrides_the_script_for_chat(client, srv):
    srv.chat.push({"a": 1, "b": 1, "result": 1})
    srv.faults.add(path="/v1/chat/completions", reply=Reply.malformed("{bad"), times=1)
    srv.faults.add(path="/v1/chat/completions", reply=Reply.truncated({"a": 2, "b": 2, "result": 4}), skip=1, times=1)
    first = chat(client, tools=TOOLS, tool_choice=NAMED).choices[0]
    second = chat(client, tools=TOOLS, tool_choice=NAMED).choices[0]
    third = chat(client, tools=TOOLS, tool_choice=NAMED).choices[0]
    assert first.message.tool_calls[0].function.arguments == "{bad"
    assert second.finish_reason == "length"
    assert json.loads(third.message.tool_calls[0].function.arguments) == {"a": 1, "b": 1, "result": 1}
    assert len(srv.chat.seen) == 3


@pytest.mark.parametrize("ignore_sigint", [False, True], ids=["sigint-default", "sigint-ignored-by-parent"])
def test_server_process_stops_on_sigint_even_when_started_ignoring_it(ignore_sigint):
    """`python -m distilgen.testing` installs its SIGINT handler: exec'd from a shell that ignores
    SIGINT (a background job), kill -INT still stops it."""
    import signal
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "distilgen.testing", "--port", "0"]
    if ignore_sigint:
        cmd = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=20)
