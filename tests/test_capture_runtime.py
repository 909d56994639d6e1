"""Capture: shapes of functions, errors at decoration, and a capture that never breaks the caller."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Optional

import pytest
from pydantic import BaseModel, ConfigDict, model_validator

from distilgen import DecorationError, Instructions, UsageError


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What capture logged about examples it could not write (the `distilgen` logger, WARNING)."""
    return [r.getMessage() for r in caplog.records if r.name == "distilgen" and "example not captured" in r.getMessage()]


class Total(BaseModel):
    value: int


class Invoice(BaseModel):
    items: list[int]

    def total(self, tax: int = 0) -> Total:
        return Total(value=sum(self.items) + tax)


def lines(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text().splitlines()]


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    return tmp_path / "d.jsonl"


def test_string_annotations_and_future_import(ds: Path) -> None:
    inst = Instructions(dataset=ds)

    @inst.distil
    def add(a: int, b: "int") -> "Total":
        """Add two numbers."""
        return Total(value=a + b)

    assert add(1, b=2) == Total(value=3)
    (ex,) = lines(ds)
    assert ex["messages"][1]["content"] == "Return add(1, b=2)"
    assert 'def add(a: int, b: "int") -> "Total":' in ex["messages"][0]["content"]
    assert "Add two numbers." in ex["messages"][0]["content"]


def test_metadata_and_signature_preserved() -> None:
    inst = Instructions()

    def original(a: int, *, flag: bool = False) -> Total:
        """Doc."""
        return Total(value=a)

    wrapped = inst.distil(original)
    assert wrapped.__name__ == "original" and wrapped.__doc__ == "Doc."
    assert inspect.signature(wrapped) == inspect.signature(original)
    assert wrapped.__wrapped__ is original


def test_async_function_captured_after_await(ds: Path) -> None:
    inst = Instructions(dataset=ds)

    @inst.distil
    async def slow(a: int) -> Total:
        await asyncio.sleep(0)
        return Total(value=a * 2)

    assert inspect.iscoroutinefunction(slow)
    assert asyncio.run(slow(21)) == Total(value=42)
    (ex,) = lines(ds)
    assert ex["messages"][1]["content"] == "Return slow(21)"
    assert json.loads(ex["messages"][2]["tool_calls"][0]["function"]["arguments"]) == {"value": 42}


def test_static_and_class_methods(ds: Path) -> None:
    inst = Instructions(dataset=ds)

    class Calc:
        @staticmethod
        @inst.distil
        def double(a: int) -> Total:
            return Total(value=2 * a)

        @inst.distil
        @staticmethod
        def triple(a: int) -> Total:
            return Total(value=3 * a)

        @classmethod
        @inst.distil
        def quad(cls, a: int) -> Total:
            return Total(value=4 * a)

    assert Calc.double(2).value == 4 and Calc().triple(2).value == 6 and Calc.quad(2).value == 8
    users = [ex["messages"][1]["content"] for ex in lines(ds)]
    assert users == ["Return Calc.double(2)", "Return Calc.triple(2)", "Return Calc.quad(2)"]


class Flow(BaseModel):
    kind: str = "flow"

    @classmethod
    def make(cls, n: int) -> Flow:
        return cls(kind=f"{cls.__name__}{n}")


class Shipping(Flow):
    pass


def test_a_classmethod_called_through_a_subclass_is_not_captured(ds: Path, caplog: pytest.LogCaptureFixture,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`Shipping.make(1)` would be written `Flow.make(1)`: one call text, an answer per subclass
    (crewai's flows, gradio's `FileData.from_json`, wave 4). Calls on the class itself are."""
    inst = Instructions(dataset=ds)
    monkeypatch.setattr(Flow, "make", classmethod(inst.distil(Flow.__dict__["make"].__func__)))
    assert Flow.make(1).kind == "Flow1" and Shipping.make(2).kind == "Shipping2"
    assert [ex["messages"][1]["content"] for ex in lines(ds)] == ["Return Flow.make(1)"]
    stats = inst.stats()
    assert stats.captured == 1 and stats.skipped == 1
    (cause,) = stats.causes
    assert cause.endswith("SubclassCall")
    assert any("called on " in m and "Shipping" in m and "not on" in m for m in logged(caplog)), logged(caplog)


def test_model_method_renders_the_instance(ds: Path) -> None:
    inst = Instructions(dataset=ds)

    class Bill(BaseModel):
        items: list[int]

        @inst.distil
        def total(self, tax: int = 0) -> Total:
            return Total(value=sum(self.items) + tax)

    assert Bill(items=[1, 2]).total(tax=3).value == 6
    (ex,) = lines(ds)
    assert ex["messages"][1]["content"] == "Return Bill(items=[1, 2]).total(tax=3)"


def test_rejections_name_the_function() -> None:
    inst = Instructions()

    with pytest.raises(DecorationError, match="gen.*generator"):
        @inst.distil
        def gen(a: int) -> Total:  # type: ignore[misc]
            yield Total(value=a)

    with pytest.raises(DecorationError, match="plain.*not a pydantic BaseModel subclass"):
        @inst.distil
        def plain(a: int) -> int:
            return a

    with pytest.raises(DecorationError, match="maybe.*wrapped"):
        @inst.distil
        def maybe(a: int) -> Optional[Total]:
            return None

    with pytest.raises(DecorationError, match="bare.*no return annotation"):
        @inst.distil
        def bare(a):  # type: ignore[no-untyped-def]
            return Total(value=a)

    with pytest.raises(DecorationError, match=r"Service\.run.*instance method of a class that is not a pydantic model"):
        class Service:
            @inst.distil
            def run(self, a: int) -> Total:
                return Total(value=a + self.base)  # reads its instance (one that does not: test_capture_selfless)

    with pytest.raises(UsageError, match="needs model="):
        inst.distil(mode="dispatch")

    with pytest.raises(UsageError, match="mode"):
        inst.distil(mode="train")


def test_unrenderable_argument_never_breaks_the_caller(ds: Path, caplog: pytest.LogCaptureFixture) -> None:
    inst = Instructions(dataset=ds)

    @inst.distil
    def f(x: object) -> Total:
        return Total(value=1)

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert f(object()) == Total(value=1)
        assert f(object()) == Total(value=1)
    [message] = logged(caplog)  # once per cause
    assert re.search("f.*UnrenderableValue", message)
    assert f(3) == Total(value=1)
    stats = inst.stats()
    assert (stats.captured, stats.skipped) == (1, 2)
    assert list(stats.causes.values()) == [2]


def test_full_disk_never_breaks_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    inst = Instructions(dataset="/dev/full")

    @inst.distil
    def f(x: int) -> Total:
        return Total(value=x)

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert f(5) == Total(value=5)
    [message] = logged(caplog)
    assert re.search("OSError|SinkError", message)
    assert inst.stats().skipped == 1


def test_closed_handler_never_breaks_the_caller(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    inst = Instructions(name="closed", log_handlers=[handler])

    @inst.distil
    def f(x: int) -> Total:
        return Total(value=x)

    f(1)
    stream.close()
    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert f(2) == Total(value=2)
    assert "ValueError" in logged(caplog)[0]
    assert inst.stats().captured == 1 and inst.stats().skipped == 1
    assert "Logging error" not in capsys.readouterr().err


def test_logger_is_private_and_independent_of_root(ds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger().setLevel(logging.ERROR)
    out = tmp_path / "h.jsonl"
    inst = Instructions(name="private", log_handlers=[logging.FileHandler(out)])

    @inst.distil
    def f(x: int) -> Total:
        return Total(value=x)

    f(1)
    assert len(out.read_text().splitlines()) == 1
    logger = logging.getLogger("distilgen.capture.private")
    assert logger.propagate is False and logger.level == logging.INFO


def test_sample_rate_and_redact(ds: Path) -> None:
    def redact(ex: dict) -> dict | None:
        if "secret" in ex["messages"][1]["content"]:
            return None
        ex["messages"][1]["content"] = ex["messages"][1]["content"].replace("bob", "***")
        return ex

    inst = Instructions(dataset=ds, redact=redact)

    @inst.distil
    def greet(name: str) -> Total:
        return Total(value=len(name))

    greet("bob")
    greet("secret")
    assert [e["messages"][1]["content"] for e in lines(ds)] == ["Return greet('***')"]
    assert inst.stats().redacted_out == 1

    sampled = Instructions(dataset=ds.with_name("s.jsonl"), sample_rate=0.25, seed=7)

    @sampled.distil
    def g(x: int) -> Total:
        return Total(value=x)

    for i in range(400):
        g(i)
    st = sampled.stats()
    assert st.captured + st.sampled_out == 400 and 60 < st.captured < 140
    with pytest.raises(UsageError, match="sample_rate"):
        Instructions(sample_rate=2)


def test_no_api_key_needed_to_capture(ds: Path, no_api_key: None) -> None:
    inst = Instructions(dataset=ds)

    @inst.distil
    def f(x: int) -> Total:
        return Total(value=x)

    assert f(1).value == 1 and len(lines(ds)) == 1


def test_raw_format(ds: Path) -> None:
    inst = Instructions(dataset=ds, finetune_format="raw")

    @inst.distil
    def f(x: int, *, when: str = "now") -> Total:
        return Total(value=x)

    f(3, when="later")
    (ex,) = lines(ds)
    assert ex["format"] == "raw" and ex["call"] == "f(3, when='later')"
    assert ex["args"] == [3] and ex["kwargs"] == {"when": "later"} and ex["output"] == {"value": 3}
    assert ex["function_id"].endswith(":test_raw_format.<locals>.f")
    assert ex["schema"]["required"] == ["value"]


def test_prompt_is_computed_once_per_function(ds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import distilgen.runtime.spec as spec_mod

    calls = []
    real = spec_mod.render_prompt
    monkeypatch.setattr(spec_mod, "render_prompt", lambda *a, **k: calls.append(1) or real(*a, **k))
    inst = Instructions(dataset=ds)

    @inst.distil
    def f(x: int) -> Total:
        return Total(value=x)

    for i in range(5):
        f(i)
    assert len(calls) == 1


def test_wrong_return_value_is_skipped_not_raised(ds: Path, caplog: pytest.LogCaptureFixture) -> None:
    inst = Instructions(dataset=ds)

    @inst.distil
    def f(x: int) -> Total:
        return [x]  # type: ignore[return-value]

    @inst.distil
    def g(x: int) -> Total:
        return {"value": "not a number"}  # type: ignore[return-value]

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert f(1) == [1]
        assert g(1) == {"value": "not a number"}
    first, second = logged(caplog)
    assert "returned list, not Total" in first and "returned a dict that is not a valid Total" in second
    assert inst.stats().captured == 0


def test_a_dict_for_a_model_is_captured_as_the_model(ds: Path) -> None:
    """FastAPI's idiom: `-> Model` and `return {...}`; FastAPI validates the dict into the model,
    and so does capture. The caller still gets the dict."""
    inst = Instructions(dataset=ds)

    @inst.distil
    def f(x: int) -> Total:
        return {"value": str(x)}  # type: ignore[return-value]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(7) == {"value": "7"}
    [line] = ds.read_text().splitlines()
    assert json.loads(json.loads(line)["messages"][-1]["tool_calls"][0]["function"]["arguments"]) == {"value": 7}


def test_capture_problems_are_logged_never_warned(ds: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A warning is part of what the program sees: `filterwarnings = error` (FastAPI's and many
    projects' test settings) raised the CaptureWarning out of the decorated function, and
    `pytest.warns(X)` around a call re-emits any other warning on exit, where that filter raises it
    in the test (mcp's tests). Capture problems go to the `distilgen` logger instead."""
    inst = Instructions(dataset=ds)

    @inst.distil
    def f(x: int) -> Total:
        return [x]  # type: ignore[return-value]

    with warnings.catch_warnings(), caplog.at_level(logging.WARNING, logger="distilgen"):
        warnings.simplefilter("error")
        assert f(1) == [1]
        with pytest.warns(DeprecationWarning):  # the user's own test of its own warning
            warnings.warn("old API", DeprecationWarning)
            assert f(2) == [2]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert f(3) == [3]
    assert caught == []
    assert inst.stats().skipped == 3
    [message] = logged(caplog)  # once per function and cause
    assert message.startswith("distilgen: ") and "returned list, not Total" in message


class Person(BaseModel):
    full_name: str

    @model_validator(mode="before")
    @classmethod
    def join(cls, data: Any) -> Any:
        if isinstance(data, dict) and "first" in data:
            data["full_name"] = f"{data.pop('first')} {data.pop('last')}"
        return data


def test_a_dict_result_is_validated_as_a_copy(ds: Path) -> None:
    """A `mode="before"` validator that edits its input (found by running real projects' tests
    after `apply`): capture's validation must not edit the dict the caller gets back."""
    inst = Instructions(dataset=ds)

    @inst.distil
    def person(first: str) -> Person:
        return {"first": first, "last": "Lovelace", "tags": ["x"]}  # type: ignore[return-value]

    assert person("Ada") == {"first": "Ada", "last": "Lovelace", "tags": ["x"]}
    assert inst.stats().captured == 1 and '{\\"full_name\\":\\"Ada Lovelace\\"}' in ds.read_text()


NESTED = """
from pydantic import BaseModel


class Total(BaseModel):
    value: int


def register(inst, k):
    @inst.distil
    def handler(a: int) -> Total:
        return Total(value=a + k)

    return handler


def local(inst, k):
    class Out(BaseModel):
        n: int

    @inst.distil
    def make(a: int) -> Out:
        return Out(n=a + k)

    return make
"""


def test_a_nested_def_is_read_once_per_code_object(ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mcp decorates a handler defined inside a function at every call of that function: each run
    re-read its source (~140 us) and built its spec at its first call (~450 us). Runs of one def
    share them; a def whose return model is local to each run gets its own."""
    (tmp_path / "nested_defs.py").write_text(NESTED)
    monkeypatch.syspath_prepend(str(tmp_path))
    import nested_defs

    inst = Instructions(dataset=ds)
    one, two = nested_defs.register(inst, 1), nested_defs.register(inst, 2)
    assert (one(1).value, two(1).value) == (2, 3)
    assert one.__distil__.spec is two.__distil__.spec and one.__distil__.writer is two.__distil__.writer
    a, b = nested_defs.local(inst, 1), nested_defs.local(inst, 2)
    assert a(1).n == 2 and b(1).n == 3
    assert a.__distil__.spec is not b.__distil__.spec
    assert a.__distil__.spec.return_model is type(a(0)) and b.__distil__.spec.return_model is type(b(0))
    inst.include_code_body = True
    three = nested_defs.register(inst, 3)
    assert three(0).value == 3 and three.__distil__.spec is not one.__distil__.spec
    assert "return Total(value=a + k)" in three.__distil__.spec.prompt
    assert inst.stats().captured == 7


def test_capture_is_silent_on_stderr_unless_logging_is_configured(tmp_path: Path) -> None:
    """mcp's tests compare a subprocess's stderr byte for byte: a skipped capture printed there
    through Python's last-resort handler. The `distilgen` logger has a NullHandler; a program
    that configures logging sees the record."""
    script = tmp_path / "tool.py"
    script.write_text(
        "import logging, sys\nfrom pydantic import BaseModel\nfrom distilgen import Instructions\n\n"
        "class Count(BaseModel):\n    n: int\n\n"
        f"inst = Instructions(dataset={str(tmp_path / 'd.jsonl')!r})\n\n"
        "@inst.distil\ndef count(stream: object) -> Count:\n    return Count(n=1)\n\n"
        "if sys.argv[1:] == ['configured']:\n    logging.basicConfig()\n"
        "print(count(object()).n)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    quiet = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "1\n", "")
    loud = subprocess.run([sys.executable, str(script), "configured"], capture_output=True, text=True, env=env, timeout=60)
    assert loud.stdout == "1\n" and "example not captured (UnrenderableValue" in loud.stderr


def test_a_cold_toml_cache_never_calls_a_patched_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock is read (and its parse cached) at a function's first call: on a fresh machine the
    cache write called the global `json.dumps` (found on fastapi's fast-path tests)."""
    from distilgen._toml import parse_toml

    monkeypatch.setenv("DISTILGEN_CACHE", str(tmp_path / "cache"))
    calls: list[str] = []
    real_dumps, real_loads = json.dumps, json.loads
    monkeypatch.setattr(json, "dumps", lambda *a, **k: calls.append("dumps") or real_dumps(*a, **k))
    monkeypatch.setattr(json, "loads", lambda *a, **k: calls.append("loads") or real_loads(*a, **k))
    lock = tmp_path / "distilgen.lock"
    lock.write_text('version = 1\n[x]\ny = "z"\n')
    assert parse_toml(lock.read_text(), lock) == {"version": 1, "x": {"y": "z"}}  # cold: parsed, stored
    assert parse_toml(lock.read_text(), lock) == {"version": 1, "x": {"y": "z"}}  # warm: read back
    assert list((tmp_path / "cache" / "toml").iterdir()) and calls == []


def test_capture_never_calls_a_patched_json(ds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test of the user's code that patches `json.dumps`/`json.loads` (FastAPI's count the calls)
    must not see capture's own JSON work."""
    calls: list[str] = []
    real_dumps, real_loads = json.dumps, json.loads
    monkeypatch.setattr(json, "dumps", lambda *a, **k: calls.append("dumps") or real_dumps(*a, **k))
    monkeypatch.setattr(json, "loads", lambda *a, **k: calls.append("loads") or real_loads(*a, **k))
    for fmt in ("tools", "messages", "raw"):
        inst = Instructions(dataset=ds.with_name(f"{fmt}.jsonl"), finetune_format=fmt, redact=lambda e: e)

        @inst.distil
        def f(x: int) -> Total:
            return Total(value=x)

        assert f(3) == Total(value=3)
        assert inst.stats().captured == 1, fmt
    assert calls == []


class Reading(BaseModel):
    value: float
    series: list[float] = []
    note: Optional[str] = None


@pytest.mark.parametrize("fmt", ["tools", "messages", "raw"])
def test_nan_or_infinite_output_is_skipped_and_counted_naming_the_field(tmp_path: Path, fmt: str,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """pydantic writes NaN as null (a wrong answer to learn) and json.dumps as NaN (not JSON): never captured."""
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds, finetune_format=fmt)

    @inst.distil
    def measure(x: float) -> Reading:
        return Reading(value=x, series=[1.0, x * 2])

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert measure(1.5).value == 1.5
        assert measure(float("nan")).series[0] == 1.0
        assert measure(float("inf")).value == float("inf")
        assert measure(float("-inf")).value == float("-inf")
        measure(2.0)
    messages = logged(caplog)
    assert len(messages) == 1 and "output.value = nan" in messages[0], messages
    stats = inst.stats()
    assert stats.captured == 2 and stats.skipped == 3
    assert list(stats.causes.values()) == [3]
    assert all(c.endswith(": NonFiniteFloat") for c in stats.causes)
    text = ds.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert len([json.loads(l) for l in text.splitlines()]) == 2  # only the finite calls, as strict JSON


class LoudConstants(BaseModel):
    model_config = ConfigDict(ser_json_inf_nan="constants")  # JSON would hold a bare Infinity
    value: float


class LoudStrings(BaseModel):
    model_config = ConfigDict(ser_json_inf_nan="strings")  # JSON would hold the string "Infinity"
    value: float


def test_nan_is_refused_whatever_the_model_tells_pydantic_to_write(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inst = Instructions(dataset=tmp_path / "d.jsonl")

    @inst.distil
    def constants(x: float) -> LoudConstants:
        return LoudConstants(value=x)

    @inst.distil
    def strings(x: float) -> LoudStrings:
        return LoudStrings(value=x)

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        for fn in (constants, strings):
            fn(float("inf"))
            fn(1.0)
    assert [("output.value = inf" in m) for m in logged(caplog)] == [True, True]
    assert inst.stats().skipped == 2 and len(lines(tmp_path / "d.jsonl")) == 2


class Deep(BaseModel):
    inner: Optional[Reading] = None
    extra: dict[str, Any] = {}
    label: str = ""


def test_nan_nested_or_under_any_is_found_and_a_float_free_model_is_never_walked(tmp_path: Path,
                                                                                caplog: pytest.LogCaptureFixture) -> None:
    from distilgen.runtime import formats

    inst = Instructions(dataset=tmp_path / "d.jsonl")

    @inst.distil
    def nested(x: float) -> Deep:
        return Deep(inner=Reading(value=x))

    @inst.distil
    def untyped(x: float) -> Deep:
        return Deep(extra={"k": [x]})

    with caplog.at_level(logging.WARNING, logger="distilgen"):  # one message per function and cause
        nested(float("nan"))
        untyped(float("nan"))
        nested(1.0)
    assert inst.stats().skipped == 2 and inst.stats().captured == 1
    found = " ".join(logged(caplog))
    assert "output.inner.value = nan" in found and "output.extra.k[0] = nan" in found
    assert formats._may_hold_float(formats.tool_schema(Deep))
    assert not formats._may_hold_float(formats.tool_schema(Invoice))  # ints only: its nulls are never walked


def test_nan_argument_in_a_raw_line_is_skipped_but_fine_in_a_rendered_call(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    raw, tools = tmp_path / "raw.jsonl", tmp_path / "tools.jsonl"
    inst_raw, inst_tools = Instructions(dataset=raw, finetune_format="raw"), Instructions(dataset=tools)

    def clamp(x: float) -> Total:
        return Total(value=0)

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        inst_raw.distil(clamp)(float("nan"))
    assert re.search(r"args\[0\] = nan", logged(caplog)[0])
    inst_tools.distil(clamp)(float("nan"))
    assert not raw.exists() or raw.read_text() == ""
    (ex,) = lines(tools)
    assert ex["messages"][1]["content"] == "Return clamp(float('nan'))"


CAPTURE_WORKER = '''
import sys
from pydantic import BaseModel
from distilgen import Instructions

class Total(BaseModel):
    value: int

inst = Instructions(dataset=sys.argv[1])

@inst.distil
def work(worker: str, i: int) -> Total:
    return Total(value=i)

for i in range(int(sys.argv[3])):
    work(sys.argv[2], i)
assert inst.stats().captured == int(sys.argv[3]), inst.stats()
'''


def test_many_threads_and_processes_capture_into_one_file(tmp_path: Path) -> None:
    import subprocess
    import sys
    import threading

    ds = tmp_path / "shared.jsonl"
    script = tmp_path / "worker.py"
    script.write_text(CAPTURE_WORKER)
    procs = [subprocess.Popen([sys.executable, str(script), str(ds), f"p{p}", "300"]) for p in range(3)]

    inst = Instructions(dataset=ds)

    @inst.distil
    def work(worker: str, i: int) -> Total:
        return Total(value=i)

    threads = [threading.Thread(target=lambda t=t: [work(f"t{t}", i) for i in range(150)]) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for p in procs:
        assert p.wait(timeout=120) == 0
    seen: dict[str, list[int]] = {}
    for ex in lines(ds):
        worker, i = eval(ex["messages"][1]["content"][len("Return "):], {"work": lambda w, i: (w, i)})
        seen.setdefault(worker, []).append(i)
    assert {w: sorted(v) for w, v in seen.items()} == {
        **{f"t{t}": list(range(150)) for t in range(6)},
        **{f"p{p}": list(range(300)) for p in range(3)},
    }
    assert inst.stats().captured == 900


def test_tool_schema_full_or_compact(tmp_path: Path) -> None:
    full = Instructions(dataset=tmp_path / "full.jsonl", tool_schema="full")
    compact = Instructions(dataset=tmp_path / "compact.jsonl")

    def f(x: int) -> Total:
        return Total(value=x)

    full.distil(f)(1)
    compact.distil(f)(1)
    (a,) = lines(tmp_path / "full.jsonl")
    (b,) = lines(tmp_path / "compact.jsonl")
    assert a["tools"][0]["function"]["parameters"] == {
        "properties": {"value": {"type": "integer"}}, "required": ["value"], "type": "object"}
    assert b["tools"][0]["function"] == {"name": "Total"}
    assert a["messages"] == b["messages"]
    with pytest.raises(UsageError, match="tool_schema"):
        Instructions(tool_schema="tiny")


@pytest.mark.parametrize("value, off", [("1", True), ("true", True), ("On", True), ("", False), ("0", False)])
def test_disable_env_makes_decorated_functions_run_their_own_bodies(ds: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   value: str, off: bool) -> None:
    """DISTILGEN_DISABLE=1 (what distilgen's own import of a project sets): capture writes
    nothing, and a dispatch-bound function runs its body instead of calling the model (zenml,
    third held-out wave: `prompts` called the endpoint for a function the project calls at import)."""
    monkeypatch.setenv("DISTILGEN_DISABLE", value)
    import openai

    from distilgen.runtime.clients import EndpointConnectionError

    # nothing listens on port 9: any model call fails at once
    inst = Instructions(dataset=ds, openai_client=openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="x",
                                                                max_retries=0, timeout=5))

    @inst.distil
    def f(x: int) -> Total:
        return Total(value=x)

    @inst.distil(mode="dispatch", model="ft:gpt-4o-mini:org::x", fallback="raise")
    def g(x: int) -> Total:
        return Total(value=-x)

    @inst.distil(mode="dispatch", model="ft:gpt-4o-mini:org::x", fallback="raise")
    async def h(x: int) -> Total:
        return Total(value=-x)

    assert f(2) == Total(value=2)
    assert ds.exists() is (not off)
    assert inst.stats().captured == (0 if off else 1)
    if off:
        assert g(3) == Total(value=-3) and asyncio.run(h(4)) == Total(value=-4)
        assert g.__distil__.spec.tool_name == "Total"  # the schema child still reads the runtime's answer
    else:
        with pytest.raises(EndpointConnectionError):
            g(3)


def test_a_refused_source_read_at_decoration_never_fails_the_caller(ds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mcp's tests run under blockbuster, which raises on a blocking `os.stat` inside an event loop:
    decorating a nested handler there (inspect.getsource) raised out of the user's `register()`.
    The source is then read at the first call, and the prompt is the same."""
    import distilgen.runtime.instructions as rt

    class BlockingError(Exception):
        pass

    real = rt.inspect.getsource

    def refuse(obj: Any) -> str:
        raise BlockingError("Blocking call to os.stat")

    def make() -> Any:
        inst = Instructions(dataset=ds)

        @inst.distil
        def handler(x: int) -> Total:
            """Total of one."""
            return Total(value=x)

        return inst, handler

    monkeypatch.setattr(rt.inspect, "getsource", refuse)
    inst, handler = make()  # no exception here
    monkeypatch.setattr(rt.inspect, "getsource", real)
    assert handler(4) == Total(value=4)
    _, plain = make()
    assert handler.__distil__.spec.prompt == plain.__distil__.spec.prompt
    assert '"""Total of one."""' in handler.__distil__.spec.prompt
    assert inst.stats().captured == 1
