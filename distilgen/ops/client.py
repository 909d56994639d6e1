"""The OpenAI client for `jobs` and `files`, and API errors turned into one clear line.

The client comes from `runtime/clients.py` (THE factory and base-URL rule: `--base-url`, else
OPENAI_BASE_URL, else `[tool.distilgen] base-url`, else OpenAI's), and so does the reading of an
openai exception (`classify_openai_error`); this module words it as an `ApiError` line.
Key: `--api-key`, else OPENAI_API_KEY. No key is needed until a command actually calls the API.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ..errors import DistilgenError, UsageError
from ..runtime.clients import classify_openai_error, openai_client, redact_url, redact_urls_in, resolve_base_url

__all__ = ["ApiSettings", "NoApiKeyError", "ApiError", "UnexpectedResponseError", "make_client", "api_errors",
           "error_message", "fetch", "fetch_list", "Shape", "LOCAL_TRAIN_HINT"]

LOCAL_TRAIN_HINT = (
    "OpenAI stopped accepting new fine-tuning jobs on 2027-01-06 (self-serve fine-tuning is closing); "
    "train locally instead: distilgen train FILE"
)


class NoApiKeyError(UsageError):
    """An API command ran with no key configured."""


class ApiError(DistilgenError):
    """The service answered with an error (or could not be reached)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        self.status = status
        self.code = code
        super().__init__(redact_urls_in(message))  # a base URL may carry user:token


class UnexpectedResponseError(ApiError):
    """The service answered 2xx, but not with the JSON object the API documents (a proxy's HTML
    page, another API behind the URL, ...)."""


@dataclass(frozen=True)
class ApiSettings:
    base_url: str | None = None
    api_key: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    """The client's own retries for requests that are safe to repeat (never job creation)."""


def _config() -> Any:
    try:
        from ..config import load_config

        return load_config()
    except DistilgenError:
        return None


def make_client(settings: ApiSettings) -> Any:
    """An `openai.OpenAI` for the settings; raises NoApiKeyError when there is no key."""
    key = settings.api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        raise NoApiKeyError("no API key: set OPENAI_API_KEY (or pass --api-key); "
                            "`distilgen dataset ...` works without one")
    return openai_client(base_url=resolve_base_url(explicit=settings.base_url, config=_config()), api_key=key,
                         timeout=settings.timeout, max_retries=settings.max_retries)


def error_message(exc: Exception) -> tuple[str, int | None, str | None]:
    """(message, HTTP status, error code) of an openai exception, from the `error` object when there is one."""
    f = classify_openai_error(exc)
    if f.kind == "timeout":
        return f.detail, None, None
    if f.kind == "connection":
        request = getattr(exc, "request", None)
        where = redact_url(request.url.copy_with(path="/", query=None)) if request is not None else "?"
        return f"cannot reach the API at {where}: {f.cause or exc}", None, None
    return f.detail, f.status, f.code


def _describe(action: str, exc: Exception) -> ApiError:
    import openai

    message, status, code = error_message(exc)
    if isinstance(exc, openai.AuthenticationError):  # 401 only: a 403 keeps the service's words
        return ApiError(f"{action}: the API key was rejected (HTTP 401): {message}", status=status, code=code)
    where = f"HTTP {status}" + (f" {code}" if code else "") if status else "no answer"
    return ApiError(f"{action}: {message} ({where})", status=status, code=code)


@contextlib.contextmanager
def api_errors(action: str) -> Iterator[None]:
    """Turn openai's exceptions into one ApiError line that says what was being done."""
    import openai

    try:
        yield
    except openai.APIError as exc:
        raise _describe(action, exc) from None


# --- response shapes --------------------------------------------------------------------------
# The openai client hands back whatever a 200 carried: a str for an HTML page, an object with every
# field None for unexpected JSON. So `jobs`/`files` read the raw answer, check the fields they use,
# and turn anything else into one UnexpectedResponseError line.

Shape = dict[str, Any]
"""field -> type (or tuple of types) it must have; a name ending in `?` may also be missing or null."""


def _is(value: Any, kind: Any) -> bool:
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        return False  # JSON true is not a number
    return isinstance(value, kind)


def shape_problem(data: Any, shape: Shape) -> str | None:
    """What is wrong with `data` for `shape`, or None."""
    if not isinstance(data, dict):
        names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}
        return f"a JSON {names.get(type(data), type(data).__name__)}, not an object"
    for name, kind in shape.items():
        optional = name.endswith("?")
        key = name.rstrip("?")
        value = data.get(key)
        if value is None and (optional or key in data and kind is type(None)):
            continue
        if value is None:
            return f"no {key!r}"
        if not _is(value, kind):
            return f"{key!r} is {json.dumps(value)[:40]}"
    return None


def _snippet(text: str) -> str:
    one = " ".join(text.split())
    return (one[:80] + "...") if len(one) > 80 else one


def _unexpected(action: str, response: Any, what: str, problem: str) -> UnexpectedResponseError:
    ctype = (response.headers.get("content-type") or "no content type").split(";")[0]
    base = redact_url(response.request.url.copy_with(query=None)) if getattr(response, "request", None) else "?"
    return UnexpectedResponseError(
        f"{action}: {base} answered HTTP {response.status_code} with {ctype} that is not {what} ({problem}): "
        f"{_snippet(response.text)!r}; check the base URL (an OpenAI-compatible API, usually ending in /v1)",
        status=response.status_code)


def read_json(action: str, response: Any, what: str, shape: Shape) -> dict[str, Any]:
    """The JSON object of a 2xx `httpx` response, checked against `shape`."""
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise _unexpected(action, response, what, "not JSON") from None
    problem = shape_problem(data, shape)
    if problem is not None:
        raise _unexpected(action, response, what, problem)
    return data  # type: ignore[no-any-return]


def fetch(action: str, call: Callable[[], Any], what: str, shape: Shape) -> dict[str, Any]:
    """Run one `with_raw_response` call; its answer as a checked JSON object. API errors become ApiError."""
    with api_errors(action):
        raw = call()
        response = raw.http_response
        response.read()
    return read_json(action, response, what, shape)


LIST_SHAPE: Shape = {"data": list, "has_more?": bool}


def fetch_list(action: str, call: Callable[[str | None], Any], what: str, shape: Shape, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` items of a cursor-paged list; `call(after)` runs one `with_raw_response` list call."""
    out: list[dict[str, Any]] = []
    after: str | None = None
    while len(out) < limit:
        with api_errors(action):
            raw = call(after)
            response = raw.http_response
            response.read()
        page = read_json(action, response, f"a list of {what}", LIST_SHAPE)
        for item in page["data"]:
            problem = shape_problem(item, shape)
            if problem is not None:
                raise _unexpected(action, response, f"a list of {what}", problem)
            out.append(item)
        if not page.get("has_more") or not page["data"]:
            break
        after = str(page["data"][-1]["id"])
    return out[:limit]
