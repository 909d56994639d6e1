"""Wave 12 (sqlmesh, datachain, camel-ai, supabase-auth): a helper imported inside the function,
validators through a project's wrapper or registered by a call, an argument kept through
`x = {} if x is None else x`, the file system's state, one-time codes and secrets by name, a
model's method taking `**kwargs`, `.open()` of bytes in memory (/tmp/w12/repros-copy.md)."""

from __future__ import annotations

from pathlib import Path

from test_scan_real_code import scanned_package

MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: str\n"
OPENED = "calls open() (its answer depends on a file, not on its call)"


def project(tmp_path: Path, body: str, **files: str) -> dict[str, tuple[str, str | None]]:
    return scanned_package(tmp_path, MODEL + body, **files)


# -- 2: a helper imported inside the function ----------------------------------------------------
def test_helper_imported_inside_the_function(tmp_path: Path) -> None:
    """datachain's `ImageFile.get_info` (`from .image import image_info; return image_info(self)`,
    which opens the file) was a candidate: the helper chain followed module-level imports only."""
    got = project(tmp_path, """
class Image(BaseModel):
    path: str

    def get_info(self) -> M:
        from .reader import read_info
        return M(x=read_info(self.path))


def from_name(path: str) -> M:
    from .reader import read_info
    return M(x=read_info(path))


def from_module(path: str) -> M:
    from . import reader
    return M(x=reader.read_info(path))


def as_alias(path: str) -> M:
    import pkg.reader as r
    return M(x=r.read_info(path))


def renamed(path: str) -> M:
    from pkg.reader import read_info as ri
    return M(x=ri(path))


def pure(path: str) -> M:
    from .reader import shout
    return M(x=shout(path))
""", reader="""
def read_info(path: str) -> str:
    with open(path) as f:
        return f.read()


def shout(text: str) -> str:
    return text.upper()
""")
    assert got["Image.get_info"] == ("ineligible", f"calls read_info(), which {OPENED}")
    assert got["from_name"] == ("ineligible", f"calls read_info(), which {OPENED}")
    assert got["from_module"] == ("ineligible", f"calls reader.read_info(), which {OPENED}")
    assert got["as_alias"] == ("ineligible", f"calls r.read_info(), which {OPENED}")
    assert got["renamed"] == ("ineligible", f"calls ri(), which {OPENED}")
    assert got["pure"] == ("candidate", None)


# -- 3: validators through a project's wrapper, or registered by a call ------------------------
def test_validators_through_a_wrapper_or_registered_by_a_call(tmp_path: Path) -> None:
    """sqlmesh's `model_validator`/`field_validator` are its own defs returning pydantic's
    (`sqlmesh.utils.pydantic`); its `TimeColumn.validator()` returns
    `field_validator("time_column", mode="before")(_time_column_validator)`: both were candidates,
    and every validation of the model wrote an example."""
    got = project(tmp_path, """
from typing import Any

from typing_extensions import Self

from pkg.pyd import field_validator, model_validator, again


class Meta(BaseModel):
    name: str

    @model_validator(mode="after")
    def _root_validator(self) -> Self:
        return self

    @again(mode="after")
    def _twice(self) -> Self:
        return self


class TimeColumn(BaseModel):
    column: str

    @classmethod
    def validator(cls) -> Any:
        def _time_column_validator(v: Any) -> TimeColumn:
            return TimeColumn(column=str(v))

        return field_validator("time_column", mode="before")(_time_column_validator)


def _registered(v: Any) -> M:
    return M(x=str(v))


field_validator("x")(_registered)


class Plain(BaseModel):
    name: str

    @classmethod
    def wrapped(cls) -> Any:
        def _inner(v: Any) -> M:
            return M(x=str(v))

        return print(_inner)

    @model_validator
    def not_called(self) -> Self:
        return self
""", pyd="""
import typing as t

import pydantic


def model_validator(*args: t.Any, **kwargs: t.Any) -> t.Callable[[t.Any], t.Any]:
    \"\"\"pydantic's, typed for this project.\"\"\"
    return pydantic.model_validator(*args, **kwargs)


def field_validator(*args: t.Any, **kwargs: t.Any) -> t.Callable[[t.Any], t.Any]:
    return pydantic.field_validator(*args, **kwargs)


def again(*args: t.Any, **kwargs: t.Any) -> t.Callable[[t.Any], t.Any]:
    return model_validator(*args, **kwargs)
""")
    hook = "pydantic @{} (called by the model, not by your code)"
    assert got["Meta._root_validator"] == ("ineligible", hook.format("model_validator"))
    assert got["Meta._twice"] == ("ineligible", hook.format("model_validator"))
    assert got["TimeColumn.validator.<locals>._time_column_validator"] == ("ineligible", hook.format("field_validator"))
    assert got["_registered"] == ("ineligible", hook.format("field_validator"))
    assert got["Plain.wrapped.<locals>._inner"] == ("candidate", None)
    assert got["Plain.not_called"] == ("ineligible", hook.format("model_validator"))


# -- 4: an argument kept through `x = {} if x is None else x` ----------------------------------
def test_an_argument_kept_through_a_rebinding(tmp_path: Path) -> None:
    """sqlmesh's `fingerprint_from_node(node, *, nodes, cache=None)` does `cache = {} if cache is
    None else cache`, then `cache[node.fqn] = ...`: the caller's dict is filled (its recursion relies
    on it), and the rebinding hid the change."""
    got = project(tmp_path, """
import typing as t


def conditional(name: str, cache: t.Optional[t.Dict[str, M]] = None) -> M:
    cache = {} if cache is None else cache
    if name not in cache:
        cache[name] = M(x=name)
    return cache[name]


def or_default(name: str, seen: t.Optional[t.List[str]] = None) -> M:
    seen = seen or []
    seen.append(name)
    return M(x=name)


def if_none(name: str, cache: t.Optional[t.Dict[str, M]] = None) -> M:
    if cache is None:
        cache = {}
    cache[name] = M(x=name)
    return cache[name]


def if_not(name: str, seen: t.Optional[t.List[str]] = None) -> M:
    if not seen:
        seen = []
    seen.append(name)
    return M(x=name)


def copied(name: str, cache: t.Optional[t.Dict[str, M]] = None) -> M:
    cache = dict(cache) if cache is not None else {}
    cache[name] = M(x=name)
    return cache[name]


def copied_after_check(name: str, cache: t.Optional[t.Dict[str, M]] = None) -> M:
    if cache is None:
        cache = {}
    cache = dict(cache)
    cache[name] = M(x=name)
    return cache[name]
""")
    changes = "changes {} (a dispatched call would not)"
    assert got["conditional"] == ("ineligible", changes.format("cache[...]"))
    assert got["or_default"] == ("ineligible", changes.format("seen"))
    assert got["if_none"] == ("ineligible", changes.format("cache[...]"))
    assert got["if_not"] == ("ineligible", changes.format("seen"))
    assert got["copied"] == ("candidate", None)
    assert got["copied_after_check"] == ("candidate", None)


# -- 6: a listing or an existence check reads the file system's state --------------------------
def test_the_file_system_state(tmp_path: Path) -> None:
    """sqlmesh's web `get_files` -> `_get_directory` -> `os.scandir`: a candidate, its answer the
    folder's listing when called."""
    got = project(tmp_path, """
import glob
import os
import os.path
from os.path import getsize
from pathlib import Path


def scandir(path: str) -> M:
    with os.scandir(path) as it:
        return M(x=",".join(sorted(e.name for e in it)))


def listdir(path: str) -> M:
    return M(x=",".join(sorted(os.listdir(path))))


def walk(path: str) -> M:
    return M(x=",".join(d for d, _, _ in os.walk(path)))


def globbed(pattern: str) -> M:
    return M(x=",".join(glob.glob(pattern)))


def iterdir(path: Path) -> M:
    return M(x=",".join(p.name for p in path.iterdir()))


def rglob(path: str) -> M:
    return M(x=",".join(str(p) for p in Path(path).rglob("*.py")))


def path_exists(path: str) -> M:
    return M(x=path if os.path.exists(path) else "")


def path_is_file(path: Path) -> M:
    return M(x="file" if path.is_file() else "other")


def size(path: str) -> M:
    return M(x=str(getsize(path)))


def stat(path: str) -> M:
    return M(x=str(os.stat(path).st_mtime))


def _listing(path: str) -> list[str]:
    return os.listdir(path)


def through_helper(path: str) -> M:
    return M(x=",".join(_listing(path)))


class Folder(BaseModel):
    path: str

    def exists(self) -> bool:
        return bool(self.path)

    def described(self) -> M:
        return M(x="yes" if self.exists() else "no")


def pure(path: str) -> M:
    return M(x=os.path.join(path, os.path.basename(path)))
""")
    state = "(its answer depends on the file system's state, not on its call)"
    assert got["scandir"] == ("ineligible", f"calls os.scandir() {state}")
    assert got["listdir"] == ("ineligible", f"calls os.listdir() {state}")
    assert got["walk"] == ("ineligible", f"calls os.walk() {state}")
    assert got["globbed"] == ("ineligible", f"calls glob.glob() {state}")
    assert got["iterdir"] == ("ineligible", f"calls .iterdir() {state}")
    assert got["rglob"] == ("ineligible", f"calls .rglob() {state}")
    assert got["path_exists"] == ("ineligible", f"calls os.path.exists() {state}")
    assert got["path_is_file"] == ("ineligible", f"calls .is_file() {state}")
    assert got["size"] == ("ineligible", f"calls getsize() {state}")
    assert got["stat"] == ("ineligible", f"calls os.stat() {state}")
    assert got["through_helper"] == ("ineligible", f"calls _listing(), which calls os.listdir() {state}")
    assert got["Folder.described"] == ("candidate", None)
    assert got["pure"] == ("candidate", None)


# -- 7: one-time codes, a link's token, a secret inside a name ---------------------------------
def test_one_time_codes_and_secrets_by_name(tmp_path: Path) -> None:
    """supabase-auth's `GenerateLinkProperties` holds `email_otp` ("the raw email OTP") and
    `hashed_token` (a magic link's token); `verify_otp(email, otp)`, a `recovery_code`, a
    `totp_secret_b32` were candidates. One list of names judges parameters and fields alike."""
    got = project(tmp_path, """
class LinkProperties(BaseModel):
    action_link: str
    hashed_token: str


class EmailCode(BaseModel):
    email: str
    email_otp: str


class SecretRef(BaseModel):
    secret_name: str
    secret_arn: str


def parse_link(data: dict) -> LinkProperties:
    return LinkProperties(**data)


def parse_code(data: dict) -> EmailCode:
    return EmailCode(**data)


def parse_ref(data: dict) -> SecretRef:
    return SecretRef(**data)


def verify_otp(email: str, otp: str) -> M:
    return M(x=email)


def verify_recovery(email: str, recovery_code: str) -> M:
    return M(x=email)


def verify_totp(pin: str, totp_secret_b32: str) -> M:
    return M(x=pin)


def lookup(secret_name: str, status_code: int, zip_code: str, top: str) -> M:
    return M(x=secret_name)
""")
    clear = "parameter {} carries a credential (every example would hold it in clear)"
    field = "returns {}, whose field {} (str) carries a credential every example would hold in clear"
    assert got["parse_link"] == ("ineligible", field.format("LinkProperties", "hashed_token"))
    assert got["parse_code"] == ("ineligible", field.format("EmailCode", "email_otp"))
    assert got["parse_ref"] == ("candidate", None)
    assert got["verify_otp"] == ("ineligible", clear.format("otp"))
    assert got["verify_recovery"] == ("ineligible", clear.format("recovery_code"))
    assert got["verify_totp"] == ("ineligible", clear.format("totp_secret_b32"))
    assert got["lookup"] == ("candidate", None)


# -- 11: a model's method taking `self` and `**kwargs` -----------------------------------------
def test_a_model_method_taking_kwargs(tmp_path: Path) -> None:
    """sqlmesh's eleven dbt `XConfig.to_sqlmesh(self, **kwargs)` were refused "takes only
    *args/**kwargs", although the instance is written into every call."""
    got = project(tmp_path, """
import typing as t


class Target(BaseModel):
    host: str

    def to_conn(self) -> M:
        return M(x=self.host)

    def to_conn_kw(self, **kwargs: t.Any) -> M:
        return M(x=self.host, **kwargs)

    @classmethod
    def make(cls, *args: t.Any) -> M:
        return M(x=str(args))


def only_kwargs(**kwargs: t.Any) -> M:
    return M(**kwargs)
""")
    assert got["Target.to_conn_kw"] == ("candidate", None)
    assert got["Target.make"] == ("ineligible", "takes only *args/**kwargs")
    assert got["only_kwargs"] == ("ineligible", "takes only *args/**kwargs")


# -- 12: `.open()` of bytes in memory ----------------------------------------------------------
def test_open_of_bytes_in_memory(tmp_path: Path) -> None:
    """camel-ai's `MemoryRecord.from_dict` decodes base64 images from its argument with
    `Image.open(BytesIO(img_bytes))`: refused as reading a file, by the `.open()` and through PIL's
    `Image.open` (which opens a path when given one)."""
    got = project(tmp_path, """
import base64
import io
from io import BytesIO

from pkg.imaging import Image


def from_bytes(png_b64: str) -> M:
    img = Image.open(BytesIO(base64.b64decode(png_b64)))
    return M(x=str(img))


def from_module_name(png_b64: str) -> M:
    return M(x=str(Image.open(io.BytesIO(base64.b64decode(png_b64)))))


def through_a_name(text: str) -> M:
    from io import StringIO
    buf = StringIO(text)
    return M(x=str(Image.open(buf)))


def from_a_file(path: str) -> M:
    return M(x=str(Image.open(path)))
""", imaging="""
class Image:
    @staticmethod
    def open(fp: object) -> object:
        if isinstance(fp, str):
            with open(fp, "rb") as fh:
                return fh.read()
        return fp
""")
    assert got["from_bytes"] == ("candidate", None)
    assert got["from_module_name"] == ("candidate", None)
    assert got["through_a_name"] == ("candidate", None)
    assert got["from_a_file"] == ("ineligible", "calls .open() (its answer depends on a file's content, not on its call)")


# -- 5: an answer read from a registry other calls fill ----------------------------------------
def test_a_registry_other_calls_fill(tmp_path: Path) -> None:
    """datachain's `VFileRegistry.parent(cls, file, location)` answers through `cls._vtype_readers`,
    a `ClassVar` dict that `register()` changes: one call, two answers."""
    got = project(tmp_path, """
import typing as t


class Registry:
    _readers: t.ClassVar[t.Dict[str, int]] = {"tar": 512}

    @classmethod
    def register(cls, vtype: str, block: int) -> None:
        cls._readers[vtype] = block

    @classmethod
    def reader(cls, vtype: str) -> M:
        return M(x=str(cls._readers[vtype]))

    @staticmethod
    def by_name(vtype: str) -> M:
        return M(x=str(Registry._readers.get(vtype)))


_BLOCKS: t.Dict[str, int] = {}
_SEEN: t.List[str] = []
TABLE = {"tar": 512}
_memo: t.Dict[str, M] = {}


class Lazy:
    _table: t.ClassVar[t.Optional[t.Dict[str, int]]] = None

    @classmethod
    def table(cls) -> t.Dict[str, int]:
        if cls._table is None:
            cls._table = {"tar": 512}
        return cls._table

    @classmethod
    def block(cls, vtype: str) -> M:
        return M(x=str((cls._table or {}).get(vtype)))


def register(vtype: str, block: int) -> None:
    _BLOCKS[vtype] = block


def remember(name: str) -> None:
    _SEEN.append(name)


def reader(vtype: str) -> M:
    return M(x=str(_BLOCKS[vtype]))


def seen(name: str) -> M:
    return M(x=str(name in _SEEN))


def _block(vtype: str) -> int:
    return _BLOCKS.get(vtype, 0)


def through_helper(vtype: str) -> M:
    return M(x=str(_block(vtype)))


def constant(vtype: str) -> M:
    return M(x=str(TABLE[vtype]))


def memoised(name: str) -> M:
    if name not in _memo:
        _memo[name] = M(x=name.upper())
    return _memo[name]


def shadowed(vtype: str, _BLOCKS: t.Dict[str, int]) -> M:
    return M(x=str(_BLOCKS[vtype]))
""")
    put = "(its answer depends on what other calls put there, not on its call)"
    assert got["Registry.reader"] == ("ineligible", f"reads cls._readers, which Registry.register() changes {put}")
    assert got["Registry.by_name"] == ("ineligible", f"reads Registry._readers, which Registry.register() changes {put}")
    assert got["reader"] == ("ineligible", f"reads _BLOCKS, which register() changes {put}")
    assert got["seen"] == ("ineligible", f"reads _SEEN, which remember() changes {put}")
    assert got["through_helper"] == ("ineligible", f"calls _block(), which reads _BLOCKS, which register() changes {put}")
    assert got["constant"] == ("candidate", None)
    assert got["memoised"] == ("candidate", None)
    assert got["shadowed"] == ("candidate", None)
    assert got["Lazy.block"] == ("candidate", None)  # an attribute set once, not a container added to
