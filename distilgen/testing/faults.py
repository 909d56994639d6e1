"""Per-test fault script for the fake server: which request fails, how, and how many times."""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "Faults", "error_body", "ERROR_TYPES"]

# The `type` and `code` OpenAI puts in the error body for each status.
ERROR_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "not_found"),
    408: ("timeout", None),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "service_unavailable"),
}


def error_body(status: int, message: str | None = None, *, type: str | None = None,
               param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The `{"error": {message, type, param, code}}` body OpenAI sends with a non-2xx status."""
    default_type, default_code = ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return {
        "error": {
            "message": message or f"fake server: HTTP {status}",
            "type": type or default_type,
            "param": param,
            "code": code if code is not None else default_code,
        }
    }


@dataclass
class Fault:
    """One scripted failure. Matches requests by `method` and `path` (an fnmatch pattern).

    The first `skip` matching requests (whichever fault answered them) are left alone; then the next
    `times` matching requests (None: all of them) get the fault. When several faults apply to a
    request, the one added first wins. What the fault does:
    - `status`: answer with this status and an OpenAI error body (`message`, `type`, `code`, `param`);
    - `drop`: close the connection without answering;
    - `body` / `content_type`: answer with this raw body instead (e.g. a 200 HTML page);
    - `delay`: sleep this many seconds before handling the request (a slow server: a job is made only
      after the delay; with no status, then answer normally);
    - `delay_after`: sleep this many seconds after the real handler ran, before answering (the job
      exists while the answer is still on its way);
    - `after_effect`: run the real handler first (a job really gets created), then answer with the fault;
    - `reply` (chat completions only): answer 200 with this `Reply` (malformed JSON, a refusal,
      `finish_reason="length"`, ...) instead of the scripted or generated one;
    - `headers`, `retry_after_ms`, `retry_after`, `should_retry`: extra response headers.
    """

    path: str = "*"
    method: str | None = None
    status: int | None = None
    times: int | None = 1
    skip: int = 0
    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after_ms: int | None = None
    retry_after: float | None = None
    should_retry: bool | None = None
    drop: bool = False
    body: bytes | str | None = None
    content_type: str = "application/json"
    delay: float = 0.0
    delay_after: float = 0.0
    after_effect: bool = False
    reply: Any = None
    seen: int = 0
    """Matching requests seen so far (skipped ones included)."""
    hits: int = 0
    """Requests this fault was applied to."""

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path) or path == self.path

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def response_headers(self) -> dict[str, str]:
        out = dict(self.headers)
        if self.retry_after_ms is not None:
            out["retry-after-ms"] = str(self.retry_after_ms)
        if self.retry_after is not None:
            out["retry-after"] = str(self.retry_after)
        if self.should_retry is not None:
            out["x-should-retry"] = "true" if self.should_retry else "false"
        return out

    def response_body(self) -> tuple[bytes, str]:
        if self.body is not None:
            raw = self.body.encode() if isinstance(self.body, str) else self.body
            return raw, self.content_type
        import json

        body = error_body(self.status or 500, self.message, type=self.type, param=self.param, code=self.code)
        return json.dumps(body).encode(), "application/json"


class Faults:
    """The server's fault script: `srv.faults.add(path=..., status=502, after_effect=True)`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, path: str = "*", method: str | None = None, status: int | None = None, **kw: Any) -> Fault:
        if status is None and not kw.get("drop") and kw.get("body") is None and not kw.get("delay") \
                and not kw.get("delay_after") and kw.get("reply") is None:
            raise ValueError("Fault needs one of status=, drop=True, body=, reply=, delay= or delay_after=")
        fault = Fault(path=path, method=method, status=status, **kw)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __iter__(self):  # type: ignore[no-untyped-def]
        with self._lock:
            return iter(list(self._faults))

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault to apply to this request, counting it; None when the request goes through."""
        chosen = None
        with self._lock:
            # every live matching fault counts the request (so `skip` counts requests, whichever
            # fault answered them); the first one past its skip is applied
            for fault in self._faults:
                if fault.exhausted or not fault.matches(method, path):
                    continue
                fault.seen += 1
                if chosen is None and fault.seen > fault.skip:
                    fault.hits += 1
                    chosen = fault
        return chosen
