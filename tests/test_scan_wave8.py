"""Wave 8 (prefect-client, bioimageio.spec, fastapi-pagination, firecrawl-py, morecantile): what
the scan judged wrong, each way. Candidates a call cannot render or determine are `ineligible` now,
with a reason naming why; wrong refusals are candidates again; the cases beside each that must keep
their status are checked too (/tmp/wave8/repros/NN_*)."""

from __future__ import annotations

from pathlib import Path

from test_scan_real_code import write

from distilgen import api

MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: int\n"


def scanned(project: Path) -> dict[str, tuple[str, str | None]]:
    return {r.qualname: (r.status, r.reason) for r in api.scan([project], use_cache=False).results}


def project(tmp_path: Path, body: str) -> dict[str, tuple[str, str | None]]:
    return scanned(write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + body}))


def test_a_diamond_of_plain_bases_is_still_plain(tmp_path: Path) -> None:
    """prefect's `PrefectClient` derives from fifteen mixins of `BaseAsyncClient`: the second mixin
    met the shared base again and took it as "not known", so the client was writable (repro 08)."""
    got = project(tmp_path, """
class BaseAsyncClient:
    def __init__(self, http: object) -> None:
        self._http = http


class ArtifactClient(BaseAsyncClient):
    pass


class VariableClient(BaseAsyncClient):
    pass


class PrefectClient(ArtifactClient, VariableClient):
    pass


class Named(str):
    pass


class Tagged(str):
    pass


class Label(Named, Tagged):
    pass


def prepare_one_base(client: ArtifactClient, name: str) -> M:
    return M(x=len(name))


def prepare(client: PrefectClient, name: str) -> M:
    return M(x=len(name))


def labelled(label: Label) -> M:
    return M(x=len(label))
""")
    assert got["prepare"] == ("ineligible", "parameter client is of class pkg.m.PrefectClient (no call can write its value)")
    assert got["prepare_one_base"][0] == "ineligible"
    assert got["labelled"] == ("candidate", None)  # a diamond over `str` is written as a str


def test_private_attributes_and_class_variables_are_no_fields(tmp_path: Path) -> None:
    """bioimageio's `Version` keeps a `packaging` Version in a `PrivateAttr`, computed in
    `model_post_init`; pydantic takes neither `_x` nor a `ClassVar` as a field (repro 07)."""
    got = project(tmp_path, """
import threading
import typing
from typing import Any, ClassVar, Union

from pydantic import PrivateAttr, RootModel


class Handle:
    def __init__(self, text: str) -> None:
        self.text = text


class Version(RootModel[Union[str, int, float]]):
    _version: Handle = PrivateAttr()

    def model_post_init(self, __context: Any, /) -> None:
        self._version = Handle(str(self.root))


class Cfg(BaseModel):
    lock: ClassVar[threading.Lock] = threading.Lock()
    other: typing.ClassVar[threading.Lock]
    quoted: "ClassVar[threading.Lock]"
    name: str


class Held(BaseModel):
    handle: Handle


def tf_env(tensorflow_version: Version) -> M:
    return M(x=1)


def f(cfg: Cfg) -> M:
    return M(x=len(cfg.name))


def held(h: Held) -> M:
    return M(x=1)
""")
    assert got["tf_env"] == ("candidate", None)
    assert got["f"] == ("candidate", None)
    assert got["held"] == ("ineligible", "parameter h is of class pkg.m.Held, a model with a field that is of class "
                                         "pkg.m.Handle (no call can write its value)")


def test_an_abc_parameter_is_not_judged(tmp_path: Path) -> None:
    """fastapi-pagination's `Page.create(items, params: AbstractParams)`: every implementation of
    the ABC is a model, which a call writes (repro 12a)."""
    got = project(tmp_path, """
import abc
from abc import ABC, ABCMeta, abstractmethod


class AbstractParams(ABC):
    @abstractmethod
    def to_raw_params(self) -> dict[str, int]: ...


class ByMeta(metaclass=ABCMeta):
    pass


class ByMethod:
    @abc.abstractmethod
    def run(self) -> None: ...


class Params(BaseModel, AbstractParams):
    page: int = 1

    def to_raw_params(self) -> dict[str, int]:
        return {"page": self.page}


class Concrete(AbstractParams):
    def to_raw_params(self) -> dict[str, int]:
        return {}


def create(items: list[int], params: AbstractParams) -> M:
    return M(x=len(items))


def by_meta(p: ByMeta) -> M:
    return M(x=1)


def by_method(p: ByMethod) -> M:
    return M(x=1)


def concrete(p: Concrete) -> M:
    return M(x=1)
""")
    assert got["create"] == ("candidate", None)
    assert got["by_meta"] == ("candidate", None)
    assert got["by_method"] == ("candidate", None)
    # a concrete class deriving from an ABC is its own class
    assert got["concrete"] == ("ineligible", "parameter p is of class pkg.m.Concrete (no call can write its value)")


def test_a_flag_named_like_a_credential_holds_none(tmp_path: Path) -> None:
    """firecrawl's `get_credit_usage_historical(client, by_api_key: bool = False)` (repro 12b)."""
    got = project(tmp_path, """
from typing import Literal, Optional


def credit_usage(team: str, by_api_key: bool = False) -> M:
    return M(x=len(team))


def counted(team: str, password: int, secret: float, api_key: Optional[bool], token_kind: "bool | None") -> M:
    return M(x=len(team))


def chosen(team: str, credentials: Literal["env", "file"]) -> M:
    return M(x=len(team))


def keyed(team: str, api_key: str) -> M:
    return M(x=len(team))


def unannotated(team: str, password) -> M:
    return M(x=len(team))


def listed(team: str, api_key: list[bool]) -> M:
    return M(x=len(team))
""")
    for name in ("credit_usage", "counted", "chosen"):
        assert got[name] == ("candidate", None), name
    for name in ("keyed", "unannotated", "listed"):
        assert got[name][0] == "ineligible" and "carries a credential" in str(got[name][1]), name


def test_inspect_classes_are_live(tmp_path: Path) -> None:
    """prefect's `generate_parameter_schema(signature: inspect.Signature, ...)`: every call was
    skipped, as no call text writes a Signature (repro 05)."""
    got = project(tmp_path, """
import inspect
from inspect import Parameter


def generate_parameter_schema(signature: inspect.Signature, docstrings: dict[str, str]) -> M:
    return M(x=len(signature.parameters))


def one(p: Parameter) -> M:
    return M(x=1)


def kinds(kind: inspect._ParameterKind = inspect.Parameter.POSITIONAL_ONLY, n: int = 0) -> M:
    return M(x=n)
""")
    assert got["generate_parameter_schema"] == (
        "ineligible", "parameter signature is of class inspect.Signature (no call can write its value)")
    assert got["one"] == ("ineligible", "parameter p is of class inspect.Parameter (no call can write its value)")
    assert got["kinds"] == ("candidate", None)  # a default: not judged


def test_a_model_method_whose_instance_holds_a_secret(tmp_path: Path) -> None:
    """prefect's `Settings` holds `api.key: SecretStr | None`: its methods write the instance, so
    the secret, into every call (repro 05)."""
    got = project(tmp_path, """
from typing import Optional

from pydantic import SecretBytes, SecretStr
import pydantic


class ApiSettings(BaseModel):
    url: str = "http://localhost"
    key: Optional[SecretStr] = None


class Settings(BaseModel):
    api: ApiSettings = ApiSettings()
    debug: bool = False

    def summary(self, n: int) -> M:
        return M(x=n)


class Keyed(BaseModel):
    raw: "pydantic.SecretBytes"


class Child(Keyed):
    name: str

    def summary(self, n: int) -> M:
        return M(x=n)


class Plain(BaseModel):
    api_url: str

    def summary(self, n: int) -> M:
        return M(x=n)

    @classmethod
    def make(cls, n: int) -> M:
        return M(x=n)
""")
    assert got["Settings.summary"] == (
        "ineligible", "self holds a secret (field api.key is a SecretStr: no example may hold it)")
    assert got["Child.summary"] == (
        "ineligible", "self holds a secret (field raw is a SecretBytes: no example may hold it)")
    assert got["Plain.summary"] == ("candidate", None)
    assert got["Plain.make"] == ("candidate", None)


def test_a_return_model_holding_a_secret(tmp_path: Path) -> None:
    """An answer is dumped with pydantic's mask: `{"token": "**********"}` taught as the answer,
    and dispatched back as the secret (repro 06; prefect's `Block._from_block_document`)."""
    got = project(tmp_path, """
from typing import Optional

from pydantic import SecretStr
from typing_extensions import Self


class Credentials(BaseModel):
    user: str
    token: Optional[SecretStr] = None

    @classmethod
    def parse(cls, dsn: str) -> Self:
        return cls(user=dsn)


class Outer(BaseModel):
    creds: list[Credentials]


class Clean(BaseModel):
    user: str


def parse_dsn(dsn: str) -> Credentials:
    return Credentials(user=dsn)


def nested(dsn: str) -> "Outer":
    return Outer(creds=[])


def maybe(dsn: str) -> Optional[Credentials]:
    return None


def clean(dsn: str) -> Clean:
    return Clean(user=dsn)
""")
    mask = '(its answer is written masked as "**********")'
    assert got["parse_dsn"] == ("ineligible", f"returns Credentials, whose field token is a SecretStr {mask}")
    assert got["Credentials.parse"] == ("ineligible", f"returns Credentials, whose field token is a SecretStr {mask}")
    assert got["nested"] == ("ineligible", f"returns Outer, whose field creds.token is a SecretStr {mask}")
    assert got["maybe"] == ("wrapped", f"wrapped in Optional; also returns Credentials, whose field token is a SecretStr {mask}")
    assert got["clean"] == ("candidate", None)


def test_a_context_variable_read(tmp_path: Path) -> None:
    """fastapi-pagination's `create_links` answered with the current request's URL, read from a
    `ContextVar`: one call, two answers under two requests (repro 01, the direct read)."""
    got = project(tmp_path, """
import contextvars as cv
from contextvars import ContextVar

_base_url: ContextVar[str] = ContextVar("_base_url")
_other = cv.ContextVar("_other", default="")
_plain = {"a": "b"}


def make_links_direct(first: int) -> M:
    return M(x=len(_base_url.get()) + first)


def other(first: int) -> M:
    return M(x=len(_other.get("")) + first)


def plain(first: int) -> M:
    return M(x=len(_plain.get("a", "")) + first)


def shadowed(first: int, _base_url: dict[str, str]) -> M:
    return M(x=len(_base_url.get("a", "")) + first)
""")
    assert got["make_links_direct"] == (
        "ineligible", "reads the context variable _base_url (its answer depends on the context, not on its call)")
    assert got["other"][0] == "ineligible" and "_other" in str(got["other"][1])
    assert got["plain"] == ("candidate", None)
    assert got["shadowed"] == ("candidate", None)


def test_a_program_run_or_a_network_call(tmp_path: Path) -> None:
    """prefect's `get_git_version_info` answered with the checkout's commit; a fetch answers what
    the server holds (repro 02, the direct calls)."""
    got = project(tmp_path, """
import os
import socket
import subprocess
import urllib.request
from subprocess import check_output

import httpx
import requests


def git_info(repo: str) -> M:
    sha = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    return M(x=len(sha))


def aliased(repo: str) -> M:
    return M(x=len(check_output(["git", "-C", repo, "status"])))


def shell(cmd: str) -> M:
    return M(x=os.system(cmd))


def fetch(url: str) -> M:
    with urllib.request.urlopen(url) as resp:
        return M(x=len(resp.read()))


def fetch_requests(url: str) -> M:
    return M(x=requests.get(url).status_code)


def fetch_httpx(url: str) -> M:
    with httpx.Client() as c:
        return M(x=c.get(url).status_code)


def connect(host: str) -> M:
    return M(x=socket.create_connection((host, 80)).fileno())


def run(x: int) -> int:
    return x


def own_run(x: int) -> M:
    return M(x=run(x))


def lookup(table: dict[str, int], key: str) -> M:
    return M(x=table.get(key, 0))
""")
    assert got["git_info"] == (
        "ineligible", "calls subprocess.run() (its answer depends on a program it runs, not on its call)")
    assert got["aliased"] == ("ineligible", "calls check_output() (its answer depends on a program it runs, not on its call)")
    assert got["shell"] == ("ineligible", "calls os.system() (its answer depends on a program it runs, not on its call)")
    assert got["fetch"] == (
        "ineligible", "calls urllib.request.urlopen() (its answer depends on the network, not on its call)")
    assert got["fetch_requests"] == ("ineligible", "calls requests.get() (its answer depends on the network, not on its call)")
    assert got["fetch_httpx"] == ("ineligible", "calls httpx.Client() (its answer depends on the network, not on its call)")
    assert got["connect"][0] == "ineligible" and "socket.create_connection()" in str(got["connect"][1])
    assert got["own_run"] == ("candidate", None)
    assert got["lookup"] == ("candidate", None)


def test_private_state_made_at_construction_is_in_the_call(tmp_path: Path) -> None:
    """morecantile's `TileMatrixSet._tile_matrices_idx` is built from its fields in `__init__`:
    the instance a call writes builds it again (repro 11). State set from an argument, to a live
    object (crewai's storage, made from the fields), or written by another method, is still state."""
    got = project(tmp_path, """
from typing import Any

from pydantic import PrivateAttr


class TileMatrixSet(BaseModel):
    tiles: list[M]
    _idx: dict[int, int] = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._idx = {m.x: i for i, m in enumerate(self.tiles)}

    def matrix(self, zoom: int) -> M:
        return self.tiles[self._idx[zoom]]


class Grid(BaseModel):
    cells: list[M]
    _idx: dict[int, int] = PrivateAttr()

    def model_post_init(self, __context: Any) -> None:
        self._idx = {c.x: i for i, c in enumerate(self.cells)}

    def cell(self, x: int) -> M:
        return self.cells[self._idx[x]]


class Given(BaseModel):
    name: str
    _client: Any = PrivateAttr()

    def __init__(self, client: Any, **data: Any) -> None:
        super().__init__(**data)
        self._client = client

    def ask(self, q: str) -> M:
        return self._client.ask(q)


class Stored(BaseModel):
    url: str
    _storage: Any = PrivateAttr()

    def model_post_init(self, __context: Any) -> None:
        self._storage = Storage(self.url)

    def info(self, q: str) -> M:
        return self._storage.search(q)


class Storage:
    def __init__(self, url: str) -> None:
        self.url = url


class Reset(BaseModel):
    cells: list[M]
    _idx: dict[int, int] = PrivateAttr()

    def model_post_init(self, __context: Any) -> None:
        self._idx = {}

    def add(self, m: M) -> None:
        self._idx[m.x] = len(self._idx)

    def swap(self) -> None:
        self._idx = {}

    def cell(self, x: int) -> M:
        return self.cells[self._idx[x]]


class Grown(BaseModel):
    cells: list[M]
    _seen: list[int] = PrivateAttr()

    def model_post_init(self, __context: Any) -> None:
        self._seen = []

    def note(self, x: int) -> None:
        self._seen.append(x)

    def cell(self, x: int) -> M:
        return M(x=len(self._seen) + x)
""")
    assert got["TileMatrixSet.matrix"] == ("candidate", None)
    assert got["Grid.cell"] == ("candidate", None)
    for name in ("Given.ask", "Stored.info", "Reset.cell", "Grown.cell"):
        assert got[name][0] == "ineligible" and "reads private state" in str(got[name][1]), name


def test_the_outside_reached_through_a_helper(tmp_path: Path) -> None:
    """prefect's `load_profile` reads a file through `load_profiles()`, fastapi-pagination's
    `create_links` the request through `request()` (repros 01, 02): the helper's effect is named
    through the call, whether the helper is in the same module, another one of the project, a
    method of the same class, or two calls away; a helper without one adds nothing."""
    got = scanned(write(tmp_path, {
        "pyproject.toml": "", "pkg/__init__.py": "",
        "pkg/io.py": '''import subprocess
from contextvars import ContextVar
from pathlib import Path

_request: ContextVar[str] = ContextVar("_request")


def read_settings(name: str) -> str:
    return Path(name).read_text()


def git_sha() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout


def current_url() -> str:
    return _request.get()


def _raw(name: str) -> str:
    return read_settings(name)


def load_all(name: str) -> dict[str, str]:
    return {"raw": _raw(name)}


def pure(name: str) -> str:
    return name.upper()
''',
        "pkg/m.py": MODEL + '''
from pkg import io
from pkg.io import current_url, load_all, pure


def profile(name: str) -> M:
    return M(x=len(load_all(name)))


def link(page: int) -> M:
    return M(x=len(current_url()) + page)


def version(n: int) -> M:
    return M(x=len(io.git_sha()) + n)


def shout(name: str) -> M:
    return M(x=len(pure(name)))


def shadowed(name: str) -> M:
    return M(x=len(helper(name)))


def helper(name: str) -> str:
    return name


class Doc(BaseModel):
    path: str

    def _content(self) -> str:
        return open(self.path).read()

    def summary(self) -> M:
        return M(x=len(self._content()))

    def _name(self) -> str:
        return self.path

    def title(self) -> M:
        return M(x=len(self._name()))
'''}))
    assert got["profile"] == ("ineligible", "calls load_all(), which calls _raw(), which calls read_settings(), which "
                                            "calls .read_text() (its answer depends on a file's content, not on its call)")
    assert got["link"][1] == ("calls current_url(), which reads the context variable _request (its answer depends on "
                              "the context, not on its call)")
    assert got["version"][1] == ("calls io.git_sha(), which calls subprocess.run() (its answer depends on a program it "
                                 "runs, not on its call)")
    assert got["Doc.summary"][1] == ("calls self._content(), which calls open() (its answer depends on a file, not on "
                                     "its call)")
    assert got["shout"] == ("candidate", None)
    assert got["shadowed"] == ("candidate", None)
    assert got["Doc.title"] == ("candidate", None)


def test_a_client_of_a_service_made_in_the_body(tmp_path: Path) -> None:
    """prefect's `Variable.set`/`get` (`with get_client() as client: client.create_variable(...)`,
    repro 04): what the service holds is the answer, and a dispatched `set` writes nothing. A call
    whose name ends in "client" makes such a function ineligible, also through a helper; a
    parameter or variable merely called `client` is not a call of one."""
    got = project(tmp_path, """
import boto3
import httpx


def get_client() -> "Client":
    return Client()


class Client:
    def read_variable(self, name: str) -> int:
        return 1


def _value(name: str) -> int:
    with get_client() as client:
        return client.read_variable(name)


def variable(name: str) -> M:
    with get_client() as client:
        return M(x=client.read_variable(name))


def fetched(url: str) -> M:
    async_client = httpx.AsyncClient()
    return M(x=len(url))


def bucket(name: str) -> M:
    return M(x=len(boto3.client("s3").list_objects(Bucket=name)))


def through(name: str) -> M:
    return M(x=_value(name))


def uses(client_name: str, n: int) -> M:
    client = client_name.upper()
    return M(x=len(client) + n)
""")
    assert got["variable"] == ("ineligible", "calls get_client() (its answer depends on a service it connects to, not "
                                             "on its call)")
    assert got["fetched"][1] == "calls httpx.AsyncClient() (its answer depends on the network, not on its call)"
    assert got["bucket"][1] == "calls boto3.client() (its answer depends on a service it connects to, not on its call)"
    assert got["through"][1] == ("calls _value(), which calls get_client() (its answer depends on a service it "
                                 "connects to, not on its call)")
    assert got["uses"] == ("candidate", None)
