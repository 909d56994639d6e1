"""`/v1/chat/completions` for the fake server: scripted replies, or values generated from the schema."""

from __future__ import annotations

import collections
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from .schema_values import value_for_schema

__all__ = ["Reply", "ChatRequest", "ChatScript", "RequestError", "complete"]


class RequestError(Exception):
    """A 4xx the fake answers for a malformed request (mirrors OpenAI's checks)."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


@dataclass(frozen=True)
class Reply:
    """What the model 'says' for one request.

    `arguments`: the tool/function arguments or structured JSON answer; a dict is JSON-encoded, a
    str is sent verbatim (so `'{"a": 1,'` is malformed JSON). `content`: a plain text answer (no tool
    call). `refusal`: the model refuses. `name`: override the tool/function name (a wrong tool).
    `finish_reason`: override; `"length"` also cuts the arguments in half, as a truncated answer."""

    arguments: Any = None
    content: str | None = None
    refusal: str | None = None
    name: str | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None

    @classmethod
    def malformed(cls, text: str = '{"result": 1,') -> "Reply":
        return cls(arguments=text)

    @classmethod
    def truncated(cls, arguments: Any = None) -> "Reply":
        return cls(arguments=arguments, finish_reason="length")

    @classmethod
    def refused(cls, message: str = "I'm sorry, but I can't help with that.") -> "Reply":
        return cls(refusal=message)


ReplyLike = Union[Reply, dict[str, Any], str, Callable[["ChatRequest"], Any]]


@dataclass(frozen=True)
class ChatRequest:
    """A parsed chat completion request, handed to reply callables."""

    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.body.get("model"))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def system(self) -> str | None:
        for m in self.messages:
            if m.get("role") in ("system", "developer"):
                return _text(m.get("content"))
        return None

    @property
    def user(self) -> str | None:
        """The last user message's text."""
        for m in reversed(self.messages):
            if m.get("role") == "user":
                return _text(m.get("content"))
        return None

    @property
    def mode(self) -> str:
        """How the answer is asked for: tools, functions, json_schema or text."""
        if self.body.get("tools"):
            return "tools"
        if self.body.get("functions"):
            return "functions"
        rf = self.body.get("response_format") or {}
        if isinstance(rf, dict) and rf.get("type") == "json_schema":
            return "json_schema"
        return "text"

    @property
    def forced_name(self) -> str | None:
        """The tool/function the request forces by name, if any."""
        if self.mode == "tools":
            tc = self.body.get("tool_choice")
            if isinstance(tc, dict):
                return (tc.get("function") or {}).get("name")
        if self.mode == "functions":
            fc = self.body.get("function_call")
            if isinstance(fc, dict):
                return fc.get("name")
        return None

    @property
    def answer_name(self) -> str | None:
        """The tool/function the answer calls: the forced one, else the first declared."""
        if self.forced_name:
            return self.forced_name
        if self.mode == "tools":
            return ((self.body["tools"][0] or {}).get("function") or {}).get("name")
        if self.mode == "functions":
            return (self.body["functions"][0] or {}).get("name")
        if self.mode == "json_schema":
            return (self.body["response_format"].get("json_schema") or {}).get("name")
        return None

    @property
    def schema(self) -> dict[str, Any] | None:
        """The JSON schema the answer must satisfy (tool parameters, function parameters, json_schema)."""
        name = self.answer_name
        if self.mode == "tools":
            for t in self.body["tools"]:
                fn = t.get("function") or {}
                if fn.get("name") == name:
                    return fn.get("parameters") or {}
        if self.mode == "functions":
            for fn in self.body["functions"]:
                if fn.get("name") == name:
                    return fn.get("parameters") or {}
        if self.mode == "json_schema":
            return (self.body["response_format"].get("json_schema") or {}).get("schema") or {}
        return None


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return None


class ChatScript:
    """What the fake answers: queued replies first (one per request), then `handler`, then a value
    generated from the requested schema."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: collections.deque[ReplyLike] = collections.deque()
        self.handler: Callable[[ChatRequest], Any] | None = None
        self.seen: list[ChatRequest] = []

    def push(self, *replies: ReplyLike) -> "ChatScript":
        """Queue replies, used in order by the next requests."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def respond(self, handler: Callable[[ChatRequest], Any] | None) -> "ChatScript":
        """Answer every (unqueued) request with `handler(request)` -> Reply | dict | str."""
        self.handler = handler
        return self

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
        self.handler = None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def next_reply(self, request: ChatRequest) -> Reply:
        with self._lock:
            self.seen.append(request)
            item: Any = self._queue.popleft() if self._queue else self.handler
        return self.coerce(item, request)

    def coerce(self, item: Any, request: ChatRequest) -> Reply:
        """A queued item, handler or fault reply as a `Reply` (None: generated from the schema)."""
        if callable(item) and not isinstance(item, Reply):
            item = item(request)
        if item is None:
            schema = request.schema
            if schema is None:
                return Reply(content="This is a reply from the distilgen fake OpenAI server.")
            return Reply(arguments=value_for_schema(schema))
        if isinstance(item, Reply):
            return item
        if isinstance(item, str):
            return Reply(content=item) if request.mode == "text" else Reply(arguments=item)
        return Reply(arguments=item)


def _estimate_tokens(text: str) -> int:
    # ~4 characters a token, as OpenAI's rule of thumb; never 0 for a non-empty text.
    return max(1, (len(text) + 3) // 4) if text else 0


def validate_request(body: Any) -> None:
    """The request checks OpenAI makes that matter to clients (400 with `param`)."""
    if not isinstance(body, dict):
        raise RequestError(400, "We could not parse the JSON body of your request.")
    if not body.get("model"):
        raise RequestError(400, "you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "'messages' must be a non-empty array", param="messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "developer", "user", "assistant", "tool", "function"):
            raise RequestError(400, f"Invalid value for 'messages[{i}].role'", param=f"messages[{i}].role")
    tools = body.get("tools")
    if tools is not None:
        names = [((t or {}).get("function") or {}).get("name") for t in tools]
        tc = body.get("tool_choice")
        if isinstance(tc, dict):
            name = (tc.get("function") or {}).get("name")
            if name not in names:
                raise RequestError(400, f"Invalid value for 'tool_choice': no function named '{name}' was specified in the 'tools' parameter.", param="tool_choice")
    functions = body.get("functions")
    if functions is not None:
        fc = body.get("function_call")
        if isinstance(fc, dict) and fc.get("name") not in [f.get("name") for f in functions]:
            raise RequestError(400, f"Invalid value for 'function_call': no function named '{fc.get('name')}'", param="function_call")
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        js = rf.get("json_schema")
        if not isinstance(js, dict) or not js.get("name"):
            raise RequestError(400, "Missing required parameter: 'response_format.json_schema.name'", param="response_format.json_schema.name")


def complete(request: ChatRequest, reply: Reply) -> dict[str, Any]:
    """The `chat.completion` object for `reply` to `request`."""
    body = request.body
    mode = request.mode
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
    finish = "stop"
    output = ""
    if reply.refusal is not None:
        message["refusal"] = reply.refusal
        output = reply.refusal
    elif reply.content is not None and reply.arguments is None:
        message["content"] = reply.content
        output = reply.content
    else:
        args = reply.arguments
        text = args if isinstance(args, str) else json.dumps(args)
        output = text
        if reply.finish_reason == "length":
            text = text[: max(1, len(text) // 2)]
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and _estimate_tokens(text) > limit:
            text, finish = text[: limit * 4], "length"
        name = reply.name or request.answer_name or "answer"
        if mode == "tools":
            message["tool_calls"] = [{
                "id": "call_" + uuid.uuid4().hex[:24],
                "type": "function",
                "function": {"name": name, "arguments": text},
            }]
            # A *named* tool_choice finishes with "stop"; auto/required with "tool_calls".
            finish = finish if finish == "length" else ("stop" if request.forced_name else "tool_calls")
        elif mode == "functions":
            message["function_call"] = {"name": name, "arguments": text}
            finish = finish if finish == "length" else ("stop" if request.forced_name else "function_call")
        else:
            message["content"] = text
        output = text
    if reply.finish_reason is not None:
        finish = reply.finish_reason
    prompt_text = json.dumps(body.get("messages")) + json.dumps(body.get("tools") or body.get("functions") or "")
    usage = {
        "prompt_tokens": _estimate_tokens(prompt_text),
        "completion_tokens": _estimate_tokens(output) + 1,
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if reply.usage:
        usage.update(reply.usage)
    n = body.get("n") or 1
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "system_fingerprint": "fp_distilgen_fake",
        "service_tier": "default",
        "choices": [
            {"index": i, "message": message, "logprobs": None, "finish_reason": finish} for i in range(int(n))
        ],
        "usage": usage,
    }


def stream_chunks(completion: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """The completion as `chat.completion.chunk` events (one content delta, then the finish)."""
    base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"
    chunks = []
    for choice in completion["choices"]:
        msg = choice["message"]
        delta: dict[str, Any] = {"role": "assistant", "content": msg.get("content"), "refusal": msg.get("refusal")}
        if msg.get("tool_calls"):
            delta["tool_calls"] = [dict(tc, index=i) for i, tc in enumerate(msg["tool_calls"])]
        if msg.get("function_call"):
            delta["function_call"] = msg["function_call"]
        chunks.append(dict(base, choices=[{"index": choice["index"], "delta": delta, "finish_reason": None}]))
        chunks.append(dict(base, choices=[{"index": choice["index"], "delta": {}, "finish_reason": choice["finish_reason"]}]))
    if include_usage:
        chunks.append(dict(base, choices=[], usage=completion["usage"]))
    return chunks
