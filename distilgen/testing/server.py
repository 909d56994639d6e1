"""`FakeOpenAI`: an OpenAI-compatible HTTP server on 127.0.0.1, standard library only.

It speaks the real wire protocol, so the real `openai` client (and any other HTTP client) can be
tested against it with nothing patched. State (files, jobs, scripted replies, faults) lives in
memory on the instance; `srv.requests` records every request for assertions.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .chat import ChatRequest, ChatScript, Reply, RequestError, complete, stream_chunks, validate_request
from .faults import Fault, Faults, error_body
from .store import Files, Jobs

__all__ = ["FakeOpenAI", "Recorded", "serve", "BASE_MODELS"]

BASE_MODELS = (
    "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4o", "gpt-4o-2024-08-06",
    "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-3.5-turbo",
)


@dataclass
class Recorded:
    """One request as the server received it, and the status it answered (None: dropped)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    fault: Fault | None = None
    at: float = field(default_factory=time.monotonic)
    response: bytes = b""
    """The body the server answered with."""

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def response_json(self) -> Any:
        try:
            return json.loads(self.response) if self.response else None
        except ValueError:
            return None


class _Response:
    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(self, status: int, body: bytes, content_type: str = "application/json",
                 headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.content_type, self.headers = status, body, content_type, headers or {}


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(obj).encode(), "application/json", headers)


_DROP = object()


class FakeOpenAI:
    """An OpenAI-compatible server on loopback. Use as a context manager:

        with FakeOpenAI() as srv:
            client = openai.OpenAI(base_url=srv.base_url, api_key="x")
            srv.chat.push({"result": 3})
            srv.faults.add(path="/v1/chat/completions", status=429, retry_after_ms=10)

    `api_key`: when set, other keys get 401. `strict_models`: unknown models get 404
    (`BASE_MODELS`, `srv.models` and fine-tuned models are known)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None,
                 strict_models: bool = False, latency: float = 0.0) -> None:
        self.host = host
        self._port = port
        self.api_key = api_key
        self.strict_models = strict_models
        self.latency = latency
        self.models: set[str] = set(BASE_MODELS)
        self.faults = Faults()
        self.chat = ChatScript()
        self.files = Files()
        self.jobs = Jobs(self.files)
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        """Set on stop: cuts short fault and latency delays, so no handler outlives the server."""

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "FakeOpenAI":
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server((self.host, self._port), _Handler)
        self._httpd.fake = self
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"FakeOpenAI:{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, close every connection (idle keep-alive ones too) and join their threads."""
        if self._httpd is None:
            return
        httpd, self._httpd = self._httpd, None
        self._stopping.set()
        httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        httpd.server_close()
        httpd.close_connections(timeout=5)

    close = stop

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        """What to pass as `openai.OpenAI(base_url=...)` or OPENAI_BASE_URL."""
        return self.url + "/v1"

    def client(self, **kwargs: Any) -> Any:
        """A real `openai.OpenAI` pointed at this server."""
        import openai

        kwargs.setdefault("api_key", self.api_key or "sk-fake")
        return openai.OpenAI(base_url=self.base_url, **kwargs)

    def async_client(self, **kwargs: Any) -> Any:
        import openai

        kwargs.setdefault("api_key", self.api_key or "sk-fake")
        return openai.AsyncOpenAI(base_url=self.base_url, **kwargs)

    def reset(self) -> None:
        """Forget requests, faults and scripted replies (files and jobs stay)."""
        self.faults.clear()
        self.chat.clear()
        with self._lock:
            self.requests.clear()

    def requests_to(self, path: str, method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests
                    if r.path == path and (method is None or r.method == method.upper())]

    def known_models(self) -> list[str]:
        return sorted(self.models | set(self.jobs.fine_tuned_models))

    # -- request handling (called on server threads) ---------------------------------------
    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def _handle(self, rec: Recorded) -> _Response | object:
        if rec.path.startswith("/_fake/"):
            return self._control(rec)
        fault = self.faults.take(rec.method, rec.path)
        rec.fault = fault
        if self.latency:
            self._stopping.wait(self.latency)
        if fault is not None and fault.delay:
            self._stopping.wait(fault.delay)
        if fault is not None and not fault.after_effect and (fault.drop or fault.status or fault.body is not None):
            return self._fault_response(fault)
        try:
            if fault is not None and fault.reply is not None and rec.path.rstrip("/") == "/v1/chat/completions":
                response = self._chat(rec, fault.reply)
            else:
                response = self._route(rec)
        except RequestError as exc:
            response = _json(exc.status, error_body(exc.status, exc.message, param=exc.param, code=exc.code))
        if fault is not None and fault.delay_after:
            self._stopping.wait(fault.delay_after)
        if fault is not None and fault.after_effect and (fault.drop or fault.status or fault.body is not None):
            return self._fault_response(fault)
        return response

    def _fault_response(self, fault: Fault) -> _Response | object:
        if fault.drop:
            return _DROP
        body, ctype = fault.response_body()
        return _Response(fault.status or 200, body, ctype, fault.response_headers())

    def _check_auth(self, rec: Recorded) -> None:
        if self.api_key is None:
            return
        given = rec.headers.get("authorization", "")
        if given != f"Bearer {self.api_key}":
            key = given.removeprefix("Bearer ")
            shown = (key[:3] + "*" * 4 + key[-4:]) if len(key) > 8 else "****"
            raise RequestError(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                               "https://platform.openai.com/account/api-keys.", code="invalid_api_key")

    def _check_model(self, model: Any) -> None:
        if self.strict_models and model not in self.known_models():
            raise RequestError(404, f"The model `{model}` does not exist or you do not have access to it.",
                               code="model_not_found")

    def _route(self, rec: Recorded) -> _Response:
        self._check_auth(rec)
        m, p, q = rec.method, rec.path.rstrip("/"), rec.query

        def one(name: str, default: str | None = None) -> str | None:
            return q.get(name, [default])[0]

        def limit(default: int = 20) -> int:
            raw = one("limit", str(default))
            try:
                value = int(raw or default)
            except ValueError:
                raise RequestError(400, f"Invalid 'limit': {raw!r} is not an integer", param="limit") from None
            if not 1 <= value <= 10000:
                raise RequestError(400, f"Invalid 'limit': {value} must be between 1 and 10000", param="limit")
            return value

        if p == "/v1/chat/completions" and m == "POST":
            return self._chat(rec)
        if p == "/v1/models" and m == "GET":
            return _json(200, {"object": "list", "data": [self._model(x) for x in self.known_models()]})
        if (mm := re.fullmatch(r"/v1/models/(.+)", p)) and m == "GET":
            if mm.group(1) not in self.known_models():
                raise RequestError(404, f"The model '{mm.group(1)}' does not exist", param="model", code="model_not_found")
            return _json(200, self._model(mm.group(1)))
        if p == "/v1/files" and m == "POST":
            return _json(200, self._upload(rec))
        if p == "/v1/files" and m == "GET":
            return _json(200, self.files.list(one("purpose"), one("after"), limit(10000), one("order", "desc") or "desc"))
        if mm := re.fullmatch(r"/v1/files/([^/]+)", p):
            if m == "GET":
                return _json(200, self.files.get(mm.group(1)))
            if m == "DELETE":
                return _json(200, self.files.delete(mm.group(1)))
        if (mm := re.fullmatch(r"/v1/files/([^/]+)/content", p)) and m == "GET":
            return _Response(200, self.files.content(mm.group(1)), "application/octet-stream")
        if p == "/v1/fine_tuning/jobs" and m == "POST":
            body = rec.json
            if isinstance(body, dict):
                self._check_model(body.get("model"))
            return _json(200, self.jobs.create(body))
        if p == "/v1/fine_tuning/jobs" and m == "GET":
            meta = {k[len("metadata["):-1]: v[0] for k, v in q.items() if k.startswith("metadata[") and k.endswith("]")}
            return _json(200, self.jobs.list(one("after"), limit(), meta or None))
        if (mm := re.fullmatch(r"/v1/fine_tuning/jobs/([^/]+)", p)) and m == "GET":
            return _json(200, self.jobs.retrieve(mm.group(1)))
        if (mm := re.fullmatch(r"/v1/fine_tuning/jobs/([^/]+)/cancel", p)) and m == "POST":
            return _json(200, self.jobs.cancel(mm.group(1)))
        if (mm := re.fullmatch(r"/v1/fine_tuning/jobs/([^/]+)/events", p)) and m == "GET":
            return _json(200, self.jobs.list_events(mm.group(1), one("after"), limit()))
        if (mm := re.fullmatch(r"/v1/fine_tuning/jobs/([^/]+)/checkpoints", p)) and m == "GET":
            return _json(200, self.jobs.list_checkpoints(mm.group(1), one("after"), limit(10)))
        raise RequestError(404, f"Invalid URL ({m} {rec.path})", code="unknown_url")

    @staticmethod
    def _model(model_id: str) -> dict[str, Any]:
        owner = "user-distilgen-fake" if model_id.startswith("ft:") else "system"
        return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": owner}

    def _chat(self, rec: Recorded, forced: Any = None) -> _Response:
        self._check_auth(rec)
        body = rec.json
        validate_request(body)
        self._check_model(body["model"])
        request = ChatRequest(body=body, headers=rec.headers)
        if forced is None:
            reply = self.chat.next_reply(request)
        else:
            self.chat.seen.append(request)
            reply = self.chat.coerce(forced, request)
        completion = complete(request, reply)
        if not body.get("stream"):
            return _json(200, completion)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in stream_chunks(completion, include_usage))
        return _Response(200, events + b"data: [DONE]\n\n", "text/event-stream")

    def _upload(self, rec: Recorded) -> dict[str, Any]:
        ctype = rec.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise RequestError(400, "Expected a multipart/form-data upload with 'file' and 'purpose'.", param="file")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + rec.body)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
        if "file" not in fields:
            raise RequestError(400, "Missing required parameter: 'file'.", param="file")
        purpose = fields.get("purpose", (None, b""))[1].decode()
        filename, content = fields["file"]
        return self.files.create(filename or "upload", content, purpose)

    # -- control endpoints for a server in another process ---------------------------------
    def _control(self, rec: Recorded) -> _Response:
        body = rec.json if rec.body else {}
        what = rec.path[len("/_fake/"):]
        if what == "faults" and rec.method == "POST":
            if isinstance(body.get("reply"), dict):
                body["reply"] = Reply(**body["reply"])
            fault = self.faults.add(**body)
            return _json(200, {"ok": True, "path": fault.path})
        if what == "chat" and rec.method == "POST":
            for item in body.get("replies", []):
                self.chat.push(Reply(**item) if isinstance(item, dict) and set(item) <= set(Reply.__dataclass_fields__) else item)
            return _json(200, {"ok": True, "pending": self.chat.pending})
        if what == "jobs/fail_next" and rec.method == "POST":
            self.jobs.fail_next(**body)
            return _json(200, {"ok": True})
        if what == "requests" and rec.method == "GET":
            with self._lock:
                data = [{"method": r.method, "path": r.path, "status": r.status, "body": r.json}
                        for r in self.requests if not r.path.startswith("/_fake/")]
            return _json(200, {"data": data})
        if what == "reset" and rec.method == "POST":
            self.reset()
            return _json(200, {"ok": True})
        return _json(404, error_body(404, f"unknown control endpoint {rec.method} {rec.path}"))


class _Server(ThreadingHTTPServer):
    """Tracks each connection and its handler thread: a keep-alive connection the client left idle
    keeps its thread blocked on a read, so stopping must shut those sockets down and join them."""

    daemon_threads = True
    allow_reuse_address = True
    fake: FakeOpenAI
    request_queue_size = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._conn_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        # registered before the thread starts, so a stop right after the accept still sees it
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address), daemon=True)
        with self._conn_lock:
            self._connections[request] = thread
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._connections.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up is no error of ours
            super().handle_error(request, client_address)

    def close_connections(self, timeout: float) -> None:
        with self._conn_lock:
            open_now = list(self._connections.items())
        for sock, _ in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a handler blocked reading the next request
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for _, thread in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client pools connections
    server_version = "distilgen-fake-openai"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr logging
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        rec = Recorded(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
        )
        if not rec.path.startswith("/_fake/"):
            fake._record(rec)
        try:
            response = fake._handle(rec)
        except Exception as exc:  # a bug in the fake must still answer, as a 500 naming it
            response = _json(500, error_body(500, f"fake server error: {type(exc).__name__}: {exc}"))
        if response is _DROP:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        assert isinstance(response, _Response)
        rec.status = response.status
        rec.response = response.body
        self._send(response)

    def _send(self, r: _Response) -> None:
        reason = self.responses.get(r.status, ("",))[0]
        head = [f"HTTP/1.1 {r.status} {reason}", f"Content-Type: {r.content_type}",
                f"Content-Length: {len(r.body)}", "x-request-id: req_" + format(id(r), "x")]
        head += [f"{k}: {v}" for k, v in r.headers.items()]
        if self.close_connection or self.headers.get("connection", "").lower() == "close":
            head.append("Connection: close")
            self.close_connection = True
        # One write for head and body: two small writes stall on Nagle + delayed ACK.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + r.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve


def serve(host: str = "127.0.0.1", port: int = 0, *, announce: Callable[[str], None] | None = None,
          **options: Any) -> None:
    """Run a FakeOpenAI in the foreground until interrupted; `announce(base_url)` once listening
    (default: print it on its own line, flushed, for a parent process to read)."""
    stop = threading.Event()
    try:
        import signal

        # SIGINT explicitly too: a parent that ignores it (a background job) would leave SIG_IGN.
        # Installed before the URL is announced: a parent may signal as soon as it reads it.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    except ValueError:  # not the main thread
        pass
    srv = FakeOpenAI(host, port, **options).start()
    (announce or (lambda url: print(url, flush=True)))(srv.base_url)
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
        sys.stdout.flush()
