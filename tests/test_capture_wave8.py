"""Wave 8 (prefect-client, bioimageio.spec): answers that were silently not the function's value,
and capture changing the object the caller gets back.

A. A field declared as a model holding an instance of a subclass: pydantic writes it as the
   declared class, so the subclass's fields were dropped from the answer (prefect's
   `ResultRecordMetadata.serializer`, a `JSONSerializer` written `{"type":"json"}`): skipped and
   counted as `SubclassAnswer`, naming where.
B. A model whose field serializer changes the instance (bioimageio's `ValidationSummary` caches a
   subprocess's output on itself): the answer is dumped from a copy, the caller's object untouched.
C. A return model holding a `SecretStr`: its answer is the mask `"**********"`: refused at the spec
   (and so by `apply`'s schema child), naming the field.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal, Optional

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr, field_serializer

from distilgen import DecorationError, Instructions
from distilgen.runtime.formats import nested_models, tool_schema
from distilgen.runtime.spec import build_spec
from distilgen.prompts._schema_worker import object_schema_problem


def answers(path: Path) -> list[dict[str, Any]]:
    return [json.loads(json.loads(line)["messages"][2]["tool_calls"][0]["function"]["arguments"])
            for line in path.read_text().splitlines()]


def skipped_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "distilgen" and "example not captured" in r.getMessage()]


# --- A. subclasses in fields --------------------------------------------------------------------

class Serializer(BaseModel):
    type: str


class JSONSerializer(Serializer):
    type: Literal["json"] = "json"
    jsonlib: str = "json"


class MarkedSerializer(Serializer):
    """Adds behaviour only: its answer is a Serializer's."""

    def mark(self) -> str:
        return "*"


class Metadata(BaseModel):
    storage_key: str
    serializer: Serializer


class Batch(BaseModel):
    items: list[Metadata] = []


def test_a_field_holding_a_subclass_with_more_fields_is_skipped_naming_where(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def make_metadata(key: str, jsonlib: str) -> Metadata:
        return Metadata(storage_key=key, serializer=JSONSerializer(jsonlib=jsonlib))

    @inst.distil
    def batch(n: int) -> Batch:
        return Batch(items=[Metadata(storage_key=str(i), serializer=JSONSerializer(jsonlib="orjson")) for i in range(n)])

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        got = make_metadata("k", "orjson")
        batch(2)
    assert got.serializer == JSONSerializer(jsonlib="orjson")  # the caller's value, untouched
    assert not ds.exists()
    stats = inst.stats()
    assert stats.captured == 0 and stats.skipped == 2
    assert all(k.endswith(": SubclassAnswer") for k in stats.causes)
    msgs = skipped_logs(caplog)
    assert any("leaves out what a subclass instance holds at serializer: "
               '{"type":"json","jsonlib":"orjson"} is written {"type":"json"}' in m for m in msgs), msgs
    assert any("at items[0].serializer:" in m for m in msgs), msgs


def test_a_field_holding_the_declared_class_or_a_behaviour_only_subclass_is_kept(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def plain(key: str) -> Metadata:
        return Metadata(storage_key=key, serializer=Serializer(type="json"))

    @inst.distil
    def marked(key: str) -> Metadata:
        return Metadata(storage_key=key, serializer=MarkedSerializer(type="pickle"))

    plain("a")
    marked("b")
    assert inst.stats().skipped == 0
    assert answers(ds) == [{"storage_key": "a", "serializer": {"type": "json"}},
                           {"storage_key": "b", "serializer": {"type": "pickle"}}]
    assert nested_models(Metadata) == (Serializer,) and set(nested_models(Batch)) == {Metadata, Serializer}


# --- B. serializers with side effects -----------------------------------------------------------

class Summary(BaseModel):
    status: str
    saved_env: Optional[str] = None

    @property
    def env(self) -> str:
        if self.saved_env is None:
            self.saved_env = "probed"  # bioimageio: the output of `conda list`, cached on the instance
        return self.saved_env

    @field_serializer("saved_env")
    def _save_env(self, value: Optional[str]) -> Optional[str]:
        return self.env


def test_a_serializer_changing_its_instance_leaves_the_caller_s_object_alone(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def validate(name: str) -> Summary:
        return Summary(status="passed")

    result = validate("x")
    assert result.saved_env is None  # as without capture
    assert inst.stats().captured == 1
    assert answers(ds) == [{"status": "passed", "saved_env": "probed"}]


# --- C. secrets in the answer -------------------------------------------------------------------

class Credentials(BaseModel):
    user: str
    token: Optional[SecretStr] = None


class Inner(BaseModel):
    key: SecretBytes


class Vault(BaseModel):
    entries: list[Inner] = []


class Open(BaseModel):
    user: str


@pytest.mark.parametrize(("model", "field"), [(Credentials, "token"), (Vault, "Inner.key")])
def test_a_return_model_holding_a_secret_is_refused_naming_the_field(model: type[BaseModel], field: str) -> None:
    problem = object_schema_problem(model, tool_schema(model))
    assert problem == (f"returns {model.__name__}, whose field {field} is a secret (SecretStr or SecretBytes): its "
                       'answer would be written masked as "**********", not its value')

    def parse(dsn: str) -> Any:
        return None
    with pytest.raises(DecorationError, match=f"whose field {field} is a secret"):
        build_spec(parse, kind="function", return_model=model, src_text=None, include_body=False)
    assert object_schema_problem(Open, tool_schema(Open)) is None


def test_capture_of_a_secret_holding_answer_writes_nothing(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def parse_dsn(dsn: str) -> Credentials:
        user, _, token = dsn.partition(":")
        return Credentials(user=user, token=SecretStr(token))

    assert parse_dsn("alice:hunter2").token.get_secret_value() == "hunter2"  # type: ignore[union-attr]
    assert not ds.exists()
    assert sum(n for k, n in inst.stats().causes.items() if k.endswith(": DecorationError")) == 1
