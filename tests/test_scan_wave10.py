"""Wave 10 (ical, alpaca-py, hera, aiogram, pypi-attestations; benchmarks/held_out_corpus_10.toml):
what the scan judged wrong. A `path.open()` read was not seen; an effect reached through
`cls.m()` inherited from a base, `Other.m()` or a module-level object's method was not followed;
`token`/`bearer` parameters were not credentials; a model argument's `password: str` field was
written in clear; a `Callable` parameter with a default refused the whole function. (The original
repros were lost: each test is rebuilt from the defect's description and the project's code.)"""

from __future__ import annotations

import ast
from pathlib import Path

from test_scan_real_code import scanned_package


MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: int\n"


def project(tmp_path: Path, body: str, **files: str) -> dict[str, tuple[str, str | None]]:
    return scanned_package(tmp_path, MODEL + body, **files)


# -- 1: `Path.open()` ---------------------------------------------------------------------------------
def test_a_path_opened_is_a_file_read(tmp_path: Path) -> None:
    """pypi-attestations' `Distribution.from_file(dist: Path)` hashed what `dist.open("rb")` read:
    one call, the file's content as the answer. `Image.open`, `ZipFile(...).open` read a file too;
    `webbrowser.open` and the class's own `self.open()` (judged through its body) do not count."""
    got = project(tmp_path, """
import webbrowser
import zipfile
from pathlib import Path

from PIL import Image


class Distribution(BaseModel):
    name: str
    digest: str

    @classmethod
    def from_file(cls, dist: Path) -> "Distribution":
        with dist.open(mode="rb", buffering=0) as io:
            digest = io.read().hex()
        return cls(name=dist.name, digest=digest)


def size_of(path: Path) -> M:
    return M(x=len(Image.open(path).tobytes()))


def member(archive: str, name: str) -> M:
    with zipfile.ZipFile(archive).open(name) as f:
        return M(x=len(f.read()))


def shown(url: str) -> M:
    webbrowser.open(url)
    return M(x=len(url))


class Door(BaseModel):
    x: int

    def open(self) -> "Door":
        return Door(x=self.x + 1)

    def opened(self) -> "Door":
        return self.open()
""")
    why = "calls .open() (its answer depends on a file's content, not on its call)"
    for name in ("Distribution.from_file", "size_of", "member"):
        assert got[name] == ("ineligible", why), name
    for name in ("shown", "Door.open", "Door.opened"):
        assert got[name] == ("candidate", None), name


# -- 4: effects through `cls.m()` inherited, `Other.m()` ------------------------------------------------
def test_an_effect_through_an_inherited_or_class_method(tmp_path: Path) -> None:
    """ical's `IcsCalendarStream.calendar_from_url` called `cls.from_url(url)`, a classmethod of
    its base `CalendarStream` that fetches the url; a classmethod calling `Other.fetch()` of a
    class of the module (or of another scanned module) reads what that reads."""
    got = project(tmp_path, """
import httpx


class Calendar(BaseModel):
    name: str


class Stream(BaseModel):
    calendars: list[Calendar] = []

    @classmethod
    def from_ics(cls, content: str) -> "Stream":
        return cls(calendars=[Calendar(name=content)])

    @classmethod
    def from_url(cls, url: str) -> "Stream":
        return cls.from_ics(httpx.get(url).text)


class IcsStream(Stream):
    @classmethod
    def calendar_from_url(cls, url: str) -> Calendar:
        return cls.from_url(url).calendars[0]

    @classmethod
    def calendar_from_ics(cls, content: str) -> Calendar:
        return cls.from_ics(content).calendars[0]

    @classmethod
    def through(cls, url: str) -> Calendar:
        return cls.calendar_from_url(url)


class Loader:
    @staticmethod
    def fetch(url: str) -> str:
        return httpx.get(url).text


def loaded(url: str) -> M:
    return M(x=len(Loader.fetch(url)))


def inherited(url: str) -> M:
    return M(x=len(IcsStream.from_url(url).calendars))
""", other="""
from pkg.m import Loader, IcsStream, M


def elsewhere(url: str) -> M:
    return M(x=len(Loader.fetch(url)))


def parsed(content: str) -> M:
    return M(x=len(IcsStream.from_ics(content).calendars))
""")
    net = "calls httpx.get() (its answer depends on the network, not on its call)"
    assert got["Stream.from_url"] == ("ineligible", net)
    assert got["IcsStream.calendar_from_url"] == ("ineligible", f"calls cls.from_url(), which {net}")
    assert got["IcsStream.through"] == ("ineligible", f"calls cls.calendar_from_url(), which calls cls.from_url(), which {net}")
    assert got["loaded"] == ("ineligible", f"calls Loader.fetch(), which {net}")
    assert got["inherited"] == ("ineligible", f"calls IcsStream.from_url(), which {net}")
    assert got["elsewhere"] == ("ineligible", f"calls Loader.fetch(), which {net}")
    for name in ("Stream.from_ics", "IcsStream.calendar_from_ics", "parsed"):
        assert got[name] == ("candidate", None), name


# -- 7: a context variable read through a module-level object's method ----------------------------------
def test_a_context_variable_read_through_a_module_object(tmp_path: Path) -> None:
    """`_ctx = Holder()` at module level, whose method reads a module-level ContextVar, called as
    `_ctx.current()`: the answer depends on the context (wave 8 saw `_var.get()` only)."""
    got = project(tmp_path, """
from contextvars import ContextVar

_var: ContextVar[str] = ContextVar("_var", default="")


class Holder:
    def current(self) -> str:
        return _var.get()

    def fixed(self) -> str:
        return "x"


_ctx = Holder()


def built(n: int) -> M:
    return M(x=n + len(_ctx.current()))


def plain(n: int) -> M:
    return M(x=n + len(_ctx.fixed()))
""", other="""
from pkg.m import M, _ctx


def elsewhere(n: int) -> M:
    return M(x=n + len(_ctx.current()))
""")
    why = "calls _ctx.current(), which reads the context variable _var (its answer depends on the context, not on its call)"
    assert got["built"] == ("ineligible", why)
    assert got["elsewhere"] == ("ineligible", why)
    assert got["plain"] == ("candidate", None)


# -- 5: `token`, `bearer` ---------------------------------------------------------------------------
def test_token_and_bearer_parameters_carry_a_credential(tmp_path: Path) -> None:
    """aiogram's `Bot(token=...)`-style functions, alpaca-py's `api_token`: credentials. Tokens
    that are data (`page_token`, `tokens`, `max_tokens`, `tokenizer`, `token_type`, `eos_token`),
    a flag (`token: bool`), a context variable's `contextvars.Token` and a `token` beside a
    `tokens`/`tokenizer`/`vocab` parameter (a word's token, as wave 6's `words(token, tokens)`) are not."""
    got = project(tmp_path, """
import contextvars
from typing import Optional


def bot(token: str, chat_id: int) -> M:
    return M(x=chat_id)


def client(api_token: str, n: int) -> M:
    return M(x=n)


def telegram(bot_token: Optional[str], n: int) -> M:
    return M(x=n)


def session(n: int, *, session_token: str = "") -> M:
    return M(x=n)


def header(bearer: str, n: int) -> M:
    return M(x=n)


def private(_token: str, n: int) -> M:
    return M(x=n)


def listed(page_token: str, next_page_token: str, n: int) -> M:
    return M(x=n)


def counted(tokens: list[str], max_tokens: int, token_count: int, token_type: str) -> M:
    return M(x=len(tokens))


def tokenized(text: str, tokenizer: str, eos_token: str, pad_token: str) -> M:
    return M(x=len(text))


def lexed(token: str, vocab: dict[str, int]) -> M:
    return M(x=vocab[token])


def flagged(n: int, token: bool = False) -> M:
    return M(x=n)


def reset(n: int, token: "contextvars.Token[str]") -> M:
    return M(x=n)


def secret_token(telegram_secret_token: str, n: int) -> M:
    return M(x=n)
""")
    for name, param in (("bot", "token"), ("client", "api_token"), ("telegram", "bot_token"),
                        ("session", "session_token"), ("header", "bearer"), ("private", "_token"),
                        ("secret_token", "telegram_secret_token")):
        assert got[name] == ("ineligible", f"parameter {param} carries a credential (every example would hold it in clear)"), name
    for name in ("listed", "counted", "tokenized", "lexed", "flagged", "reset"):
        assert got[name] == ("candidate", None), name


# -- 6: a credential in clear in a model argument's field ------------------------------------------------
def test_a_model_argument_with_a_credential_field(tmp_path: Path) -> None:
    """A parameter whose model has a `password: str` field (at any depth, or from a base): every
    example would write the password in clear. A `SecretStr` keeps the wave-8 reason; a
    `password_set: bool`, a `token_count: int` or a `tokens: list[str]` field holds none, nor
    a field named `token` alone (llama-index's `LogProb.token`: an LLM's token)."""
    got = project(tmp_path, """
from typing import Annotated, Optional

from pydantic import Field, SecretStr


class Login(BaseModel):
    user: str
    password: str


class Service(BaseModel):
    url: str
    auth: Login


class Base(BaseModel):
    api_key: Optional[str] = None


class Derived(Base):
    name: str


class Annotated_(BaseModel):
    bot_token: Annotated[str, Field(min_length=1)]


class LogProb(BaseModel):
    token: str
    logprob: float


class Masked(BaseModel):
    password: SecretStr


class Flags(BaseModel):
    password_set: bool
    token_count: int
    tokens: list[str]
    password: bool


def signed_in(login: Login) -> M:
    return M(x=len(login.user))


def served(service: Service) -> M:
    return M(x=len(service.url))


def maybe(login: Optional[Login]) -> M:
    return M(x=0)


def derived(d: Derived) -> M:
    return M(x=len(d.name))


def annotated(a: Annotated_) -> M:
    return M(x=0)


def masked(m: Masked) -> M:
    return M(x=0)


def flags(f: Flags) -> M:
    return M(x=f.token_count)


def scored(p: LogProb) -> M:
    return M(x=int(p.logprob))
""")
    mod = "pkg.m"
    assert got["signed_in"] == ("ineligible", f"parameter login is of class {mod}.Login, whose field password (str) "
                                "carries a credential every example would hold in clear (no call can write its value)")
    assert got["served"][0] == "ineligible" and f"of class {mod}.Service, whose field auth.password (str)" in str(got["served"][1])
    assert got["maybe"][0] == "ineligible" and f"of class {mod}.Login, whose field password (str)" in str(got["maybe"][1])
    assert got["derived"][0] == "ineligible" and "whose field api_key (Optional[str])" in str(got["derived"][1])
    assert got["annotated"][0] == "ineligible" and "whose field bot_token (Annotated[str, ...])" in str(got["annotated"][1])
    assert got["masked"][0] == "ineligible" and "SecretStr" in str(got["masked"][1])  # the earlier rules' reason
    assert "carries a credential" not in str(got["masked"][1])
    for name in ("flags", "scored"):  # a field named `token` alone is data more often (llama-index's LogProb)
        assert got[name] == ("candidate", None), name


# -- 10: a `Callable` parameter with a default -----------------------------------------------------------
def test_a_callable_parameter_with_a_default_is_left_out(tmp_path: Path) -> None:
    """`def f(x: int, key: Callable[[str], str] = str.lower) -> M`: a call leaving `key` out is
    written (one passing it is skipped at capture); without a default it still refuses."""
    got = project(tmp_path, """
from typing import Callable, Iterator, Optional


def keyed(words: list[str], key: Callable[[str], str] = str.lower) -> M:
    return M(x=len({key(w) for w in words}))


def hooked(n: int, *, hook: Optional[Callable[[int], int]] = None, it: "Iterator[int] | None" = None) -> M:
    return M(x=hook(n) if hook else n)


def required(words: list[str], key: Callable[[str], str]) -> M:
    return M(x=len({key(w) for w in words}))


def required_kw(n: int, *, hook: "Callable[[int], int]") -> M:
    return M(x=hook(n))
""")
    for name in ("keyed", "hooked"):
        assert got[name] == ("candidate", None), name
    assert got["required"] == ("ineligible", "parameter key is a Callable (no call can write its value)")
    assert got["required_kw"] == ("ineligible", "parameter hook is a Callable (no call can write its value)")


def test_a_return_model_with_a_credential_field_is_found() -> None:
    """The return side of the rule above: `writable.credential_in` names the model and the field
    of a return annotation (`Session`, `Optional[Session]`, `list[Session]`) holding a credential
    in clear, as `secret_in` does for a `SecretStr` (the scan's use: the test below)."""
    from distilgen.analysis.file_index import build_index, conv
    from distilgen.analysis.resolve import Module, Resolver
    from distilgen.analysis.writable import credential_in

    src = MODEL + """
from typing import Optional


class Session(BaseModel):
    user: str
    session_token: Optional[str] = None


class Page(BaseModel):
    token: str
    items: list[M]
"""
    mods = {"pkg": Module("pkg", True, build_index(b"", "pkg/__init__.py"), "pkg/__init__.py"),
            "pkg.m": Module("pkg.m", False, build_index(src.encode(), "pkg/m.py"), "pkg/m.py")}
    res = Resolver(mods, lambda name: None)
    for written in ("Session", "Optional[Session]", "list[Session]", "'Session | None'"):
        ann = conv(ast.parse(written, mode="eval").body)
        assert credential_in(res, "pkg.m", 0, ann) == ("Session", "session_token", "Optional[str]"), written
    assert credential_in(res, "pkg.m", 0, ("n", "Page")) is None  # `token` alone: data (a pager's)
    assert credential_in(res, "pkg.m", 0, ("n", "M")) is None


def test_a_jwt_parameter_carries_a_credential(tmp_path: Path) -> None:
    """Wave 11: atproto's `get_jwt_payload(jwt: str)` wrote a whole signed token into every example;
    `jwt_token` was a credential, `jwt` alone was not. Names ending otherwise stay data."""
    got = project(tmp_path, """
def payload(jwt: str) -> M:
    return M(x=len(jwt))


def access(access_jwt: str) -> M:
    return M(x=len(access_jwt))


def count(jwts_seen: int, n: int) -> M:
    return M(x=n)
""")
    assert got["payload"] == ("ineligible", "parameter jwt carries a credential (every example would hold it in clear)")
    assert got["access"][0] == "ineligible"
    assert got["count"] == ("candidate", None)


def test_a_return_model_or_instance_with_a_credential_field_is_refused(tmp_path: Path) -> None:
    """Wave 10, the answer's side: a `password: str` in the return model (or in the model whose
    method it is: `self` is written into every call) would be written in clear into every example."""
    got = project(tmp_path, """
from typing import Optional


class Login(BaseModel):
    user: str
    password: str

    def renamed(self, user: str) -> "Login":
        return Login(user=user, password=self.password)


class Session(BaseModel):
    user: str
    auth: Optional[Login] = None


def login(user: str) -> Login:
    return Login(user=user, password="hunter2")


def session(user: str) -> Session:
    return Session(user=user)


def plain(n: int) -> M:
    return M(x=n)
""")
    assert got["login"] == ("ineligible", "returns Login, whose field password (str) carries a credential every "
                                          "example would hold in clear")
    assert got["session"] == ("ineligible", "returns Session, whose field auth.password (str) carries a credential "
                                            "every example would hold in clear")
    assert got["Login.renamed"][0] == "ineligible" and "password" in (got["Login.renamed"][1] or "")
    assert got["plain"] == ("candidate", None)
