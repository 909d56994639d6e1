"""`distilgen eval`: figures checked against hand-computed ones on a scripted model (distilgen.testing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distilgen.errors import UsageError
from distilgen.evals.evaluate import evaluate, fields_equal, percentile
from distilgen.evals.eval_output import format_table, to_html
from distilgen.testing import FakeOpenAI, Reply

MODULE = '''
from typing import Literal

from pydantic import BaseModel


class Out(BaseModel):
    label: Literal["a", "b"]
    n: int
    x: float


def f(k: int) -> Out:
    """Parity label, the number, and half of it."""
    if k < 0:
        raise ValueError("negative")
    return Out(label="a" if k % 2 == 0 else "b", n=k, x=k / 2)
'''

USAGE = {"prompt_tokens": 100, "completion_tokens": 10}


def ok(label: str, n: int, x: float) -> Reply:
    return Reply(arguments={"label": label, "n": n, "x": x}, usage=USAGE)


BAD = Reply(arguments='{"label": "a",', usage=USAGE)  # malformed JSON: re-asked

# One scripted answer per request, in order, for inputs k = 0..4 (and k = -1, which the function
# itself rejects, so it is never sent):
#   k=0 right; k=1 wrong label; k=2 malformed then right; k=3 x off by 0.01; k=4 malformed 3 times.
SCRIPT = [ok("a", 0, 0.0), ok("a", 1, 0.5), BAD, ok("a", 2, 1.0), ok("b", 3, 1.51), BAD, BAD, BAD]


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    name = f"evalmod_{tmp_path.name.replace('-', '_')}"
    (root / f"{name}.py").write_text(MODULE)
    (root / "pyproject.toml").write_text("[tool.distilgen]\nfinetune-format = \"tools\"\n")
    (root / "inputs.jsonl").write_text("".join(json.dumps({"k": k}) + "\n" for k in (0, 1, -1, 2, 3, 4)))
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    return root


def _target(project: Path) -> str:
    return next(p.stem for p in project.glob("evalmod_*.py")) + ":f"


def test_percentile_and_field_equality_by_hand() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1, 2, 3, 4], 50) == 2.5  # halfway between the 2nd and 3rd
    assert percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48.0)  # 40 + 0.8 * 10
    assert fields_equal(1.0, 1.04, 0.05) and not fields_equal(1.0, 1.06, 0.05)
    assert not fields_equal(True, 1, 0.5)  # a bool is never a number here
    assert fields_equal({"a": [1.0, "x"]}, {"a": [1.01, "x"]}, 0.02)
    assert not fields_equal("1", 1, 0.0)


def test_figures_match_hand_computed_ones(project: Path) -> None:
    with FakeOpenAI() as srv:
        srv.chat.push(*SCRIPT)
        srv.chat.respond(lambda req: Reply(arguments={"label": "b", "n": 0, "x": 0.0}, usage=USAGE))
        # one 503 on the very first request: the client retries it (an HTTP retry, not a re-ask)
        srv.faults.add(path="/v1/chat/completions", status=503, retry_after_ms=1)
        report = evaluate(_target(project), "ft:small", baseline="base-model", inputs="inputs.jsonl",
                          base_url=srv.base_url, price_per_million=2.0, price_per_million_output=8.0,
                          max_retries=2, min_accuracy=0.5)
        sent_models = [r.json["model"] for r in srv.requests_to("/v1/chat/completions") if r.status == 200]
    assert report.inputs == 5
    assert report.function_errors == (("ValueError", 1),)
    m, base = report.models
    assert (m.model, m.calls, m.exact) == ("ft:small", 5, 2)  # k=0 and k=2
    assert m.exact_rate == pytest.approx(0.4)
    assert {f.field: (f.correct, f.total) for f in m.fields} == {"label": (3, 5), "n": (4, 5), "x": (3, 5)}
    assert (m.valid, m.valid_first) == (4, 3)  # k=4 never valid; k=2 valid on the second try
    assert m.schema_valid_rate == pytest.approx(0.8)
    assert (m.re_asks, m.fallbacks, m.http_retries) == (3, 1, 1)  # k=2: 1, k=4: 2 re-asks
    assert m.errors == ()
    # 8 answered requests x (100 prompt + 10 completion) tokens
    assert (m.prompt_tokens, m.completion_tokens) == (800, 80)
    assert m.tokens_per_call == pytest.approx(176.0)
    # (800 x $2 + 80 x $8) per million tokens, over 5 calls, times 1,000 calls
    assert m.cost_per_1000 == pytest.approx((800 * 2 + 80 * 8) / 1e6 / 5 * 1000)
    assert len(m.latency.samples_ms) == 4  # answered calls only
    assert report.passed is False  # 0.4 < 0.5
    # the worst disagreement first: no valid answer at all (k=4), then two wrong fields, then one
    assert m.disagreements[0].got is None and "attempt" in (m.disagreements[0].error or "")
    assert [d.call for d in m.disagreements] == ["f(4)", "f(1)", "f(3)"]
    assert m.disagreements[2].wrong_fields == ("x",)
    # the baseline (constant answer b/0/0.0) is right on label for k=1, k=3 and on n and x for k=0
    assert (base.exact, {f.field: f.correct for f in base.fields}) == (0, {"label": 2, "n": 1, "x": 1})
    assert (base.valid_first, base.re_asks) == (5, 0)
    assert sent_models == ["ft:small"] * 8 + ["base-model"] * 5


def test_float_tolerance_flag(project: Path) -> None:
    with FakeOpenAI() as srv:
        srv.chat.push(*SCRIPT)
        report = evaluate(_target(project), "ft:small", inputs="inputs.jsonl", base_url=srv.base_url,
                          tolerance=0.05, min_accuracy=0.6)
    m = report.primary
    assert m.exact == 3  # k=3's 1.51 vs 1.5 is now equal
    assert {f.field: f.correct for f in m.fields}["x"] == 4
    assert report.passed  # 0.6 >= 0.6
    assert m.cost_per_1000 is None  # no price given, no made-up figure


def test_table_json_and_html(project: Path) -> None:
    with FakeOpenAI() as srv:
        srv.chat.push(*SCRIPT)
        report = evaluate(_target(project), "ft:small", inputs="inputs.jsonl", base_url=srv.base_url,
                          price_per_million=1.0, min_accuracy=0.9)
    table = format_table(report)
    assert "exact match" in table and "40.0% (2/5)" in table
    assert "min accuracy 90.0%: FAIL" in table
    data = report.as_dict()
    assert data["models"][0]["fields"]["n"] == {"correct": 4, "total": 5, "accuracy": 0.8}
    assert data["passed"] is False
    page = to_html([report])
    assert page.count("<svg") == 2
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched at view time
    assert "<script" not in page and "f(4)" in page


def test_dataset_split_and_errors(project: Path) -> None:
    from distilgen import api

    api.generate(_target(project), 20, out="data.jsonl", seed=1)
    split = api.dataset_split("data.jsonl", val=0.25, seed=0)
    val_lines = Path(split.val_path).read_text().splitlines()
    with FakeOpenAI() as srv:
        srv.chat.respond(lambda req: Reply(arguments={"label": "a", "n": 0, "x": 0.0}))
        report = evaluate(_target(project), "ft:small", dataset="data.jsonl", split="val", base_url=srv.base_url)
    assert report.inputs == len(val_lines) and report.source.endswith("val.jsonl")
    assert report.primary.valid == report.inputs
    with pytest.raises(UsageError, match="run `distilgen dataset split"):
        evaluate(_target(project), "m", dataset="inputs.jsonl", split="val")
    with pytest.raises(UsageError, match="--dataset or --inputs, not both"):
        evaluate(_target(project), "m", dataset="data.jsonl", inputs="inputs.jsonl")


def test_unreachable_model_is_one_clear_error(project: Path) -> None:
    from distilgen.errors import DistilgenError

    with pytest.raises(DistilgenError, match="every call to ft:small failed.*EndpointConnectionError"):
        evaluate(_target(project), "ft:small", inputs="inputs.jsonl", base_url="http://127.0.0.1:9/v1",
                 max_retries=0, timeout=2)


def test_cli_eval_gate_json_and_html(project: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(project) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with FakeOpenAI() as srv:
        srv.chat.push(*SCRIPT)
        html_file = tmp_path / "report.html"
        r = subprocess.run([sys.executable, "-m", "distilgen", "eval", _target(project), "--model", "ft:small",
                            "--inputs", "inputs.jsonl", "--base-url", srv.base_url, "--min-accuracy", "0.5",
                            "--html", str(html_file), "-q"], cwd=project, capture_output=True, text=True,
                           env=env, timeout=120)
        assert r.returncode == 1, r.stderr  # 40% < 50%: CI's gate closes
        assert "min accuracy 50.0%: FAIL" in r.stdout and html_file.is_file()
        srv.chat.push(*SCRIPT)
        r = subprocess.run([sys.executable, "-m", "distilgen", "eval", _target(project), "--model", "ft:small",
                            "--inputs", "inputs.jsonl", "--base-url", srv.base_url, "--min-accuracy", "0.4",
                            "--json"], cwd=project, capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)[0]["models"][0]["exact_match"] == 2
    r = subprocess.run([sys.executable, "-m", "distilgen", "eval", _target(project)], cwd=project,
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "needs TARGET and --model" in r.stderr


def test_shadow_records(tmp_path: Path) -> None:
    from distilgen.evals.evaluate import evaluate_shadow

    records = [
        {"function_id": "m:f", "model": "ft:x", "call": "Return f(0)", "expected": {"label": "a", "n": 0},
         "got": {"label": "a", "n": 0}, "function_ms": 0.1, "model_ms": 20.0},
        {"function_id": "m:f", "model": "ft:x", "call": "Return f(1)", "expected": {"label": "b", "n": 1},
         "got": {"label": "a", "n": 1}, "function_ms": 0.1, "model_ms": 30.0},
        {"function_id": "m:f", "model": "ft:x", "call": "Return f(2)", "expected": {"label": "a", "n": 2},
         "got": None, "error": "bad JSON", "function_ms": 0.1},
    ]
    path = tmp_path / "shadow.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    (report,) = evaluate_shadow(path)
    m = report.primary
    assert (m.calls, m.exact, m.valid, m.fallbacks) == (3, 1, 2, 1)
    assert {f.field: f.correct for f in m.fields} == {"label": 1, "n": 2}
    assert m.latency.p50 == 25.0
    path.write_text('{"model": "x"}\n')
    with pytest.raises(UsageError, match=r"shadow.jsonl:1: not a shadow record"):
        evaluate_shadow(path)



def test_records_of_the_real_shadow_runtime(project: Path, tmp_path: Path) -> None:
    import importlib

    from distilgen import Instructions
    from distilgen.evals.evaluate import evaluate_shadow

    module = importlib.import_module(_target(project).split(":")[0])
    log = tmp_path / "shadow.jsonl"
    with FakeOpenAI() as srv:
        # k=0 right, k=1 wrong label, k=2 invalid answer (shadow mode never re-asks), k=3 an endpoint error
        srv.chat.push(ok("a", 0, 0.0), ok("a", 1, 0.5), BAD)
        srv.faults.add(path="/v1/chat/completions", status=400, skip=3, message="bad request")
        instructions = Instructions(openai_client=srv.client(max_retries=0), shadow_log=log, shadow_rate=1.0)
        shadowed = instructions.distil(mode="shadow", model="ft:small")(module.f)
        import threading

        def calls() -> None:
            for k in range(4):
                assert shadowed(k) == module.f(k)  # the caller always gets the real function's answer
                shadowed.__distil__.runner().drain(10)  # one at a time: the scripted answers stay in order

        worker = threading.Thread(target=calls, daemon=True)
        worker.start()
        worker.join(30)  # a hang in the runtime fails this test instead of stalling the suite
        assert not worker.is_alive(), "shadow-mode calls did not return within 30 s"
    (report,) = evaluate_shadow(log)
    m = report.primary
    assert report.function_id == _target(project) and m.model == "ft:small"
    assert (m.calls, m.exact, m.valid, m.fallbacks) == (4, 1, 2, 1)
    assert dict(m.errors) == {"ShadowEndpointError": 1}
    assert {f.field: f.correct for f in m.fields} == {"label": 1, "n": 2, "x": 2}
    assert [d.call for d in m.disagreements] == ["f(2)", "f(3)", "f(1)"]  # no answer first, then wrong fields


ASYNC_MODULE = MODULE.replace("def f(k: int) -> Out:", "async def f(k: int) -> Out:")


def test_async_function_leaves_no_unclosed_client(project: Path) -> None:
    """Each async call runs in its own event loop; its metered AsyncOpenAI is closed before the
    loop ends (an unclosed one shows up as ResourceWarnings once collected)."""
    import gc
    import warnings

    name = next(p.stem for p in project.glob("evalmod_*.py"))
    (project / f"{name}_async.py").write_text(ASYNC_MODULE)
    gc.collect()  # earlier tests' garbage is not this test's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with FakeOpenAI() as srv:
            srv.chat.respond(lambda req: ok("a", 0, 0.0))
            report = evaluate(f"{name}_async:f", "ft:small", inputs="inputs.jsonl", base_url=srv.base_url)
        gc.collect()
    assert report.primary.calls == 5 and report.primary.valid == 5
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
