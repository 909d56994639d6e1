"""An `openai` client that counts what each dispatched call cost: requests, re-asks, HTTP retries, tokens.

It is the real client over HTTP; the counting is an httpx response hook (a public httpx feature),
so the dispatcher under evaluation runs unmodified.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any

from ..runtime.clients import openai_client

__all__ = ["CallMeter", "MeteredAsyncClients", "metered_client", "metered_async_client", "resolve_base_url"]


@dataclass
class CallMeter:
    """Responses seen since the last `reset()` (one evaluated call)."""

    ok: int = 0
    """200 answers: the first one is the answer, each further one a re-ask after an invalid answer."""
    failed: int = 0
    """Non-200 answers (each one retried by the client or surfaced as an API error)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def reset(self) -> None:
        self.ok = self.failed = self.prompt_tokens = self.completion_tokens = 0


def resolve_base_url(model: str, base_url: str | None, config: Any) -> str | None:
    """`--base-url` wins; `local:NAME` models (and aliases of them) go to the configured local server;
    else env/config: THE rule, `runtime.clients.resolve_base_url`."""
    from ..runtime.clients import resolve_base_url as resolve

    return resolve(model, explicit=base_url, config=config)


def metered_client(base_url: str | None, api_key: str | None = None, *, timeout: float = 120.0,
                   max_retries: int = 2, meter: CallMeter | None = None) -> tuple[Any, CallMeter]:
    """(openai.OpenAI, meter): every chat completion response is counted in `meter`."""
    import openai

    meter = meter if meter is not None else CallMeter()
    lock = threading.Lock()

    def on_response(response: Any) -> None:
        if not str(response.request.url).rstrip("/").endswith("/chat/completions"):
            return
        if response.status_code != 200:
            with lock:
                meter.failed += 1
            return
        response.read()
        with lock:
            _add_usage(meter, response.content)

    # openai's own httpx client class (its defaults, plus our hook): no direct import of the httpx
    # package openai happens to depend on (httpx2 today)
    http = openai.DefaultHttpxClient(event_hooks={"response": [on_response]}, timeout=timeout)
    client = openai_client(base_url=base_url, api_key=_key(api_key), http_client=http, max_retries=max_retries)
    return client, meter


def metered_async_client(base_url: str | None, meter: CallMeter, api_key: str | None = None, *,
                         timeout: float = 120.0, max_retries: int = 2) -> Any:
    """An `openai.AsyncOpenAI` counting into the same `meter` (for `async def` functions).

    Its connections belong to the running event loop: `await client.close()` before that loop ends
    (MeteredAsyncClients does), or they leak as ResourceWarnings."""
    import openai

    async def on_response(response: Any) -> None:
        if not str(response.request.url).rstrip("/").endswith("/chat/completions"):
            return
        if response.status_code != 200:
            meter.failed += 1
            return
        await response.aread()
        _add_usage(meter, response.content)

    http = openai.DefaultAsyncHttpxClient(event_hooks={"response": [on_response]}, timeout=timeout)
    return openai_client(base_url=base_url, api_key=_key(api_key), http_client=http, max_retries=max_retries,
                         asynchronous=True)


class MeteredAsyncClients:
    """One metered `AsyncOpenAI` per event loop (a client's connection pool belongs to one loop),
    closed by `aclose()` from inside that loop before it ends."""

    def __init__(self, base_url: str | None, meter: CallMeter, *, timeout: float = 120.0) -> None:
        self._base_url, self._meter, self._timeout = base_url, meter, timeout
        self._lock = threading.Lock()
        self._by_loop: dict[Any, Any] = {}

    def get(self, loop: Any = None) -> Any:
        """The client for `loop` (default: the running loop), built on first use."""
        if loop is None:
            import asyncio

            loop = asyncio.get_running_loop()
        with self._lock:  # the dispatcher may ask from a worker thread and from the loop at once
            if loop not in self._by_loop:
                self._by_loop[loop] = metered_async_client(self._base_url, self._meter, timeout=self._timeout)
            return self._by_loop[loop]

    async def aclose(self) -> None:
        """Close the running loop's client (call it before the loop ends)."""
        import asyncio

        with self._lock:
            client = self._by_loop.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()


def _key(api_key: str | None) -> str:
    # a local server needs no key; the client insists on one
    return api_key or os.environ.get("OPENAI_API_KEY") or "distilgen-eval-no-key"


def _add_usage(meter: CallMeter, content: bytes) -> None:
    try:
        usage = json.loads(content).get("usage") or {}
    except (ValueError, AttributeError):
        usage = {}
    meter.ok += 1
    meter.prompt_tokens += int(usage.get("prompt_tokens") or 0)
    meter.completion_tokens += int(usage.get("completion_tokens") or 0)
