"""Dispatch: answer a distilled function's call with the model, validated into its return model.

The request is the training example minus the answer: the same system prompt, the same
`Return fn(...)` user message, the same tools (or legacy functions, or a JSON schema), with the
answer forced to that tool. Bad output is re-asked `max_retries` times with the validation error
fed back; then `fallback` decides: raise `DistilDispatchError`, or run the original function.
Endpoint failures (after the openai client's own retries) become `EndpointError` subclasses.
"""

from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from ..contracts import FALLBACKS, RESPONSE_FORMATS, Fallback, ResponseFormat
from ..errors import DistilDispatchError, UsageError
from . import formats
from .calls import render_call
from .clients import ClientProvider, EndpointResponseError, endpoint_error
from .diagnostics import log

__all__ = ["DispatchSettings", "Dispatcher", "DispatchStats", "Outcome", "RESPONSE_FORMATS"]


LOCAL_MAX_TOKENS = 512
"""Default answer cap for `local:` models when `max_tokens` is not given."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class DispatchSettings:
    model: str
    max_retries: int = 2
    """Re-asks after an invalid answer (the openai client's HTTP retries are separate)."""
    fallback: Fallback = "raise"
    """`raise` (DistilDispatchError) or `function` (run the original body, log a warning)."""
    response_format: ResponseFormat = "tools"
    """`tools` (forced tool call), `messages` (legacy forced function_call) or `json_schema`."""
    use_current_prompt: bool = False
    """Send the current prompt even when the lock says the model was trained on another one."""
    temperature: float | None = 0.0
    max_tokens: int | None = None
    """Cap on answer tokens; None sends none, except to local models (LOCAL_MAX_TOKENS)."""
    timeout: float | None = None
    lock_path: Path | None = None
    """The lock file; default: the one of the project the function's source belongs to."""

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise UsageError("dispatch needs model='...': the fine-tuned model id to call")
        if not isinstance(self.max_retries, int) or isinstance(self.max_retries, bool) or self.max_retries < 0:
            raise UsageError(f"max_retries must be a non-negative integer, got {self.max_retries!r}")
        if self.fallback not in FALLBACKS:
            raise UsageError(f"fallback must be 'raise' or 'function', got {self.fallback!r}")
        if self.max_tokens is not None and (type(self.max_tokens) is not int or self.max_tokens < 1):
            raise UsageError(f"max_tokens must be a positive integer, got {self.max_tokens!r}")
        if self.timeout is not None and not (_is_number(self.timeout) and self.timeout > 0):
            raise UsageError(f"timeout must be a positive number, got {self.timeout!r}")
        if self.temperature is not None and not (_is_number(self.temperature) and 0 <= self.temperature <= 2):
            raise UsageError(f"temperature must be a number from 0 to 2, got {self.temperature!r}")
        if self.response_format not in RESPONSE_FORMATS:
            raise UsageError(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}, got {self.response_format!r}")


@dataclass(frozen=True)
class DispatchStats:
    calls: int = 0
    answered: int = 0
    reasks: int = 0
    fallbacks: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class Outcome:
    """One dispatched call, before the fallback policy: the value, or the last raw output and the errors."""

    value: Any
    raw_output: Any
    errors: tuple[str, ...]
    attempts: int
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def ok(self) -> bool:
        return self.value is not None


class _Attempt:
    """The checked answer of one request: a validated value, or an error and the follow-up turns."""

    __slots__ = ("value", "raw", "error", "followup", "prompt_tokens", "completion_tokens")

    def __init__(self) -> None:
        self.value: Any = None
        self.raw: Any = None
        self.error: str = ""
        self.followup: list[dict[str, Any]] = []
        self.prompt_tokens = 0
        self.completion_tokens = 0


class _Attempts:
    """Bookkeeping of one call's asks and re-asks, shared by the sync and async loops."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        self.errors: list[str] = []
        self.raw: Any = None
        self.prompt_tokens = self.completion_tokens = 0

    def add(self, checked: Any) -> Outcome | None:
        """Record one answer: the outcome when it validated, else None (and the re-ask is queued)."""
        self.prompt_tokens += checked.prompt_tokens
        self.completion_tokens += checked.completion_tokens
        n = len(self.errors) + 1
        if checked.value is not None:
            return Outcome(checked.value, checked.raw, tuple(self.errors), n, self.prompt_tokens, self.completion_tokens)
        self.raw = checked.raw
        self.errors.append(f"attempt {n}: {checked.error}")
        self.messages = self.messages + checked.followup
        return None

    def gave_up(self) -> Outcome:
        return Outcome(None, self.raw, tuple(self.errors), len(self.errors), self.prompt_tokens, self.completion_tokens)


class Dispatcher:
    """Calls the model for one distilled function. `call` / `acall` return the return-model instance."""

    def __init__(self, spec: Any, settings: DispatchSettings, clients: ClientProvider) -> None:
        self.spec = spec
        self.settings = settings
        self.clients = clients
        self._lock = threading.Lock()
        self._stats = dict.fromkeys(DispatchStats.__dataclass_fields__, 0)
        self._base: dict[str, Any] | None = None
        self._model_id: str | None = None
        self._aclient: tuple[Any, Any] | None = None  # (event loop, AsyncOpenAI) of the last async call

    # -- the request -----------------------------------------------------------------------
    def _prepare(self) -> dict[str, Any]:
        """The constant part of every request, built once (prompt, tools, forced choice)."""
        if self._base is not None:
            return self._base
        spec, s = self.spec, self.settings
        model_id = self.clients.model_id(s.model)
        base: dict[str, Any] = {"model": model_id}
        if s.response_format == "tools":
            base["tools"] = formats.request_tools(spec)
            base["tool_choice"] = {"type": "function", "function": {"name": spec.tool_name}}
            base["parallel_tool_calls"] = False
        elif s.response_format == "messages":
            base["functions"] = formats.request_functions(spec)
            base["function_call"] = {"name": spec.tool_name}
        else:
            base["response_format"] = formats.response_format(spec)
        if s.temperature is not None:
            base["temperature"] = s.temperature
        max_tokens = s.max_tokens
        if max_tokens is None and self.clients.is_local(s.model):
            # a small local model that has lost its way can fill a grammar with whitespace until the
            # context ends (minutes on a CPU); a function's answer is far shorter than this
            max_tokens = LOCAL_MAX_TOKENS
        if max_tokens is not None:
            base["max_tokens"] = max_tokens
        if s.timeout is not None:
            base["timeout"] = s.timeout
        # the lock binds the id as the decorator spells it (`local:NAME`, an alias), not the resolved one
        self._system = {"role": "system", "content": self._prompt(s.model)}
        self._model_id = model_id
        self._base = base
        return base

    def _prompt(self, model_id: str) -> str:
        """The system prompt the model was trained on (the lock decides when it has an entry)."""
        spec = self.spec
        try:
            from ..prompts.lock import prompt_for_dispatch
        except ImportError:  # the prompts layer is optional to dispatch
            return str(spec.prompt)
        lock_path = self.settings.lock_path or _project_lock(getattr(spec, "source_path", None))
        if lock_path is None:
            return str(spec.prompt)
        return str(prompt_for_dispatch(spec.function_id, model_id, spec.prompt, spec.fingerprint,
                                       lock_path=lock_path, use_current=self.settings.use_current_prompt))

    def user_message(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """`Return fn(...)`, exactly as capture writes it into the training lines."""
        callee = getattr(self.spec, "callee", None)
        name, call_args = callee(args) if callee is not None else (self.spec.name, args)
        return "Return " + render_call(name, call_args, kwargs, getattr(self.spec, "positional", ()))

    def _messages(self, args: tuple[Any, ...], kwargs: dict[str, Any], user: str | None = None) -> list[dict[str, Any]]:
        self._prepare()
        return [self._system, {"role": "user", "content": self.user_message(args, kwargs) if user is None else user}]

    # -- checking an answer ----------------------------------------------------------------
    def _check(self, completion: Any) -> _Attempt:
        out = _Attempt()
        spec, fmt = self.spec, self.settings.response_format
        choices = getattr(completion, "choices", None)
        if not choices:
            # e.g. a proxy's HTML page with status 200: the openai client hands back a str
            shown = completion if isinstance(completion, str) else type(completion).__name__
            raise EndpointResponseError(
                f"the endpoint did not answer with a chat completion; it sent: {str(shown)[:200]!r}",
                function_id=spec.function_id, model=self.settings.model, base_url=self.clients.base_url(self.settings.model))
        usage = getattr(completion, "usage", None)
        if usage is not None:
            out.prompt_tokens = usage.prompt_tokens or 0
            out.completion_tokens = usage.completion_tokens or 0
        choice = choices[0]
        msg = choice.message
        truncated = choice.finish_reason == "length"
        name: str | None = None
        call_id = None
        if msg.refusal:
            out.raw = msg.refusal
            out.error = f"the model refused: {msg.refusal}"
        elif fmt == "tools":
            calls = msg.tool_calls or []
            if calls:
                call_id = calls[0].id
                name = calls[0].function.name
                out.raw = calls[0].function.arguments
            else:
                out.raw = msg.content
        elif fmt == "messages":
            if msg.function_call is not None:
                name = msg.function_call.name
                out.raw = msg.function_call.arguments
            else:
                out.raw = msg.content
        else:
            out.raw = msg.content
        if not out.error:
            if out.raw is None or (fmt != "json_schema" and name is None):
                what = "tool call" if fmt == "tools" else "function call" if fmt == "messages" else "JSON answer"
                said = f"; it said: {str(msg.content)[:200]!r}" if msg.content else ""
                out.error = f"no {what} in the answer{' (cut off: finish_reason length)' if truncated else ''}{said}"
            elif name is not None and name != spec.tool_name:
                out.error = f"called {name!r}, but the only valid tool is {spec.tool_name!r}"
            elif truncated:
                out.error = ("the answer was cut off (finish_reason 'length') before it was complete"
                             + (f"; max_tokens is {self.settings.max_tokens}" if self.settings.max_tokens else ""))
            else:
                try:
                    out.value = spec.return_model.model_validate_json(out.raw)
                    return out
                except ValidationError as exc:
                    out.error = _validation_text(exc)
        out.followup = self._followup(fmt, msg, name, call_id, out)
        return out

    def _followup(self, fmt: ResponseFormat, msg: Any, name: str | None, call_id: str | None, out: _Attempt) -> list[dict[str, Any]]:
        """The turns that show the model its answer and what was wrong with it."""
        tool = self.spec.tool_name
        fix = f"Your answer was invalid: {out.error}. Call {tool} again with arguments that fix this."
        if fmt == "tools" and call_id is not None:
            return [
                {"role": "assistant", "content": None,
                 "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": out.raw or ""}}]},
                {"role": "tool", "tool_call_id": call_id, "content": fix},
            ]
        if fmt == "messages" and name is not None:
            return [
                {"role": "assistant", "content": None, "function_call": {"name": name, "arguments": out.raw or ""}},
                {"role": "function", "name": name, "content": fix},
            ]
        said = msg.content or msg.refusal or ""
        if fmt == "json_schema":
            fix = f"Your answer was invalid: {out.error}. Answer again with JSON that fixes this."
        return [{"role": "assistant", "content": said}, {"role": "user", "content": fix}]

    # -- running ---------------------------------------------------------------------------
    def _api_error(self, exc: BaseException, client: Any) -> Exception:
        return endpoint_error(exc, function_id=self.spec.function_id, model=self.settings.model,
                              base_url=str(getattr(client, "base_url", "") or self.clients.base_url(self.settings.model)),
                              retries=getattr(client, "max_retries", None))

    def run(self, args: tuple[Any, ...], kwargs: dict[str, Any], user: str | None = None) -> Outcome:
        """Ask (and re-ask) the model; the outcome before any fallback. Endpoint errors raise.
        `user`: the user message already rendered (shadow renders it before the body runs)."""
        import openai

        messages = self._messages(args, kwargs, user)
        base = self._base
        assert base is not None
        try:
            client = self.clients.sync(self.settings.model)
        except openai.OpenAIError as exc:
            raise self._api_error(exc, None) from None
        return self._loop(messages, lambda msgs: client.chat.completions.create(messages=msgs, **base), client)

    def _loop(self, messages: list[dict[str, Any]], send: Callable[[list[dict[str, Any]]], Any], client: Any) -> Outcome:
        import openai

        attempts = _Attempts(messages)
        for _ in range(self.settings.max_retries + 1):
            try:
                completion = send(attempts.messages)
            except openai.OpenAIError as exc:
                raise self._api_error(exc, client) from None
            done = attempts.add(self._check(completion))
            if done is not None:
                return done
        return attempts.gave_up()

    def _warm(self, loop: Any) -> None:
        """First-use work that would otherwise stall the event loop: reading the lock and config,
        building the client and importing the openai resource modules it loads lazily."""
        self._prepare()
        self.clients.async_(self.settings.model, loop=loop).chat.completions  # noqa: B018 - imports

    async def arun(self, args: tuple[Any, ...], kwargs: dict[str, Any], user: str | None = None) -> Outcome:
        import asyncio

        import openai

        if self._base is None:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, self._warm, loop)
            except openai.OpenAIError as exc:
                raise self._api_error(exc, None) from None
        messages = self._messages(args, kwargs, user)
        base = self._base
        assert base is not None
        loop = asyncio.get_running_loop()
        cached = self._aclient
        if cached is not None and cached[0] is loop:
            client = cached[1]
        else:
            try:
                client = self.clients.async_(self.settings.model, loop=loop)
            except openai.OpenAIError as exc:
                raise self._api_error(exc, None) from None
            self._aclient = (loop, client)
        attempts = _Attempts(messages)
        for _ in range(self.settings.max_retries + 1):
            try:
                completion = await client.chat.completions.create(messages=attempts.messages, **base)
            except openai.OpenAIError as exc:
                raise self._api_error(exc, client) from None
            done = attempts.add(self._check(completion))
            if done is not None:
                return done
        return attempts.gave_up()

    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any], original: Callable[..., Any]) -> Any:
        outcome = self.run(args, kwargs)
        self._count(outcome)
        if outcome.ok:
            return outcome.value
        return self._fallback(outcome, args, kwargs, original)

    async def acall(self, args: tuple[Any, ...], kwargs: dict[str, Any], original: Callable[..., Any]) -> Any:
        outcome = await self.arun(args, kwargs)
        self._count(outcome)
        if outcome.ok:
            return outcome.value
        result = self._fallback(outcome, args, kwargs, original)
        return await result if inspect.isawaitable(result) else result

    def _fallback(self, outcome: Outcome, args: tuple[Any, ...], kwargs: dict[str, Any], original: Callable[..., Any]) -> Any:
        fid, model = self.spec.function_id, self.settings.model
        n = outcome.attempts
        if self.settings.fallback == "function":
            log.warning("distilgen: %s: model %s gave no valid answer in %d attempt(s) (%s); ran the original function",
                        fid, model, n, outcome.errors[-1] if outcome.errors else "?")
            with self._lock:
                self._stats["fallbacks"] += 1
            return original(*args, **kwargs)
        with self._lock:
            self._stats["failures"] += 1
        last = outcome.errors[-1].split(": ", 1)[-1] if outcome.errors else "?"
        raise DistilDispatchError(
            f"no valid {self.spec.tool_name} in {n} attempt(s); last: {last}",
            function_id=fid, model=model, raw_output=outcome.raw_output, errors=list(outcome.errors),
        )

    def _count(self, outcome: Outcome) -> None:
        with self._lock:
            st = self._stats
            st["calls"] += 1
            st["answered"] += outcome.ok
            st["reasks"] += outcome.attempts - 1
            st["prompt_tokens"] += outcome.prompt_tokens
            st["completion_tokens"] += outcome.completion_tokens

    def stats(self) -> DispatchStats:
        with self._lock:
            return DispatchStats(**self._stats)


def _validation_text(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(answer)"
        parts.append(f"{loc}: {err.get('msg')}")
    return "; ".join(parts)


def _project_lock(source_path: str | None) -> Path | None:
    """The lock file of the project `source_path` belongs to, if it has one."""
    if not source_path:
        return None
    from ..config import load_config
    from ..errors import ConfigError

    try:
        cfg = load_config(Path(source_path).parent)
    except ConfigError:
        return None
    if cfg.pyproject is None:
        return None
    return cfg.lock_path if cfg.lock_path.is_file() else None
