"""Wave 10 (held-out run on PyPI projects): answers capture wrote with another meaning, or not at all.

- scim2-models 0.12.3's `Error.status` is an int written "400" by its own serializer: the lock's
  schema says integer, and the read-back passed because pydantic's lax validation turns "400" into
  400. The read-back now validates strictly, and the reason names the field, what was written and
  what the schema wants;
- aiogram 3.31.0's models default fields to a placeholder, `Default("parse_mode")`, that pydantic
  cannot write: every answer was skipped naming the class, and pydantic's JSON-schema warnings
  reached the user's terminal. A placeholder at its field's default is now left out of the answer
  (it reads back as the default), any other one skips naming the field; the warnings are kept quiet;
- a datetime in a `ZoneInfo` zone with daylight saving (ical 14.3.1) was written as a fixed offset:
  now skipped, naming the field and the zone.

aiogram, scim2-models and ical are not installed in the project's venv: the classes below are built
as theirs are (`Default` is aiogram's class, field for field; `Error` scim2's `PlainSerializer`).
"""

from __future__ import annotations

import datetime
import json
import logging
import warnings
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Optional, Union

import pytest
from pydantic import BaseModel, ConfigDict, PlainSerializer, field_serializer, field_validator, model_serializer

from distilgen import Instructions


def answers(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(json.loads(line)["messages"][2]["tool_calls"][0]["function"]["arguments"])
            for line in path.read_text().splitlines()]


def skipped_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "distilgen" and "example not captured" in r.getMessage()]


# --- 2: an answer the schema rejects, read back laxly --------------------------------------------

def _int_to_str(v: Optional[int]) -> Optional[str]:
    return None if v is None else str(v)


class ScimError(BaseModel):
    """scim2-models' `Error`: the status is an int, written as a string."""

    status: Annotated[Optional[int], PlainSerializer(_int_to_str)] = None
    scim_type: Optional[str] = None
    detail: Optional[str] = None


class Problem(BaseModel):
    code: int
    title: str

    @field_serializer("code")
    def _as_text(self, v: int) -> str:
        return str(v)


class Stamped(BaseModel):
    """aiogram's `DateTime` field: a datetime written as a unix timestamp (an integer)."""

    text: str
    date: Annotated[datetime.datetime, PlainSerializer(lambda d: int(d.timestamp()), return_type=int)]


class Rounded(BaseModel):
    price: float

    @field_serializer("price")
    def _round(self, v: float) -> float:
        return round(v, 2)  # the same type: the schema's number


def test_a_serializer_writing_another_type_than_the_schema_s_is_skipped_naming_the_field(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def scim_error(code: int) -> ScimError:
        return ScimError(status=code, detail="bad")

    @inst.distil
    def problem(code: int) -> Problem:
        return Problem(code=code, title="t")

    @inst.distil
    def rounded(p: float) -> Rounded:
        return Rounded(price=p)

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        got = scim_error(400)
        assert got.status == 400  # the caller's result as ever
        problem(404)
        rounded(1.005)
    stats = inst.stats()
    assert (stats.captured, stats.skipped) == (1, 2), stats
    assert answers(ds) == [{"price": 1.0}]  # a serializer keeping the schema's type is still captured
    msgs = skipped_logs(caplog)
    scim = next(m for m in msgs if ".<locals>.scim_error:" in m)
    assert "test_capture_wave10:" in scim and "SerializedAnswer" in scim
    assert '.status as "400" (a string)' in scim and "an integer or null" in scim
    prob = next(m for m in msgs if ".<locals>.problem:" in m)
    assert '.code as "404" (a string)' in prob and "wants an integer" in prob


def test_a_datetime_written_as_a_timestamp_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def stamped(text: str) -> Stamped:
        return Stamped(text=text, date=datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc))

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        stamped("hi")
    assert inst.stats().skipped == 1 and not ds.exists()
    (msg,) = skipped_logs(caplog)
    assert ".date as 1767312000 (an integer)" in msg and "a string (date-time)" in msg


class Shape(BaseModel):
    sides: int


class Square(Shape):
    @field_serializer("sides")
    def _spelled(self, v: int) -> str:
        return str(v)


def test_a_subclass_answer_the_schema_rejects_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def shape(n: int) -> Shape:
        return Square(sides=n)

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        shape(4)
    assert inst.stats().causes == {f"{__name__}:test_a_subclass_answer_the_schema_rejects_is_skipped.<locals>.shape: "
                                   "SubclassAnswer": 1}
    (msg,) = skipped_logs(caplog)
    assert '.sides as "4" (a string)' in msg and "wants an integer" in msg


# --- 3: aiogram's Default(...) placeholders ------------------------------------------------------

class Default:
    """aiogram.client.default.Default, as aiogram 3.31.0 defines it."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __str__(self) -> str:
        return f"Default({self._name!r})"

    def __repr__(self) -> str:
        return f"<{self}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Default):
            return NotImplemented
        return self._name == other._name

    def __hash__(self) -> int:
        return hash(self._name)


class TelegramObject(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, arbitrary_types_allowed=True)


class LinkPreviewOptions(TelegramObject):
    is_disabled: Optional[Union[bool, Default]] = Default("link_preview_is_disabled")
    url: Optional[str] = None


class SendMessage(TelegramObject):
    chat_id: Union[int, str]
    text: str
    parse_mode: Optional[Union[str, Default]] = Default("parse_mode")
    link_preview_options: Optional[Union[LinkPreviewOptions, Default]] = Default("link_preview")
    protect_content: Optional[Union[bool, Default]] = Default("protect_content")
    reply_to_message_id: Optional[int] = None


class LoadedOptions(LinkPreviewOptions):
    """A subclass of a class SendMessage's fields declare: its answers are also dumped with
    `serialize_as_any` (`formats.whole_answer`), which must leave the same placeholders out."""


class Batch(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    messages: list[SendMessage]


def _answer(text: str, parse_mode: Any = Default("parse_mode")) -> SendMessage:
    # aiogram's shortcuts (`Message.answer`) pass their own `Default(...)` object: equal, not identical
    return SendMessage(chat_id=1, text=text, parse_mode=parse_mode)


def test_placeholders_left_at_their_defaults_are_left_out_of_the_answer(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def answer(text: str) -> SendMessage:
        return _answer(text)

    @inst.distil
    def answer_html(text: str) -> SendMessage:
        return _answer(text, parse_mode="HTML")

    @inst.distil
    def batch(n: int) -> Batch:
        return Batch(messages=[_answer("a"), SendMessage(chat_id=2, text="b", link_preview_options=LinkPreviewOptions(url="u"))])

    answer("hi")
    answer_html("hi")
    batch(2)
    assert inst.stats().captured == 3, inst.stats()
    first, html, many = answers(ds)
    assert first == {"chat_id": 1, "text": "hi", "reply_to_message_id": None}
    assert html == {"chat_id": 1, "text": "hi", "parse_mode": "HTML", "reply_to_message_id": None}
    assert many == {"messages": [{"chat_id": 1, "text": "a", "reply_to_message_id": None},
                                 {"chat_id": 2, "text": "b", "link_preview_options": {"url": "u"}, "reply_to_message_id": None}]}
    # dispatch reads the answer back as the same value: the placeholders come back as the defaults
    assert SendMessage.model_validate_json(json.dumps(first)) == _answer("hi")
    assert Batch.model_validate_json(json.dumps(many)) == batch(2)


def test_a_placeholder_that_is_not_the_field_s_default_is_skipped_naming_the_field(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def odd(text: str) -> SendMessage:
        return _answer(text, parse_mode=Default("link_preview"))

    @inst.distil
    def nested(n: int) -> Batch:
        return Batch(messages=[_answer("a"), _answer("b", parse_mode=Default("other"))])

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        odd("x")
        nested(1)
    stats = inst.stats()
    assert (stats.captured, stats.skipped) == (0, 2)
    assert {k.rsplit(": ", 1)[1] for k in stats.causes} == {"UnwritableAnswer"}
    one, two = skipped_logs(caplog)
    assert "answer .parse_mode holds Default('link_preview')" in one and "Unable to serialize" not in one
    assert "answer .messages[1].parse_mode holds Default('other')" in two


def test_pydantic_schema_warnings_do_not_reach_the_user(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def answer(text: str) -> SendMessage:
        return _answer(text)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        answer("hi")
        from distilgen.prompts._schema_worker import _describe_model

        described = _describe_model(LinkPreviewOptions, "m:f", False)
    assert [str(w.message) for w in seen] == []
    assert inst.stats().captured == 1
    assert described["schema"]["properties"]["is_disabled"] == {"anyOf": [{"type": "boolean"}, {"type": "null"}]}


class Dated(TelegramObject):
    # aiogram's Message: its `date` has a serializer, so the answer takes the read-back path
    text: str
    date: Annotated[datetime.datetime, PlainSerializer(lambda d: d.isoformat(), return_type=str)]
    parse_mode: Optional[Union[str, Default]] = Default("parse_mode")


def test_placeholders_in_raw_lines_and_with_an_own_serializer(tmp_path: Path) -> None:
    ds = tmp_path / "raw.jsonl"
    inst = Instructions(dataset=ds, finetune_format="raw")

    @inst.distil
    def dated(text: str) -> Dated:
        return Dated(text=text, date=datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc))

    @inst.distil
    def plain(text: str) -> SendMessage:
        return _answer(text)

    dated("a")
    plain("b")
    assert inst.stats().captured == 2, inst.stats()
    outputs = [json.loads(line)["output"] for line in ds.read_text().splitlines()]
    assert outputs == [{"text": "a", "date": "2026-01-02T00:00:00+00:00"},
                       {"chat_id": 1, "text": "b", "reply_to_message_id": None}]


# --- 8: a datetime in a zone with daylight saving ------------------------------------------------

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


class Event(BaseModel):
    name: str
    start: datetime.datetime


class Calendar(BaseModel):
    events: list[Event]


class Opening(BaseModel):
    at: datetime.time


def test_a_datetime_in_a_zone_with_daylight_saving_is_skipped_naming_the_field(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def event(name: str) -> Event:
        return Event(name=name, start=datetime.datetime(2026, 3, 1, tzinfo=PARIS))

    @inst.distil
    def calendar(n: int) -> Calendar:
        utc = datetime.datetime(2026, 3, 1, tzinfo=zoneinfo.ZoneInfo("UTC"))
        return Calendar(events=[Event(name="a", start=utc), Event(name="b", start=utc.astimezone(PARIS))])

    @inst.distil
    def tokyo(name: str) -> Event:  # no daylight saving: its offset is the same all year
        return Event(name=name, start=datetime.datetime(2026, 7, 1, 9, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")))

    @inst.distil
    def opening(n: int) -> Opening:  # a time of day in a zone has no offset of its own
        return Opening(at=datetime.time(9, 30, tzinfo=PARIS))

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        event("a")
        calendar(1)
        tokyo("t")
        opening(1)
    stats = inst.stats()
    assert (stats.captured, stats.skipped) == (1, 3), stats
    assert answers(ds) == [{"name": "t", "start": "2026-07-01T09:00:00+09:00"}]
    assert {k.rsplit(": ", 1)[1] for k in stats.causes} == {"ZonedAnswer"}
    one, two, three = skipped_logs(caplog)
    assert "answer .start holds 2026-03-01 00:00:00+01:00 in the time zone Europe/Paris" in one
    assert "fixed offset +01:00" in one and "daylight saving" in one
    assert "answer .events[1].start holds" in two
    assert "answer .at holds" in three


class Meeting(BaseModel):
    title: str
    start: datetime.datetime

    @field_serializer("title")
    def _t(self, v: str) -> str:
        return v


class Slot(BaseModel):
    start: datetime.datetime


class SubSlot(Slot):
    pass


def test_a_zoned_datetime_is_found_before_a_read_back_and_in_raw_lines(tmp_path: Path) -> None:
    ds = tmp_path / "raw.jsonl"
    inst = Instructions(dataset=ds, finetune_format="raw")

    @inst.distil
    def meeting(t: str) -> Meeting:  # own serializer: the read-back (fixed offsets) must not hide the zone
        return Meeting(title=t, start=datetime.datetime(2026, 6, 1, tzinfo=PARIS))

    @inst.distil
    def sub(n: int) -> Slot:  # a subclass, validated as the declared class
        return SubSlot(start=datetime.datetime(2026, 6, 1, tzinfo=PARIS))

    @inst.distil
    def fixed(n: int) -> Slot:
        return Slot(start=datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2))))

    meeting("m")
    sub(1)
    fixed(1)
    stats = inst.stats()
    assert (stats.captured, stats.skipped) == (1, 2), stats
    assert {k.rsplit(": ", 1)[1] for k in stats.causes} == {"ZonedAnswer"}
    assert json.loads(ds.read_text())["output"] == {"start": "2026-06-01T00:00:00+02:00"}


# --- a return model without a JSON schema (ical 14.3.1's Calendar: an `ical.types.uri.Uri` field) ----

class Uri:
    def __init__(self, text: str) -> None:
        self.text = text


class Linked(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    url: Uri


def test_a_return_model_without_a_json_schema_is_refused_once_naming_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inst = Instructions(dataset=tmp_path / "d.jsonl")

    @inst.distil
    def link(text: str) -> Linked:
        return Linked(url=Uri(text))

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        link("a")
        link("b")
    assert list(inst.stats().causes.values()) == [2]
    assert next(iter(inst.stats().causes)).endswith("link: DecorationError")
    assert link.__distil__._refused is not None  # type: ignore[attr-defined]  # kept, not rebuilt at each call
    (msg,) = skipped_logs(caplog)
    assert "returns Linked, which has no JSON schema (PydanticInvalidForJsonSchema" in msg


# --- wave 11: the strict read-back refused what the schema allows --------------------------------

class Dataset(BaseModel):
    """ome-zarr-models 1.7's `Dataset`: a tuple field behind a `mode="before"` validator that hands
    pydantic back the list it read (strict tuple validation refuses a list, the schema does not)."""

    path: str
    transforms: Union[tuple[float], tuple[float, float]]

    @field_validator("transforms", mode="before")
    @classmethod
    def _two_at_most(cls, v: Any) -> Any:
        assert len(v) in (1, 2)
        return v


class Image(BaseModel):
    datasets: list[Dataset]

    @model_serializer(mode="wrap")
    def _ser(self, handler: Any) -> Any:
        return handler(self)


def test_an_answer_the_schema_allows_is_captured_though_strict_validation_refuses_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(name="t", dataset=ds)

    @inst.distil
    def new(path: str, scale: float) -> Image:
        return Image(datasets=[Dataset(path=path, transforms=(scale,))])

    @inst.distil
    def problem(code: int) -> ScimErrorOwn:
        return ScimErrorOwn(status=code)

    assert new("s0", 0.5) == Image(datasets=[Dataset(path="s0", transforms=(0.5,))])
    with caplog.at_level(logging.WARNING, logger="distilgen"):
        problem(400)
    assert answers(ds) == [{"datasets": [{"path": "s0", "transforms": [0.5]}]}]
    # what the schema refuses is still refused, though lax validation reads it back
    assert inst.stats().causes == {f"{problem.__distil__.function_id}: SerializedAnswer": 1}
    assert any("writes .status as \"400\" (a string) where the tool schema wants an integer" in m
               for m in skipped_logs(caplog))


class ScimErrorOwn(BaseModel):
    status: int

    @model_serializer(mode="wrap")
    def _ser(self, handler: Any) -> Any:
        out = handler(self)
        out["status"] = str(out["status"])
        return out
