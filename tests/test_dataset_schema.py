"""The JSON-schema checker behind tool-call validation, on schemas pydantic generates."""

from __future__ import annotations

import datetime
import enum
import uuid
from typing import Annotated, Literal, Optional, Union

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from distilgen.ops.jsonschema import schema_errors
from distilgen.runtime.formats import tool_schema


class Color(str, enum.Enum):
    red = "red"
    blue = "blue"


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = Field(ge=0, le=9)


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Node(BaseModel):
    value: int
    children: list["Node"] = []


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=5, pattern=r"^[a-z]+$")]


class Everything(BaseModel):
    color: Color
    pet: Annotated[Union[Cat, Dog], Field(discriminator="kind")]
    tree: Node
    strict: Strict
    when: datetime.datetime
    day: datetime.date
    ident: uuid.UUID
    scores: dict[str, int]
    pair: tuple[int, str]
    maybe: Optional[float] = None
    tags: list[str] = []
    ratio: float = Field(default=0.5, gt=0, lt=1)


SCHEMA = tool_schema(Everything)
GOOD = Everything(
    color=Color.red, pet=Cat(kind="cat", lives=3), tree=Node(value=1, children=[Node(value=2)]),
    strict=Strict(name="abc"), when=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    day=datetime.date(2026, 2, 28), ident=uuid.UUID(int=7), scores={"a": 1}, pair=(1, "x"), maybe=None,
).model_dump(mode="json")


def bad(**change: object) -> list[str]:
    return schema_errors(dict(GOOD, **change), SCHEMA, "arguments")


def test_schema_uses_refs_oneof_const_and_additional_properties() -> None:
    text = str(SCHEMA)
    for keyword in ("$ref", "$defs", "oneOf", "const", "additionalProperties", "prefixItems", "date-time", "uuid"):
        assert keyword in text, keyword
    assert schema_errors(GOOD, SCHEMA) == []


@pytest.mark.parametrize("change, message", [
    ({"color": "green"}, "arguments.color: 'green' is not one of 'red', 'blue'"),
    ({"pet": {"kind": "cat", "lives": 10}}, "arguments.pet.lives: 10 is greater than the maximum 9"),
    ({"pet": {"kind": "dog", "good": "yes"}}, "arguments.pet.good: expected boolean"),
    ({"pet": {"kind": "cow"}}, "arguments.pet: kind 'cow' is not one of 'cat', 'dog'"),
    ({"tree": {"value": 1, "children": [{"value": "two"}]}}, "arguments.tree.children[0].value: expected integer"),
    ({"strict": {"name": "abc", "x": 1}}, "arguments.strict: unexpected property 'x'"),
    ({"strict": {"name": "ABC"}}, "does not match pattern"),
    ({"strict": {"name": "abcdefg"}}, "longer than 5 characters"),
    ({"strict": {"name": ""}}, "shorter than 1 characters"),
    ({"when": "yesterday"}, "arguments.when: 'yesterday' is not a valid date-time"),
    ({"day": "2026-02-30"}, "arguments.day: '2026-02-30' is not a valid date"),
    ({"ident": "not-a-uuid"}, "is not a valid uuid"),
    ({"scores": {"a": "1"}}, "arguments.scores.a: expected integer"),
    ({"pair": [1, 2]}, "arguments.pair[1]: expected string"),
    ({"pair": [1, "x", 3]}, "at most 2 allowed"),
    ({"maybe": "x"}, "arguments.maybe"),
    ({"ratio": 1}, "must be less than 1"),
    ({"tags": [1]}, "arguments.tags[0]: expected string"),
])
def test_each_violation_is_named_with_its_path(change: dict, message: str) -> None:
    errors = bad(**change)
    assert any(message in e for e in errors), errors


def test_missing_required_and_wrong_types() -> None:
    value = dict(GOOD)
    del value["color"]
    assert "arguments: missing required property 'color'" in schema_errors(value, SCHEMA, "arguments")
    assert schema_errors(True, {"type": "integer"}) == ["$: expected integer, got boolean True"]
    assert schema_errors(2.0, {"type": "integer"}) == []  # JSON Schema: 2.0 is an integer
    assert schema_errors(1, {"type": "number"}) == []
    assert schema_errors(1, {"const": True}) != []  # and 1 is not true
    assert schema_errors(None, {"type": ["string", "null"]}) == []


def test_broken_ref_and_recursion_are_reported_not_raised() -> None:
    assert "does not resolve" in schema_errors(1, {"$ref": "#/$defs/Missing"})[0]
    loop = {"$defs": {"A": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"}
    assert "nests too deeply" in schema_errors(1, loop)[0]


def test_oneof_matching_two_alternatives_fails() -> None:
    schema = {"oneOf": [{"type": "integer"}, {"type": "number"}]}
    assert "matches 2 of the oneOf alternatives" in schema_errors(1, schema)[0]
    assert schema_errors(1.5, schema) == []


@settings(max_examples=60, deadline=None)
@given(st.builds(
    Everything,
    color=st.sampled_from(Color),
    pet=st.one_of(st.builds(Cat, kind=st.just("cat"), lives=st.integers(0, 9)),
                  st.builds(Dog, kind=st.just("dog"), good=st.booleans())),
    tree=st.builds(Node, value=st.integers(), children=st.lists(st.builds(Node, value=st.integers()), max_size=3)),
    strict=st.builds(Strict, name=st.from_regex(r"^[a-z]{1,5}$", fullmatch=True)),
    when=st.datetimes(timezones=st.just(datetime.timezone.utc)),
    day=st.dates(),
    ident=st.uuids(),
    scores=st.dictionaries(st.text(max_size=5), st.integers()),
    pair=st.tuples(st.integers(), st.text(max_size=5)),
    maybe=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    tags=st.lists(st.text(max_size=5), max_size=3),
    ratio=st.floats(0.01, 0.99),
))
def test_every_value_pydantic_dumps_is_valid(model: Everything) -> None:
    assert schema_errors(model.model_dump(mode="json"), SCHEMA) == []
