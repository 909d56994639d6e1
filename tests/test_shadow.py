"""Shadow mode: the real function answers; a sample of calls also asks the model in the background
and records per-field agreement. Real openai client against the loopback FakeOpenAI."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import openai
import pytest
from pydantic import BaseModel

from distilgen import Instructions
from distilgen.config import Config
from distilgen.runtime.clients import ClientProvider
from distilgen.runtime.shadow import Shadow, ShadowSettings, compare_fields
from distilgen.testing import FakeOpenAI, Reply

MODEL = "ft:gpt-4o-mini:org::abc"


class Multiply(BaseModel):
    a: int
    b: int
    result: int


def ready(fn):
    # see tests/test_dispatch.py: builds the spec before runner() takes the state lock
    fn.__distil__.spec
    return fn


def model_answer(req):
    call = next(m["content"] for m in req.messages if m["role"] == "user")
    a, b = (int(x.strip()) for x in call[call.index("(") + 1:-1].split(","))
    return {"a": a, "b": b, "result": a * b if a < 10 else a * b + 1}  # wrong for a >= 10


@pytest.fixture()
def srv():
    with FakeOpenAI() as s:
        s.chat.respond(model_answer)
        yield s


def make(srv, log: Path, *, rate=1.0, asyncfn=False, client_kw=None):
    client = openai.OpenAI(base_url=srv.base_url, api_key="x", **(client_kw or {"max_retries": 0}))
    ins = Instructions(openai_client=client, config=Config(root=log.parent), shadow_rate=rate, shadow_log=log)
    calls = []
    if asyncfn:
        @ins.distil(mode="shadow", model=MODEL)
        async def fn(a: int, b: int) -> Multiply:
            calls.append((a, b))
            return Multiply(a=a, b=b, result=a * b)
    else:
        @ins.distil(mode="shadow", model=MODEL)
        def fn(a: int, b: int) -> Multiply:
            calls.append((a, b))
            return Multiply(a=a, b=b, result=a * b)
    fn.calls = calls
    return ready(fn)


def records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def shadow_of(fn) -> Shadow:
    return fn.__distil__.runner()


def test_caller_gets_the_real_result_and_agreement_is_recorded_per_field(srv, tmp_path):
    log = tmp_path / "shadow.jsonl"
    fn = make(srv, log)
    assert fn(3, 4) == Multiply(a=3, b=4, result=12)
    assert fn(12, 2) == Multiply(a=12, b=2, result=24)  # the real answer, whatever the model says
    assert fn.calls == [(3, 4), (12, 2)]
    assert shadow_of(fn).drain(10)
    recs = sorted(records(log), key=lambda r: r["call"])
    agree, disagree = recs[1], recs[0]
    assert agree["call"] == "fn(3, 4)" and agree["status"] == "ok" and agree["agree"] is True
    assert agree["fields"] == {"a": True, "b": True, "result": True}
    assert agree["expected"] == agree["got"] == {"a": 3, "b": 4, "result": 12}
    assert disagree["call"] == "fn(12, 2)" and disagree["agree"] is False
    assert disagree["fields"] == {"a": True, "b": True, "result": False}
    assert disagree["got"]["result"] == 25
    for r in recs:
        assert r["v"] == 1 and r["function_id"] == fn.__distil__.function_id and r["model"] == MODEL
        assert r["model_ms"] >= 0 and r["usage"]["prompt_tokens"] > 0 and r["ts"].endswith("Z")
    st = shadow_of(fn).stats()
    assert (st.sampled, st.agreed, st.disagreed, st.agreement) == (2, 1, 1, 0.5)
    assert st.fields == {"a": (2, 2), "b": (2, 2), "result": (1, 2)}


def test_records_are_read_by_eval(srv, tmp_path):
    from distilgen.evals.shadow_records import read_shadow

    log = tmp_path / "shadow.jsonl"
    fn = make(srv, log)
    fn(2, 3)
    fn(11, 3)
    shadow_of(fn).drain(10)
    grouped = read_shadow(log)
    (key, recs), = grouped.items()
    assert key == (fn.__distil__.function_id, MODEL)
    assert sorted(r.call for r in recs) == ["fn(11, 3)", "fn(2, 3)"]
    assert all(r.got is not None and r.model_ms is not None for r in recs)


def test_slow_model_never_slows_the_caller(srv, tmp_path):
    log = tmp_path / "shadow.jsonl"
    fn = make(srv, log)
    srv.faults.add(path="/v1/chat/completions", delay=1.0, times=None)
    t0 = time.perf_counter()
    for i in range(5):
        assert fn(i, 2).result == 2 * i
    assert time.perf_counter() - t0 < 0.5  # five calls, each model request takes 1 s
    assert shadow_of(fn).drain(20)
    assert len(records(log)) == 5


@pytest.mark.parametrize("fault, status", [
    ({"status": 500, "should_retry": False}, "error"),
    ({"drop": True}, "error"),
    ({"status": 200, "body": "<html>login</html>", "content_type": "text/html"}, "error"),
])
def test_failing_endpoint_never_fails_the_caller(srv, tmp_path, fault, status):
    log = tmp_path / "shadow.jsonl"
    fn = make(srv, log)
    srv.faults.add(path="/v1/chat/completions", times=None, **fault)
    assert fn(3, 4).result == 12
    assert shadow_of(fn).drain(10)
    (rec,) = records(log)
    assert rec["status"] == status and rec["got"] is None and rec["fields"] is None
    assert MODEL in rec["error"]
    assert shadow_of(fn).stats().errors == 1


def test_invalid_answer_is_recorded_as_invalid(srv, tmp_path):
    log = tmp_path / "shadow.jsonl"
    fn = make(srv, log)
    srv.chat.push(Reply.malformed('{"a": 3'))
    assert fn(3, 4).result == 12
    shadow_of(fn).drain(10)
    (rec,) = records(log)
    assert rec["status"] == "invalid" and rec["raw_output"] == '{"a": 3' and "Invalid JSON" in rec["error"]
    assert len(srv.requests_to("/v1/chat/completions")) == 1  # shadow never re-asks


def test_rate_zero_sends_nothing(srv, tmp_path):
    log = tmp_path / "shadow.jsonl"
    fn = make(srv, log, rate=0.0)
    for i in range(20):
        fn(i, 1)
    shadow_of(fn).drain(5)
    assert srv.requests_to("/v1/chat/completions") == [] and not log.exists()
    assert shadow_of(fn).stats().observed == 20


def test_sampling_rate_with_seed(srv, tmp_path):
    spec = make(srv, tmp_path / "unused.jsonl").__distil__.spec
    clients = ClientProvider(client=openai.OpenAI(base_url=srv.base_url, api_key="x"), config=Config(root=tmp_path))
    sh = Shadow(spec, ShadowSettings(model=MODEL, rate=0.25, seed=7), clients, tmp_path / "s.jsonl")
    for i in range(400):
        sh.observe((i % 9, 2), {}, Multiply(a=i % 9, b=2, result=2 * (i % 9)))
    assert sh.drain(30)
    st = sh.stats()
    assert 70 <= st.sampled <= 130 and st.observed == 400
    assert len(records(tmp_path / "s.jsonl")) == st.sampled == len(srv.requests_to("/v1/chat/completions"))


def test_full_backlog_drops_samples_instead_of_queueing(srv, tmp_path):
    spec = make(srv, tmp_path / "unused.jsonl").__distil__.spec
    clients = ClientProvider(client=openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0), config=Config(root=tmp_path))
    srv.faults.add(path="/v1/chat/completions", delay=0.3, times=None)
    sh = Shadow(spec, ShadowSettings(model=MODEL, rate=1.0, max_workers=1, max_pending=2), clients, tmp_path / "s.jsonl")
    t0 = time.perf_counter()
    for i in range(10):
        sh.observe((i, 1), {}, Multiply(a=i, b=1, result=i))
    assert time.perf_counter() - t0 < 0.2
    st = sh.stats()
    assert st.dropped >= 6 and st.sampled == 10
    assert sh.drain(10)
    assert len(records(tmp_path / "s.jsonl")) == 10 - sh.stats().dropped


def test_async_shadow_runs_as_a_task_and_never_blocks(srv, tmp_path):
    log = tmp_path / "shadow.jsonl"
    fn = make(srv, log, asyncfn=True)
    srv.faults.add(path="/v1/chat/completions", delay=3.0, times=None)

    async def main():
        t0 = time.perf_counter()
        results = await asyncio.gather(*[fn(i, 3) for i in range(20)])
        elapsed = time.perf_counter() - t0
        assert await shadow_of(fn).adrain(20)
        return results, elapsed

    results, elapsed = asyncio.run(main())
    assert [r.result for r in results] == [3 * i for i in range(20)]
    # each model request takes 3 s: a caller that waited for one would take that long (margin for a loaded machine)
    assert elapsed < 2.0
    recs = records(log)
    assert len(recs) == 20 and {r["status"] for r in recs} == {"ok"}
    assert sum(r["agree"] for r in recs) == 10  # the model is wrong for a >= 10


def test_async_shadow_endpoint_error_never_reaches_the_caller(srv, tmp_path):
    log = tmp_path / "shadow.jsonl"
    fn = make(srv, log, asyncfn=True)
    srv.faults.add(path="/v1/chat/completions", status=503, should_retry=False, times=None)

    async def main():
        out = await fn(2, 2)
        await shadow_of(fn).adrain(10)
        return out

    assert asyncio.run(main()).result == 4
    assert records(log)[0]["status"] == "error"


def test_compare_fields_json_values():
    assert compare_fields({"x": 1, "y": [1, 2], "z": {"k": 0.1 + 0.2}}, {"x": 1, "y": [1, 2], "z": {"k": 0.3}}) == {
        "x": True, "y": True, "z": True}
    assert compare_fields({"x": 1, "y": True}, {"x": True}) == {"x": False, "y": False}
    assert compare_fields({"x": "1"}, {"x": 1}) == {"x": False}


class Ratio(BaseModel):
    value: float


def test_a_non_finite_answer_keeps_the_log_valid_json(srv, tmp_path):
    srv.chat.respond(lambda req: {"value": 1.5})
    log = tmp_path / "shadow.jsonl"
    client = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0)
    ins = Instructions(openai_client=client, config=Config(root=tmp_path), shadow_rate=1.0, shadow_log=log)

    @ins.distil(mode="shadow", model=MODEL)
    def ratio(a: int, b: int) -> Ratio:
        return Ratio(value=a / b if b else float("nan"))

    ready(ratio)
    assert ratio(1, 0).value != ratio(1, 0).value  # the caller still gets its NaN
    assert shadow_of(ratio).drain(10)

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in a shadow record: not JSON")

    lines = log.read_text().splitlines()
    assert len(lines) == 2
    for line in lines:
        rec = json.loads(line, parse_constant=no_constants)
        assert rec["expected"] == {"value": None} and rec["got"] == {"value": 1.5}
        assert rec["fields"] == {"value": False} and rec["agree"] is False
