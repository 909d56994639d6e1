"""THE owner of `openai` clients and of what their failures mean, for dispatch, shadow, eval, jobs
and files: `resolve_base_url` (where requests go), `openai_client` (the one factory),
`classify_openai_error` (the one reading of an openai exception), `ClientProvider` (dispatch's lazy
clients) and the `Endpoint*` errors dispatch and eval raise. `ops/client.py` builds its `ApiError`
lines from the same classification.

Clients are built lazily: capture never needs a key, and dispatch needs one only when a model is
actually called. Endpoint: an explicit `--base-url` or a user's client wins; `local:NAME` (or an
alias of one) goes to `config.local_base_url` (`distilgen serve`); otherwise OPENAI_BASE_URL, then
`[tool.distilgen] base-url`, then OpenAI's. Names in `[tool.distilgen.models]` are aliases for ids.
openai is imported only inside functions: `import distilgen` never loads it.
"""

from __future__ import annotations

import os
import re
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import DistilgenError

if TYPE_CHECKING:  # asyncio (~30 ms) is imported by async_ only: `import distilgen` stays fast
    import asyncio

__all__ = [
    "ClientProvider",
    "EndpointError",
    "EndpointAuthError",
    "ModelNotFoundError",
    "RateLimitedError",
    "EndpointServerError",
    "EndpointTimeoutError",
    "EndpointConnectionError",
    "EndpointResponseError",
    "endpoint_error",
    "OpenAIFailure",
    "classify_openai_error",
    "resolve_base_url",
    "openai_client",
    "is_local_model",
    "redact_url",
    "redact_urls_in",
    "LOCAL_PREFIX",
]

LOCAL_PREFIX = "local:"

_SECRET_PARAMS = ("key", "token", "secret", "password", "passwd", "auth", "sig", "signature", "credential")


def redact_url(url: object) -> str:
    """`url` as it may be printed: user-info credentials (`http://user:token@host`) and the values of
    query parameters that look like secrets (`?api_key=...`) become `***`. Every message that shows an
    endpoint goes through this one function."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = (f"{user}:***" if has_password and user else "***") + "@" + host
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(any(w in k.lower() for w in _SECRET_PARAMS) for k, _ in pairs):
            query = urlencode([(k, "***" if any(w in k.lower() for w in _SECRET_PARAMS) else v) for k, v in pairs],
                              safe="*")
    if netloc == parts.netloc and query == parts.query:
        return text
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_urls_in(text: str) -> str:
    """`text` with every URL in it passed through `redact_url` (for messages that quote an exception)."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text) if "://" in text else text


class EndpointError(DistilgenError):
    """The model endpoint failed (after the openai client's own retries). `original` is the
    openai exception, kept as an attribute rather than a chained traceback."""

    def __init__(self, message: str, *, function_id: str = "", model: str = "", base_url: str = "",
                 status: int | None = None, code: str | None = None, original: BaseException | None = None) -> None:
        base_url = redact_url(base_url) if base_url else base_url
        self.function_id, self.model, self.base_url = function_id, model, base_url
        self.status, self.code, self.original = status, code, original
        where = f"{function_id} (model {model} at {base_url})" if function_id else f"model {model} at {base_url}"
        super().__init__(redact_urls_in(f"{where}: {message}"))


class EndpointAuthError(EndpointError):
    """No API key, or the endpoint rejected it (401/403)."""


class ModelNotFoundError(EndpointError):
    """The endpoint does not know the model (404)."""


class RateLimitedError(EndpointError):
    """Still rate limited (429) after the client's retries."""


class EndpointServerError(EndpointError):
    """The endpoint kept failing (5xx) after the client's retries."""


class EndpointTimeoutError(EndpointError):
    """The request timed out (after the client's retries)."""


class EndpointConnectionError(EndpointError):
    """The endpoint could not be reached, or dropped the connection."""


class EndpointResponseError(EndpointError):
    """The endpoint answered, but not with a chat completion (an HTML page, a bad request, ...)."""


@dataclass(frozen=True)
class OpenAIFailure:
    """What an exception raised by the openai client means (THE reading, for every caller)."""

    kind: str
    """`auth` (401/403), `not_found` (404), `rate_limited` (429), `server` (5xx), `refused` (another
    status), `timeout`, `connection`, `no_key` (no API key configured), `other`."""
    detail: str
    """The service's own message (its `error.message`), on one line; else the exception's text."""
    status: int | None = None
    code: str | None = None
    param: str | None = None
    cause: BaseException | None = None
    """For `connection`: the network error underneath."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())[:300]


def classify_openai_error(exc: BaseException) -> OpenAIFailure:
    import openai

    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            body = body["error"]
        message = body.get("message") if isinstance(body, dict) else None
        detail = message if isinstance(message, str) and message else _one_line(exc.message)
        status = exc.status_code
        kind = ("auth" if status in (401, 403) else "not_found" if status == 404 else "rate_limited" if status == 429
                else "server" if status >= 500 else "refused")
        return OpenAIFailure(kind, detail, status, getattr(exc, "code", None), getattr(exc, "param", None) or None)
    if isinstance(exc, openai.APITimeoutError):
        return OpenAIFailure("timeout", "the request timed out")
    if isinstance(exc, openai.APIConnectionError):
        return OpenAIFailure("connection", _one_line(exc), cause=exc.__cause__ or exc.__context__)
    if isinstance(exc, openai.OpenAIError) and "api_key" in str(exc):
        return OpenAIFailure("no_key", _one_line(exc))
    return OpenAIFailure("other", _one_line(getattr(exc, "message", exc)), getattr(exc, "status_code", None))


def endpoint_error(exc: BaseException, *, function_id: str, model: str, base_url: str,
                   retries: int | None = None) -> EndpointError:
    """The distilgen error for an exception raised by the openai client (dispatch and eval)."""
    f = classify_openai_error(exc)
    kw: dict[str, Any] = {"function_id": function_id, "model": model, "base_url": base_url, "original": exc,
                          "status": f.status, "code": f.code}
    after = f" (after {retries} automatic retr{'y' if retries == 1 else 'ies'})" if retries else ""
    if f.kind == "auth":
        return EndpointAuthError(f"the endpoint rejected the API key or access ({f.status}): {f.detail}. "
                                 "Check OPENAI_API_KEY or the client passed as Instructions(openai_client=...)", **kw)
    if f.kind == "not_found":
        return ModelNotFoundError(f"not found (404): {f.detail}. Check the model id (`distilgen jobs list` shows "
                                  "fine-tuned models) and the base URL", **kw)
    if f.kind == "rate_limited":
        return RateLimitedError(f"rate limited (429){after}: {f.detail}", **kw)
    if f.kind == "server":
        return EndpointServerError(f"server error ({f.status}){after}: {f.detail}", **kw)
    if f.kind == "refused":
        param = f" (param {f.param})" if f.param else ""
        return EndpointResponseError(f"the endpoint refused the request ({f.status}){param}: {f.detail}", **kw)
    if f.kind == "timeout":
        return EndpointTimeoutError(f"timed out{after}; raise the client's timeout or check the server", **kw)
    if f.kind == "connection":
        why = f"{type(f.cause).__name__}: {f.cause}" if f.cause else f.detail
        return EndpointConnectionError(f"cannot reach the endpoint{after}: {why}", **kw)
    if f.kind == "no_key":
        return EndpointAuthError("no API key: set OPENAI_API_KEY, or pass Instructions(openai_client=openai.OpenAI(...))", **kw)
    return EndpointResponseError(f"{type(exc).__name__}: {exc}", **kw)


def is_local_model(model: str, config: Any) -> bool:
    """`local:NAME`, or a `[tool.distilgen.models]` alias of one (fine-tuned `ft:` ids never are)."""
    if model.startswith(LOCAL_PREFIX):
        return True
    if model.startswith("ft:") or config is None:
        return False
    return str(config.models.get(model, "")).startswith(LOCAL_PREFIX)


def resolve_base_url(model: str = "", *, explicit: str | None = None, config: Any = None,
                     client: Any = None) -> str | None:
    """THE rule for where requests for `model` go: `explicit` (`--base-url`) wins; a local model goes
    to `config.local_base_url`; then the user's `client`'s own URL, OPENAI_BASE_URL, `[tool.distilgen]
    base-url`. None: openai's default (https://api.openai.com/v1)."""
    if explicit:
        return explicit
    if model and is_local_model(model, config):
        if config is None:
            from ..config import Config

            config = Config(root=Path("."))  # the defaults: the local server `distilgen serve` starts
        return str(config.local_base_url)
    if client is not None:
        return str(client.base_url)
    return os.environ.get("OPENAI_BASE_URL") or (getattr(config, "base_url", None) if config is not None else None)


def openai_client(*, base_url: str | None, api_key: str | None, asynchronous: bool = False, **options: Any) -> Any:
    """THE factory: an `openai.OpenAI` (or `AsyncOpenAI`); options that are None are left to openai's
    defaults (a None key or URL: openai reads OPENAI_API_KEY / OPENAI_BASE_URL itself)."""
    import openai

    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    given = {"base_url": base_url, "api_key": api_key, **options}
    return cls(**{k: v for k, v in given.items() if v is not None})


class ClientProvider:
    """Hands out `openai.OpenAI` / `openai.AsyncOpenAI` clients for a model id, built on first use."""

    def __init__(self, client: Any = None, async_client: Any = None, config: Any = None) -> None:
        self._client = client
        self._async_client = async_client
        self._config = config
        self._lock = threading.Lock()
        self._sync_built: dict[str, Any] = {}
        # An AsyncOpenAI's connection pool belongs to one event loop: build one per loop.
        self._async_built: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()

    # -- configuration ---------------------------------------------------------------------
    @property
    def config(self) -> Any:
        if self._config is None:
            from ..config import load_config

            self._config = load_config()
        return self._config

    def model_id(self, model: str) -> str:
        """The id to send: an alias from `[tool.distilgen.models]` resolved, `local:` stripped."""
        if not model.startswith((LOCAL_PREFIX, "ft:")):
            model = self.config.models.get(model, model)
        return model[len(LOCAL_PREFIX):] if model.startswith(LOCAL_PREFIX) else model

    def is_local(self, model: str) -> bool:
        return is_local_model(model, self.config)

    def base_url(self, model: str) -> str:
        """Where requests for `model` go (for messages)."""
        return resolve_base_url(model, config=self.config, client=self._client or self._async_client) or \
            "https://api.openai.com/v1"

    # -- clients ---------------------------------------------------------------------------
    def _options(self, model: str) -> dict[str, Any]:
        base_url = resolve_base_url(model, config=self.config, client=self._client or self._async_client)
        if self.is_local(model):
            # llama.cpp / vLLM servers accept any key; OPENAI_API_KEY still wins when set
            return {"base_url": base_url, "api_key": os.environ.get("OPENAI_API_KEY") or "local"}
        template = self._client or self._async_client
        if template is not None:  # the other flavour of the user's client: same endpoint and settings
            return {"base_url": base_url, "api_key": template.api_key, "organization": template.organization,
                    "project": getattr(template, "project", None), "max_retries": template.max_retries,
                    "timeout": template.timeout}
        return {"base_url": base_url, "api_key": None}

    def sync(self, model: str = "") -> Any:
        """The `openai.OpenAI` for `model` (the user's client unless the model is `local:`)."""
        local = self.is_local(model) if model else False
        if self._client is not None and not local:
            return self._client
        key = "local" if local else "default"
        with self._lock:
            if key not in self._sync_built:
                self._sync_built[key] = openai_client(**self._options(model))
            return self._sync_built[key]

    def async_(self, model: str = "", loop: asyncio.AbstractEventLoop | None = None) -> Any:
        """The `openai.AsyncOpenAI` for `model`, for `loop` (default: the running event loop)."""
        local = self.is_local(model) if model else False
        if self._async_client is not None and not local:
            return self._async_client
        key = "local" if local else "default"
        if loop is None:
            import asyncio

            loop = asyncio.get_running_loop()
        with self._lock:
            per_loop = self._async_built.setdefault(loop, {})
            if key not in per_loop:
                client = openai_client(asynchronous=True, **self._options(model))
                per_loop[key] = client
                per_loop[key + ":closer"] = _close_at_loop_shutdown(loop, client, self._forget)
            return per_loop[key]

    def _forget(self, loop: asyncio.AbstractEventLoop) -> None:
        # the clients refer to their loop, so the weak key alone would never let it go
        with self._lock:
            self._async_built.pop(loop, None)


async def _closing(client: Any, loop: asyncio.AbstractEventLoop, forget: Callable[[Any], None]) -> Any:
    try:
        yield
    finally:
        try:
            await client.close()
        finally:
            forget(loop)


def _close_at_loop_shutdown(loop: asyncio.AbstractEventLoop, client: Any, forget: Callable[[Any], None]) -> Any:
    """Close `client` when `loop` finalizes its async generators, which `asyncio.run` does before
    closing the loop: a client built for one loop would otherwise leak its sockets when that loop
    ends (one per `asyncio.run` of a dispatched function). Returns the generator to keep alive."""
    import asyncio

    closer = _closing(client, loop, forget)

    def start() -> None:
        # the first step registers the generator with the loop (its asyncgen hooks are set in the
        # loop's own thread) and stops at the `yield`
        try:
            closer.asend(None).send(None)
        except StopIteration:
            pass

    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        start()
    else:  # asked from a worker thread (the dispatcher warms up off the loop)
        loop.call_soon_threadsafe(start)
    return closer
