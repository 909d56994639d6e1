"""Capture never writes a credential (twelfth held-out wave: datachain, sqlmesh).

- datachain 0.62.0's `AudioFragment.save(destination, client_config: dict | None = None)` ("optional
  client configuration (e.g. credentials)") wrote `'aws_secret_access_key': '...'` into the
  dataset: a dict says its keys only at run time, so capture looks at them (the scan judges names).
- sqlmesh 0.236.4's `parse_connection_config(v: dict) -> ConnectionConfig` returns a
  `PostgresConnectionConfig` holding `password`: capture refused the subclass answer, and its
  warning printed the answer's JSON, password included.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional

import pytest
from pydantic import BaseModel, ConfigDict

from distilgen import CredentialValue, Instructions
from distilgen.runtime.credentials import credential_in_call


class Saved(BaseModel):
    path: str


class Target(BaseModel):
    name: str


class PostgresTarget(Target):
    password: str


class Settings(BaseModel):
    name: str
    options: dict[str, Any] = {}


class Multiply(BaseModel):
    product: int


class LogProb(BaseModel):
    model_config = ConfigDict(extra="allow")
    token: str
    logprob: float


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def skipped_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "distilgen" and "example not captured" in r.getMessage()]


def test_a_credential_under_a_dict_argument_s_key_is_never_written(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def save(destination: str, client_config: Optional[dict[str, Any]] = None) -> Saved:
        return Saved(path=destination + "/out.wav")

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert save("s3://b", client_config={"aws_access_key_id": "AKIA", "aws_secret_access_key": "wJalrXUtnFEMI"}) \
            == Saved(path="s3://b/out.wav")  # the body ran and answered as ever
        save("s3://b", client_config={"region": "eu", "nested": {"password": "hunter2"}})
        save("s3://b", client_config={"region": "eu"})  # nothing secret: written
        save("s3://b", client_config={"api_key": ""})  # an empty value holds nothing
    written = lines(ds)
    assert len(written) == 2 and all("wJalrXUtnFEMI" not in x and "hunter2" not in x for x in written)
    assert "'region': 'eu'" in written[0]
    (log,) = skipped_logs(caplog)  # one message per function and cause
    assert "wJalrXUtnFEMI" not in log and "argument client_config['aws_secret_access_key'] holds a credential" in log
    assert list(inst.stats().causes.values()) == [2] and all(k.endswith("CredentialValue") for k in inst.stats().causes)
    # the path inside the argument is named, however deep
    reason = credential_in_call("save('s3://b', client_config={'region': 'eu', 'nested': {'password': 'hunter2'}})",
                                ("s3://b",),
                                {"client_config": {"region": "eu", "nested": {"password": "hunter2"}}}, ("destination",))
    assert reason is not None and reason.startswith("argument client_config['nested']['password'] holds a credential")


def test_a_credential_passed_by_keyword_or_in_a_model_argument_is_never_written(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def connect(host: str, **options: Any) -> Saved:
        return Saved(path=host)

    @inst.distil
    def configure(settings: Settings) -> Saved:
        return Saved(path=settings.name)

    @inst.distil
    def login(user: str, password: str) -> Saved:  # decorated by hand: the scan would refuse it
        return Saved(path=user)

    connect("db", password="hunter2")
    connect("db", timeout="5")
    configure(Settings(name="x", options={"db": {"secret_key": "s3cr3t"}}))
    login("bob", "hunter2")
    written = lines(ds)
    assert len(written) == 1 and "timeout='5'" in written[0]
    assert not any("hunter2" in x or "s3cr3t" in x for x in written)


def test_an_answer_holding_a_credential_under_a_key_is_never_written(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def settings(name: str, value: str) -> Settings:
        return Settings(name=name, options={"auth": {"client_secret": value}} if value else {"page_token": "p2"})

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        settings("a", "s3cr3t")
        settings("b", "")
    written = lines(ds)
    assert len(written) == 1 and "page_token" in written[0] and "s3cr3t" not in written[0]
    (msg,) = skipped_logs(caplog)
    assert "the answer holds a credential at .options.auth.client_secret" in msg and "s3cr3t" not in msg


def test_a_skipped_subclass_answer_s_warning_masks_its_credentials(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def load(name: str, data: str = "") -> Target:
        return PostgresTarget(name=name, password=data) if data else Target(name=name)

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        load("n", "hunter2")
    assert lines(ds) == []
    (msg,) = skipped_logs(caplog)
    assert "hunter2" not in msg
    assert "SubclassAnswer" in msg and '"password":"***"' in msg  # the field it would lose is named


def test_answers_and_calls_without_credentials_cost_no_walk_and_are_written(tmp_path: Path) -> None:
    """Multiply's schema holds no dict and no credential name: its writer never looks at keys; a
    `token` field of an answer is data (llama-index's `LogProb.token`), as the scan has it."""

    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def multiply(a: int, b: int) -> Multiply:
        return Multiply(product=a * b)

    @inst.distil
    def first(text: str) -> LogProb:
        return LogProb(token=text.split()[0], logprob=-0.5)

    multiply(3, b=4)
    first("hello world")
    written = [json.loads(x) for x in lines(ds)]
    assert len(written) == 2 and '"token":"hello"' in written[1]["messages"][2]["tool_calls"][0]["function"]["arguments"]
    assert inst.stats().causes == {}
    assert issubclass(CredentialValue, ValueError)


def test_the_memo_of_names_stays_bounded_whatever_keywords_callers_pass() -> None:
    """A `**kwargs` function's keywords are its caller's data (`f(**row)`): the memo of which names
    are credentials must not grow with every new key."""
    from distilgen.runtime import credentials

    for i in range(credentials._NAMES_MAX + 500):
        assert credential_in_call("f()", (), {f"column_{i}": "x"}, ()) is None
    assert len(credentials._NAMES) <= credentials._NAMES_MAX
    assert credential_in_call("f()", (), {"api_key": "sk-1"}, ()) is not None  # still judged when not memoised
