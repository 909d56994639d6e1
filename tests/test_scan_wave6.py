"""Wave 6 (docling-core, pyiceberg, mlflow-skinny, opik, openapi-pydantic, together, guardrails-ai):
functions the scan listed as candidates although a call cannot say what their answer depends on, or
a dispatched call would not do what they do. Each is `ineligible` now, with a reason naming why;
the cases beside each that must stay candidates are checked too."""

from __future__ import annotations

from pathlib import Path

from test_scan_real_code import write

from distilgen import api

MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: int\n"


def scanned(project: Path) -> dict[str, tuple[str, str | None]]:
    return {r.qualname: (r.status, r.reason) for r in api.scan([project], use_cache=False).results}


def test_functions_that_change_self_or_an_argument(tmp_path: Path) -> None:
    """docling-core's `add_page`/`insert_*` grew the document (a dispatched call would not, and
    capturing them rendered the whole document into every call: quadratic)."""
    project = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + """
class Doc(BaseModel):
    pages: list[M] = []
    title: str = ""

    def add_page(self, x: int) -> M:
        page = M(x=x)
        self.pages.append(page)
        return page

    def set_title(self, title: str) -> "Doc":
        self.title = title
        return self

    def put(self, i: int) -> M:
        self.pages[i] = M(x=i)
        return self.pages[i]

    def forget(self, i: int) -> M:
        del self.pages[i]
        return M(x=i)

    def counted(self, n: int) -> M:
        object.__setattr__(self, "title", str(n))
        return M(x=n)

    def read_only(self, i: int) -> M:
        pages = list(self.pages)
        pages.append(M(x=i))  # a copy
        return pages[-1]


def fill(doc: Doc, x: int) -> M:
    doc.pages.extend([M(x=x)])
    return M(x=x)


def stamp(meta: dict[str, int], x: int) -> M:
    meta["seen"] = x
    return M(x=x)


def copied(items: list[int], x: int) -> M:
    items = list(items)
    items.append(x)
    return M(x=sum(items))


def looped(items: list[M], x: int) -> M:
    for item in items:
        item = M(x=item.x)  # the loop variable, not the argument
    return M(x=x)


def options(x: int, **kwargs: int) -> M:
    kwargs.pop("y", None)  # the call's own dict
    return M(x=x)


def nested(x: int) -> M:
    acc: list[int] = []

    def add(v: int) -> None:
        acc.append(v)
    add(x)
    return M(x=acc[0])
"""})
    got = scanned(project)
    assert got["Doc.add_page"] == ("ineligible", "changes self.pages (a dispatched call would not)")
    assert got["Doc.set_title"] == ("ineligible", "changes self.title (a dispatched call would not)")
    assert got["Doc.put"][1] == "changes self.pages[...] (a dispatched call would not)"
    assert got["Doc.forget"][1] == "changes self.pages[...] (a dispatched call would not)"
    assert got["Doc.counted"][1] == "changes self (setattr) (a dispatched call would not)"
    assert got["fill"] == ("ineligible", "changes doc.pages (a dispatched call would not)")
    assert got["stamp"][1] == "changes meta[...] (a dispatched call would not)"
    for fine in ("Doc.read_only", "copied", "looped", "options", "nested"):
        assert got[fine] == ("candidate", None), (fine, got[fine])


def test_answers_read_from_a_file_the_terminal_or_the_environment(tmp_path: Path) -> None:
    """docling-core's `load_from_json(filename)`: one call text, the answer whatever the file held."""
    project = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + """
import os
from pathlib import Path


def loaded(path: str) -> M:
    return M.model_validate_json(Path(path).read_text())


def opened(path: str) -> M:
    with open(path) as fh:
        return M(x=len(fh.read()))


def asked(prompt: str) -> M:
    return M(x=int(input(prompt)))


def configured(x: int) -> M:
    return M(x=x + int(os.environ["OFFSET"]))


def defaulted(x: int) -> M:
    return M(x=x + int(os.getenv("OFFSET", "0")))


def shadowing(x: int, open: int = 1) -> M:
    return M(x=x)


def own_open(x: int) -> M:
    def open(v: int) -> int:
        return v
    return M(x=open(x))
"""})
    got = scanned(project)
    assert got["loaded"] == ("ineligible", "calls .read_text() (its answer depends on a file's content, not on its call)")
    assert got["opened"] == ("ineligible", "calls open() (its answer depends on a file, not on its call)")
    assert got["asked"][1] == "calls input() (its answer depends on what is typed at the terminal, not on its call)"
    assert got["configured"][1] == "reads os.environ[...] (its answer depends on the environment, not on its call)"
    assert got["defaulted"][1] == "calls os.getenv() (its answer depends on the environment, not on its call)"
    for fine in ("shadowing", "own_open"):
        assert got[fine] == ("candidate", None), (fine, got[fine])


def test_credentials_are_never_written_into_examples(tmp_path: Path) -> None:
    """together's `_describe_training_checkpoint(..., api_key=...)` wrote the key into every user
    message of a file meant for a fine-tuning service."""
    project = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + """
from typing import Optional

from pydantic import SecretStr


def described(name: str, api_key: Optional[str] = None) -> M:
    return M(x=len(name))


def logged_in(user: str, password: str) -> M:
    return M(x=len(user))


def wrapped(user: str, key: SecretStr) -> M:
    return M(x=len(user))


class Config(BaseModel):
    url: str
    token: SecretStr


def configured(config: Config) -> M:
    return M(x=len(config.url))


def words(token: str, tokens: list[str]) -> M:
    return M(x=len(token))
"""})
    got = scanned(project)
    assert got["described"] == ("ineligible", "parameter api_key carries a credential (every example would hold it in clear)")
    assert got["logged_in"][1] == "parameter password carries a credential (every example would hold it in clear)"
    assert got["wrapped"][1] == "parameter key is a secret (SecretStr: no example may hold it)"
    assert got["configured"][0] == "ineligible" and "SecretStr" in (got["configured"][1] or "")
    assert got["words"] == ("candidate", None)  # a word token is no credential


def test_singledispatch_functions_and_their_implementations(tmp_path: Path) -> None:
    """pyiceberg's `promote`: the base's body only raises; implementations are named `_`."""
    project = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + """
from functools import singledispatch
import functools


@singledispatch
def promote(x: object) -> M:
    raise TypeError(x)


@promote.register(int)
def _(x: int) -> M:
    return M(x=x)


@functools.singledispatch
def other(x: object) -> M:
    raise TypeError(x)


class Registry:
    def register(self, f: object) -> object:
        return f


registry = Registry()


@registry.register
def plain(x: int) -> M:
    return M(x=x)
"""})
    got = scanned(project)
    assert got["promote"] == ("ineligible", "a singledispatch function (its answer comes from implementations registered apart)")
    assert got["_"] == ("ineligible", "an implementation registered on promote (called through it, not by its name)")
    assert got["other"][0] == "ineligible"
    assert got["plain"][0] != "ineligible"  # another registry's `register`


def test_a_return_model_imported_only_for_type_checkers(tmp_path: Path) -> None:
    """docling-core's `parse_otsl_table_content`: every call skipped (UnresolvedAnnotation), a
    dispatch raised; scan, apply and check said nothing."""
    project = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/models.py": MODEL, "pkg/m.py": """\
        from __future__ import annotations

        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from pkg.models import M
            from pkg.models import M as Both
        else:
            Late = None

        from pkg.models import M as Both


        def hidden(a: int) -> M:
            return __import__("pkg.models").models.M(x=a)


        def quoted(a: int) -> "M | None":
            return None


        def visible(a: int) -> Both:
            return Both(x=a)


        def local(a: int) -> M:
            from pkg.models import M
            return M(x=a)
        """})
    got = scanned(project)
    reason = ("its return annotation names M, imported only under `if TYPE_CHECKING:` "
              "(not there when it runs; import it at run time)")
    assert got["hidden"] == ("ineligible", reason)
    assert got["quoted"][0] == "wrapped" and (got["quoted"][1] or "").endswith(reason)  # `M | None`
    assert got["local"] == ("ineligible", reason)  # the annotation is read where the def is, not in its body
    assert got["visible"] == ("candidate", None)


def test_parameters_of_file_objects_and_models_holding_classes(tmp_path: Path) -> None:
    """langroid's `BinaryIO` parameter; openapi-pydantic's schema model holding a `type[BaseModel]`."""
    project = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + """
from typing import IO, BinaryIO, Callable, Optional, TextIO, Type


class Holder(BaseModel):
    schema_class: Type[BaseModel]


class Hook(BaseModel):
    name: str
    callback: Optional[Callable[[int], int]] = None


def from_bytes(f: BinaryIO) -> M:
    return M(x=len(f.read()))


def from_text(f: TextIO) -> M:
    return M(x=len(f.read()))


def from_any(f: IO[bytes]) -> M:
    return M(x=0)


def held(h: Holder) -> M:
    return M(x=len(h.schema_class.__name__))


def hooked(h: Hook) -> M:
    return M(x=len(h.name))
"""})
    got = scanned(project)
    assert got["from_bytes"] == ("ineligible", "parameter f is a BinaryIO (no call can write its value)")
    assert got["from_text"][1] == "parameter f is a TextIO (no call can write its value)"
    assert got["from_any"][1] == "parameter f is an IO (no call can write its value)"
    assert got["held"] == ("ineligible", "parameter h is of class pkg.m.Holder, a model with a field that is a Type "
                                         "(no call can write its value)")
    assert got["hooked"] == ("candidate", None)  # a field that may hold None: its instances mostly can be written


def test_a_setuptools_build_folder_is_not_scanned(tmp_path: Path) -> None:
    """docling-core after `pip wheel`: `build/lib/pkg` is a second copy, listed (and decorated) as
    `build.lib.pkg...`. A package named `build` is scanned as ever."""
    project = write(tmp_path, {
        "pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + "\n\ndef f(a: int) -> M:\n    return M(x=a)\n",
        "build/lib/pkg/__init__.py": "", "build/lib/pkg/m.py": MODEL + "\n\ndef f(a: int) -> M:\n    return M(x=a)\n",
        "build/bdist.linux-x86_64/.keep": "",
        "other/build/__init__.py": "", "other/build/m.py": MODEL + "\n\ndef g(a: int) -> M:\n    return M(x=a)\n",
        "other/__init__.py": "",
    })
    modules = {r.module for r in api.scan([project], use_cache=False).results}
    assert modules == {"pkg.m", "other.build.m"}


def test_pydantic_url_parameters_are_writable(tmp_path: Path) -> None:
    """The renderer writes pydantic's own URL classes (`HttpUrl('https://x/')`, wave 6: docling-core's
    `add_page`); a subclass of one it does not, so the scan keeps only those as writable."""
    project = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + """
from pydantic import AnyUrl, HttpUrl


class Page(BaseModel):
    url: AnyUrl


class MyUrl(AnyUrl):
    pass


def fetched(url: HttpUrl) -> M:
    return M(x=len(str(url)))


def paged(page: Page) -> M:
    return M(x=len(str(page.url)))


def mine(url: MyUrl) -> M:
    return M(x=len(str(url)))
"""})
    got = scanned(project)
    assert got["fetched"] == ("candidate", None)
    assert got["paged"] == ("candidate", None)
    assert got["mine"][0] == "ineligible" and "MyUrl" in (got["mine"][1] or "")


def test_a_function_rebinding_a_global_is_ineligible(tmp_path: Path) -> None:
    """Wave 7 (deepeval's `reset_settings`: `global _settings_singleton` then a new value, answered
    from the environment): one call text, two answers; a dispatched call would not reset it."""
    project = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": MODEL + """
_singleton = None
_count = 0


def reset(x: int, *, reload: bool = False) -> M:
    global _singleton
    if reload:
        _singleton = M(x=x)
    return M(x=x)


def counted(x: int) -> M:
    global _count
    _count += 1
    return M(x=x + _count)


def outer() -> None:
    total = 0

    def bump(x: int) -> M:
        nonlocal total
        total = x
        return M(x=x)


def reads_only(x: int) -> M:
    global _count
    return M(x=x + _count)
"""})
    got = scanned(project)
    assert got["reset"] == ("ineligible", "changes the global _singleton (a dispatched call would not)")
    assert got["counted"][1] == "changes the global _count (a dispatched call would not)"
    assert got["outer.<locals>.bump"][0] == "ineligible"  # a closure too: that reason comes first
    assert got["reads_only"] == ("candidate", None)


# protoc's output: the message classes are made at import time, so the scan finds no class by name
PB2 = '''"""Generated protocol buffer code."""
from google.protobuf import descriptor as _descriptor
from google.protobuf.internal import builder as _builder

DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile(b"...")
_globals = globals()
_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, "a2a_pb2", _globals)
'''


def test_protobuf_message_parameters(tmp_path: Path) -> None:
    """Wave 7, a2a-sdk: every one of its 56 decorated functions took a protobuf message (`Task`
    from a generated `a2a_pb2`), which no call text can carry: each call was skipped. The message
    names the class, whether imported from the module, through a package re-export, or from an
    installed `google.protobuf` module. A parameter with a default is not judged (calls that leave it
    out are written), as for every other unwritable type."""
    project = write(tmp_path, {
        "pyproject.toml": "", "pkg/__init__.py": "",
        "pkg/types/__init__.py": "from pkg.types.a2a_pb2 import Task, Message\n",
        "pkg/types/a2a_pb2.py": PB2,
        "pkg/m.py": MODEL + """
from google.protobuf import struct_pb2
from google.protobuf.message import Message as ProtoMessage

from pkg.types import Task
from pkg.types import a2a_pb2


def task_summary(task: Task) -> M:
    return M(x=len(task.id))


def message_summary(msg: a2a_pb2.Message | None) -> M:
    return M(x=0)


def optional_message(x: int, msg: a2a_pb2.Message | None = None) -> M:
    return M(x=x)


def from_struct(s: struct_pb2.Struct) -> M:
    return M(x=len(s.fields))


def any_message(m: ProtoMessage) -> M:
    return M(x=m.ByteSize())


def by_id(task_id: str) -> M:
    return M(x=len(task_id))


def new_task(task_id: str) -> Task:
    return Task(id=task_id)


def new_struct() -> struct_pb2.Struct:
    return struct_pb2.Struct()
"""})
    got = scanned(project)
    # a function returning a message is no candidate, nor `unresolved` (345 such lines on a2a-sdk)
    assert "new_task" not in got and "new_struct" not in got
    assert got["task_summary"] == ("ineligible", "parameter task is a protobuf message (pkg.types.a2a_pb2.Task) "
                                                 "(no call can write its value)")
    assert got["message_summary"][1] == ("parameter msg is a protobuf message (pkg.types.a2a_pb2.Message) "
                                         "(no call can write its value)")
    assert got["from_struct"][1] == ("parameter s is a protobuf message (google.protobuf.struct_pb2.Struct) "
                                     "(no call can write its value)")
    assert got["any_message"][1] == ("parameter m is a protobuf message (google.protobuf.message.Message) "
                                     "(no call can write its value)")
    assert got["by_id"] == ("candidate", None)
    assert got["optional_message"] == ("candidate", None)  # calls that leave it out are written
