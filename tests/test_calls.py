"""Call rendering: valid Python that evaluates back to the arguments (property-tested)."""

import datetime
import decimal
import enum
import pathlib
import uuid
from typing import Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from distilgen.runtime.calls import EVAL_NAMESPACE, UnrenderableValue, render_call, render_value


class Color(enum.Enum):
    red = "r"
    green = "g"


class Point(BaseModel):
    x: int
    y: float
    label: Optional[str] = None


class Box(BaseModel):
    corner: Point
    tags: list[str] = []


NS = {**EVAL_NAMESPACE, "Color": Color, "Point": Point, "Box": Box}


def back(v: Any) -> Any:
    return eval(render_value(v), dict(NS))


def test_instructor_bugs_are_fixed() -> None:
    # instructor renders f("hello, world", 2) as f(hello, world, 2) and crashes on a date kwarg
    assert render_call("f", ("hello, world", 2), {}) == "f('hello, world', 2)"
    assert render_call("f", (), {"when": datetime.date(2024, 2, 29)}) == "f(when=datetime.date(2024, 2, 29))"


def test_positional_and_keyword_as_passed() -> None:
    assert render_call("fn", (133,), {"b": 539}) == "fn(133, b=539)"
    assert render_call("fn", (133, 539), {}) == "fn(133, 539)"


def test_constructor_expressions() -> None:
    assert render_value(Point(x=1, y=2.5)) == "Point(x=1, y=2.5, label=None)"
    assert render_value(Color.red) == "Color.red"
    assert render_value(decimal.Decimal("1.10")) == "Decimal('1.10')"
    assert render_value(pathlib.Path("/tmp/a b")) == "Path('/tmp/a b')"
    u = uuid.UUID(int=5)
    assert back(u) == u
    assert render_value((1,)) == "(1,)"
    assert render_value(set()) == "set()"
    assert render_value(float("nan")) == "float('nan')"


def test_unrenderable_value_is_an_error() -> None:
    with pytest.raises(UnrenderableValue, match="object"):
        render_value(object())


scalars = (
    st.none() | st.booleans() | st.integers() | st.text() | st.binary(max_size=8)
    | st.floats(allow_nan=False) | st.decimals(allow_nan=False, allow_infinity=False)
    | st.dates() | st.datetimes() | st.datetimes(timezones=st.just(datetime.timezone.utc)) | st.times()
    | st.timedeltas() | st.uuids() | st.sampled_from(Color)
    | st.builds(Point, x=st.integers(), y=st.floats(allow_nan=False), label=st.none() | st.text(max_size=5))
    | st.text(max_size=5).map(pathlib.Path)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.tuples(inner)
    | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=3)
    | st.frozensets(st.integers() | st.text(max_size=3), max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(values, max_size=3),
       st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True) | st.sampled_from(["as", "class", "None", "a-b", "2x"]),
                       values, max_size=3))
def test_rendering_round_trips(args: list[Any], kwargs: dict[str, Any]) -> None:
    text = render_call("f", tuple(args), kwargs)
    got = eval(text, {**NS, "f": lambda *a, **k: (a, k)})
    assert got == (tuple(args), kwargs)
    compile(text, "<call>", "eval")


@settings(max_examples=50, deadline=None)
@given(st.builds(Box, corner=st.builds(Point, x=st.integers(), y=st.floats(allow_nan=False)), tags=st.lists(st.text(max_size=4))))
def test_nested_models_round_trip(box: Box) -> None:
    assert back(box) == box


def test_keys_no_keyword_argument_can_spell_go_through_a_dict() -> None:
    """`**kwargs` may receive `as` or `a-b`, and a model field may be aliased `class`: still valid Python."""
    from pydantic import ConfigDict, Field

    class Odd(BaseModel):
        model_config = ConfigDict(populate_by_name=False)
        klass: int = Field(alias="class")
        first: str = Field(alias="first-name")
        plain: int = 0

    assert render_call("f", (1,), {"x": 2, "as": None, "a-b": 3}) == "f(1, x=2, **{'as': None, 'a-b': 3})"
    value = Odd(**{"class": 1, "first-name": "Jo"})
    text = render_call("f", (value,), {})
    assert text.endswith("Odd(plain=0, **{'class': 1, 'first-name': 'Jo'}))")
    got = eval(text, {**NS, "Odd": Odd, "f": lambda *a, **k: (a, k)})
    assert got == ((value,), {})
