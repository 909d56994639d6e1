"""Wave 9 (daytona-api-client, evidently with pandas 3, strands-agents): what the scan judged wrong.
`Self` inside an annotation (`Optional[Self]`) left the def out; a class under any decorator was
taken as writable (pandas 3's `@set_module` DataFrame); a model whose base is pydantic v1's
BaseModel in one branch of a compat module was a candidate; an ABC whose every implementation is
a plain class holding a client was writable (/tmp/wave9/repros/01, 02, 03, 10)."""

from __future__ import annotations

from pathlib import Path

from test_scan_real_code import scanned_package, write

from distilgen import api

MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: int\n"


def project(tmp_path: Path, body: str, **files: str) -> dict[str, tuple[str, str | None]]:
    return scanned_package(tmp_path, MODEL + body, **files)


# -- 01: `Self` inside the return annotation ------------------------------------------------------
def test_self_inside_an_annotation_is_its_class(tmp_path: Path) -> None:
    """daytona's ~270 `from_json(cls, s) -> Optional[Self]` were not listed at all: each gets the
    status its class's name written there gets (repro 01)."""
    got = project(tmp_path, """
from typing import Optional
import typing_extensions as te
from typing_extensions import Self


class A(BaseModel):
    x: int

    @classmethod
    def from_json(cls, s: str) -> Optional[Self]:
        return cls.model_validate_json(s)

    @classmethod
    def parse(cls, s: str) -> Self:
        return cls.model_validate_json(s)

    @classmethod
    def many(cls, s: str) -> list[Self]:
        return [cls.model_validate_json(s)]

    @classmethod
    def maybe(cls, s: str) -> "Self | None":
        return cls.model_validate_json(s)

    @classmethod
    def spelled(cls, s: str) -> "Optional[te.Self]":
        return cls.model_validate_json(s)

    class Inner(BaseModel):
        y: int

        @classmethod
        def from_dict(cls, d: dict[str, int]) -> Self | None:
            return cls.model_validate(d)


class Plain:
    def clone(self) -> Optional[Self]:
        return self
""")
    assert got["A.parse"] == ("candidate", None)
    for name in ("A.from_json", "A.maybe", "A.spelled", "A.Inner.from_dict"):
        assert got[name] == ("wrapped", "wrapped in Optional"), name
    assert got["A.many"] == ("wrapped", "wrapped in list")
    assert "Plain.clone" not in got  # `-> Self` of a class that is no model: not listed, as before


def test_self_of_a_model_is_reported_with_its_model(tmp_path: Path) -> None:
    result = {r.qualname: r for r in api.scan([write(tmp_path, {
        "pyproject.toml": "", "pkg/__init__.py": "",
        "pkg/m.py": "from typing import Optional, Self\nfrom pydantic import BaseModel\n\n\n"
                    "class A(BaseModel):\n    x: int\n\n"
                    "    @classmethod\n    def from_json(cls, s: str) -> Optional[Self]:\n"
                    "        return cls.model_validate_json(s)\n",
    })], use_cache=False).results}
    assert result["A.from_json"].model == "pkg.m.A"


# -- 10: a decorator that makes no dataclass ---------------------------------------------------------
def test_only_a_dataclass_making_decorator_leaves_a_class_unjudged(tmp_path: Path) -> None:
    """pandas 3 puts `@set_module("pandas")` on DataFrame: its parameters were taken as writable
    (evidently: +30 false candidates). A class under a decorator that can make a dataclass-like
    value is still not judged (repro 10)."""
    got = project(tmp_path, """
import dataclasses
import functools
from dataclasses import dataclass

import attrs
from typing_extensions import dataclass_transform

from pkg.frame import DataFrame


def set_module(module):
    def deco(obj):
        obj.__module__ = module
        return obj
    return deco


@dataclass_transform()
def model_like(cls):
    return dataclasses.dataclass(cls)


@set_module("pkg")
class Frame:
    def __init__(self, rows):
        self.rows = rows


@functools.total_ordering
class Ordered:
    def __init__(self, n):
        self.n = n


@dataclass
class Point:
    x: int


@dataclasses.dataclass(frozen=True)
class Frozen:
    x: int


@attrs.define
class ByAttrs:
    x: int


@model_like
class ByTransform:
    x: int


def summarize(frame: Frame) -> M:
    return M(x=len(frame.rows))


def summarize_df(df: DataFrame) -> M:
    return M(x=len(df))


def ordered(o: Ordered) -> M:
    return M(x=o.n)


def point(p: Point, f: Frozen, a: ByAttrs, t: ByTransform) -> M:
    return M(x=p.x)
""", frame="""
def set_module(module):
    def deco(obj):
        obj.__module__ = module
        return obj
    return deco


class NDFrame:
    def __init__(self, data):
        self._data = data


@set_module("pkg")
class DataFrame(NDFrame):
    pass
""")
    assert got["summarize"] == ("ineligible", "parameter frame is of class pkg.m.Frame (no call can write its value)")
    assert got["summarize_df"] == (
        "ineligible", "parameter df is of class pkg.frame.DataFrame (no call can write its value)")
    assert got["ordered"] == ("ineligible", "parameter o is of class pkg.m.Ordered (no call can write its value)")
    assert got["point"] == ("candidate", None)


# -- 03: a compat module binding pydantic v1's BaseModel --------------------------------------------
V2_USER = """
from pkg._compat import BaseModel as CompatModel


class Drift(CompatModel):
    score: float


class Deeper(Drift):
    extra: int


def drift(a: float, b: float) -> Drift:
    return Drift(score=abs(a - b))


def deeper(a: float) -> Deeper:
    return Deeper(score=a, extra=1)


def plain(a: int) -> M:
    return M(x=a)


class Report(Drift):
    def summary(self) -> M:
        return M(x=1)
"""


def test_a_model_from_an_if_compat_module_may_be_v1(tmp_path: Path) -> None:
    """evidently's `_pydantic_compat`: `if v == 1: from pydantic import BaseModel` / `else: from
    pydantic.v1 import BaseModel`: 271 false candidates, each a v1 model at run time (repro 03)."""
    got = project(tmp_path, V2_USER, _compat="""
import pydantic

if pydantic.VERSION.startswith("1"):
    from pydantic import BaseModel
else:
    from pydantic.v1 import BaseModel
""")
    why = "may be a pydantic v1 model (BaseModel is bound from pydantic.v1 in pkg/_compat.py)"
    assert got["drift"] == ("ineligible", f"Drift {why}")
    assert got["deeper"] == ("ineligible", f"Deeper {why}")
    assert got["Report.summary"] == ("ineligible", f"Report {why}")
    assert got["plain"] == ("candidate", None)


def test_a_model_from_a_try_compat_module_may_be_v1(tmp_path: Path) -> None:
    """The same with `try`/`except ImportError`; an import whose fallback is `None` keeps the import
    alone (a v2 model, a candidate as before)."""
    got = project(tmp_path, V2_USER, _compat="""
try:
    from pydantic.v1 import BaseModel
except ImportError:
    from pydantic import BaseModel
""", _fallback="""
try:
    from pydantic import BaseModel
except ImportError:
    BaseModel = None
""", fine="""
from pkg._fallback import BaseModel


class Fine(BaseModel):
    x: int


def fine(x: int) -> Fine:
    return Fine(x=x)
""")
    assert got["drift"] == (
        "ineligible", "Drift may be a pydantic v1 model (BaseModel is bound from pydantic.v1 in pkg/_compat.py)")
    assert got["plain"] == ("candidate", None)
    assert got["fine"] == ("candidate", None)


# -- 02: an ABC judged by its implementations ---------------------------------------------------------
def test_an_abc_whose_implementations_are_plain_is_unwritable(tmp_path: Path) -> None:
    """strands' `_invoke_classifier(model: Model, ...)`: `Model` is an ABC, and every implementation
    in the package is a plain class holding a provider's client; every call was skipped at capture
    (repro 02). An ABC with a writable implementation, or none found, is still not judged."""
    got = project(tmp_path, """
import abc
from dataclasses import dataclass

from pkg.providers import Provider


class Model(abc.ABC):
    @abc.abstractmethod
    def complete(self, prompt: str) -> int: ...


class BedrockModel(Model):
    def __init__(self, region: str) -> None:
        self.region = region

    def complete(self, prompt: str) -> int:
        return len(prompt) % 3


class Shape(abc.ABC):
    @abc.abstractmethod
    def area(self) -> float: ...


class Square(Shape):
    def __init__(self, side: float) -> None:
        self.side = side


@dataclass
class Circle(Shape):
    r: float


class Lonely(abc.ABC):
    @abc.abstractmethod
    def run(self) -> None: ...


def classify(model: Model, request: str) -> M:
    return M(x=model.complete(request))


def measure(shape: Shape) -> M:
    return M(x=1)


def lonely(item: Lonely) -> M:
    return M(x=1)


def provide(p: Provider) -> M:
    return M(x=1)
""", providers="""
import abc
from typing import Protocol


class Closeable(Protocol):
    def close(self) -> None: ...


class Provider(abc.ABC):
    @abc.abstractmethod
    def ask(self) -> str: ...


class Remote(Provider, abc.ABC):
    pass


class OpenAIProvider(Remote):
    def __init__(self, key: str) -> None:
        self.client = object()


class AnthropicProvider(Remote, Closeable):  # a Protocol mixin gives no written form (strands' AudioCapable)
    def __init__(self, key: str) -> None:
        self.client = object()
""")
    assert got["classify"] == ("ineligible", "parameter model is of class pkg.m.Model, whose implementations "
                               "(pkg.m.BedrockModel) are not models (no call can write its value)")
    assert got["measure"] == ("candidate", None)  # Circle, a dataclass, is written
    assert got["lonely"] == ("candidate", None)  # no implementation found: not judged
    status, reason = got["provide"]
    assert status == "ineligible" and reason is not None
    assert "pkg.providers.Provider, whose implementations (pkg.providers.Remote) are not models" in reason
