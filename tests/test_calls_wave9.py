"""Wave 9 (held-out run on PyPI projects): call texts that were written two ways or did not read back.

- an aware datetime parsed by pydantic (`TzInfo(0)`) was written `tzinfo=TzInfo(0)`: one instant,
  two spellings, and `read_call` refused it; a `zoneinfo.ZoneInfo` did not read back either;
- subclasses of builtins with their own repr (numpy 2's `np.float64(1.5)`, pandas' `Timestamp`)
  were written with it;
- a `weakref.proxy` (ormar's reverse relations) was taken for the model it points to and the call
  was skipped with an internal AttributeError as the reason;
- a generic model argument, written `Page[int](...)`, did not read back;
- "cannot render a int64 as a Python literal" named neither the argument nor where inside it.

numpy is used when installed (it is a float/str subclass there); pandas is not installed in the
project's venv, so `Stamp` below stands for its `Timestamp`: a datetime subclass with its own repr
and a nanosecond the builtin cannot hold.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import logging
import weakref
import zoneinfo
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import pytest
from pydantic import BaseModel

from distilgen import Instructions
from distilgen.runtime.calls import (EVAL_NAMESPACE, CallSyntaxError, UnrenderableValue, constructors_for, read_call,
                                     render_call, render_value)

T = TypeVar("T")


class Key(BaseModel):
    created_at: datetime.datetime


class Slot(BaseModel):
    at: datetime.time


def reads_back(call: str, name: str, types: list[Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    found = read_call("Return " + call, name, constructors_for(types))
    assert found is not None
    return found


# --- 1. time zones ---------------------------------------------------------------------------

def test_a_datetime_parsed_by_pydantic_is_written_as_the_same_instant_built_in_python() -> None:
    built = Key(created_at=datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc))
    parsed = Key.model_validate_json('{"created_at": "2025-01-01T00:00:00Z"}')
    assert type(parsed.created_at.tzinfo).__name__ == "TzInfo"  # pydantic_core's, not datetime's
    assert render_value(parsed) == render_value(built) == \
        "Key(created_at=datetime.datetime(2025, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))"
    (back,), _ = reads_back(render_call("same", (parsed,), {}), "same", [Key])
    assert back == parsed and back.created_at.utcoffset() == parsed.created_at.utcoffset()


def test_a_fixed_offset_parsed_by_pydantic_is_written_as_a_datetime_timezone() -> None:
    parsed = Key.model_validate_json('{"created_at": "2025-01-01T09:30:00+01:00"}')
    built = Key(created_at=datetime.datetime(2025, 1, 1, 9, 30,
                                             tzinfo=datetime.timezone(datetime.timedelta(hours=1))))
    text = render_value(parsed)
    assert text == render_value(built)
    assert "tzinfo=datetime.timezone(datetime.timedelta(seconds=3600))" in text
    evaluated = eval(text, {**EVAL_NAMESPACE, "Key": Key})
    assert evaluated == parsed and evaluated.created_at.utcoffset() == datetime.timedelta(hours=1)
    (back,), _ = reads_back(f"f({text})", "f", [Key])
    assert back == parsed and back.created_at.utcoffset() == datetime.timedelta(hours=1)


def test_an_aware_time_parsed_by_pydantic_reads_back() -> None:
    parsed = Slot.model_validate_json('{"at": "12:00:00-05:00"}')
    text = render_call("book", (), {"slot": parsed})
    assert text == "book(slot=Slot(at=datetime.time(12, 0, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=68400)))))"
    _, kwargs = reads_back(text, "book", [Slot])
    assert kwargs["slot"] == parsed and kwargs["slot"].at.utcoffset() == datetime.timedelta(hours=-5)


def _paris() -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo("Europe/Paris")
    except zoneinfo.ZoneInfoNotFoundError:  # pragma: no cover - a machine without a time zone database
        pytest.skip("no time zone database")


def test_a_zoneinfo_datetime_is_written_by_its_key_and_reads_back() -> None:
    paris = _paris()
    key = Key(created_at=datetime.datetime(2025, 7, 1, 12, tzinfo=paris))
    text = render_call("same", (key,), {})
    assert text == "same(Key(created_at=datetime.datetime(2025, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris'))))"
    (back,), _ = reads_back(text, "same", [Key])
    assert back == key and back.created_at.tzinfo is paris  # ZoneInfo("Europe/Paris") is cached
    assert back.created_at.utcoffset() == datetime.timedelta(hours=2)
    assert eval(render_value(key), {**EVAL_NAMESPACE, "Key": Key}) == key
    # read_call passes zoneinfo a key of the time zone database only: no path, nothing but a string
    for tz in ["key='../../etc/passwd'", "key='/etc/localtime'", "'Europe/../../x'", "key=1",
               "key='Europe/Paris', extra=1", "key='Nowhere/Atlantis'", "key=''"]:
        with pytest.raises(CallSyntaxError):
            reads_back(text.replace("key='Europe/Paris'", tz), "same", [Key])




def test_another_tzinfo_is_refused_with_the_reason() -> None:
    class Tokyo(datetime.tzinfo):  # dateutil's and pytz's are tzinfo classes of their own like this
        def utcoffset(self, dt: Any) -> datetime.timedelta:
            return datetime.timedelta(hours=9)

        def dst(self, dt: Any) -> datetime.timedelta:
            return datetime.timedelta(0)

        def __repr__(self) -> str:
            return "Tokyo()"

    with pytest.raises(UnrenderableValue, match=r"tzinfo is a .*Tokyo \(Tokyo\(\)\): only a fixed offset .*"
                                                r"\(argument when\)"):
        render_call("f", (), {"when": datetime.datetime(2025, 1, 1, tzinfo=Tokyo())})


def test_a_zoneinfo_without_a_key_is_refused() -> None:
    paris = _paris()
    path = Path(zoneinfo.TZPATH[0]) / "Europe" / "Paris" if zoneinfo.TZPATH else None
    if path is None or not path.is_file():
        pytest.skip("no time zone file to read")
    with path.open("rb") as f:
        unkeyed = zoneinfo.ZoneInfo.from_file(f)
    assert unkeyed.utcoffset(datetime.datetime(2025, 1, 1)) == paris.utcoffset(datetime.datetime(2025, 1, 1))
    with pytest.raises(UnrenderableValue, match="has no key of the time zone database"):
        render_value(datetime.datetime(2025, 1, 1, tzinfo=unkeyed))


# --- 2. subclasses of builtins -----------------------------------------------------------------

class Real(float):
    """numpy 2's float64: a float subclass whose repr is its own."""

    def __repr__(self) -> str:
        return f"np.float64({float(self)!r})"


class Text(str):
    def __repr__(self) -> str:
        return f"np.str_({str.__repr__(self)})"

    def __str__(self) -> str:  # not what is written
        return "overridden"


class Count(int):
    def __repr__(self) -> str:
        return f"Count({int(self)})"


class Stamp(datetime.datetime):
    """pandas' Timestamp: a datetime subclass, its own repr, and nanoseconds the builtin cannot hold."""

    nanosecond = 0

    def __repr__(self) -> str:
        return f"Timestamp('{self.isoformat(sep=' ')}')"

    def __eq__(self, other: object) -> bool:
        same = super().__eq__(other)
        if same is NotImplemented or not same:
            return same
        return self.nanosecond == getattr(other, "nanosecond", 0)

    __hash__ = datetime.datetime.__hash__


def test_a_builtin_subclass_is_written_as_its_builtin_value() -> None:
    for sub, plain in [(Real(1.5), 1.5), (Real("nan"), float("nan")), (Text("x"), "x"), (Count(7), 7),
                       (Stamp(2024, 1, 1), datetime.datetime(2024, 1, 1)),
                       (Stamp(2024, 1, 1, tzinfo=datetime.timezone.utc), datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))]:
        assert render_value(sub) == render_value(plain)  # one value, one spelling
    text = render_call("window", (Real(1.5), Real(2.5), Stamp(2024, 1, 1)), {"label": Text("a"), "n": Count(3)})
    assert text == "window(1.5, 2.5, datetime.datetime(2024, 1, 1, 0, 0), label='a', n=3)"
    args, kwargs = reads_back(text, "window", [])
    assert args == (1.5, 2.5, datetime.datetime(2024, 1, 1)) and kwargs == {"label": "a", "n": 3}


def test_numpy_floats_and_strings_are_written_as_builtins() -> None:
    np = pytest.importorskip("numpy")
    arr = np.array([1.5, 2.5])
    assert isinstance(arr[0], float)
    assert render_call("stats", (arr[0], arr[1], np.str_("band")), {}) == "stats(1.5, 2.5, 'band')"
    assert render_value(np.float64("inf")) == "float('inf')"


def test_a_subclass_holding_more_than_its_builtin_is_refused() -> None:
    stamp = Stamp(2024, 1, 1)
    stamp.nanosecond = 1  # Timestamp('2024-01-01 00:00:00.000000001')
    with pytest.raises(UnrenderableValue, match=r"Stamp .*would not be equal to it .*\(argument start\)$"):
        render_call("window", (), {"start": stamp})


# --- 3. weakref proxies --------------------------------------------------------------------------

class Album(BaseModel):
    title: str


class Artist(BaseModel):
    name: str
    albums: list[Any] = []


class Mood(enum.Enum):
    calm = "calm"


def test_a_weakref_proxy_is_refused_naming_where_it_is() -> None:
    album = Album(title="x")
    artist = Artist(name="A", albums=[weakref.proxy(album)])
    with pytest.raises(UnrenderableValue, match=r"cannot render a weakref proxy \(to a .*Album\): .*"
                                                r"\(argument artist\.albums\[0\]\)$"):
        render_call("rename", (), {"artist": artist, "name": "y"})
    # an enum member behind a proxy was written `ProxyType.calm`
    with pytest.raises(UnrenderableValue, match="weakref proxy"):
        render_value([weakref.proxy(Mood.calm)])


def test_a_proxy_in_a_captured_call_is_counted_as_unrenderable(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inst = Instructions(name="t", dataset=tmp_path / "d.jsonl")

    @inst.distil
    def rename(artist: Artist, name: str) -> Album:
        return Album(title=name)

    album = Album(title="x")
    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert rename(artist=Artist(name="A", albums=[weakref.proxy(album)]), name="y") == Album(title="y")
    assert inst.stats().causes == {f"{rename.__distil__.function_id}: UnrenderableValue": 1}
    assert any("weakref proxy" in r.getMessage() and "argument artist.albums[0]" in r.getMessage()
               for r in caplog.records)


# --- 4. generic models ---------------------------------------------------------------------------

class Page(BaseModel, Generic[T]):
    items: list[T]


class Item(BaseModel):
    sku: str


def test_a_generic_model_argument_reads_back() -> None:
    page = Page[int](items=[1, 2])
    text = render_call("count", (page,), {})
    assert text == "count(Page[int](items=[1, 2]))"
    (back,), _ = reads_back(text, "count", [Page[int]])
    assert type(back) is Page[int] and back == page
    nested = Page[Item](items=[Item(sku="a")])
    (back,), _ = reads_back(render_call("count", (nested,), {}), "count", [Page[Item]])
    assert back == nested
    # a hand-written input file may space it otherwise
    (back,), _ = reads_back("count(Page[ int ](items=[3]))", "count", [Page[int]])
    assert back == Page[int](items=[3])
    # the callee is looked up as text among the generic models the types name, never evaluated
    for callee in ["Page[str]", "Page[__import__('os')]", "Page[int][int]", "Page[int].model_validate", "Item[int]"]:
        with pytest.raises(CallSyntaxError):
            reads_back(f"count({callee}(items=[1]))", "count", [Page[int]])




def test_a_generic_of_local_classes_reads_back() -> None:
    class Box(BaseModel):
        n: int

    class Pair(BaseModel, Generic[T]):
        first: T
        tag: Literal["a", "b"] = "a"

    value = Pair[Box](first=Box(n=1), tag="b")
    text = render_value(value)
    assert text == "Pair[Box](first=Box(n=1), tag='b')"  # was `Box](first=...`: the qualname held `<locals>` twice
    (back,), _ = reads_back(f"f({text})", "f", [Pair[Box]])
    assert back == value


# --- 5. where an unrenderable value is -----------------------------------------------------------

class Odd:
    pass


class Tile(BaseModel):
    x: Any = 0
    meta: dict[str, Any] = {}


@dataclasses.dataclass
class Bounds:
    corners: list[Any]


def test_the_reason_names_the_argument_and_the_path() -> None:
    with pytest.raises(UnrenderableValue) as info:
        render_call("f", (Tile(), Tile(meta={"nodata": 0, "count": Odd()})), {"limit": 1})
    assert str(info.value) == f"cannot render a {__name__}.Odd as a Python literal (argument args[1].meta['count'])"
    assert info.value.argument == "args[1]" and info.value.path == ".meta['count']"
    assert info.value.reason == f"cannot render a {__name__}.Odd as a Python literal"
    with pytest.raises(UnrenderableValue, match=r"\(argument b\.meta\['count'\]\)$"):
        render_call("f", (Tile(), Tile(meta={"count": Odd()})), {}, ("a", "b"))
    with pytest.raises(UnrenderableValue, match=r"\(argument tile\.x\)$"):
        render_call("f", (), {"tile": Tile(x=Odd())})
    with pytest.raises(UnrenderableValue, match=r"\(argument bounds\.corners\[2\]\)$"):
        render_call("f", (Bounds([1, 2, Odd()]),), {}, ("bounds",))
    with pytest.raises(UnrenderableValue, match=r"\(argument bounds\[2\]\)$"):
        render_call("f", ([1, 2, Odd()],), {}, ("bounds",))
    with pytest.raises(UnrenderableValue, match=r"\(argument pairs\[0\]\[1\]\)$"):
        render_call("f", (), {"pairs": [(1, Odd())]})
    with pytest.raises(UnrenderableValue, match=r"\(argument n\)$"):
        render_call("f", (), {"n": Odd()})
    with pytest.raises(UnrenderableValue, match=r"\(argument \*\*kwargs\['class'\]\)$"):
        render_call("f", (), {"class": Odd()})
    with pytest.raises(UnrenderableValue, match=r"\(at \.x inside the value\)$"):
        render_value(Tile(x=Odd()))  # a model method's receiver is rendered on its own


def test_numpy_int64_names_its_argument() -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(UnrenderableValue, match=r"cannot render a numpy\.int64 as a Python literal "
                                                r"\(argument b\.meta\['count'\]\)$"):
        render_call("count", (), {"a": Tile(), "b": Tile(meta={"count": np.int64(3)})})


def test_the_skip_reason_in_the_log_names_the_argument(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inst = Instructions(name="t", dataset=tmp_path / "d.jsonl")

    @inst.distil
    def count(a: Tile, b: Tile, limit: int = 10) -> Tile:
        return a

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        count(Tile(), b=Tile(meta={"count": Odd()}))
    assert any("(argument b.meta['count'])" in r.getMessage() for r in caplog.records)


def test_a_positional_argument_is_named_by_its_parameter(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Capture passes the spec's positional names: `argument b...`, never `args[1]...` (the model
    method's receiver is not one of them: its arguments start after `self`)."""
    inst = Instructions(name="t", dataset=tmp_path / "d.jsonl")

    @inst.distil
    def count(a: Tile, b: Tile, limit: int = 10) -> Tile:
        return a

    class Grid(BaseModel):
        n: int = 1

        @inst.distil
        def cell(self, at: Tile) -> Tile:
            return at

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        count(Tile(), Tile(meta={"count": Odd()}))
        Grid().cell(Tile(x=Odd()))
    said = [r.getMessage() for r in caplog.records]
    assert any("(argument b.meta['count'])" in m for m in said), said
    assert any("(argument at.x)" in m for m in said), said
