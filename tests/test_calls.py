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
    assert render_value(Point(x=1, y=2.5)) == "Point(x=1, y=2.5)"  # a field left at its default is left out (wave 10)
    assert render_value(Point(x=1, y=2.5, label=None)) == "Point(x=1, y=2.5, label=None)"  # passed: written
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
    assert read(text) == got  # and read back without eval (read_call, below)


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
    assert text.endswith("Odd(**{'class': 1, 'first-name': 'Jo'}))")  # `plain` left at its default: left out
    got = eval(text, {**NS, "Odd": Odd, "f": lambda *a, **k: (a, k)})
    assert got == ((value,), {})


# --- reading a rendering back without eval (issue 17, item 2) ---------------------------------

import dataclasses
import os
import sys
from pathlib import Path

from distilgen.runtime.calls import CallSyntaxError, constructors_for, read_call


@dataclasses.dataclass
class Span:
    start: int
    end: int


class Outer(BaseModel):
    box: Box
    color: Color
    span: Optional[Span] = None


ALLOWED = constructors_for([Outer, list[Point]])


def read(text: str) -> Any:
    got = read_call(text, "f", ALLOWED)
    assert got is not None
    return got


def test_constructors_come_from_the_signature_types_only() -> None:
    assert set(ALLOWED) == {"Outer", "Box", "Point", "Color", "Span"}
    assert constructors_for([int, Optional[str], dict[str, list[float]]]) == {}


@settings(max_examples=50, deadline=None)
@given(st.builds(Outer, box=st.builds(Box, corner=st.builds(Point, x=st.integers(), y=st.floats(allow_nan=False)),
                                      tags=st.lists(st.text(max_size=4))),
                 color=st.sampled_from(Color), span=st.none() | st.builds(Span, start=st.integers(), end=st.integers())))
def test_nested_models_dataclasses_and_enums_read_back(outer: Outer) -> None:
    assert read(render_call("f", (outer,), {"c": Color.green})) == ((outer,), {"c": Color.green})


def test_renderings_repr_spells_read_back() -> None:
    berlin = datetime.timezone(datetime.timedelta(hours=1), "CET")
    vals = (float("nan"), float("inf"), float("-inf"), -0.0, bytearray(b"x\x00"), pathlib.PurePosixPath("/a"),
            pathlib.PureWindowsPath("c:/x"), datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc),
            datetime.datetime(2024, 5, 1, 12, tzinfo=berlin), datetime.time(1, 2, fold=1), frozenset({1, "a"}), set())
    args, _ = read(render_call("f", vals, {}))
    assert repr(args[0]) == "nan" and args[1:] == vals[1:]  # nan != nan
    assert [type(a) for a in args] == [type(v) for v in vals]
    assert args[8].tzinfo == berlin and args[8].tzname() == "CET" and args[9].fold == 1


def test_model_method_receiver_is_the_first_argument() -> None:
    text = "Return " + render_value(Point(x=1, y=2)) + ".f(3)"
    assert read(text) == ((Point(x=1, y=2), 3), {})
    assert read_call("Return g(1)", "f", ALLOWED) is None  # another function's line


def test_the_issue_payload_is_refused_and_never_runs(tmp_path: Path) -> None:
    canary = tmp_path / "x"
    for text in (f"Return f(datetime.sys.modules.get('os').system('touch {canary}'), 'b')",
                 f"Return f(__import__('os').system('touch {canary}'))",
                 f"Return f(Point.__init__.__globals__['sys'].modules['os'].system('touch {canary}'))",
                 f"Return f(Path('{canary}').touch())",
                 "Return f(Color.__class__.__bases__[0].__subclasses__())",
                 f"Return f(**dict(a=open('{canary}', 'w')))"):
        with pytest.raises(CallSyntaxError):
            read(text)
    assert not canary.exists()


@pytest.mark.parametrize("text, message", [
    ("Return f(datetime.sys)", "datetime.sys is not an allowed name"),
    ("Return f(Color('r'))", "Color is not a constructor"),
    ("Return f(Color.mro)", "Color.mro is not an allowed name"),
    ("Return f(float('1e309'))", "float() takes only"),
    ("Return f(bytearray(10**12))", "bytearray() takes only"),
    ("Return f(1 + 2)", "BinOp is not allowed"),
    ("Return f(x)", "Name is not allowed"),
    ("Return f(*[1])", "`*` arguments"),
    ("Return f(**{1: 2})", "keys must be strings"),
    ("Return f({[1]: 2})", "unhashable"),
    ("Return f(Point(x='a', y=1))", "Point(...): ValidationError"),
    ("Return f(a=1, **{'a': 2})", "given twice"),
    ("Return f(" + "[" * 150 + "]" * 150 + ")", "nested too deeply"),
    ("Return " + "-" * 100000 + "1", "not a rendered call"),
    ("f(1) if 1 else 2", "not a call"),
])
def test_anything_else_is_a_one_line_error(text: str, message: str) -> None:
    with pytest.raises(CallSyntaxError) as info:
        read(text)
    assert message in str(info.value) and "\n" not in str(info.value)


# Hostile texts: a grammar of everything Python offers to escape a sandbox, mixed with real renderings.
_NAMES = st.sampled_from(["os", "sys", "__import__", "eval", "exec", "open", "getattr", "globals", "type", "object",
                          "datetime", "Point", "Color", "Box", "Decimal", "Path", "UUID", "set", "frozenset", "float",
                          "bytearray", "breakpoint", "__builtins__", "Span", "Outer", "f"])
_ATTRS = st.sampled_from(["sys", "modules", "get", "system", "__class__", "__bases__", "__subclasses__", "__globals__",
                          "__init__", "__reduce__", "__builtins__", "mro", "red", "utc", "timezone", "date", "touch",
                          "model_validate", "model_construct", "parse_raw", "fromisoformat", "write_text", "f"])
_TOUCH = "'touch /tmp/distilgen-fuzz-canary'"


def _hostile(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, _ATTRS).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(inner, st.lists(inner, max_size=2)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, st.sampled_from(["+", "*", "**", "|", "@", "<", "and", "if 1 else"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda s: f"(lambda: {s})()"),
        inner.map(lambda s: f"[{s} for _ in [1]]"),
        inner.map(lambda s: f"f'{{{s}}}'"),
        inner.map(lambda s: f"(z := {s})"),
        inner.map(lambda s: f"*{s}"),
        inner.map(lambda s: f"**{s}"),
        inner.map(lambda s: f"k={s}"),
    )


_ATOMS = _NAMES | values.map(render_value) | st.just(_TOUCH) | st.text(max_size=6).map(repr)
HOSTILE = st.recursive(_ATOMS, _hostile, max_leaves=6)

_FORBIDDEN_EVENTS = ("exec", "os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                     "import", "open", "builtins.input", "object.__getattr__", "sys._getframe", "ctypes", "shutil",
                     "os.remove", "os.rename", "socket")
_recording: list[str] = []
_armed = [False]


def _audit(event: str, args: Any) -> None:
    if _armed[0] and event.startswith(_FORBIDDEN_EVENTS):
        _recording.append(event)


sys.addaudithook(_audit)  # audit hooks cannot be removed: this one records only while armed
_PLAIN = (type(None), bool, int, float, complex, str, bytes, bytearray, type(...), decimal.Decimal,
          uuid.UUID, pathlib.PurePath, datetime.date, datetime.time, datetime.timedelta, datetime.tzinfo)


def _only_allowed(v: Any) -> bool:
    if isinstance(v, (list, tuple, set, frozenset)):
        return all(_only_allowed(x) for x in v)
    if isinstance(v, dict):
        return all(_only_allowed(k) and _only_allowed(x) for k, x in v.items())
    if isinstance(v, BaseModel):
        return type(v) in ALLOWED.values() and all(_only_allowed(getattr(v, n)) for n in type(v).model_fields)
    if dataclasses.is_dataclass(v):
        return type(v) in ALLOWED.values()
    return type(v) in ALLOWED.values() or isinstance(v, _PLAIN)


@settings(max_examples=1500, deadline=None)
@given(st.lists(HOSTILE, max_size=3), st.sampled_from(["f({})", "Point(x=1, y=2).f({})", "os.f({})", "f({})(1)"]))
def test_hostile_renderings_call_nothing_but_allowed_constructors(parts: list[str], shape: str) -> None:
    text = "Return " + shape.format(", ".join(parts))
    Point(x=1, y=2)  # pydantic's first-use imports happen outside the armed window
    _recording.clear()
    _armed[0] = True
    try:
        got = read_call(text, "f", ALLOWED)
    except CallSyntaxError as exc:
        got = None
        assert "\n" not in str(exc)
    finally:
        _armed[0] = False
    assert _recording == [], f"{text!r} triggered {_recording}"
    assert not os.path.exists("/tmp/distilgen-fuzz-canary")
    if got is not None:
        assert _only_allowed(got), text


def _aliased(config: dict[str, Any]) -> type[BaseModel]:
    from pydantic import ConfigDict, Field

    class A(BaseModel):
        model_config = ConfigDict(**config)  # type: ignore[typeddict-item]
        first_name: str = Field(alias="firstName")

    return A


@pytest.mark.parametrize("config, spelled", [
    ({}, "A(firstName='x')"),
    ({"populate_by_name": True}, "A(first_name='x')"),
    ({"validate_by_name": True, "validate_by_alias": False}, "A(first_name='x')"),
    ({"validate_by_name": True}, "A(firstName='x')"),  # both accepted: the alias, as captured before
])
def test_an_aliased_field_is_written_as_the_model_accepts_it(config: dict[str, Any], spelled: str) -> None:
    """Wave 5: with pydantic 2.11's `validate_by_alias=False` the alias is refused, and the
    rendered call did not evaluate back; a model accepting names is written by name."""
    import pydantic

    if ("validate_by_name" in config) and tuple(int(p) for p in pydantic.VERSION.split(".")[:2]) < (2, 11):
        pytest.skip("validate_by_name needs pydantic 2.11")
    A = _aliased(config)
    value = A.model_validate({"first_name": "x"} if "first_name" in spelled else {"firstName": "x"})
    text = render_value(value)
    assert text == spelled
    assert eval(text, {"A": A}) == value
