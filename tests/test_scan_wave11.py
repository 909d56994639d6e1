"""Wave 11 (datacontract-cli, conda-lock, ome-zarr-models, stravalib): functions whose answer
depends on more than their call, judged candidates. The environment read through a local name or
by `.items()`/`in`/`expandvars`; a validator registered by assignment; a decorator that makes a
property; a helper chain leaving its module twice; the standard library's file and database
readers (/tmp/h43/repros/04, 05, 07, 09, 10, 12)."""

from __future__ import annotations

from pathlib import Path

from test_scan_real_code import scanned, scanned_package, write

from distilgen import api

MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: str\n"


def project(tmp_path: Path, body: str, **files: str) -> dict[str, tuple[str, str | None]]:
    return scanned_package(tmp_path, MODEL + body, **files)


# -- 04 and 10: the environment, however it is read ----------------------------------------------
def test_environ_through_a_local_name(tmp_path: Path) -> None:
    """datacontract's `resolve_server_variables` wrote the environment's password into an answer:
    its helper read `environment = os.environ if variables is None else variables` (repro 04)."""
    got = project(tmp_path, """
import os
import re
from os import environ
from typing import Mapping, Optional


def alias_conditional(s: str, variables: Optional[Mapping[str, str]] = None) -> M:
    environment = os.environ if variables is None else variables
    return M(x=environment.get(s, s))


def alias_plain(s: str) -> M:
    environment = os.environ
    return M(x=environment.get(s, s))


def alias_in_closure(s: str) -> M:
    environment = os.environ

    def replace(match: re.Match) -> str:
        return environment.get(match.group(1), "")

    return M(x=re.sub(r"\\$\\{(\\w+)\\}", replace, s))


def _resolve(s: str, variables: Optional[Mapping[str, str]] = None) -> str:
    environment = environ if variables is None else variables
    return environment.get(s, s)


def through_helper(s: str) -> M:
    return M(x=_resolve(s))


def not_the_environment(s: str, environ: dict[str, str]) -> M:
    return M(x=s if s in environ else "")
""")
    env = "(its answer depends on the environment, not on its call)"
    assert got["alias_conditional"] == ("ineligible", f"reads os.environ {env}")
    assert got["alias_plain"] == ("ineligible", f"reads os.environ {env}")
    assert got["alias_in_closure"] == ("ineligible", f"reads os.environ {env}")
    assert got["through_helper"] == ("ineligible", f"calls _resolve(), which reads environ {env}")
    assert got["not_the_environment"] == ("candidate", None)


def test_environ_items_contains_and_expandvars(tmp_path: Path) -> None:
    """conda-lock's `Channel.from_string` answered `${MY_A_REPO_TOKEN}` or the token itself as the
    environment held it, read by `os.environ.items()` in a helper (repro 10)."""
    got = project(tmp_path, """
import os
import os.path


def _detect_used_env_var(value: str) -> str | None:
    candidates = {v: k for k, v in os.environ.items() if k.endswith("_TOKEN")}
    return candidates.get(value)


def from_string(value: str) -> M:
    name = _detect_used_env_var(value)
    return M(x=f"${{{name}}}" if name else value)


def contains(value: str) -> M:
    return M(x="yes" if value in os.environ else "no")


def expandvars(value: str) -> M:
    return M(x=os.path.expandvars(value))


def plain(value: str) -> M:
    return M(x=os.path.join(value, "x"))
""")
    env = "(its answer depends on the environment, not on its call)"
    assert got["from_string"] == ("ineligible", f"calls _detect_used_env_var(), which reads os.environ {env}")
    assert got["contains"] == ("ineligible", f"reads os.environ {env}")
    assert got["expandvars"] == ("ineligible", f"calls os.path.expandvars() {env}")
    assert got["plain"] == ("candidate", None)


# -- 07: a validator registered by assignment ----------------------------------------------------
def test_validator_registered_by_assignment(tmp_path: Path) -> None:
    """ome-zarr-models' `_check_valid_dtypes = model_validator(mode="after")(_check_valid_dtypes)`
    in a model's body: after `apply`, every validation of the model wrote an example (repro 07)."""
    got = project(tmp_path, """
from pydantic import field_validator, model_validator


def _check_labels(labels: "Labels") -> "Labels":
    return labels


def _check_other(labels: "Labels") -> "Labels":
    return labels


class Labels(BaseModel):
    names: list[str]

    _check_labels = model_validator(mode="after")(_check_labels)
    _renamed = model_validator(mode="after")(_check_other)


def module_level(m: M) -> M:
    return m


module_level = field_validator("x")(module_level)


def used_not_registered(labels: Labels) -> Labels:
    return labels


result = print(used_not_registered)
""")
    hook = "pydantic @{} (called by the model, not by your code)"
    assert got["_check_labels"] == ("ineligible", hook.format("model_validator"))
    assert got["_check_other"] == ("ineligible", hook.format("model_validator"))
    assert got["module_level"] == ("ineligible", hook.format("field_validator"))
    assert got["used_not_registered"] == ("candidate", None)


# -- 09: a decorator that makes a property -------------------------------------------------------
LAZY = """
from functools import cached_property as cp, wraps
from typing import Any, Callable, TypeVar

from pydantic import Field

from pkg.props import lazy_property, reify

T = TypeVar("T")


class Athlete(BaseModel):
    id: int
    bound_client: Any = Field(None, exclude=True)

    @lazy_property
    def stats(self) -> M:
        return self.bound_client.get_athlete_stats(self.id)

    @reify
    def described(self) -> M:
        return M(x=str(self.id))

    @cp
    def cached(self) -> M:
        return M(x=str(self.id))

    @wraps(print)
    def plain(self) -> M:
        return M(x=str(self.id))
"""
PROPS = """
from functools import wraps
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def lazy_property(fn: Callable[[Any], T]) -> T:
    @wraps(fn)
    def wrapper(obj: Any) -> T:
        if obj.bound_client is None:
            raise RuntimeError("unbound")
        return fn(obj)

    return property(wrapper)  # type: ignore[return-value]


class reify:
    def __init__(self, wrapped: Callable[[Any], Any]) -> None:
        self.wrapped = wrapped

    def __get__(self, inst: Any, objtype: Any = None) -> Any:
        return self.wrapped(inst)
"""


def test_property_making_decorator(tmp_path: Path) -> None:
    """stravalib's `@lazy_property` (a module function returning `property(wrapper)`) over
    `Athlete.stats`: a candidate, and `stubs` turned the attribute into a method (repro 09)."""
    root = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + LAZY, "pkg/props.py": PROPS})
    got = scanned(root)
    assert got["Athlete.stats"] == ("ineligible", "@lazy_property makes a property (no call to distil)")
    assert got["Athlete.described"] == ("ineligible", "@reify makes a property (no call to distil)")
    assert got["Athlete.cached"] == ("ineligible", "@cp makes a property (no call to distil)")
    assert got["Athlete.plain"] == ("candidate", None)
    # `stubs` writes candidates only: the property is no stub (no method over an attribute)
    report = api.stubs([root], model="ft:x", write=False)
    assert [f.rsplit(":", 1)[-1] for f in report.functions] == ["Athlete.plain"]


# -- 05: a helper chain through a second and a third module --------------------------------------
def test_helper_chain_across_modules(tmp_path: Path) -> None:
    """datacontract's `import_odcs` -> `read_resource()` (another module) -> `files.read_file()` (a
    third) -> `open()`; conda-lock's `parse_pdm_pyproject_toml` -> `parse_python_requirement()` (same
    module) -> `pypi_name_to_conda_name()` (another) -> `.read_bytes()` (repro 05)."""
    got = project(tmp_path, """
from pkg import resources
from pkg.resources import read_resource, read_resource_by_name, Reader
from pkg.lookup import to_conda


def through_helper(source: str) -> M:
    return M(x=read_resource(source))


def through_helper_by_name(source: str) -> M:
    return M(x=read_resource_by_name(source))


def by_module_attribute(source: str) -> M:
    return M(x=resources.read_resource(source))


def _parse_req(req: str, url: str) -> str:
    return to_conda(req.split("=")[0], url)


def via_local_helper(req: str, url: str) -> M:
    return M(x=_parse_req(req, url))


def through_a_method(source: str) -> M:
    return M(x=Reader.read(source))


def pure(source: str) -> M:
    return M(x=resources.pure(source))
""", resources="""
from pkg import files


def read_resource(location: str) -> str:
    return files.read_file(location)


def read_resource_by_name(location: str) -> str:
    from pkg.files import read_file
    return read_file(location)


def pure(location: str) -> str:
    return files.shout(location)


class Reader:
    @staticmethod
    def read(location: str) -> str:
        return Reader._inner(location)

    @staticmethod
    def _inner(location: str) -> str:
        return files.read_file(location)
""", files="""
def read_file(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def shout(text: str) -> str:
    return text.upper()
""", lookup="""
from pathlib import Path


def _get_lookup(url: str) -> bytes:
    return Path(url).read_bytes()


def to_conda(name: str, url: str) -> str:
    return name if name in _get_lookup(url).decode() else name.lower()
""")
    opened = "calls open() (its answer depends on a file, not on its call)"
    assert got["through_helper"] == ("ineligible", f"calls read_resource(), which calls files.read_file(), which {opened}")
    assert got["through_helper_by_name"] == ("ineligible",
                                             f"calls read_resource_by_name(), which calls read_file(), which {opened}")
    assert got["by_module_attribute"] == ("ineligible",
                                          f"calls resources.read_resource(), which calls files.read_file(), which {opened}")
    assert got["via_local_helper"] == ("ineligible", (
        "calls _parse_req(), which calls to_conda(), which calls _get_lookup(), which calls .read_bytes() "
        "(its answer depends on a file's content, not on its call)"))
    assert got["through_a_method"] == ("ineligible",
                                       f"calls Reader.read(), which calls Reader._inner(), which calls files.read_file(), "
                                       f"which {opened}")
    assert got["pure"] == ("candidate", None)


def test_helper_chain_depth_is_bounded(tmp_path: Path) -> None:
    """Followed four calls deep from the function, as within a module (its own call and three
    more); a fifth is not (the cost stays bounded)."""
    hop = "from pkg.h{n} import f{n}\n\n\ndef f{m}(s: str) -> str:\n    return f{n}(s)\n"
    files = {f"h{m}": hop.format(m=m, n=m + 1) for m in range(1, 6)}
    files["h6"] = "def f6(s: str) -> str:\n    return open(s).read()\n"
    got = project(tmp_path, """
from pkg.h2 import f2
from pkg.h3 import f3


def four(s: str) -> M:
    return M(x=f3(s))


def five(s: str) -> M:
    return M(x=f2(s))
""", **files)
    assert got["four"] == ("ineligible", "calls f3(), which calls f4(), which calls f5(), which calls f6(), which "
                                         "calls open() (its answer depends on a file, not on its call)")
    assert got["five"] == ("candidate", None)


# -- 12: the standard library's readers of a file or a database ---------------------------------
def test_stdlib_file_and_database_readers(tmp_path: Path) -> None:
    """datacontract's importers read their `source` (a CSV, a Parquet file, a database) through a
    library; the standard library's own readers were not known either (repro 12)."""
    got = project(tmp_path, """
import configparser
import sqlite3
import tarfile
import zipfile
from configparser import ConfigParser


def from_sqlite(source: str) -> M:
    con = sqlite3.connect(source)
    return M(x=str(con.execute("select 1").fetchall()))


def from_zip(source: str) -> M:
    return M(x=",".join(zipfile.ZipFile(source).namelist()))


def from_tar(source: str) -> M:
    return M(x=",".join(tarfile.open(source).getnames()))


def from_ini(source: str) -> M:
    cp = configparser.ConfigParser()
    cp.read(source)
    return M(x=",".join(cp.sections()))


def from_ini_string(text: str) -> M:
    cp = ConfigParser()
    cp.read_string(text)
    return M(x=",".join(cp.sections()))
""")
    assert got["from_sqlite"] == ("ineligible", "calls sqlite3.connect() (its answer depends on a database, not on its call)")
    assert got["from_zip"] == ("ineligible", "calls zipfile.ZipFile() (its answer depends on a file's content, not on its call)")
    assert got["from_tar"] == ("ineligible", "calls tarfile.open() (its answer depends on a file's content, not on its call)")
    assert got["from_ini"] == ("ineligible", "calls cp.read() (its answer depends on a file's content, not on its call)")
    assert got["from_ini_string"] == ("candidate", None)


def test_a_model_parameter_with_a_default_holding_a_secret_or_a_credential(tmp_path: Path) -> None:
    """datacontract's `import_mysql(..., config: Optional[Config] = None)`: the scan judged only the
    parameters a call must pass, so a call passing the config would carry its secret (masked:
    skipped at capture) or its plain-text credential (written in clear)."""
    got = project(tmp_path, """
from typing import Optional
from pydantic import SecretStr


class Config(BaseModel):
    host: str = "localhost"
    api_key: Optional[SecretStr] = None


class Login(BaseModel):
    user: str = "me"
    password: str = ""


class Options(BaseModel):
    limit: int = 10


def optional(name: str, config: Optional[Config] = None) -> M:
    return M(x=len(name))


def union_none(name: str, *, login: Login | None = None) -> M:
    return M(x=len(name))


def harmless(name: str, options: Optional[Options] = None) -> M:
    return M(x=len(name))
""")
    assert got["optional"] == ("ineligible", "parameter config holds a secret when passed (field api_key of Config "
                                             "is a SecretStr, shown masked: no call passing it can write its value)")
    assert got["union_none"] == ("ineligible", "parameter login carries a credential when passed (field password of "
                                               "Login is str: every example passing it would hold it in clear)")
    assert got["harmless"] == ("candidate", None)
