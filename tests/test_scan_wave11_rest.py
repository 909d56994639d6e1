"""Wave 11, the defects left after the first fixes (docs/real-world.md, "The eleventh wave", items
8 and 9): third-party file and database readers (datacontract-cli's duckdb and pyarrow importers);
a method of a plain class whose body never uses `self` (python-on-whales' 14
`_parse_json_object`); a store handle from an installed library taken as writable
(ome-zarr-models' 18 `from_zarr(cls, group: zarr.Group)`)."""

from __future__ import annotations

from pathlib import Path

from test_scan_real_code import scanned_package

MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: str\n"


def project(tmp_path: Path, body: str, **files: str) -> dict[str, tuple[str, str | None]]:
    return scanned_package(tmp_path, MODEL + body, **files)


def file_reason(call: str, what: str = "a file's content") -> tuple[str, str]:
    return ("ineligible", f"calls {call}() (its answer depends on {what}, not on its call)")


# -- item 8: third-party readers of a file or a database --------------------------------------------
def test_third_party_file_and_database_readers(tmp_path: Path) -> None:
    """datacontract's importers read their `source` through duckdb, pyarrow or pandas: one call,
    as many answers as the file has had contents. A reader handed the text itself
    (`pd.read_csv(io.StringIO(text))`) answers from its call."""
    got = project(tmp_path, """
import io

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import sqlalchemy
from pyarrow import csv as pacsv


def from_duckdb(source: str) -> M:
    con = duckdb.connect(database=":memory:")
    return M(x=str(con.sql(f"select * from read_csv('{source}')").fetchall()))


def from_duckdb_csv(source: str) -> M:
    return M(x=str(duckdb.read_csv(source)))


def from_parquet(source: str) -> M:
    return M(x=str(pq.read_table(source).schema))


def from_arrow_csv(source: str) -> M:
    return M(x=str(pacsv.read_csv(source).schema))


def from_pandas(source: str) -> M:
    return M(x=str(pd.read_csv(source).columns))


def from_pandas_excel(source: str) -> M:
    return M(x=str(pd.read_excel(source).columns))


def from_polars(source: str) -> M:
    return M(x=str(pl.read_parquet(source).columns))


def from_engine(url: str) -> M:
    return M(x=str(sqlalchemy.create_engine(url).dialect))


def from_workbook(source: str) -> M:
    import openpyxl

    return M(x=",".join(openpyxl.load_workbook(source).sheetnames))


def from_xsd(source: str) -> M:
    import xmlschema

    return M(x=str(xmlschema.XMLSchema(source).elements))


def from_text(text: str) -> M:
    return M(x=str(pd.read_csv(io.StringIO(text)).columns))


def from_frame(frame: dict[str, list[int]]) -> M:
    return M(x=str(pd.DataFrame(frame).columns))
""")
    assert got["from_duckdb"] == file_reason("duckdb.connect", "a database")
    assert got["from_duckdb_csv"] == file_reason("duckdb.read_csv")
    assert got["from_parquet"] == file_reason("pq.read_table")
    assert got["from_arrow_csv"] == file_reason("pacsv.read_csv")
    assert got["from_pandas"] == file_reason("pd.read_csv")
    assert got["from_pandas_excel"] == file_reason("pd.read_excel")
    assert got["from_polars"] == file_reason("pl.read_parquet")
    assert got["from_engine"] == file_reason("sqlalchemy.create_engine", "a database")
    assert got["from_workbook"] == file_reason("openpyxl.load_workbook")
    assert got["from_xsd"] == file_reason("xmlschema.XMLSchema")
    assert got["from_text"] == ("candidate", None)
    assert got["from_frame"] == ("candidate", None)


def test_third_party_reader_through_a_helper(tmp_path: Path) -> None:
    """The reader in a helper of another module, as datacontract's importers call theirs."""
    got = project(tmp_path, """
from pkg.io_helpers import load_table


def import_parquet(source: str) -> M:
    return M(x=str(load_table(source)))
""", io_helpers="""
from pyarrow.parquet import read_table


def load_table(source: str) -> object:
    return read_table(source)
""")
    assert got["import_parquet"] == ("ineligible", "calls load_table(), which calls read_table() "
                                                   "(its answer depends on a file's content, not on its call)")


# -- item 9: a plain class's method whose body never uses its instance -----------------------------
def test_a_method_that_never_uses_self_is_judged_as_a_function(tmp_path: Path) -> None:
    """python-on-whales' 14 `_parse_json_object(self, json_object: dict) -> Model` on its CLI
    callers were refused as reading state not in the call: their bodies never read `self`. The
    runtime captures such a method as `Cls.method(...)` (tests/test_capture_selfless.py)."""
    got = project(tmp_path, """
from typing import Any


class Base:
    def parse(self, raw: dict[str, Any]) -> M:
        return M(x=str(raw))


class DockerCLICaller(Base):
    def __init__(self, config: object) -> None:
        self.config = config

    def _parse_json_object(self, json_object: dict[str, Any]) -> M:
        return M(x=str(json_object["Id"]))

    def inspect(self, x: str) -> M:
        return M(x=str(self.config) + x)

    def through_super(self, raw: dict[str, Any]) -> M:
        return super().parse(raw)

    def through_class(self, raw: dict[str, Any]) -> M:
        return __class__.parse(None, raw)

    def in_a_closure(self, x: str) -> M:
        return (lambda: M(x=str(self.config) + x))()

    def constant(self) -> M:
        return M(x="")

    def reads_a_file(self, path: str) -> M:
        return M(x=open(path).read())

    def takes_a_callable(self, f: "Callable[[], str]") -> M:
        return M(x=f())
""")
    plain = "instance method of non-model class DockerCLICaller (its state is not in the call)"
    assert got["DockerCLICaller._parse_json_object"] == ("candidate", None)
    assert got["Base.parse"] == ("candidate", None)
    assert got["DockerCLICaller.inspect"] == ("ineligible", plain)
    assert got["DockerCLICaller.through_super"] == ("ineligible", plain)
    assert got["DockerCLICaller.through_class"] == ("ineligible", plain)
    assert got["DockerCLICaller.in_a_closure"] == ("ineligible", plain)
    assert got["DockerCLICaller.constant"] == (
        "ineligible", "takes no arguments (a call carries nothing its answer could depend on)")
    assert got["DockerCLICaller.reads_a_file"] == ("ineligible", "calls open() (its answer depends on a file, not on its call)")
    assert got["DockerCLICaller.takes_a_callable"] == (
        "ineligible", "parameter f is a Callable (no call can write its value)")


def test_a_model_method_that_never_uses_self_keeps_its_rules(tmp_path: Path) -> None:
    """A model's method writes its instance into the call whether or not its body reads it: a
    secret its instance holds still refuses it."""
    got = project(tmp_path, """
from pydantic import SecretStr


class Creds(BaseModel):
    user: str
    key: SecretStr

    def label(self, prefix: str) -> M:
        return M(x=prefix)
""")
    assert got["Creds.label"] == ("ineligible", "self holds a secret (field key is a SecretStr: no example may hold it)")


# -- item 9: a store handle from an installed library --------------------------------------------
ZARR_LIKE = {
    # zarr 3's layout: `Group` a frozen dataclass over an `AsyncGroup` over a `StorePath`, a plain
    # class holding an open `Store` (an ABC)
    "zarrlike/__init__.py": "from zarrlike.core.group import Group\n\n__all__ = ['Group']\n",
    "zarrlike/core/__init__.py": "",
    "zarrlike/core/sync.py": "class SyncMixin:\n    pass\n",
    "zarrlike/core/group.py": """
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zarrlike.core.sync import SyncMixin

if TYPE_CHECKING:
    from zarrlike.storage import StorePath


@dataclass(frozen=True)
class GroupMetadata:
    attributes: dict[str, Any]
    zarr_format: int = 3


@dataclass(frozen=True)
class AsyncGroup:
    metadata: GroupMetadata
    store_path: StorePath


@dataclass(frozen=True)
class Group(SyncMixin):
    _async_group: AsyncGroup
""",
    "zarrlike/storage.py": """
from abc import ABC, abstractmethod


class Store(ABC):
    @abstractmethod
    def get(self, key: str) -> bytes: ...


class StorePath:
    store: Store
    path: str

    def __init__(self, store: Store, path: str = "") -> None:
        self.store = store
        self.path = path
""",
}


def test_a_dataclass_holding_a_store_handle_is_not_writable(tmp_path: Path) -> None:
    """ome-zarr-models' 18 `from_zarr(cls, group: zarr.Group) -> Self` were candidates: zarr 3's
    `Group` is a dataclass, and a dataclass was taken as writable whatever its fields held. Its
    `_async_group` holds a `StorePath` (a plain class over an open store): every call was skipped
    at capture. A dataclass of values, or one whose odd field may be None, stays writable."""
    from test_scan_real_code import scanned, write

    got = scanned(write(tmp_path, {"pyproject.toml": "", **ZARR_LIKE, "pkg/__init__.py": "", "pkg/m.py": MODEL + """
from dataclasses import dataclass
from typing import Optional

from typing_extensions import Self

import zarrlike
from zarrlike.core.group import GroupMetadata
from zarrlike.storage import StorePath


@dataclass
class Settings:
    name: str
    size: int
    meta: GroupMetadata
    _hidden: str


@dataclass
class MaybeStore:
    name: str
    where: Optional[StorePath]
    later: StorePath = None  # type: ignore[assignment]


class Image(BaseModel):
    x: str

    @classmethod
    def from_zarr(cls, group: zarrlike.Group) -> Self:
        return cls(x=str(group))

    @classmethod
    def from_settings(cls, s: Settings, m: MaybeStore) -> Self:
        return cls(x=s.name + m.name)
"""}))
    assert got["Image.from_zarr"] == (
        "ineligible", "parameter group is of class zarrlike.core.group.Group, a dataclass whose field _async_group "
                      "is of class zarrlike.core.group.AsyncGroup, a dataclass whose field store_path is of class "
                      "zarrlike.storage.StorePath (no call can write its value)")
    assert got["Image.from_settings"] == ("candidate", None)


# -- wave 10, left: a dataclass's method -------------------------------------------------------------
def test_a_dataclass_method_is_judged_as_a_model_method(tmp_path: Path) -> None:
    """hera 7's classes are dataclasses, and their `_build_*()`/`build()` methods were refused as
    instance methods of classes that are not models: the runtime writes a dataclass instance into
    the call as it writes a model (`TarArchiveStrategy(compression_level=3)._build_archive_strategy()`),
    so their methods are judged as a model's. Only `dataclasses`' and pydantic's `dataclass` count
    (what the runtime checks); an instance with a field no call can write, or one whose class has a
    `__post_init__` (hera's `Parameter` turns `default=None` into `'null'`: the written instance is
    not the one the method answered for), refuses the method."""
    got = project(tmp_path, """
from dataclasses import dataclass
from typing import Any, Callable, Optional

import attrs


class Handle:
    def __init__(self) -> None:
        self.fd = 3


@dataclass(kw_only=True)
class ArchiveStrategy:
    compression_level: Optional[int] = None
    dumps: Optional[Callable[[Any], str]] = None

    def _check(self) -> None:
        if self.compression_level is None:
            raise ValueError("level")

    def _build_archive_strategy(self) -> M:
        self._check()
        return M(x=str(self.compression_level))


@dataclass
class TarArchiveStrategy(ArchiveStrategy):
    pass


@dataclass(kw_only=True)
class Parameter:
    name: Optional[str] = None
    default: Optional[Any] = None

    def __post_init__(self) -> None:
        self.default = str(self.default)

    def as_input(self) -> M:
        return M(x=f"{self.name}={self.default}")


@dataclass(kw_only=True)
class Output(Parameter):
    def as_output(self) -> M:
        return M(x=f"{self.name}")


@dataclass
class Opened:
    handle: Handle

    def describe(self, prefix: str) -> M:
        return M(x=prefix + str(self.handle.fd))


@attrs.define
class Record:
    name: str

    def describe(self) -> M:
        return M(x=self.name)
""")
    assert got["ArchiveStrategy._build_archive_strategy"] == ("candidate", None)
    post = "a dataclass whose __post_init__ (in pkg.m.Parameter) may change what it is given, so the written " \
           "instance may not be the one the method answered for"
    assert got["Parameter.as_input"] == ("ineligible", f"self is of class pkg.m.Parameter, {post}")
    assert got["Output.as_output"] == ("ineligible", f"self is of class pkg.m.Output, {post}")
    assert got["Opened.describe"] == ("ineligible", "self is of class pkg.m.Opened, a dataclass whose field handle "
                                                    "is of class pkg.m.Handle (no call can write its value)")
    assert got["Record.describe"] == ("ineligible", "instance method of non-model class Record (its state is not in the call)")
