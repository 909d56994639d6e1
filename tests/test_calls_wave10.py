"""Wave 10: a model argument was written with every field, those left at their defaults too
(aiogram 3.31.0's `Message`: ~4,600-character user messages, nearly all `field=None`).

A field left unset whose value is its default is now left out (a field passed explicitly is still
written); where the class could tell a key left out from one passed (a `before` model validator, its
own `__init__`), only when the shorter text builds back the same value, else the argument is written
in full, as before. Texts written before (the full form) still read back.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
import zoneinfo
from pathlib import Path
from typing import Any, Generic, Optional, TypeVar

from pydantic import BaseModel, Field, PrivateAttr, create_model, model_validator

from distilgen import Instructions
from distilgen.runtime.calls import constructors_for, read_call, render_call, render_value

T = TypeVar("T")


class Color(enum.Enum):
    red = "r"
    blue = "b"


class Inner(BaseModel):
    x: int = 0
    tags: list[str] = Field(default_factory=list)
    color: Color = Color.red


class Outer(BaseModel):
    a: int
    note: Optional[str] = None
    inner: Inner = Inner()
    items: list[Inner] = []
    _bot: Any = PrivateAttr(default=None)  # aiogram binds its Bot here: no text carries it


class Filled(BaseModel):
    """A validator fills `b` from `a` when `b` is left out: `b=0` must be written."""

    a: int
    b: int = 0

    @model_validator(mode="before")
    @classmethod
    def _fill(cls, data: Any) -> Any:
        if isinstance(data, dict) and "b" not in data:
            data = {**data, "b": data["a"]}
        return data


class Doubled(BaseModel):
    """A before validator that tells a key left out from one passed: the short text would not read back."""

    a: int
    b: int = 0

    @model_validator(mode="before")
    @classmethod
    def _double(cls, data: Any) -> Any:
        if isinstance(data, dict) and "b" not in data:
            data = {**data, "a": data["a"] * 2}
        return data


class Ticket(BaseModel):
    id: uuid.UUID = Field(default_factory=uuid.uuid4)  # a factory of the user's: never called, always written
    title: str = ""


class Named(BaseModel):
    """A class with its own __init__ that requires a field with a default."""

    name: str = "x"
    size: int = 1

    def __init__(self, name: str, size: int = 1) -> None:
        super().__init__(name=name, size=size)


class Page(BaseModel, Generic[T]):
    items: list[T] = []
    cursor: Optional[str] = None


class Meeting(BaseModel):
    start: datetime.datetime = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


@dataclasses.dataclass
class Options:
    depth: int = 1
    names: list[str] = dataclasses.field(default_factory=list)
    label: str = "x"


# an aiogram-like Telegram object: dozens of optional fields, two set
Message = create_model("Message", message_id=(int, ...), text=(Optional[str], None),
                       **{f"field_{i}": (Optional[str], None) for i in range(60)})  # type: ignore[call-overload]


def reads_back(text: str, *types: Any) -> tuple[Any, ...]:
    got = read_call(text, "f", constructors_for(types))
    assert got is not None
    return got[0]


def test_fields_at_their_defaults_are_left_out_when_the_text_reads_back_equal() -> None:
    value = Outer(a=1, items=[Inner(), Inner(x=2, tags=["q"], color=Color.blue)])
    value._bot = object()
    text = render_call("f", (value,), {})
    assert text == "f(Outer(a=1, items=[Inner(), Inner(x=2, tags=['q'], color=Color.blue)]))"
    assert reads_back(text, Outer) == (Outer(a=1, items=[Inner(), Inner(x=2, tags=["q"], color=Color.blue)]),)
    # a field passed explicitly is written, default or not (`model_fields_set` reads back the same)
    assert render_value(Outer(a=1, note=None)) == "Outer(a=1, note=None)"
    assert reads_back("f(Outer(a=1, note=None))", Outer)[0].model_fields_set == {"a", "note"}
    assert render_value(Filled(a=3, b=0)) == "Filled(a=3, b=0)"
    assert render_value(Filled(a=3)) == "Filled(a=3, b=3)"
    # a class that could tell a key left out from one passed is built again: here not the same value
    doubled = Doubled(a=1)
    assert (doubled.a, doubled.b) == (2, 0)
    assert render_value(doubled) == "Doubled(a=2, b=0)"
    assert reads_back("f(Doubled(a=2, b=0))", Doubled) == (doubled,)
    assert render_value(Outer(a=1, inner=Inner(x=0))) == "Outer(a=1, inner=Inner(x=0))"
    # a default factory of the user's is not called: its field is written
    t = Ticket()
    assert render_value(t) == f"Ticket(id=UUID('{t.id}'))"
    # an own __init__ requiring a field left out: the full form, which it takes
    assert render_value(Named("x")) == "Named(name='x', size=1)"
    # the same instant in another zone is not the default
    paris = datetime.datetime(2026, 1, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    assert render_value(Meeting(start=paris)).startswith("Meeting(start=datetime.datetime(2026, 1, 1, 1, 0, tzinfo=zoneinfo")
    assert render_value(Meeting()) == "Meeting()"


def test_a_large_model_with_few_fields_set_gives_a_short_call_text() -> None:
    msg = Message(message_id=7, text="hello")
    full = "f(Message(message_id=7, text='hello', " + ", ".join(f"field_{i}=None" for i in range(60)) + "))"
    text = render_call("f", (msg,), {})
    assert text == "f(Message(message_id=7, text='hello'))"
    # a line written before, in full, still reads back to the same value
    assert reads_back(full, Message) == reads_back(text, Message) == (msg,)


def test_generic_models_and_dataclasses_are_written_short_too() -> None:
    page = Page[Inner](items=[Inner(x=1)])
    text = render_value(page)
    assert text == "Page[Inner](items=[Inner(x=1)])"
    assert reads_back(f"f({text})", Page[Inner]) == (page,)
    assert render_value(Options(depth=2)) == "Options(depth=2)"
    assert render_value(Options(names=["a"], label="y")) == "Options(names=['a'], label='y')"
    assert reads_back("f(Options(depth=2))", Options) == (Options(depth=2),)


class Receipt(BaseModel):
    ok: bool


def test_capture_writes_the_short_call_text(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def echo(m: Outer, extra: Optional[Inner] = None) -> Receipt:
        return Receipt(ok=True)

    echo(Outer(a=1), extra=Inner(x=3))
    line = json.loads(ds.read_text())
    assert line["messages"][1]["content"] == "Return echo(Outer(a=1), extra=Inner(x=3))"
