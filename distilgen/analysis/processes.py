"""Per-file work spread over forked worker processes: how many to use, and a map that keeps order.

The scan's indexing and `apply`'s planning of edits both go through `ordered_map`. The results
come back in the order of the arguments, whichever process did the work, so the output never
depends on the number of processes. Workers are forked (they share what the parent has imported)
and only compute: nothing is written to disk from a worker. A worker ignores Ctrl-C (the parent
handles it and stops the pool) and exits on its own once its parent is gone (killed): no process
outlives the command.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
import time
from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

__all__ = ["worker_count", "ordered_map"]

A = TypeVar("A")
R = TypeVar("R")


def worker_count() -> int:
    """2 when a second core is free to use now: with the cores already busy, a second process only
    adds the cost of shipping results between processes (measured in benchmarks/scan.py)."""
    cores = os.cpu_count() or 1
    if cores < 2:
        return 1
    running = _running_now()
    if running is not None:
        return 2 if running <= cores - 1 else 1  # `running` counts this process
    try:  # no instant reading here: the load average, which lags by a minute
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        load = 0.0
    return 2 if load <= cores - 1 else 1


def _running_now(readings: int = 5) -> int | None:
    """How many tasks are runnable on the machine at this moment, this process included: Linux's
    instant count (the fourth field of /proc/loadavg), the median of a few readings a millisecond
    apart; None where there is none. The load average would say what ran during the last minute
    (a command run right after another saw its predecessor's load and used one core of two)."""
    seen: list[int] = []
    try:
        for i in range(readings):
            if i:
                time.sleep(0.001)
            with open("/proc/loadavg", "rb") as fh:
                seen.append(int(fh.read().split()[3].split(b"/")[0]))
    except (OSError, ValueError, IndexError):
        return None
    return sorted(seen)[len(seen) // 2]


def _worker_start(parent: int) -> None:
    """In each worker: leave Ctrl-C to the parent, and follow the parent out if it is killed
    (a forked worker would otherwise wait on its queue forever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="distilgen-orphan-watch", daemon=True).start()


def ordered_map(fn: Callable[[A], R], args: Iterable[A], workers: int, *, ahead: int,
                recheck: Callable[[], int] | None = None, every: float = 0.5) -> Iterator[R]:
    """`map(fn, args)` on `workers` forked processes (in this process when `workers` < 2).

    `args` is pulled lazily, at most `ahead` calls ahead of the result being yielded, so the
    caller can still decide about later items from what it learnt meanwhile. An exception raised
    by `fn` is raised here, at its item (the calls still queued are cancelled); `fn` and its
    arguments and results must pickle. With `recheck`, work started in this process asks it again
    every `every` seconds and moves the rest to that many processes once it says 2 or more: a
    core that was busy at the start (`apply`'s schema child, importing the project) may be free
    long before the end (mcp: after 0.9 s of 6 s of planning)."""
    if workers < 2:
        items = iter(args)
        if recheck is None:
            yield from map(fn, items)
            return
        last = time.monotonic()
        for arg in items:
            yield fn(arg)
            if time.monotonic() - last >= every:
                workers = recheck()
                last = time.monotonic()
                if workers >= 2:
                    break
        peeked = list(itertools.islice(items, 1))
        if not peeked:
            return  # it all ran here: no pool for nothing
        args = itertools.chain(peeked, items)
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork") if sys.platform != "win32" else None
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_start,
                               initargs=(os.getpid(),))
    pending: deque[Future[R]] = deque()
    try:
        for arg in args:
            pending.append(pool.submit(fn, arg))
            if len(pending) >= max(ahead, 1):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
