"""Wave 9: a serializer that changes its instance in place (appends to a field, fills a private
cache) changed the object the caller got back: capture put back what the serializer rebound, not
what it changed inside a value (/tmp/wave9/repros/11). The answer is now dumped from a copy; a value
that cannot be copied keeps the wave-8 way (its state put back by identity)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, PrivateAttr, field_serializer

from distilgen import Instructions


def answers(path: Path) -> list[dict[str, Any]]:
    return [json.loads(json.loads(line)["messages"][2]["tool_calls"][0]["function"]["arguments"])
            for line in path.read_text().splitlines()]


class Cached(BaseModel):
    x: int
    _cache: dict[str, int] = PrivateAttr(default_factory=dict)

    @field_serializer("x")
    def _count(self, v: int) -> int:
        self._cache["dumps"] = self._cache.get("dumps", 0) + 1  # a cache filled in place on dump
        return v


class Tagged(BaseModel):
    x: int
    tags: list[str] = []

    @field_serializer("x")
    def _tag(self, v: int) -> int:
        self.tags.append("seen")  # a field changed in place: no answer reads back as itself
        return v


class Locked(BaseModel):
    x: int
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)  # no deep copy of a lock
    _last: str = PrivateAttr(default="")

    @field_serializer("x")
    def _note(self, v: int) -> int:
        self._last = "dumped"  # rebound: put back by identity
        return v


def test_a_serializer_changing_its_instance_in_place_leaves_the_caller_s_object_alone(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def cached(x: int) -> Cached:
        return Cached(x=x)

    @inst.distil
    def tagged(x: int) -> Tagged:
        return Tagged(x=x, tags=["a"])

    got = cached(2)
    assert got._cache == {}  # as without capture (it held {"dumps": 1})
    bad = tagged(2)
    assert bad.tags == ["a"]  # as without capture (it held ["a", "seen"])
    stats = inst.stats()
    assert (stats.captured, stats.skipped) == (1, 1)  # `tagged`'s answer does not read back as itself
    assert any(k.endswith("tagged: SerializedAnswer") for k in stats.causes), stats.causes
    assert answers(ds) == [{"x": 2}]


def test_a_value_that_cannot_be_copied_still_has_its_state_put_back(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def locked(x: int) -> Locked:
        return Locked(x=x)

    got = locked(3)
    assert got._last == ""
    assert inst.stats().captured == 1
    assert answers(ds) == [{"x": 3}]
