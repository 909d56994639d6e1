"""Run the fake server in a child process and script it over its `/_fake/*` control endpoints."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from typing import Any

__all__ = ["ServerProcess", "spawn"]


class ServerProcess:
    """A `python -m distilgen.testing` child. `add_fault(...)`, `push_replies(...)`,
    `fail_next_job(...)`, `requests()` talk to it over HTTP."""

    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        self.process = process
        self.base_url = base_url

    def _control(self, method: str, what: str, payload: Any = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.base_url.removesuffix("/v1") + "/_fake/" + what, data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def add_fault(self, **fault: Any) -> None:
        self._control("POST", "faults", fault)

    def push_replies(self, *replies: Any) -> None:
        """Each reply: a dict of `Reply` fields ({"arguments": ...}, {"refusal": ...}) or bare arguments."""
        self._control("POST", "chat", {"replies": list(replies)})

    def fail_next_job(self, **plan: Any) -> None:
        self._control("POST", "jobs/fail_next", plan)

    def requests(self) -> list[dict[str, Any]]:
        return list(self._control("GET", "requests")["data"])

    def reset(self) -> None:
        self._control("POST", "reset", {})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def spawn(port: int = 0, *, host: str = "127.0.0.1", extra_args: list[str] | None = None) -> ServerProcess:
    """Start the fake server in a child process; returns once it is listening."""
    cmd = [sys.executable, "-m", "distilgen.testing", "--host", host, "--port", str(port), *(extra_args or [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("http"):
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise RuntimeError(f"fake server did not start ({' '.join(cmd)}): {line}{err}")
    return ServerProcess(proc, line)
