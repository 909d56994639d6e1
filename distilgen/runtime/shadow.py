"""Shadow mode: the real function answers; on a sample of calls the model is asked too, in the
background, and its agreement with the real result is recorded per field.

`sample` draws a random number before the body runs (and renders the call when it is sampled),
`observe_call` hands the work off (a bounded queue served by daemon
threads for sync callers, a task on the running loop for async ones), so it never slows or fails
the caller; when the backlog is full the sample is dropped and counted, not queued without bound.
Each sampled call becomes one JSONL record (format in docs/dispatch.md).
"""

from __future__ import annotations

import asyncio
import datetime
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel

from ..contracts import ResponseFormat
from . import formats
from .clients import ClientProvider, EndpointError
from .diagnostics import log
from .dispatch import DispatchSettings, Dispatcher, Outcome

__all__ = ["ShadowSettings", "Shadow", "ShadowStats", "compare_fields", "DEFAULT_SHADOW_LOG", "RECORD_VERSION"]

DEFAULT_SHADOW_LOG = "distil_shadow.jsonl"
RECORD_VERSION = 1


@dataclass(frozen=True)
class ShadowSettings:
    model: str
    rate: float = 0.1
    """Fraction of calls also sent to the model."""
    log: str | Path | None = None
    """The JSONL shadow log (default `distil_shadow.jsonl` in the working directory)."""
    response_format: ResponseFormat = "tools"
    max_workers: int = 2
    """Background threads serving sync callers."""
    max_pending: int = 256
    """Samples waiting beyond this are dropped (and counted) rather than queued."""
    timeout: float | None = 60.0
    seed: int | None = None

    def __post_init__(self) -> None:
        from ..errors import UsageError

        if not isinstance(self.rate, (int, float)) or not 0.0 <= float(self.rate) <= 1.0:
            raise UsageError(f"shadow_rate must be between 0 and 1, got {self.rate!r}")
        if self.max_workers < 1 or self.max_pending < 1:
            raise UsageError("shadow max_workers and max_pending must be at least 1")


@dataclass(frozen=True)
class ShadowStats:
    observed: int = 0
    sampled: int = 0
    dropped: int = 0
    """Samples dropped because the backlog was full."""
    agreed: int = 0
    disagreed: int = 0
    invalid: int = 0
    """The model's answer did not validate."""
    errors: int = 0
    """The endpoint failed."""
    log_failures: int = 0
    fields: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """field -> (agreeing, compared)."""

    @property
    def agreement(self) -> float | None:
        compared = self.agreed + self.disagreed
        return self.agreed / compared if compared else None


def compare_fields(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> dict[str, bool]:
    """Per top-level field of the real result: does the model's answer hold the same JSON value?"""
    return {name: name in actual and _same(value, actual[name]) for name, value in expected.items()}


def _same(a: Any, b: Any) -> bool:
    # JSON values: floats compare with a relative tolerance, since 0.1+0.2 style noise is agreement
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
            return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


class Shadow:
    """The shadow observer of one distilled function."""

    def __init__(self, spec: Any, settings: ShadowSettings, clients: ClientProvider, log: str | Path | None = None) -> None:
        self.spec = spec
        self.settings = settings
        self.clients = clients
        self.log_path = Path(log or settings.log or DEFAULT_SHADOW_LOG)
        self._dispatcher = Dispatcher(spec, DispatchSettings(
            model=settings.model, max_retries=0, fallback="raise",
            response_format=settings.response_format, timeout=settings.timeout), clients)
        self._rng = random.Random(settings.seed)
        self._lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys(
            ("observed", "sampled", "dropped", "agreed", "disagreed", "invalid", "errors", "log_failures"), 0)
        self._fields: dict[str, list[int]] = {}
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(settings.max_pending)
        self._threads: list[threading.Thread] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sink: Any = None
        self._warned = False

    # -- the caller's side: cheap, never raises --------------------------------------------
    def sample(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """Before the body runs: None when this call is not sampled, else its user message,
        rendered now, as the caller passed the arguments: a body that changes its argument (or a
        model method its instance) would otherwise have the model asked another call than the one
        the result answers (wave 5). Draws one random number for an unsampled call."""
        try:
            with self._lock:
                self._counts["observed"] += 1
                if self._rng.random() >= self.settings.rate:
                    return None
            return self._dispatcher.user_message(args, kwargs)
        except Exception as exc:  # never into the caller
            self._warn(exc)
            return None

    def observe_call(self, user: str, result: Any) -> None:
        """After the body returned `result`: send the call `sample` rendered to the model."""
        try:
            # only a model instance can be compared (capture warns about anything else)
            if not isinstance(result, BaseModel):
                return
            self._count("sampled")
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None and self.spec.is_async:
                task = loop.create_task(self._ashadow(user, result))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return
            self._start_threads()
            self._queue.put_nowait((user, result))
        except queue.Full:
            self._count("dropped")
        except Exception as exc:  # never into the caller
            self._warn(exc)

    def observe(self, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        """`sample` and `observe_call` at once, for arguments that did not change during the call."""
        user = self.sample(args, kwargs)
        if user is not None:
            self.observe_call(user, result)

    def _start_threads(self) -> None:
        if len(self._threads) >= self.settings.max_workers:
            return
        with self._lock:
            while len(self._threads) < self.settings.max_workers:
                # daemon: a hung endpoint must never keep the program from exiting
                t = threading.Thread(target=self._worker, name=f"distilgen-shadow-{len(self._threads)}", daemon=True)
                t.start()
                self._threads.append(t)

    def _worker(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                user, result = item
                started = time.perf_counter()
                try:
                    outcome: Outcome | BaseException = self._dispatcher.run((), {}, user)
                except Exception as exc:
                    outcome = exc
                self._record(user, result, outcome, started)
            except Exception as exc:
                self._warn(exc)
            finally:
                self._queue.task_done()

    async def _ashadow(self, user: str, result: Any) -> None:
        started = time.perf_counter()
        try:
            try:
                outcome: Outcome | BaseException = await self._dispatcher.arun((), {}, user)
            except Exception as exc:
                outcome = exc
            self._record(user, result, outcome, started)
        except Exception as exc:
            self._warn(exc)

    # -- recording -------------------------------------------------------------------------
    def _record(self, user: str, result: Any, outcome: Outcome | BaseException, started: float) -> None:
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        # pydantic's JSON mode writes NaN/infinity as null (JSON has neither): the log stays valid JSON
        expected = formats.loads(result.model_dump_json()) if isinstance(result, BaseModel) else None
        record: dict[str, Any] = {
            "v": RECORD_VERSION,
            "ts": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "function_id": self.spec.function_id,
            "model": self.settings.model,
            "fingerprint": self.spec.fingerprint,
            "call": user.removeprefix("Return "),
            "expected": expected,
            "got": None,
            "status": "ok",
            "agree": False,
            "fields": None,
            "error": None,
            "errors": [],
            "raw_output": None,
            "attempts": 0,
            "model_ms": latency_ms,
            "usage": None,
        }
        if isinstance(outcome, BaseException):
            record.update(status="error", error=str(outcome))
            self._count("errors")
            if not isinstance(outcome, EndpointError):
                self._warn(outcome)
        else:
            record.update(attempts=outcome.attempts, errors=list(outcome.errors), raw_output=outcome.raw_output,
                          usage={"prompt_tokens": outcome.prompt_tokens, "completion_tokens": outcome.completion_tokens})
            if not outcome.ok:
                record.update(status="invalid", error=outcome.errors[-1] if outcome.errors else "invalid answer")
                self._count("invalid")
            else:
                actual = formats.loads(outcome.value.model_dump_json())
                fields = compare_fields(expected or {}, actual)
                agree = expected is not None and all(fields.values())
                record.update(got=actual, fields=fields, agree=agree)
                with self._lock:
                    self._counts["agreed" if agree else "disagreed"] += 1
                    for name, same in fields.items():
                        tally = self._fields.setdefault(name, [0, 0])
                        tally[0] += same
                        tally[1] += 1
        try:
            self._write(formats.dumps(record))
        except Exception as exc:
            self._count("log_failures")
            self._warn(exc)

    def _write(self, line: str) -> None:
        if self._sink is None:
            from .sinks import JsonlSink

            with self._lock:
                if self._sink is None:
                    self._sink = JsonlSink(self.log_path)
        self._sink.write(line)

    def _count(self, what: str) -> None:
        with self._lock:
            self._counts[what] += 1

    def _warn(self, exc: BaseException) -> None:
        if not self._warned:  # once per function: shadow problems must not flood the log
            self._warned = True
            log.warning("distilgen: shadow %s: %s: %s (the caller was not affected)",
                        self.spec.function_id, type(exc).__name__, exc)

    # -- inspection ------------------------------------------------------------------------
    def stats(self) -> ShadowStats:
        with self._lock:
            c = dict(self._counts)
            fields = {k: (v[0], v[1]) for k, v in self._fields.items()}
        return ShadowStats(**c, fields=fields)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until the background samples of sync callers are recorded (True) or `timeout` passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    async def adrain(self, timeout: float | None = None) -> bool:
        """Wait for the background tasks of async callers on this loop."""
        pending = [t for t in self._tasks if not t.done()]
        if not pending:
            return True
        done, not_done = await asyncio.wait(pending, timeout=timeout)
        return not not_done
