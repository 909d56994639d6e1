"""A checker written from OpenAI's chat fine-tuning format rules, independent of distilgen's code.

Rules (platform docs, "Preparing your dataset" and the cookbook's format checker, plus the
function/tool-calling additions): each line is an object with a `messages` list; each message has
a known `role` and only known keys; content is a string (or null on an assistant message that
carries a call); at least one assistant message; `function_call`/`tool_calls` arguments are JSON
strings; tool calls have id, type "function", and name; `tools`/`functions` declare the called name.
"""

import json
from typing import Any

ROLES = {"system", "user", "assistant", "tool", "function"}
KEYS = {"role", "content", "name", "function_call", "tool_calls", "tool_call_id", "weight"}


def check_example(ex: Any) -> list[str]:
    errs: list[str] = []
    if not isinstance(ex, dict) or not isinstance(ex.get("messages"), list) or not ex["messages"]:
        return ["messages list missing"]
    declared = set()
    for t in ex.get("tools", []) or []:
        if t.get("type") != "function" or "name" not in t.get("function", {}):
            errs.append("bad tool declaration")
        else:
            declared.add(t["function"]["name"])
    for f in ex.get("functions", []) or []:
        declared.add(f.get("name"))
    assistant = 0
    for m in ex["messages"]:
        if m.get("role") not in ROLES:
            errs.append(f"unknown role {m.get('role')!r}")
        if set(m) - KEYS:
            errs.append(f"unknown keys {set(m) - KEYS}")
        has_call = "function_call" in m or "tool_calls" in m
        if "content" in m and not isinstance(m["content"], str) and not (m["content"] is None and has_call):
            errs.append("content not a string")
        if "content" not in m and not has_call:
            errs.append("message without content")
        if m.get("weight", 1) not in (0, 1):
            errs.append("weight not 0/1")
        if m.get("role") == "assistant":
            assistant += 1
            calls = [c.get("function", {}) for c in m.get("tool_calls", [])]
            for c in m.get("tool_calls", []):
                if c.get("type") != "function" or not c.get("id"):
                    errs.append("tool call without id/type")
            if "function_call" in m:
                calls.append(m["function_call"])
            for c in calls:
                if c.get("name") not in declared:
                    errs.append(f"call to undeclared {c.get('name')!r}")
                if not isinstance(c.get("arguments"), str):
                    errs.append("arguments not a string")
                else:
                    try:
                        json.loads(c["arguments"])
                    except ValueError:
                        errs.append("arguments not JSON")
    if assistant == 0:
        errs.append("no assistant message")
    return errs
