"""One dataset line against its shape's rules: `tools`, legacy `messages`, or `raw`.

The chat rules are OpenAI's for chat fine-tuning files (the cookbook's checker, plus what it
ignores: tool calls, their `arguments` against the declared schema, `weight`, tool replies).
The `raw` rules are distilgen's own record (see `runtime/formats.py`, which writes all three).
Each check returns plain strings; `dataset.py` prefixes them with `FILE:LINE:`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from .jsonschema import schema_errors

__all__ = ["detect_shape", "check_example", "ExampleView", "view", "LineParts", "line_parts", "raw_to_tools", "to_tools",
           "undeclared_calls", "arguments_errors", "USER_PREFIX", "loads"]

# The user message capture writes: "Return " + the rendered call (issue 3's seed line).
USER_PREFIX = "Return "

_TOP_KEYS = {"messages", "tools", "functions", "parallel_tool_calls"}
_ROLE_KEYS = {
    "system": {"role", "content", "name"},
    "developer": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "function_call", "weight", "refusal"},
    "tool": {"role", "content", "tool_call_id"},
    "function": {"role", "content", "name"},
}
_RAW_REQUIRED = {"format": str, "function_id": str, "prompt": str, "call": str, "args": list,
                 "kwargs": dict, "output": dict, "schema": dict}
_RAW_OPTIONAL = {"tool_name": str}
_TYPE_WORDS = {str: "a string", list: "a list", dict: "an object"}
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON (Python's json writes it for a NaN or infinite float; "
                     "trainers reject the line or read it as a wrong value)")


def loads(text: str | bytes) -> Any:
    """`json.loads` that refuses the non-standard NaN, Infinity and -Infinity tokens (ValueError)."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:  # `[[[[...` a thousand deep: a ValueError like any other bad JSON
        raise ValueError("nested too deeply") from None


def detect_shape(obj: Any) -> str | None:
    """`tools`, `messages` or `raw` for a parsed line; None when it is none of them."""
    if not isinstance(obj, dict):
        return None
    if obj.get("format") == "raw" or ("function_id" in obj and "messages" not in obj):
        return "raw"
    if "messages" not in obj:
        return None
    if "functions" in obj:
        return "messages"
    msgs = obj.get("messages")
    if isinstance(msgs, list) and any(isinstance(m, dict) and "function_call" in m for m in msgs):
        return "messages"
    return "tools"


def _kind(value: Any) -> str:
    if value == [] or value == {}:
        return "an empty " + ("list" if isinstance(value, list) else "object")
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _declared_tools(obj: Mapping[str, Any], errors: list[str]) -> dict[str, Any]:
    tools = obj.get("tools")
    declared: dict[str, Any] = {}
    if tools is None:
        return declared
    if not isinstance(tools, list) or not tools:
        errors.append(f"`tools` must be a non-empty list, got {_kind(tools)}")
        return declared
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            errors.append(f"{where} must be an object, got {_kind(tool)}")
            continue
        if tool.get("type") != "function":
            errors.append(f"{where}.type must be \"function\", got {tool.get('type')!r}")
        extra = set(tool) - {"type", "function"}
        if extra:
            errors.append(f"{where} has unknown keys: {', '.join(sorted(extra))}")
        fn = tool.get("function")
        if not isinstance(fn, dict):
            errors.append(f"{where}.function must be an object, got {_kind(fn)}")
            continue
        _check_function_def(fn, f"{where}.function", declared, errors, allowed={"name", "description", "parameters", "strict"})
    return declared


def _declared_functions(obj: Mapping[str, Any], errors: list[str]) -> dict[str, Any]:
    functions = obj.get("functions")
    declared: dict[str, Any] = {}
    if functions is None:
        return declared
    if not isinstance(functions, list) or not functions:
        errors.append(f"`functions` must be a non-empty list, got {_kind(functions)}")
        return declared
    for i, fn in enumerate(functions):
        if not isinstance(fn, dict):
            errors.append(f"functions[{i}] must be an object, got {_kind(fn)}")
            continue
        _check_function_def(fn, f"functions[{i}]", declared, errors, allowed={"name", "description", "parameters"})
    return declared


def _check_function_def(fn: Mapping[str, Any], where: str, declared: dict[str, Any], errors: list[str], allowed: set[str]) -> None:
    name = fn.get("name")
    extra = set(fn) - allowed
    if extra:
        errors.append(f"{where} has unknown keys: {', '.join(sorted(extra))}")
    if not isinstance(name, str) or not _NAME.match(name):
        errors.append(f"{where}.name must be 1-64 letters, digits, _ or -, got {name!r}")
        return
    if name in declared:
        errors.append(f"{where}.name {name!r} is declared twice")
    if "description" in fn and not isinstance(fn["description"], str):
        errors.append(f"{where}.description must be a string, got {_kind(fn['description'])}")
    params = fn.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(params, dict):
        errors.append(f"{where}.parameters must be a JSON schema object, got {_kind(params)}")
        params = True
    elif params.get("type", "object") != "object":
        errors.append(f"{where}.parameters must describe an object (type \"object\"), got type {params.get('type')!r}")
    declared[name] = params


def _check_arguments(arguments: Any, name: str, declared: Mapping[str, Any], where: str, errors: list[str]) -> None:
    if not isinstance(arguments, str):
        errors.append(f"{where}.arguments must be a JSON string, got {_kind(arguments)}")
        return
    try:
        value = loads(arguments)
    except ValueError as exc:
        errors.append(f"{where}.arguments is not valid JSON: {exc}")
        return
    if not isinstance(value, dict):
        errors.append(f"{where}.arguments must encode a JSON object, got {_kind(value)}")
        return
    if name in declared:
        for problem in schema_errors(value, declared[name], path="arguments"):
            errors.append(f"{where}: {name} {problem}")


def _check_content(message: Mapping[str, Any], where: str, errors: list[str], required: bool) -> bool:
    """True when the message has content."""
    if "content" not in message or message["content"] is None:
        if required:
            errors.append(f"{where} ({message.get('role')}) has no content")
        return False
    content = message["content"]
    if isinstance(content, str):
        return True
    if isinstance(content, list) and content:
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") not in ("text", "image_url"):
                errors.append(f"{where}.content[{j}] must be a {{\"type\": \"text\"|\"image_url\", ...}} part")
            elif part["type"] == "text" and not isinstance(part.get("text"), str):
                errors.append(f"{where}.content[{j}].text must be a string")
        return True
    errors.append(f"{where}.content must be a string, got {_kind(content)}")
    return False


def _check_chat(obj: Mapping[str, Any], shape: str) -> list[str]:
    errors: list[str] = []
    extra = set(obj) - _TOP_KEYS
    if extra:
        errors.append(f"unknown top-level keys: {', '.join(sorted(extra))} (allowed: {', '.join(sorted(_TOP_KEYS))})")
    if "tools" in obj and "functions" in obj:
        errors.append("declares both `tools` and legacy `functions`; use one (tools)")
    tools = _declared_tools(obj, errors)
    functions = _declared_functions(obj, errors)
    parallel = obj.get("parallel_tool_calls", True)
    if not isinstance(parallel, bool):
        errors.append(f"`parallel_tool_calls` must be true or false, got {parallel!r}")
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        errors.append(f"`messages` must be a non-empty list, got {_kind(messages)}")
        return errors
    call_ids: set[str] = set()
    trained = 0
    assistants = 0
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            errors.append(f"{where} must be an object, got {_kind(message)}")
            continue
        role = message.get("role")
        if role not in _ROLE_KEYS:
            errors.append(f"{where} has unknown role {role!r} (known: {', '.join(_ROLE_KEYS)})")
            continue
        extra = set(message) - _ROLE_KEYS[role]
        if extra:
            errors.append(f"{where} ({role}) has unknown keys: {', '.join(sorted(extra))}")
        if "name" in message and not isinstance(message["name"], str):
            errors.append(f"{where}.name must be a string, got {_kind(message['name'])}")
        if role != "assistant":
            _check_content(message, where, errors, required=True)
            if role == "tool":
                tcid = message.get("tool_call_id")
                if not isinstance(tcid, str):
                    errors.append(f"{where} (tool) needs a string `tool_call_id`")
                elif tcid not in call_ids:
                    errors.append(f"{where} (tool) answers tool_call_id {tcid!r}, which no earlier assistant tool call has")
            continue
        assistants += 1
        weight = message.get("weight", 1)
        if isinstance(weight, bool) or weight not in (0, 1):
            errors.append(f"{where}.weight must be 0 or 1, got {weight!r}")
            trained += 1  # already wrong; "nothing to train on" would be a second, misleading error
        elif weight == 1:
            trained += 1
        has_content = _check_content(message, where, errors, required=False)
        has_call = False
        if "tool_calls" in message:
            has_call = True
            _check_tool_calls(message["tool_calls"], where, tools, bool(obj.get("tools")), parallel, call_ids, errors)
        if "function_call" in message:
            has_call = True
            if "tool_calls" in message:
                errors.append(f"{where} has both `tool_calls` and legacy `function_call`")
            _check_function_call(message["function_call"], where, functions, bool(obj.get("functions")), errors)
        if not has_content and not has_call:
            errors.append(f"{where} (assistant) has no content, tool_calls or function_call")
    if assistants == 0:
        errors.append("no assistant message: there is nothing to train on")
    elif trained == 0:
        errors.append("every assistant message has weight 0: there is nothing to train on")
    return errors


def _check_tool_calls(calls: Any, where: str, tools: Mapping[str, Any], has_tools: bool, parallel: bool,
                      call_ids: set[str], errors: list[str]) -> None:
    if not isinstance(calls, list) or not calls:
        errors.append(f"{where}.tool_calls must be a non-empty list, got {_kind(calls)}")
        return
    if len(calls) > 1 and parallel is False:
        errors.append(f"{where} makes {len(calls)} tool calls but `parallel_tool_calls` is false")
    for j, call in enumerate(calls):
        at = f"{where}.tool_calls[{j}]"
        if not isinstance(call, dict):
            errors.append(f"{at} must be an object, got {_kind(call)}")
            continue
        extra = set(call) - {"id", "type", "function"}
        if extra:
            errors.append(f"{at} has unknown keys: {', '.join(sorted(extra))}")
        cid = call.get("id")
        if not isinstance(cid, str) or not cid:
            errors.append(f"{at}.id must be a non-empty string, got {cid!r}")
        else:
            call_ids.add(cid)
        if call.get("type") != "function":
            errors.append(f"{at}.type must be \"function\", got {call.get('type')!r}")
        _check_named_call(call.get("function"), f"{at}.function", at, tools, has_tools, "tools", errors)


def _check_function_call(call: Any, where: str, functions: Mapping[str, Any], has_functions: bool, errors: list[str]) -> None:
    at = f"{where}.function_call"
    _check_named_call(call, at, at, functions, has_functions, "functions", errors)


def _check_named_call(call: Any, at: str, caller: str, declared: Mapping[str, Any], has_declared: bool, noun: str,
                      errors: list[str]) -> None:
    """`{"name", "arguments"}` of a tool call's `function` or a legacy `function_call`, against the
    example's declared `tools` or `functions` (`noun`); `caller` is where "calls X" is reported."""
    if not isinstance(call, dict):
        errors.append(f"{at} must be an object, got {_kind(call)}")
        return
    extra = set(call) - {"name", "arguments"}
    if extra:
        errors.append(f"{at} has unknown keys: {', '.join(sorted(extra))}")
    name = call.get("name")
    if not isinstance(name, str):
        errors.append(f"{at}.name must be a string, got {_kind(name)}")
    elif not has_declared:
        errors.append(f"{caller} calls {name!r} but the example declares no `{noun}`")
    elif name not in declared:
        errors.append(f"{caller} calls {name!r}, which is not among the declared {noun} ({', '.join(declared) or 'none valid'})")
    if "arguments" not in call:
        errors.append(f"{at} has no `arguments`")
    else:
        _check_arguments(call["arguments"], name if isinstance(name, str) else "", declared, at, errors)


def _check_raw(obj: Mapping[str, Any]) -> list[str]:
    errors: list[str] = []
    for key, kind in _RAW_REQUIRED.items():
        if key not in obj:
            errors.append(f"raw record has no `{key}`")
        elif not isinstance(obj[key], kind):
            errors.append(f"raw `{key}` must be {_TYPE_WORDS[kind]}, got {_kind(obj[key])}")
    for key, kind in _RAW_OPTIONAL.items():
        if key in obj and not isinstance(obj[key], kind):
            errors.append(f"raw `{key}` must be {_TYPE_WORDS[kind]}, got {_kind(obj[key])}")
    extra = set(obj) - set(_RAW_REQUIRED) - set(_RAW_OPTIONAL)
    if extra:
        errors.append(f"raw record has unknown keys: {', '.join(sorted(extra))}")
    if obj.get("format") not in (None, "raw"):
        errors.append(f"raw `format` must be \"raw\", got {obj.get('format')!r}")
    fid = obj.get("function_id")
    if isinstance(fid, str) and fid.count(":") != 1:
        errors.append(f"raw `function_id` must be 'module:qualname', got {fid!r}")
    if isinstance(obj.get("output"), dict) and isinstance(obj.get("schema"), dict):
        for problem in schema_errors(obj["output"], obj["schema"], path="output"):
            errors.append(f"raw {problem}")
    return errors


def check_example(obj: Any) -> tuple[str | None, list[str]]:
    """(shape, problems) for one parsed line."""
    shape = detect_shape(obj)
    if shape is None:
        if not isinstance(obj, dict):
            return None, [f"a line must be a JSON object, got {_kind(obj)}"]
        return None, ["not a fine-tuning example: expected a `messages` list (tools/messages shape) or a raw record (\"format\": \"raw\")"]
    if shape == "raw":
        return shape, _check_raw(obj)
    return shape, _check_chat(obj, shape)


@dataclass(frozen=True)
class ExampleView:
    """What one example asks and answers, whatever its shape (for duplicates, splits, exports)."""

    system: str
    user: str
    name: str
    arguments: str
    """The answer's arguments as canonical JSON (sorted keys), or the assistant text."""


def _canonical(arguments: Any) -> str:
    try:
        value = loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return str(arguments)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


@dataclass(frozen=True)
class LineParts:
    """What one dataset line says, whatever its shape: THE reading of a line. Capture, training,
    eval inputs, the stale-prompt check and the walkthrough's stand-in all call `line_parts`."""

    system: str
    """The system prompt: a raw record's `prompt`, else the first system (or developer) message."""
    user: str
    """The user message: `Return ` + the rendered call (the last user message of a chat line)."""
    tool: str
    """The tool (return model) the answer calls; "" when the answer is text."""
    arguments: str | None
    """The answer's arguments as JSON text: as written in a chat line (keys in their order), a raw
    record's `output` compact; None when the last assistant turn answers in text (or not at all)."""
    text: str
    """The assistant's text when it calls no tool."""
    function_id: str | None
    """`module:qualname`: raw records say it; chat lines do not."""


_NO_PARTS = LineParts("", "", "", None, "", None)


def line_parts(obj: Any) -> LineParts:
    """The parts of a parsed line (any shape; a malformed one gives empty parts, never an error:
    `check_example` says what is wrong with it)."""
    if not isinstance(obj, dict):
        return _NO_PARTS
    if detect_shape(obj) == "raw":
        fid = obj.get("function_id")
        fid = fid if isinstance(fid, str) else None
        tool = obj.get("tool_name") or (fid or "").rpartition(":")[2]
        prompt, rendered = obj.get("prompt"), obj.get("call")
        return LineParts(prompt if isinstance(prompt, str) else "",
                         USER_PREFIX + (rendered if isinstance(rendered, str) else ""),
                         str(tool), _compact(obj.get("output")), "", fid)
    system = user = text = ""
    call: Any = None
    messages = obj.get("messages")
    for m in messages if isinstance(messages, list) else ():
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        if role in ("system", "developer") and not system:
            system = _text(m.get("content"))
        elif role == "user":
            user = _text(m.get("content"))
        elif role == "assistant":
            calls = m.get("tool_calls")
            if isinstance(calls, list) and calls:
                call, text = calls[0].get("function") if isinstance(calls[0], dict) else None, ""
            elif m.get("function_call"):
                call, text = m["function_call"], ""
            else:
                call, text = None, _text(m.get("content"))
    if not isinstance(call, dict):
        return LineParts(system, user, "", None, text, None)
    arguments = call.get("arguments")
    return LineParts(system, user, str(call.get("name") or ""), arguments if isinstance(arguments, str) else None, "", None)


def view(obj: Mapping[str, Any]) -> ExampleView:
    """The asking and answering parts of a checked example (the last assistant turn answers)."""
    p = line_parts(obj)
    if p.arguments is None:
        return ExampleView(p.system, p.user, "", p.text)
    return ExampleView(p.system, p.user, p.tool, _canonical(p.arguments))


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def raw_to_tools(obj: Mapping[str, Any], tool_schema: str = "compact") -> dict[str, Any]:
    """A raw record as the `tools` example capture writes for the same call.

    `compact` (capture's default for tools) declares the tool by name only, as OpenAI's guide
    suggests to save tokens; `full` also declares the return model's JSON schema.
    """
    if tool_schema != "compact":  # the owner's list is checked only off the default: it imports pydantic
        from ..runtime.formats import TOOL_SCHEMAS

        if tool_schema not in TOOL_SCHEMAS:
            raise ValueError(f"tool_schema must be one of {', '.join(TOOL_SCHEMAS)}, got {tool_schema!r}")
    v = view(obj)
    from hashlib import blake2b

    declaration: dict[str, Any] = {"name": v.name}
    if tool_schema == "full":
        declaration["parameters"] = obj.get("schema", {})
    call_id = "call_" + blake2b(v.user.encode("utf-8"), digest_size=8).hexdigest()
    return {
        "messages": [
            {"role": "system", "content": v.system},
            {"role": "user", "content": v.user},
            {"role": "assistant", "tool_calls": [{"id": call_id, "type": "function",
                                                  "function": {"name": v.name, "arguments": _compact(obj.get("output"))}}]},
        ],
        "tools": [{"type": "function", "function": declaration}],
        "parallel_tool_calls": False,
    }


def undeclared_calls(obj: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(where, name, arguments) of each call to a tool or function declared without `parameters`.

    Compact lines leave the schema out; `dataset` checks those arguments against the lock instead.
    """
    declared = [t.get("function") for t in obj.get("tools") or () if isinstance(t, dict)]
    declared += [f for f in obj.get("functions") or () if isinstance(f, dict)]
    bare = {d.get("name") for d in declared if isinstance(d, dict) and "parameters" not in d}
    out = []
    for i, m in enumerate(obj.get("messages") or ()):
        if not isinstance(m, dict) or m.get("role") != "assistant":
            continue
        for j, call in enumerate(m.get("tool_calls") or ()):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and fn.get("name") in bare:
                out.append((f"messages[{i}].tool_calls[{j}].function", fn["name"], fn.get("arguments")))
        fc = m.get("function_call")
        if isinstance(fc, dict) and fc.get("name") in bare:
            out.append((f"messages[{i}].function_call", fc["name"], fc.get("arguments")))
    return out


def arguments_errors(arguments: Any, name: str, schema: Any, where: str) -> list[str]:
    """Problems of one call's `arguments` string against `schema` (shape problems are reported elsewhere)."""
    try:
        value = loads(arguments) if isinstance(arguments, str) else None
    except ValueError:
        return []
    if not isinstance(value, dict):
        return []
    return [f"{where}: {name} {problem}" for problem in schema_errors(value, schema, path="arguments")]


def to_tools(obj: Mapping[str, Any], tool_schema: str = "compact") -> dict[str, Any]:
    """Any checked example in the current `tools` shape (legacy function calls become tool calls;
    `tool_schema` applies to raw records, the only shape without a declaration of its own)."""
    shape = detect_shape(obj)
    if shape == "raw":
        return raw_to_tools(obj, tool_schema)
    if shape == "tools":
        return dict(obj)
    from hashlib import blake2b

    messages = []
    last_id = ""
    for i, m in enumerate(obj["messages"]):
        if m.get("role") == "assistant" and "function_call" in m:
            fc = m["function_call"]
            new = {k: v for k, v in m.items() if k != "function_call"}
            seed = f"{i}:{_text(obj['messages'][max(i - 1, 0)].get('content'))}"
            last_id = "call_" + blake2b(seed.encode("utf-8"), digest_size=8).hexdigest()
            new["tool_calls"] = [{"id": last_id, "type": "function",
                                  "function": {"name": fc["name"], "arguments": fc["arguments"]}}]
            messages.append(new)
        elif m.get("role") == "function":
            # a legacy function result answers the call just before it
            messages.append({"role": "tool", "tool_call_id": last_id, "content": _text(m.get("content"))})
        else:
            messages.append(dict(m))
    tools = [{"type": "function", "function": dict(f)} for f in obj.get("functions", ())]
    return {"messages": messages, "tools": tools, "parallel_tool_calls": False}
