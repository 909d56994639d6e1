"""The seed program from instructor's docs runs unchanged (import aside) and writes valid lines."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SEED = textwrap.dedent('''
    import logging, random
    from pydantic import BaseModel
    from distilgen import Instructions

    logging.basicConfig(level=logging.INFO)
    instructions = Instructions(
        name="three_digit_multiply",
        finetune_format=FORMAT,
        log_handlers=[logging.FileHandler("math_finetunes.jsonl")],
    )

    class Multiply(BaseModel):
        a: int
        b: int
        result: int

    @instructions.distil
    def fn(a: int, b: int) -> Multiply:
        resp = a * b
        return Multiply(a=a, b=b, result=resp)

    for _ in range(10):
        a = random.randint(100, 999)
        b = random.randint(100, 999)
        print(fn(a, b))
''')


def run_seed(tmp_path: Path, fmt: str) -> tuple[str, str, list[dict]]:
    script = tmp_path / "seed.py"
    script.write_text(SEED.replace("FORMAT", repr(fmt)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "math_finetunes.jsonl").read_text().splitlines()
    return proc.stdout, proc.stderr, [json.loads(l) for l in lines]


def test_seed_messages_shape(tmp_path: Path) -> None:
    stdout, stderr, examples = run_seed(tmp_path, "messages")
    printed = stdout.splitlines()
    assert len(printed) == 10 and all(p.startswith("a=") and " result=" in p for p in printed)
    assert stderr == ""  # basicConfig must not echo dataset lines
    assert len(examples) == 10
    for ex in examples:
        system, user, assistant = ex["messages"]
        assert system["role"] == "system" and "def fn(a: int, b: int) -> Multiply:" in system["content"]
        assert "__main__" not in system["content"]
        assert user["role"] == "user" and user["content"].startswith("Return fn(")
        call = user["content"][len("Return "):]
        a, b = eval(call, {"fn": lambda a, b: (a, b)})
        assert assistant["role"] == "assistant"
        assert assistant["function_call"]["name"] == "Multiply"
        args = assistant["function_call"]["arguments"]
        assert isinstance(args, str) and " " not in args
        assert json.loads(args) == {"a": a, "b": b, "result": a * b}
        assert ex["functions"][0]["name"] == "Multiply"
        assert ex["functions"][0]["parameters"]["required"] == ["a", "b", "result"]


def test_seed_tools_shape(tmp_path: Path) -> None:
    _, _, examples = run_seed(tmp_path, "tools")
    assert len(examples) == 10
    for ex in examples:
        assistant = ex["messages"][2]
        (call,) = assistant["tool_calls"]
        assert call["type"] == "function" and call["id"].startswith("call_")
        assert call["function"]["name"] == "Multiply"
        payload = json.loads(call["function"]["arguments"])
        assert payload["result"] == payload["a"] * payload["b"]
        # parameters omitted from the declaration (OpenAI's token advice); the full schema is in the lock
        assert ex["tools"] == [{"type": "function", "function": {"name": "Multiply"}}]
        assert ex["parallel_tool_calls"] is False


@pytest.mark.parametrize("fmt", ["tools", "messages"])
def test_seed_lines_follow_openai_rules(tmp_path: Path, fmt: str) -> None:
    from openai_rules import check_example

    _, _, examples = run_seed(tmp_path, fmt)
    for ex in examples:
        assert check_example(ex) == []
