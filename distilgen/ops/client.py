"""The OpenAI client for `jobs` and `files`, and API errors turned into one clear line.

Endpoint: `--base-url`, else OPENAI_BASE_URL, else `[tool.distilgen] base-url`, else OpenAI's.
Key: `--api-key`, else OPENAI_API_KEY. No key is needed until a command actually calls the API.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any, Iterator

from ..errors import DistilgenError, UsageError

__all__ = ["ApiSettings", "NoApiKeyError", "ApiError", "make_client", "api_errors", "error_message", "LOCAL_TRAIN_HINT"]

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
        super().__init__(message)


@dataclass(frozen=True)
class ApiSettings:
    base_url: str | None = None
    api_key: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    """The client's own retries for requests that are safe to repeat (never job creation)."""


def _config_base_url() -> str | None:
    try:
        from ..config import load_config

        return load_config().base_url
    except DistilgenError:
        return None


def make_client(settings: ApiSettings) -> Any:
    """An `openai.OpenAI` for the settings; raises NoApiKeyError when there is no key."""
    key = settings.api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        raise NoApiKeyError("no API key: set OPENAI_API_KEY (or pass --api-key); "
                            "`distilgen dataset ...` works without one")
    base_url = settings.base_url or os.environ.get("OPENAI_BASE_URL") or _config_base_url()
    import openai

    return openai.OpenAI(api_key=key, base_url=base_url, timeout=settings.timeout, max_retries=settings.max_retries)


def error_message(exc: Exception) -> tuple[str, int | None, str | None]:
    """(message, HTTP status, error code) of an openai exception, from the `error` object when there is one."""
    import openai

    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    message = body.get("message") if isinstance(body, dict) and body.get("message") else None
    code = getattr(exc, "code", None)
    if isinstance(exc, openai.APITimeoutError):
        return "the request timed out", None, None
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        return f"cannot reach the API at {exc.request.url.copy_with(path='/', query=None)}: {cause or exc}", None, None
    if message is None:
        text = str(getattr(exc, "message", exc))
        message = " ".join(text.split())[:300]
    return message, status, code


def _describe(action: str, exc: Exception) -> ApiError:
    import openai

    message, status, code = error_message(exc)
    if isinstance(exc, openai.AuthenticationError):
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
