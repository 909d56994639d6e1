"""One owner for openai clients (runtime/clients.py): the base-URL rule and the reading of an
openai exception are the same for dispatch, eval, jobs and files."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from distilgen.config import load_config
from distilgen.evals.metered import metered_client, resolve_base_url as eval_base_url
from distilgen.ops.client import ApiSettings, error_message, make_client
from distilgen.runtime.clients import ClientProvider, EndpointConnectionError, ModelNotFoundError, endpoint_error
from distilgen.testing import FakeOpenAI


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.distilgen]\nbase-url = "http://config.invalid/v1"\nlocal-base-url = "http://127.0.0.1:9/v1"\n'
        '[tool.distilgen.models]\nsmall = "local:small"\n')
    monkeypatch.chdir(tmp_path)  # jobs/files read the project's config from here
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return tmp_path


def _urls(model: str) -> tuple[str, str, str]:
    config = load_config()
    dispatch = str(ClientProvider(config=config).sync(model).base_url)
    evaluate = str(metered_client(eval_base_url(model, None, config))[0].base_url)
    jobs = str(make_client(ApiSettings()).base_url)
    return dispatch, evaluate, jobs


def test_dispatch_eval_and_jobs_resolve_one_base_url(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(_urls("gpt-4o-mini")) == {"http://config.invalid/v1/"}
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env.invalid/v1")  # the environment beats the config
    assert set(_urls("gpt-4o-mini")) == {"http://env.invalid/v1/"}
    # an alias of a local model goes to the local server for dispatch and eval alike (eval sent it to
    # OPENAI_BASE_URL before one rule owned this)
    config = load_config()
    assert str(ClientProvider(config=config).sync("small").base_url) == "http://127.0.0.1:9/v1/"
    assert eval_base_url("small", None, config) == "http://127.0.0.1:9/v1"
    assert eval_base_url("small", "http://explicit.invalid/v1", config) == "http://explicit.invalid/v1"
    assert str(make_client(ApiSettings(base_url="http://explicit.invalid/v1")).base_url) == "http://explicit.invalid/v1/"


def _raised(client: openai.OpenAI) -> openai.APIError:
    with pytest.raises(openai.APIError) as info:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    return info.value


def test_one_reading_of_an_openai_error() -> None:
    """dispatch/eval (`endpoint_error`) and jobs/files (`error_message`) read a real client's
    exception alike: the service's message, status and code."""
    with FakeOpenAI() as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        srv.faults.add(path="/v1/chat/completions", status=404, message="The model `x` does not exist",
                       code="model_not_found")
        missing = _raised(client)
        url = srv.base_url
    dispatched = endpoint_error(missing, function_id="m:f", model="x", base_url=url)
    assert isinstance(dispatched, ModelNotFoundError) and dispatched.status == 404
    assert "not found (404): The model `x` does not exist" in str(dispatched)
    assert error_message(missing) == ("The model `x` does not exist", 404, "model_not_found")
    down = _raised(client)  # the server is gone: nothing listens on its port
    assert isinstance(endpoint_error(down, function_id="m:f", model="x", base_url=url), EndpointConnectionError)
    message, status, _ = error_message(down)
    assert message.startswith("cannot reach the API at http://127.0.0.1:") and status is None
