"""Call a function once with a time limit, sync or async, and measure it.

The limit is a SIGALRM timer on the main thread: it interrupts the call itself, so a timed-out call
never finishes later and writes a training line behind our back (a worker thread would). Off the
main thread (or where SIGALRM does not exist) calls run without a limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

__all__ = ["CallTimeout", "Outcome", "timed_call"]


class CallTimeout(Exception):
    """The call ran past `--timeout`."""


@dataclass(frozen=True)
class Outcome:
    value: Any
    error: BaseException | None
    seconds: float


@contextlib.contextmanager
def _alarm(seconds: float | None) -> Iterator[None]:
    usable = (
        seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise CallTimeout(f"call took longer than {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def timed_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float | None = None) -> Outcome:
    """Run `fn(*args, **kwargs)` (awaiting it when it is a coroutine function); never raises."""
    start = time.perf_counter()
    try:
        with _alarm(timeout):
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result, timeout))
        return Outcome(result, None, time.perf_counter() - start)
    except asyncio.TimeoutError:
        return Outcome(None, CallTimeout(f"call took longer than {timeout:g}s"), time.perf_counter() - start)
    except Exception as exc:  # the function's own failure is data: counted by type, never fatal
        return Outcome(None, exc, time.perf_counter() - start)


async def _await(awaitable: Any, timeout: float | None) -> Any:
    if timeout:
        return await asyncio.wait_for(awaitable, timeout)
    return await awaitable
