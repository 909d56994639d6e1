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

from test_serve import needs_both, tiny  # noqa: F401 (tiny: the session's trained model, a fixture)
from test_train import FUNCTION, ROOT, _classify

pytestmark = [needs_both, pytest.mark.slow]


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
        elif key == "llama.cpp weights":
            seen["kernels"] = value.strip()
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


def test_served_tool_call_answers_in_field_order(tiny: dict[str, Any]) -> None:
    """Triage's fields are (urgency, team): not alphabetical. Through dispatch's default forced tool
    call, with the compact declaration dispatch sends (no parameters: the server fills them from
    model.json), the arguments come back urgency first, as every training answer was."""
    import openai

    from distilgen import Instructions
    from distilgen.config import Config
    from distilgen.runtime import formats

    info = json.loads((Path(tiny["out"]) / "model.json").read_text())
    assert list(info["schema"]["properties"]) == ["urgency", "team"]
    proc, seen = start_serve(tiny["out"])
    try:
        # the server says which weight buffers it chose, and why (the probe, train/buffer_types.py)
        assert seen["kernels"].startswith(("extra (AMX / repacked): extra buffer types agree",
                                           "plain CPU: llama.cpp with extra buffer types", "plain CPU: set by")), seen
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


def _second_model(tiny_out: Path, where: Path) -> Path:
    """A second model folder for another function (extract_order), on the tiny run's adapter: this
    tests serving and routing, not answer quality (the grammar makes every answer well-formed)."""
    import shutil

    from distilgen.runtime.formats import tool_schema

    sys.path.insert(0, str(ROOT / "sample_project"))
    from inbox.models import OrderMention

    folder = where / "orders"
    shutil.copytree(tiny_out, folder)
    info = json.loads((folder / "model.json").read_text())
    info.update(name="orders", model_id="local:orders", function_id="inbox.extract:extract_order",
                tool_name="OrderMention", schema=tool_schema(OrderMention))
    (folder / "model.json").write_text(json.dumps(info))
    return folder


def _anon_kb(pid: int) -> int:
    """Memory the process owns (RssAnon): the mmapped base GGUF is page cache, shared by every model
    mapping it (RssFile counts it once per mapping, so it is not a per-model cost)."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon:"))


def test_one_server_serves_the_whole_project(tiny: dict[str, Any], tmp_path: Path) -> None:
    """`distilgen serve` with no argument, in a project whose lock pins two local models: one
    process, one port, both ids; both functions dispatch at the same time; an unknown id is a 404."""
    import concurrent.futures

    import openai

    from distilgen import Instructions
    from distilgen.config import Config
    from distilgen.prompts.lock import PromptRecord, record_model, record_prompts
    from distilgen.runtime.clients import ModelNotFoundError

    project = tmp_path / "proj"
    models = project / "models"
    models.mkdir(parents=True)
    import shutil

    shutil.copytree(tiny["out"], models / "tiny")
    _second_model(Path(tiny["out"]), models)
    (project / "pyproject.toml").write_text('[project]\nname = "proj"\n\n[tool.distilgen]\nlock-file = "distilgen.lock"\n')
    classify = _classify()
    from inbox.extract import extract_order

    lock = project / "distilgen.lock"
    ins = Instructions(name="capture", config=Config(root=project))
    specs = [ins.distil(fn).__distil__.spec for fn in (classify, extract_order)]
    record_prompts(lock, [PromptRecord(s.function_id, "x.py", s.qualname, 1, 2, s.tool_name, False, s.prompt, s.schema)
                          for s in specs])
    record_model(lock, specs[0].function_id, "local:tiny")
    record_model(lock, specs[1].function_id, "local:orders")

    proc, seen = start_serve(cwd=project)
    try:
        assert sorted(seen["models"]) == ["local:orders", "local:tiny"]
        client = openai.OpenAI(base_url=seen["base_url"], api_key="local", max_retries=0, timeout=120)
        assert sorted(m.id for m in client.models.list().data) == ["orders", "tiny"]
        assert len([line for line in open(f"/proc/{seen['pid']}/status") if line.startswith("Pid:")]) == 1
        cfg = Config(root=project, local_base_url=seen["base_url"], lock_file=Path("distilgen.lock"))
        d = Instructions(name="dispatch", config=cfg, max_retries=0, fallback="raise")
        remote_classify = d.distil(mode="dispatch", model="local:tiny", max_tokens=96)(classify)
        remote_extract = d.distil(mode="dispatch", model="local:orders", max_tokens=96)(extract_order)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            jobs = [pool.submit(remote_classify, "Refund please", "I was charged twice."),
                    pool.submit(remote_extract, "Order A-12345 arrived broken on 2026-01-02."),
                    pool.submit(remote_classify, "App crash", "The app shows an error."),
                    pool.submit(remote_extract, "Nothing came.")]
            got = [j.result(timeout=300) for j in jobs]
        assert [type(g).__name__ for g in got] == ["Triage", "OrderMention", "Triage", "OrderMention"]
        lost = d.distil(mode="dispatch", model="local:nowhere")(classify)
        with pytest.raises(ModelNotFoundError):
            lost("Hello", "Hi")
    finally:
        stop_serve(proc)
    assert proc.returncode == 0


def test_memory_per_extra_model(tiny: dict[str, Any], tmp_path: Path) -> None:
    """Every extra model shares the base's weights: one more costs its context and adapter, not
    another copy of the base: neither the mmapped file's pages (plain CPU buffers) nor a private
    repacked copy (AMX buffers: 221 MB per extra model before models shared one loaded base).
    Prints the figure (docs/local-training.md quotes it)."""
    import openai

    folders = [Path(tiny["out"])]
    for i in range(2):
        f = _second_model(Path(tiny["out"]), tmp_path / f"m{i}")
        info = json.loads((f / "model.json").read_text())
        info.update(name=f"orders{i}")
        (f / "model.json").write_text(json.dumps(info))
        folders.append(f)
    rss = []
    for n in (1, 3):
        proc, seen = start_serve(*[str(f) for f in folders[:n]])
        try:
            client = openai.OpenAI(base_url=seen["base_url"], api_key="local", max_retries=0, timeout=120)
            for m in client.models.list().data:  # touch every model once so its buffers are resident
                client.chat.completions.create(model=m.id, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
            rss.append(_anon_kb(seen["pid"]))
        finally:
            stop_serve(proc)
    per_extra_mb = (rss[1] - rss[0]) / 2 / 1024
    base_mb = Path(json.loads((folders[0] / "model.json").read_text())["serve"]["base_gguf"]).stat().st_size / 2**20
    print(f"server RssAnon: 1 model {rss[0] / 1024:.0f} MB, 3 models {rss[1] / 1024:.0f} MB: {per_extra_mb:.0f} MB per "
          f"extra model (base GGUF {base_mb:.0f} MB, loaded once; weights: {seen['kernels']})")
    # its context and buffers (KV cache 47 MB at 2,048 tokens); another copy of the base would add
    # at least the base's size (llama-cpp-python's own lora_path load, or repacked AMX weights)
    assert 0 < per_extra_mb < base_mb
