"""distilgen.testing: an OpenAI-compatible server on 127.0.0.1 for offline tests.

    from distilgen.testing import FakeOpenAI, Reply

    with FakeOpenAI() as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x")
        srv.chat.push({"a": 1, "b": 2, "result": 2})          # the next answer's arguments
        srv.faults.add(path="/v1/chat/completions", status=429, retry_after_ms=10)
        ...
        assert srv.requests_to("/v1/chat/completions")

Also runnable as a process: `python -m distilgen.testing --port 8089` prints the base URL.
"""

from .chat import ChatRequest, Reply
from .faults import Fault, Faults, error_body
from .schema_values import value_for_schema
from .server import BASE_MODELS, FakeOpenAI, Recorded, serve
from .spawn import ServerProcess, spawn

__all__ = [
    "FakeOpenAI",
    "Reply",
    "ChatRequest",
    "Fault",
    "Faults",
    "Recorded",
    "ServerProcess",
    "BASE_MODELS",
    "error_body",
    "serve",
    "spawn",
    "value_for_schema",
]
