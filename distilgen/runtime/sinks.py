"""Where examples go: an append-only JSONL file, or the user's logging handlers.

`JsonlSink` writes each line with ONE `os.write` on an `O_APPEND` descriptor: the kernel appends
the whole buffer atomically at the end of a regular file, so lines from many threads and processes
never interleave or tear, and a process killed mid-run leaves only whole lines.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Protocol

__all__ = ["Sink", "JsonlSink", "LoggingSink", "SinkError"]


class SinkError(OSError):
    """A line could not be written whole."""


class Sink(Protocol):
    def write(self, line: str) -> None: ...


class JsonlSink:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._pid = -1
        self._lock = threading.Lock()

    def _open(self) -> int:
        # reopen after fork: the child gets its own descriptor (same O_APPEND semantics)
        pid = os.getpid()
        if self._fd is None or self._pid != pid:
            with self._lock:
                if self._fd is None or self._pid != pid:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
                    self._pid = pid
        return self._fd  # type: ignore[return-value]

    def write(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        written = os.write(self._open(), data)
        if written != len(data):  # only on a full disk: say so rather than pretend
            raise SinkError(f"{self.path}: wrote {written} of {len(data)} bytes (disk full?)")

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"


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
        _in_capture.error = None
        _in_capture.active = True
        try:
            self.logger.info(line)
        finally:
            _in_capture.active = False
        err = _in_capture.error
        if err is not None:
            _in_capture.error = None
            raise err


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
