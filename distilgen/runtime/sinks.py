"""Where examples go: an append-only JSONL file, or the user's logging handlers.

`JsonlSink` writes each line with ONE `os.write` on an `O_APPEND` descriptor, so lines from many
threads and processes never interleave. One case the kernel does not cover: SIGKILL can cut a
write short between pages (Linux checks for fatal signals while copying), leaving a torn tail.
So each write holds an exclusive `flock` and first checks that the file ends in a newline; a torn
tail left by a killed writer is moved to `<file>.torn` (nothing is silently lost) before the
next line goes in. Cost: a few cheap syscalls per line.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Protocol

from .. import _json
from ..errors import DistilgenError
from .diagnostics import log


try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: appends stay atomic, torn tails are not repaired
    fcntl = None  # type: ignore[assignment]

__all__ = ["Sink", "JsonlSink", "LoggingSink", "SinkError", "repair_tail"]


class SinkError(DistilgenError, OSError):
    """A line could not be written whole."""


class Sink(Protocol):
    def write(self, line: str) -> None: ...


class JsonlSink:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._pid = -1
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    def _open(self) -> int:
        # reopen after fork: the child gets its own descriptor (same O_APPEND semantics)
        pid = os.getpid()
        if self._fd is None or self._pid != pid:
            with self._lock:
                if self._fd is None or self._pid != pid:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
                    self._pid = pid
                    self._write_lock = threading.Lock()  # a fork may have copied it held
        return self._fd

    def write(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        fd = self._open()
        # flock excludes other processes; threads share the descriptor, so they need the mutex
        self._write_lock.acquire()
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                _repair(fd, size, self.path)
            written = os.write(fd, data)
        finally:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._write_lock.release()
        if written != len(data):  # only on a full disk: say so rather than pretend
            raise SinkError(f"{self.path}: wrote {written} of {len(data)} bytes (disk full?)")

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"


def _repair(fd: int, size: int, path: Path) -> None:
    """Fix a file whose last line has no newline (the lock is held by the caller)."""
    start = size
    while start > 0:  # find the start of the last line
        chunk_start = max(0, start - 65536)
        chunk = os.pread(fd, start - chunk_start, chunk_start)
        nl = chunk.rfind(b"\n")
        if nl >= 0:
            start = chunk_start + nl + 1
            break
        start = chunk_start
    tail = os.pread(fd, size - start, start)
    try:
        _json.loads(tail)
    except ValueError:
        # a torn line from a killed writer: keep its bytes aside, cut it from the dataset
        with open(str(path) + ".torn", "ab") as side:
            side.write(tail + b"\n")
        os.ftruncate(fd, start)
        log.warning("%s: removed a torn last line (%d bytes, left by a killed writer) to %s.torn", path, len(tail), path)
    else:  # a whole line that only lacks its newline (e.g. edited by hand): keep it
        os.write(fd, b"\n")


def repair_tail(path: str | os.PathLike[str]) -> None:
    """Make `path` end with a whole line (what the next write would do), for readers."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            _repair(fd, size, Path(path))
    finally:
        os.close(fd)


_in_capture = threading.local()


class LoggingSink:
    """Writes lines as INFO records of a private, non-propagating logger (instructor's contract).

    The logger's level is INFO and it never propagates, so `logging.basicConfig` in the user's
    program neither echoes dataset lines to the console nor filters them out. A handler that fails
    inside `emit` calls `handleError`; we catch that so the capture can be counted as skipped.
    """

    def __init__(self, logger_name: str, handlers: list[logging.Handler]) -> None:
        self.logger = logging.getLogger(logger_name)
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        for h in handlers:
            if h not in self.logger.handlers:
                self.logger.addHandler(h)
                _watch_errors(h)

    def write(self, line: str) -> None:
        logger = self.logger
        if logger.filters or not logger.isEnabledFor(logging.INFO):
            self._through_logging(line)
            return
        record: logging.LogRecord | None = None
        for h in logger.handlers:
            if logging.INFO < h.level:
                continue
            if type(h) in _PLAIN_HANDLERS and h.formatter is None and not h.filters and h.stream is not None:  # type: ignore[attr-defined]
                # exactly what the handler would write with its default '%(message)s' format,
                # without building a LogRecord: the bulk of logging's per-line cost
                with h.lock:  # type: ignore[union-attr]
                    h.stream.write(line + h.terminator)  # type: ignore[attr-defined]
                    h.stream.flush()  # type: ignore[attr-defined]
                continue
            if record is None:
                record = logger.makeRecord(logger.name, logging.INFO, "distilgen", 0, line, (), None)
            self._handle(h, record)

    def _through_logging(self, line: str) -> None:
        self._handle(self.logger, self.logger.makeRecord(self.logger.name, logging.INFO, "distilgen", 0, line, (), None))

    @staticmethod
    def _handle(target: logging.Logger | logging.Handler, record: logging.LogRecord) -> None:
        _in_capture.error = None
        _in_capture.active = True
        try:
            target.handle(record)
        finally:
            _in_capture.active = False
        err = _in_capture.error
        if err is not None:
            _in_capture.error = None
            raise err


_PLAIN_HANDLERS = (logging.FileHandler, logging.StreamHandler)


def _watch_errors(handler: logging.Handler) -> None:
    if getattr(handler, "_distilgen_watched", False):
        return
    original = handler.handleError

    def handle_error(record: logging.LogRecord) -> None:
        if getattr(_in_capture, "active", False):
            import sys

            exc = sys.exc_info()[1]
            _in_capture.error = exc if isinstance(exc, Exception) else SinkError(f"{handler!r} failed")
            return
        original(record)

    handler.handleError = handle_error  # type: ignore[method-assign]
    handler._distilgen_watched = True  # type: ignore[attr-defined]
