"""`Instructions` and its `distil` decorator: capture, dispatch and shadow modes.

Compatible with instructor's `Instructions` (same constructor and decorator arguments), with its
weaknesses fixed: no client or API key needed to capture, a prompt derived from source once per
function, calls rendered as valid Python, and a capture that can never break the caller.
"""

from __future__ import annotations

import copy
import functools
import inspect
import itertools
import logging
import os
import random
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any, Callable, Iterable, Mapping, TypeVar, overload

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from ..contracts import (
    DISABLE_ENV, FORMATS, MODES, TOOL_SCHEMAS, Fallback, FinetuneFormat, FunctionKind, Mode, ResponseFormat, ToolSchema, one_of,
)
from ..errors import DecorationError, UsageError
from . import formats
from .calls import render_call
from .credentials import CredentialValue, credential_in_call
from .diagnostics import log
from .sinks import JsonlSink, LoggingSink, Sink
from .spec import FunctionSpec, UnresolvedAnnotation, build_spec, function_kind, resolve_return_model

__all__ = ["Instructions", "CaptureStats", "CaptureWarning", "MODES"]

F = TypeVar("F", bound=Callable[..., Any])
_PLAIN_KINDS = frozenset({"function", "staticmethod"})


_BY_CODE: "weakref.WeakKeyDictionary[CodeType, tuple[str | None, FunctionKind]]" = weakref.WeakKeyDictionary()
"""A function's source and kind, per code object (the same for every def statement's run)."""

_UNREAD = "\0 source not read yet"
"""`_Distilled._src_text` when reading the source at decoration raised: read at the first call."""


def _source(fn: Callable[..., Any]) -> str | None:
    """The function's source, or None where there is none (a REPL, `exec`)."""
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return None


def _as_model(model: type[BaseModel], result: Any) -> BaseModel:
    """What a call that did not return a `model` instance is captured as. A dict is validated
    into the model, as FastAPI does with an endpoint's `-> Model` (its idiom: `return {...}`). A
    copy is validated: a `mode="before"` validator that edits its input must not edit the dict the
    caller gets. Anything else is not an answer to learn."""
    if isinstance(result, Mapping):
        try:
            return model.model_validate(copy.deepcopy(result))
        except ValidationError as exc:
            raise TypeError(f"returned a dict that is not a valid {model.__name__} "
                            f"({exc.error_count()} validation error(s), first: {exc.errors()[0]['msg']})") from None
    raise TypeError(f"returned {type(result).__name__}, not {model.__name__}")


_Call = tuple[str, tuple[Any, ...], dict[str, Any]]
"""A captured call's input, taken before the body ran: the rendered call (`fn(1, b=2)`) and the
arguments that belong in it (JSON data for `raw` lines, which record them). A plain tuple: a
NamedTuple's constructor cost ~0.3 us a call."""


class CaptureWarning(RuntimeWarning):
    """Kept for code that imports it; no longer issued. An example that cannot be captured is
    logged on the `distilgen` logger (WARNING, once per function and cause) and counted in
    `stats()`: a warning is visible to the program (`filterwarnings = error` raised it out of the
    decorated function; `pytest.warns` re-emits it), and capture must not change what it sees."""


@dataclass(frozen=True)
class CaptureStats:
    captured: int = 0
    skipped: int = 0
    """Calls whose example could not be written (see `causes`)."""
    sampled_out: int = 0
    redacted_out: int = 0
    causes: Mapping[str, int] = field(default_factory=dict)
    """`function_id: cause` -> count of skipped examples."""


def _format_name(fmt: Any) -> FinetuneFormat:
    value = getattr(fmt, "value", fmt)  # instructor's FinetuneFormat enum
    name = one_of(str(value).lower(), FORMATS)
    if name is None:
        raise UsageError(f"finetune_format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return name


@functools.lru_cache(maxsize=256)
def _lock_path_for(folder: str) -> Path | None:
    """The lock file of the project a source folder belongs to (None when there is none)."""
    from ..config import load_config

    try:
        cfg = load_config(Path(folder))
    except Exception:  # a broken pyproject must not stop the program from running
        return None
    if cfg.pyproject is None:
        return None
    path = cfg.lock_path
    return path if path.is_file() else None


class _Distilled:
    """Per-function state behind one decorated function (reachable as `fn.__distil__`)."""

    def __init__(self, owner: Instructions, fn: Callable[..., Any], kind: FunctionKind, src_text: str | None,
                 mode: Mode, model: str | None, fmt: FinetuneFormat, function_id: str | None,
                 options: dict[str, Any], name: str | None = None) -> None:
        self.instructions = owner
        self.original = fn
        self.kind = kind
        self.mode = mode
        self.model = model
        self.fmt = fmt
        self.options = options
        self._src_text = src_text
        self._function_id = function_id
        self._name = name
        self._spec: FunctionSpec | None = None
        self._refused: DecorationError | None = None
        self._writer: formats.LineWriter | None = None
        self._writers: dict[str, formats.LineWriter] = {}
        self._runner: Any = None
        self._lock = threading.RLock()  # runner() builds the spec while holding it
        self._return_model: type[BaseModel] | None
        try:
            self._return_model = resolve_return_model(fn)
        except UnresolvedAnnotation:
            self._return_model = None  # a forward reference or a module mid-import: resolved at the first call

    @property
    def function_id(self) -> str:
        return self._function_id or f"{self.original.__module__}:{self.original.__qualname__}"

    @property
    def spec(self) -> FunctionSpec:
        spec = self._spec
        if spec is not None:
            return spec
        if self._refused is not None:
            raise self._refused
        with self._lock:
            if self._spec is None:
                try:
                    self._build_spec()
                except UnresolvedAnnotation:
                    raise  # perhaps only for now (a module mid-import): tried again at the next call
                except DecorationError as exc:
                    # for good (a RootModel[str] return): not rebuilt (~0.5 ms) at every call
                    self._refused = exc
                    raise
            assert self._spec is not None
            return self._spec

    def _build_spec(self) -> None:
        model = self._return_model
        if model is None:
            model = resolve_return_model(self.original)  # UnresolvedAnnotation now says why
        owner = self.instructions
        # a nested def decorated at each run of its enclosing function builds its spec
        # once per code object and settings, not once per run
        key = (model, self.kind, self._function_id, self._name, owner.include_code_body, owner.tool_schema)
        built = owner._built.setdefault(self.original.__code__, {})
        if key not in built:
            if len(built) >= 16:  # a return model local to each run: a new key per run
                del built[next(iter(built))]
            if self._src_text is _UNREAD:
                self._src_text = _source(self.original)  # refused at decoration: try again
            built[key] = (build_spec(
                self.original, kind=self.kind, return_model=model, src_text=self._src_text,
                include_body=owner.include_code_body, function_id=self._function_id,
                lock_path=owner._lock_path(self.original), tool_schema=owner.tool_schema,
                call_name=self._name,
            ), {})
        self._spec, self._writers = built[key]

    @property
    def writer(self) -> formats.LineWriter:
        if self._writer is None:
            s = self.spec
            if self.fmt not in self._writers:  # shared by every run of a nested def (see `spec`)
                self._writers[self.fmt] = formats.LineWriter(self.fmt, s.function_id, s.tool_name, s.prompt, s.schema,
                                                             s.tool_description, s.parameters)
            self._writer = self._writers[self.fmt]
        return self._writer

    def prepare(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call | Exception | None:
        """Before the body runs: the call as the caller passed it, or None when this call is not
        captured (no sink, DISTILGEN_DISABLE, sampled out: such a call pays two tests).

        Rendered now, not after the body returned: a function that fills in its argument
        (phoenix's `_set_parameter_enums(tool, ...)` writes `tool.parameters` and returns it) or
        a model method that sets a field of `self` was written with its answer in its input
        (`Return Counter(n=3).bump(2)` for `Counter(n=1).bump(2)`; wave 5). A failure (an
        unrenderable argument, a return model that cannot be a tool) is returned, not raised: the
        body runs as ever, and `finish` counts it once the body returned (a body that raises
        writes and counts nothing, as before)."""
        owner = self.instructions
        if not owner._sinks or owner._off:
            return None
        if owner.sample_rate < 1.0 and owner._rng.random() >= owner.sample_rate:
            owner._count("sampled_out")
            return None
        try:
            spec = self.spec
            if spec.kind in _PLAIN_KINDS:
                name, call_args = spec.name, args
            else:
                name, call_args = spec.callee(args)
            call = render_call(name, call_args, kwargs, spec.positional)
            leak = credential_in_call(call, call_args, kwargs, spec.positional,
                                      args[0] if spec.kind == "model_method" else None)
            if leak is not None:
                return CredentialValue(leak)
            if self.fmt == "raw":  # the line records the arguments as data too: as passed, not as left
                call_args, kwargs = tuple(to_jsonable_python(list(call_args))), to_jsonable_python(kwargs)
            return (call, call_args, kwargs)
        except Exception as exc:
            return exc

    def finish(self, pending: _Call | Exception, result: Any) -> None:
        """After the body returned `result`: write the example `prepare` began; any failure is
        counted and logged, never raised."""
        owner = self.instructions
        if isinstance(pending, Exception):
            owner._skip(self.function_id, pending)
            return
        try:
            spec = self._spec
            assert spec is not None  # `prepare` built it
            answer = None
            if type(result) is not spec.return_model:
                if isinstance(result, spec.return_model):
                    # `-> Base` returning a subclass: kept only as the declared class, when that is
                    # the same JSON (else `SubclassAnswer`, counted: pyiceberg, guardrails, wave 6)
                    result, answer = formats.validated_as(spec.return_model, result)
                else:
                    result = _as_model(spec.return_model, result)
            call, args, kwargs = pending
            line = self.writer.line("Return " + call, call, args, kwargs, result, answer)
            if owner.redact is not None:
                example = formats.loads(line)
                example = owner.redact(example)
                if example is None:
                    owner._count("redacted_out")
                    return
                line = formats.dumps(example)
        except Exception as exc:
            owner._skip(self.function_id, exc)
            return
        for sink in owner._sinks:
            try:
                sink.write(line)
            except Exception as exc:
                owner._skip(self.function_id, exc)
                return
        next(owner._captured)

    def runner(self) -> Any:
        """The dispatcher (dispatch mode) or shadow observer (shadow mode), built at first use."""
        if self._runner is None:
            with self._lock:
                if self._runner is None:
                    self._runner = self.instructions._make_runner(self)
        return self._runner


class Instructions:
    """A named set of distilled functions sharing sinks, format and model settings.

    Arguments after `openai_client` are distilgen's own; the first seven match instructor's.
    `indent` is accepted for compatibility and ignored: arguments JSON is always compact.
    """

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,
        log_handlers: Iterable[logging.Handler] | None = None,
        finetune_format: Any = "tools",
        indent: int | None = None,
        include_code_body: bool = False,
        openai_client: Any = None,
        *,
        dataset: str | Path | None = None,
        tool_schema: ToolSchema | None = None,
        sample_rate: float = 1.0,
        redact: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
        lock_file: str | Path | None = None,
        max_retries: int = 2,
        fallback: Fallback = "raise",
        response_format: ResponseFormat | None = None,
        shadow_rate: float = 0.1,
        shadow_log: str | Path | None = None,
        async_openai_client: Any = None,
        config: Any = None,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= float(sample_rate) <= 1.0:
            raise UsageError(f"Instructions(sample_rate=...) must be between 0 and 1, got {sample_rate!r}")
        if fallback not in ("raise", "function"):
            raise UsageError(f"Instructions(fallback=...) must be 'raise' or 'function', got {fallback!r}")
        if redact is not None and not callable(redact):
            raise UsageError("Instructions(redact=...) must be a callable taking and returning an example dict")
        if tool_schema is not None and tool_schema not in TOOL_SCHEMAS:
            raise UsageError(f"Instructions(tool_schema=...) must be one of {', '.join(TOOL_SCHEMAS)}, got {tool_schema!r}")
        self.name = name or "default"
        self.id = id
        self.finetune_format = _format_name(finetune_format)
        # `tools` lines declare the tool without its parameters by default (OpenAI's token advice
        # for function-calling fine-tunes); legacy `messages` lines keep the seed's full schema
        self.tool_schema: ToolSchema = tool_schema or ("full" if self.finetune_format == "messages" else "compact")
        self.include_code_body = include_code_body
        self.openai_client = openai_client
        self.async_openai_client = async_openai_client
        self.sample_rate = float(sample_rate)
        self.redact = redact
        self.lock_file = Path(lock_file) if lock_file is not None else None
        self.max_retries = max_retries
        self.fallback = fallback
        self.response_format = response_format
        self.shadow_rate = shadow_rate
        self.shadow_log = shadow_log
        self.config = config
        self._rng = random.Random(seed)
        # DISTILGEN_DISABLE=1: decorated functions run their own bodies and nothing else. `prompts`
        # and `apply` import the project in a child with it set: a decorated function its modules
        # call at import time wrote a training example into the user's tree (zenml's
        # CachePolicy.default, a field default), or once bound to a model, called the endpoint
        self._off = os.environ.get(DISABLE_ENV, "").strip().lower() in ("1", "true", "yes", "on")
        self._sinks: list[Sink] = []
        if log_handlers:
            self._sinks.append(LoggingSink(f"distilgen.capture.{self.name}", list(log_handlers)))
        if dataset is not None:
            self._sinks.append(JsonlSink(dataset))
        self._stats: Counter[str] = Counter()
        # next() on itertools.count is atomic under the GIL: no lock on the hot path
        self._captured = itertools.count()
        self._causes: Counter[str] = Counter()
        self._warned: set[tuple[str, str]] = set()
        self._stats_lock = threading.Lock()
        self._clients: Any = None
        # per code object and settings: the spec built and its line writers (see `_Distilled.spec`)
        self._built: weakref.WeakKeyDictionary[CodeType, dict[tuple[Any, ...], tuple[FunctionSpec, dict[str, formats.LineWriter]]]] \
            = weakref.WeakKeyDictionary()
        self.functions: dict[str, Callable[..., Any]] = {}

    def __repr__(self) -> str:
        return f"Instructions(name={self.name!r}, finetune_format={self.finetune_format!r})"

    # --- bookkeeping -----------------------------------------------------------------------
    def _count(self, what: str) -> None:
        with self._stats_lock:
            self._stats[what] += 1

    def _skip(self, function_id: str, exc: BaseException) -> None:
        cause = type(exc).__name__
        with self._stats_lock:
            self._stats["skipped"] += 1
            self._causes[f"{function_id}: {cause}"] += 1
            first = (function_id, cause) not in self._warned
            self._warned.add((function_id, cause))
        if first:  # one message per function and cause, however many calls fail
            # logged, never warned: a warning is part of what the program sees (`filterwarnings =
            # error` raises it out of the decorated function; `pytest.warns(X)` re-emits it)
            log.warning("distilgen: %s: example not captured (%s: %s); the call's result was returned unchanged",
                        function_id, cause, exc)

    def stats(self) -> CaptureStats:
        with self._stats_lock:
            captured = int(repr(self._captured)[len("count("):-1])
            return CaptureStats(captured, self._stats["skipped"], self._stats["sampled_out"],
                                self._stats["redacted_out"], dict(self._causes))

    def _lock_path(self, fn: Callable[..., Any]) -> Path | None:
        if self.lock_file is not None:
            return self.lock_file if self.lock_file.is_file() else None
        try:
            src = inspect.getsourcefile(fn)
        except TypeError:
            return None
        return _lock_path_for(str(Path(src).resolve().parent)) if src else None

    def _client_provider(self) -> Any:
        if self._clients is None:
            from .clients import ClientProvider

            self._clients = ClientProvider(client=self.openai_client, async_client=self.async_openai_client,
                                           config=self.config)
        return self._clients

    def _dispatch_settings(self, model: str | None, fmt: ResponseFormat, options: dict[str, Any]) -> Any:
        from .dispatch import DispatchSettings

        return DispatchSettings(
            model=model or "",
            max_retries=options.get("max_retries", self.max_retries),
            fallback=options.get("fallback", self.fallback),
            response_format=fmt,
            use_current_prompt=options.get("use_current_prompt", False),
            temperature=options.get("temperature", 0.0),
            max_tokens=options.get("max_tokens"),
            timeout=options.get("timeout"),
        )

    def _make_runner(self, state: _Distilled) -> Any:
        # answer the way the model was trained: forced function call for legacy `messages`
        fmt = state.options.get("response_format") or self.response_format
        if fmt is None:
            fmt = "messages" if state.fmt == "messages" else "tools"
        if state.mode == "dispatch":
            from .dispatch import Dispatcher

            return Dispatcher(state.spec, self._dispatch_settings(state.model, fmt, state.options), self._client_provider())
        from .shadow import Shadow, ShadowSettings

        shadow_settings = ShadowSettings(model=state.model or "", rate=state.options.get("shadow_rate", self.shadow_rate),
                                         log=self.shadow_log, response_format=fmt)
        return Shadow(state.spec, shadow_settings, self._client_provider(), self.shadow_log)

    # --- the decorator ---------------------------------------------------------------------
    @overload
    def distil(self, fn: F, /) -> F: ...

    @overload
    def distil(self, *, name: str | None = None, mode: Mode = "distil", model: str | None = None,
               fine_tune_format: Any = None, **options: Any) -> Callable[[F], F]: ...

    def distil(self, *args: Any, name: str | None = None, mode: Mode = "distil", model: str | None = None,
               fine_tune_format: Any = None, **options: Any) -> Any:
        """Decorate a function returning a pydantic model: `@distil` or `@distil(mode=..., model=...)`.

        Modes: `distil` (alias `capture`) runs the function and logs an example; `dispatch` calls the
        model instead of the body; `shadow` runs the function and, on a sample of calls, also asks the
        model in the background to measure agreement. Extra options: `max_retries`, `fallback`,
        `response_format`, `use_current_prompt`, `shadow_rate`, and for dispatch `temperature`,
        `max_tokens` (default: none, 512 for `local:` models) and `timeout` (seconds per request).
        """
        known = {"max_retries", "fallback", "response_format", "use_current_prompt", "shadow_rate",
                 "temperature", "max_tokens", "timeout"}
        unknown = set(options) - known
        if unknown:
            raise UsageError(f"distil() got unknown argument(s): {', '.join(sorted(unknown))}")
        if mode not in MODES:
            raise UsageError(f"distil(mode=...) must be one of {', '.join(MODES)}, got {mode!r}")
        if mode in ("dispatch", "shadow") and not model:
            raise UsageError(f"distil(mode={mode!r}) needs model='...': the fine-tuned model id to call")
        fmt = _format_name(fine_tune_format) if fine_tune_format is not None else self.finetune_format
        if mode == "dispatch":  # bad options fail here, at decoration, not at the first call
            self._dispatch_settings(model, options.get("response_format") or self.response_format or "tools", options)

        def decorate(fn: Any) -> Any:
            return self._wrap(fn, name=name, mode="distil" if mode == "capture" else mode, model=model, fmt=fmt, options=options)

        if args:
            if len(args) == 1 and (callable(args[0]) or isinstance(args[0], (staticmethod, classmethod))):
                return decorate(args[0])
            raise UsageError("distil() takes the function, or keyword arguments only: distil(mode=..., model=...)")
        return decorate

    def _wrap(self, obj: Any, *, name: str | None, mode: Mode, model: str | None, fmt: FinetuneFormat,
              options: dict[str, Any]) -> Any:
        rewrap: Callable[[Any], Any] | None = None
        if isinstance(obj, (staticmethod, classmethod)):
            rewrap = type(obj)
            fn = obj.__func__
        else:
            fn = obj
        if not inspect.isfunction(fn):
            raise DecorationError(f"@distil expects a function, got {type(fn).__name__}: {fn!r}")
        where = f"{fn.__module__}:{fn.__qualname__}"
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise DecorationError(f"{where}: is a generator; distil needs one pydantic model per call")
        # a nested def is decorated each time its enclosing function runs (mcp's handlers): its
        # source and kind are read once per code object (~140 us a call before, ~10 after)
        known = _BY_CODE.get(fn.__code__) if rewrap is None else None
        if known is not None:
            src_text, kind = known
        else:
            try:
                src_text = _source(fn)
            except Exception:  # noqa: BLE001
                # a hook refused the file read (blockbuster, in an event loop: mcp's tests decorate a
                # nested handler there); decorating must not fail the caller: read it at the first call
                src_text = _UNREAD
            if rewrap is staticmethod:
                kind = "staticmethod"
            elif rewrap is classmethod:
                kind = "classmethod"
            else:
                kind = function_kind(fn, src_text if src_text is not _UNREAD else None, class_depth=0)
                if src_text is not _UNREAD:
                    _BY_CODE[fn.__code__] = (src_text, kind)
        function_id = f"{fn.__module__}:{name}" if name else None
        state = _Distilled(self, fn, kind, src_text, mode, model, fmt, function_id, options, name)

        # the call is rendered before the body runs (`prepare`, shadow's `sample`), the example
        # written (the model asked) after it returned
        shadow = mode == "shadow"
        # DISTILGEN_DISABLE: a dispatch-bound function runs its own body, through the capture
        # wrapper below, whose capture and shadow do nothing then
        if mode == "dispatch" and not self._off:
            if inspect.iscoroutinefunction(fn):
                @functools.wraps(fn)
                async def wrapper(*a: Any, **k: Any) -> Any:
                    return await state.runner().acall(a, k, fn)
            else:
                @functools.wraps(fn)
                def wrapper(*a: Any, **k: Any) -> Any:
                    return state.runner().call(a, k, fn)
        elif inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def wrapper(*a: Any, **k: Any) -> Any:
                pending = state.prepare(a, k)
                asked = _shadow_sample(state, a, k) if shadow else None
                result = await fn(*a, **k)
                if pending is not None:
                    state.finish(pending, result)
                if asked is not None:
                    _observe(state, asked, result)
                return result
        else:
            @functools.wraps(fn)
            def wrapper(*a: Any, **k: Any) -> Any:
                pending = state.prepare(a, k)
                asked = _shadow_sample(state, a, k) if shadow else None
                result = fn(*a, **k)
                if pending is not None:
                    state.finish(pending, result)
                if asked is not None:
                    _observe(state, asked, result)
                return result

        wrapper.__distil__ = state  # type: ignore[attr-defined]
        self.functions[state.function_id] = wrapper
        return rewrap(wrapper) if rewrap is not None else wrapper


def _shadow_sample(state: _Distilled, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """Before the body runs: the user message of a call the shadow samples, else None."""
    if state.instructions._off:
        return None
    # shadow mode must never fail the caller, whatever the model side does
    try:
        user: str | None = state.runner().sample(args, kwargs)
        return user
    except Exception as exc:
        state.instructions._skip(state.function_id, exc)
        return None


def _observe(state: _Distilled, user: str, result: Any) -> None:
    try:
        state.runner().observe_call(user, result)
    except Exception as exc:
        state.instructions._skip(state.function_id, exc)
