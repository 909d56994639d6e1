"""How varied a function's answers are: label counts for enum/Literal/bool fields, distinct outputs.

A dataset where every answer carries the same label teaches a model to print that label; `generate`
flags it so the user steers the inputs (`--strategies`, `--inputs`) before training on it.
"""

from __future__ import annotations

import enum
import json
import typing
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from pydantic import BaseModel

__all__ = ["FieldVariety", "Variety", "label_fields", "measure_variety"]


@dataclass(frozen=True)
class FieldVariety:
    field: str
    counts: tuple[tuple[str, int], ...]
    """(label, count), most common first."""
    labels: tuple[str, ...]
    """Every label the field's type allows (empty when open-ended)."""

    @property
    def single(self) -> bool:
        return len(self.counts) == 1


@dataclass(frozen=True)
class Variety:
    outputs: int
    distinct: int
    fields: tuple[FieldVariety, ...]
    flags: tuple[str, ...]


def _labels(tp: Any) -> tuple[str, ...] | None:
    """The finite label set of a type, or None when it is not a label type."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _labels(typing.get_args(tp)[0])
    if origin is typing.Literal:
        return tuple(str(a) for a in typing.get_args(tp))
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        parts = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(parts) == 1:
            inner = _labels(parts[0])
            return None if inner is None else (*inner, "None")
        return None
    if tp is bool:
        return ("False", "True")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tuple(str(m.value) for m in tp)
    return None


def label_fields(model: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """Fields of `model` whose type is a finite label set (enum, Literal, bool, Optional of those)."""
    out = {}
    for name, field in model.model_fields.items():
        labels = _labels(field.annotation)
        if labels is not None:
            out[name] = labels
    return out


def _label(v: Any) -> str:
    if isinstance(v, enum.Enum):
        return str(v.value)
    return str(v)


def measure_variety(model: type[BaseModel], outputs: Iterable[BaseModel]) -> Variety:
    outs = list(outputs)
    fields = label_fields(model)
    counters: dict[str, Counter[str]] = {name: Counter() for name in fields}
    distinct = set()
    for o in outs:
        distinct.add(json.dumps(o.model_dump(mode="json"), sort_keys=True))
        for name in fields:
            counters[name][_label(getattr(o, name))] += 1
    varieties = tuple(
        FieldVariety(name, tuple(counters[name].most_common()), fields[name]) for name in fields
    )
    flags = []
    if len(outs) >= 2:
        if len(distinct) == 1:
            flags.append(f"every one of the {len(outs)} answers is the same: the model would learn a constant")
        for fv in varieties:
            if fv.single:
                flags.append(f"every answer has {fv.field} = {fv.counts[0][0]!s}: steer the inputs (--strategies/--inputs)")
    return Variety(len(outs), len(distinct), varieties, tuple(flags))
