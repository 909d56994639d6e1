"""Can a call text carry a value of this parameter's type? The scan's answer, from annotations.

A captured call is written as Python text (`runtime.calls.render_value`: literals, containers,
pydantic models, dataclasses, enums, dates, `Decimal`, `UUID`, paths). A parameter whose type is
none of those (a database session, an HTTP request, an ORM row, an exception, a live client)
cannot be written: every call of a decorated function would be skipped, and a dispatch would
raise (wave 5: 95 of arize-phoenix's 117 candidates took a starlette `Request` or an SQLAlchemy
session or row). Such a function is `ineligible`.

Only a definite answer counts: a type this module cannot see through (a class under a decorator
that can make it a dataclass-like value; a base the scan cannot resolve; a `TypeVar`; a
`Protocol`; an uninstalled package; an ABC with no implementation in the scan, or one of them
writable) is taken as writable, so a candidate is never lost on a guess.
"""

from __future__ import annotations

import ast
import builtins
from typing import TYPE_CHECKING, Any, Callable

from ..contracts import PYDANTIC_NETWORK_TYPES
from .file_index import CREDENTIAL_NAME, SECRET_TYPES, conv, conv_names
from .resolve import protobuf_message

if TYPE_CHECKING:
    from .resolve import Resolved, Resolver

__all__ = ["unwritable", "model_secret", "secret_in", "model_credential", "credential_in", "dataclass_self"]

# typing names whose values no call can write (a function, a coroutine, a live iterator, a class)
_LIVE_TYPING = frozenset({"Callable", "Coroutine", "Awaitable", "Generator", "AsyncGenerator", "Iterator",
                          "AsyncIterator", "type", "Type", "IO", "BinaryIO", "TextIO"})
_TYPING_HOME = ("typing", "typing_extensions", "collections.abc", "builtins")
_WRAPPERS = frozenset({"Annotated", "Optional", "Final", "ClassVar", "Required", "NotRequired", "ReadOnly"})
# bases that make a class's instances writable (rendered as their base's value, or by member)
_WRITABLE_BASES = frozenset({
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.frozenset", "builtins.str",
    "builtins.int", "builtins.float", "builtins.bytes", "builtins.bool",
    "enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag", "enum.ReprEnum",
    "typing.NamedTuple", "typing.TypedDict", "typing_extensions.TypedDict", "typing_extensions.NamedTuple",
    "datetime.date", "datetime.datetime", "datetime.time", "datetime.timedelta", "decimal.Decimal",
    "uuid.UUID", "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath",
    "pathlib.WindowsPath", "pathlib.PureWindowsPath",
})
# bases that say nothing either way: a class deriving only from these (and plain classes) is not writable
_NEUTRAL_HOMES = ("collections.abc", "abc", "typing", "typing_extensions", "contextlib")
_NEUTRAL_BUILTINS = frozenset({"builtins.object"})
# standard-library modules whose classes are live resources (a logger, a lock, a socket, a loop)
_LIVE_STDLIB = ("logging", "threading", "asyncio", "socket", "io", "sqlite3", "subprocess", "multiprocessing",
                "concurrent.futures", "ssl", "queue", "selectors", "tempfile", "zipfile", "tarfile", "mmap",
                "http.client", "urllib.request", "types", "inspect")
_EXCEPTIONS = frozenset(n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException))


def unwritable(res: "Resolver", module: str, scope: int, ann: Any, depth: int = 0) -> str | None:
    """What makes a value of annotation `ann` (seen from `scope` of `module`) impossible to write
    into a call (`of class starlette.requests.Request`, `a Callable`), or None: writable, or not known."""
    if ann is None or depth > 20:
        return None
    k = ann[0]
    if k == "q":
        try:
            node = ast.parse(ann[1].strip(), mode="eval").body
        except SyntaxError:
            return None
        return unwritable(res, module, scope, conv(node), depth + 1)
    if k == "n":
        return _target(res, res.resolve_dotted(module, scope, ann[1]), depth)
    if k == "or":
        return _every(res, module, scope, _members(ann), depth)
    if k != "s":
        return None
    head = res.resolve_dotted(module, scope, ann[1][1]) if ann[1] and ann[1][0] == "n" else ("other",)
    if head[0] == "alias":
        head = res.resolve_expr_target(head[1], head[2], head[3])
    args = ann[2]
    name = _typing_name(head)
    if name is None:
        return _target(res, head, depth)  # a generic class, subscripted: the class decides
    if name in _WRAPPERS:
        return unwritable(res, module, scope, args[0], depth + 1) if args else None
    if name == "Union":
        return _every(res, module, scope, list(args), depth)
    if name in _LIVE_TYPING:
        return _a(name)
    if name == "Literal":
        return None
    for a in args:  # a container: of what it holds
        if a is not None and a[0] != "l":
            why = unwritable(res, module, scope, a, depth + 1)
            if why:
                return why
    return None


def _nullable(ann: Any) -> bool:
    """`X | None`, `Optional[X]`, `Union[X, None]` (by the names written: a field's default is not
    in the index, so a field that may hold None is taken as one that often does)."""
    if ann is not None and ann[0] == "q":
        try:
            ann = conv(ast.parse(ann[1].strip(), mode="eval").body)
        except SyntaxError:
            return False
    if ann is None:
        return False
    if ann[0] == "or":
        return any(m is None or m[0] == "none" or (m[0] == "n" and m[1] == "None") for m in _members(ann))
    if ann[0] == "s" and ann[1] and ann[1][0] == "n":
        head = str(ann[1][1]).rsplit(".", 1)[-1]
        return head == "Optional" or (head == "Union" and any(
            a is not None and (a[0] == "none" or (a[0] == "n" and a[1] == "None")) for a in ann[2]))
    return False


def _a(name: str) -> str:
    return f"{'an' if name[:1] in 'AEIOU' else 'a'} {name}"


def _members(ann: Any) -> list[Any]:
    if ann is not None and ann[0] == "or":
        return [*_members(ann[1]), *_members(ann[2])]
    return [ann]


def _every(res: "Resolver", module: str, scope: int, members: list[Any], depth: int) -> str | None:
    """A union is unwritable when every member but None is (`Request | None` is a Request)."""
    whys = [unwritable(res, module, scope, m, depth + 1) for m in members if m is not None and m[0] != "none"
            and not (m[0] == "n" and m[1] == "None")]
    return whys[0] if whys and all(whys) else None


def _typing_name(t: "Resolved") -> str | None:
    if t[0] != "ext":
        return None
    mod, _, name = t[1].rpartition(".")
    return name if mod in _TYPING_HOME else None


def _target(res: "Resolver", t: "Resolved", depth: int) -> str | None:
    kind = t[0]
    if kind == "alias":
        return unwritable(res, t[1], t[2], t[3], depth + 1)
    if kind == "ext":
        return _external(t[1])
    if kind == "cls":
        return _class(res, t[1], t[2], depth)
    if kind == "missing":
        return _protobuf(t[1])  # a generated `_pb2` module defines its classes at run time
    return None  # a TypeVar or NewType call, a module: not known


def _external(dotted: str) -> str | None:
    """A name outside the scanned files that the scan could not read as a class: by name."""
    mod, _, name = dotted.rpartition(".")
    if mod in _TYPING_HOME and name in _LIVE_TYPING:
        return _a(name)
    if pb := _protobuf(dotted):
        return pb
    if mod == "builtins" and name in _EXCEPTIONS:
        return f"an exception ({name})"
    if any(mod == m or mod.startswith(m + ".") for m in _LIVE_STDLIB) and name[:1].isupper():
        return f"of class {dotted}"
    return None


def _protobuf(dotted: str) -> str | None:
    """The renderer writes no protobuf message (wave 7: a2a-sdk's 56 decorated functions each took
    one, and every call was skipped)."""
    return f"a protobuf message ({dotted})" if protobuf_message(dotted) else None


_WRITABLE_CLASSES = frozenset(("pydantic.networks", name) for name in PYDANTIC_NETWORK_TYPES)


def _class(res: "Resolver", module: str, qual: str, depth: int, clear: bool = True) -> str | None:
    """A class the scan reads (the project's or a located library's): unwritable when it is no
    model and every base is known and gives it no written form. With `clear`, a model with a
    field carrying a credential in plain text (`model_credential`) is one no call may write."""
    if (module, qual) in _WRITABLE_CLASSES:
        return None
    model = res.is_model(("cls", module, qual))[0]
    if model is True:
        # written by its fields: a field no call can write makes the model unwritable too
        # (wave 6: openapi-pydantic's schema models hold a `type[BaseModel]`)
        held = model_credential(res, module, qual) if clear else None
        if held:
            return (f"of class {module}.{qual}, whose field {held[0]} ({held[1]}) carries a credential "
                    "every example would hold in clear")
        rec = res.class_record(module, qual)
        for ann in rec.fields if rec is not None and depth < 4 else ():
            if _nullable(ann):
                continue  # `Callable | None = None`: instances holding None are written
            why = unwritable(res, module, rec.body, ann, depth + 1)  # type: ignore[union-attr]
            if why:
                return f"of class {module}.{qual}, a model with a field that is {why}"
        return None
    if model is not False:
        return None  # not known
    if _abstract(res, module, qual):
        # an ABC: its instances are implementations, judged by those the scan finds
        return res.remember(("impl", module, qual), _implementations, res, module, qual, depth)
    field_why = _dataclass_field(res, module, qual, depth)
    if field_why:
        return field_why
    verdict = _plain(res, module, qual, {}, depth)
    if verdict == "exception":
        return f"an exception ({module}.{qual})"
    if verdict == "protobuf":
        return f"a protobuf message ({module}.{qual})"
    return f"of class {module}.{qual}" if verdict == "plain" else None


def _dataclass_field(res: "Resolver", module: str, qual: str, depth: int) -> str | None:
    """A dataclass is written by its fields (`Group(_async_group=...)`): one it must be given (no
    value in its body) that no call can write makes it unwritable too (wave 11: zarr's `Group`,
    whose `_async_group` holds a `StorePath` over an open store: ome-zarr-models' 18
    `from_zarr(cls, group: zarr.Group)` were candidates whose every call capture skipped). A field
    that may be None is not judged, as a model's."""
    rec = res.class_record(module, qual)
    if rec is None or not rec.required or depth >= 4 or not _dataclass_like(res, module, rec):
        return None
    for name, ann in rec.required:
        if _nullable(ann):
            continue
        why = unwritable(res, module, rec.body, ann, depth + 1)
        if why:
            return f"of class {module}.{qual}, a dataclass whose field {name} is {why}"
    return None


_DATACLASS_DECORATORS = frozenset({"dataclasses.dataclass", "pydantic.dataclasses.dataclass"})


def dataclass_self(res: "Resolver", module: str, qual: str) -> str | None:
    """For a class made by `dataclasses`' or pydantic's `dataclass` (the decorators by which the
    runtime takes a method's class for a dataclass, `runtime.spec.function_kind`): "" when a call
    text can write its instances, else why not; None when it is no such dataclass (wave 10: hera's
    `Parameter.as_input()`). Not writable: a field it must be given that no call can write, or a
    `__post_init__` of its own or of a base in the scan, which may change what it is given (hera's
    `Parameter` turns `default=None` into `'null'`: the written instance would not be the one the
    method answered for)."""
    rec = res.class_record(module, qual)
    if rec is None or not rec.decorators:
        return None
    for written in rec.decorators:
        t = res.resolve_dotted(module, rec.scope, written) if written else ("other",)
        if t[0] == "alias":
            t = res.resolve_expr_target(t[1], t[2], t[3])
        if t[0] in ("cls", "def", "ext", "missing") and res.fqn(t) in _DATACLASS_DECORATORS:
            post = _post_init(res, module, qual, 0)
            if post:
                return (f"of class {module}.{qual}, a dataclass whose __post_init__ (in {post}) may change what "
                        "it is given, so the written instance may not be the one the method answered for")
            return _dataclass_field(res, module, qual, 0) or ""
    return None


def _post_init(res: "Resolver", module: str, qual: str, depth: int) -> str | None:
    """The class (its own, or a base the scan reads) defining `__post_init__`, or None."""
    rec = res.class_record(module, qual)
    if rec is None or depth > 20:
        return None
    m = res.module(module)
    idx = m.index if m is not None and not isinstance(m, str) else None
    if idx is not None and rec.body < len(idx.scopes) and "__post_init__" in idx.scopes[rec.body][1]:
        return f"{module}.{qual}"
    for _, t in res.class_bases(module, rec):
        if t[0] == "cls":
            found = _post_init(res, t[1], t[2], depth + 1)
            if found:
                return found
    return None


def _implementations(res: "Resolver", module: str, qual: str, depth: int) -> str | None:
    """An ABC by its implementations in the scanned files: writable (None) when one of them is a
    model, a dataclass or another value a call can write, or is not known (wave 8:
    fastapi-pagination's `AbstractParams`, whose implementations are models); unwritable when
    every one found is a class no call can write (wave 9: strands' `Model`, each implementation a
    plain class holding a provider's client); not judged when none is found."""
    if depth > 8:
        return None
    found = res.subclasses(module, qual)
    if not found:
        return None
    for m, q in found:
        if _class(res, m, q, depth + 1, clear=False) is None:
            return None
    shown = ", ".join(f"{m}.{q}" for m, q in found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
    return f"of class {module}.{qual}, whose implementations ({shown}) are not models"


def _abstract(res: "Resolver", module: str, qual: str) -> bool:
    """An ABC: `abc.ABC` among its bases, `metaclass=ABCMeta`, or an `@abstractmethod` of its own."""
    rec = res.class_record(module, qual)
    if rec is None:
        return False
    return rec.abstract or any(t[0] == "ext" and t[1] == "abc.ABC" for _, t in res.class_bases(module, rec))


def _protocol(res: "Resolver", module: str, qual: str) -> bool:
    """A class that lists `typing.Protocol` among its bases (an interface: as a parameter's type
    it is not judged, as another class's base it gives that class no written form)."""
    rec = res.class_record(module, qual)
    return rec is not None and any(res.typing_name(t) == "Protocol" for _, t in res.class_bases(module, rec))


_WALKING = "walking"  # a class whose verdict is being made (a base cycle): not known


def _plain(res: "Resolver", module: str, qual: str, verdicts: dict[tuple[str, str], str | None],
           depth: int) -> str | None:
    """"plain": the class and its bases give its instances no written form; "exception": it is an
    exception; "protobuf": a protobuf message; None: writable, or not known. `verdicts` keeps each
    class's answer: a base two bases share (a diamond: prefect's `PrefectClient` over fifteen
    mixins of `BaseAsyncClient`) answers the second time as it did the first."""
    key = (module, qual)
    if key in verdicts:
        known = verdicts[key]
        return None if known == _WALKING else known
    if depth > 30:
        return None
    verdicts[key] = _WALKING
    verdicts[key] = _plain_verdict(res, module, qual, verdicts, depth)
    return verdicts[key]


def _plain_verdict(res: "Resolver", module: str, qual: str, verdicts: dict[tuple[str, str], str | None],
                   depth: int) -> str | None:
    rec = res.class_record(module, qual)
    if rec is None or (rec.decorators and _dataclass_like(res, module, rec)):
        return None  # not read, or made a dataclass (or an attrs class...) by a decorator
    verdict = "plain"
    for _, t in res.class_bases(module, rec):  # `Generic[T]`, `Mapping[str, Any]`: the class subscripted
        if t[0] == "alias":
            t = res.resolve_expr_target(t[1], t[2], t[3])
        if t[0] == "cls":
            if res.is_model(t)[0] is not False:
                return None
            if _protocol(res, t[1], t[2]):
                continue  # a Protocol as a base says nothing of the value (strands' `AudioCapable` mixin)
            inner = _plain(res, t[1], t[2], verdicts, depth + 1)
            if inner is None:
                return None
            if inner in ("exception", "protobuf"):
                verdict = inner
            continue
        if t[0] == "missing" and _protobuf(t[1]):
            return "protobuf"
        if t[0] != "ext":
            return None  # missing, a call (`declarative_base()`), ...: not known
        name = t[1]
        if name in _WRITABLE_BASES or name.rpartition(".")[2] == "Protocol":
            return None
        if _protobuf(name):
            return "protobuf"
        if name.startswith("builtins.") and name[9:] in _EXCEPTIONS:
            verdict = "exception"
        elif not (name in _NEUTRAL_BUILTINS or name.rpartition(".")[0] in _NEUTRAL_HOMES):
            return None  # a library base the scan cannot read
    return verdict


# decorators that make a class's instances dataclass-like values (the renderer writes dataclasses;
# attrs' and other dataclass-like classes are not judged): by full name, or by the last name
_DATACLASS_MAKERS = frozenset({"dataclasses.dataclass", "typing.dataclass_transform",
                               "typing_extensions.dataclass_transform"})
_ATTRS_MAKERS = frozenset({"s", "attrs", "attributes", "define", "frozen", "mutable", "dataclass"})


def _dataclass_like(res: "Resolver", module: str, rec: Any) -> bool:
    """A decorator of the class statement that can make a dataclass-like value: `dataclasses`',
    pydantic's or any library's `dataclass`, attrs' `s`/`define`/`frozen`..., `dataclass_transform`
    or a def it decorates (PEP 681). Any other (pandas 3's `@set_module`, `functools.total_ordering`,
    a registry's `register`) leaves the class as its bases make it (wave 9: every `DataFrame`
    parameter was taken as writable)."""
    for written in rec.decorators:
        if not written:
            continue
        t = res.resolve_dotted(module, rec.scope, written)
        if t[0] == "alias":
            t = res.resolve_expr_target(t[1], t[2], t[3])
        full = res.fqn(t) if t[0] in ("cls", "def", "ext", "missing") else written
        last = full.rsplit(".", 1)[-1]
        if full in _DATACLASS_MAKERS or last in ("dataclass", "dataclass_transform"):
            return True
        if full.split(".", 1)[0] in ("attr", "attrs") and last in _ATTRS_MAKERS:
            return True
        if t[0] == "def" and "." not in t[2]:
            m = res.module(t[1])
            idx = m.index if m is not None and not isinstance(m, str) else None
            if idx is not None and idx.names.get(t[2]) == ("def", "transform"):
                return True
    return False


def secret_in(res: "Resolver", module: str, scope: int, ann: Any) -> tuple[str, str, str] | None:
    """(model name, field path, secret type) of the first `SecretStr`/`SecretBytes` field, at
    any depth, of a model annotation `ann` names (`Creds`, `Page[Creds]`, `Creds | None`), or None."""
    return _model_in(res, module, scope, ann, model_secret)


def model_secret(res: "Resolver", module: str, qual: str) -> tuple[str, str] | None:
    """(field path, secret type) of the first field of model class `qual` (its bases in the scan
    and its fields' models included: `api.key`) typed `SecretStr`/`SecretBytes`, or None. Read by
    the names written (`Optional[SecretStr]`, `pydantic.SecretStr`), as the credential rule does."""
    return res.remember(("secret", module, qual), _first_field, res, module, qual, set(), 0, _secret_type)


def credential_in(res: "Resolver", module: str, scope: int, ann: Any) -> tuple[str, str, str] | None:
    """(model name, field path, field type) of the first field carrying a credential in plain
    text (`model_credential`) of a model annotation `ann` names, or None: what `secret_in` is
    for `SecretStr`."""
    return _model_in(res, module, scope, ann, model_credential)


def model_credential(res: "Resolver", module: str, qual: str) -> tuple[str, str] | None:
    """(field path, its type as written) of the first field of model class `qual` (its bases in
    the scan and its fields' models included: `auth.password`) named like a credential (the
    parameter rule's names, `password`, `api_key`, `bot_token`..., but `token` alone) and typed as plain text (`str`,
    `bytes`, `Optional[str]`, `Annotated[str, ...]`), or None (wave 10: a `password: str` field
    of an argument or of the answer is written in clear into every example). A `SecretStr` is
    `model_secret`'s; a `bool` or `int` flag holds none."""
    return res.remember(("credential", module, qual), _first_field, res, module, qual, set(), 0, _clear_credential)


def _model_in(res: "Resolver", module: str, scope: int, ann: Any,
              find: Callable[["Resolver", str, str], tuple[str, str] | None]) -> tuple[str, str, str] | None:
    """(model name, *what `find` gives) for the first model class `ann` names that `find` answers."""
    for dotted in conv_names(ann):
        t = res.resolve_dotted(module, scope, dotted)
        if t[0] == "cls" and res.is_model(t)[0] is True:
            hit = find(res, t[1], t[2])
            if hit:
                return (t[2].rsplit(".", 1)[-1], *hit)
    return None


def _secret_type(name: str, ann: Any, dotted: list[str]) -> str | None:
    """pydantic's secret types, held in clear or dumped as the mask."""
    for d in dotted:
        if SECRET_TYPES.fullmatch(d.rsplit(".", 1)[-1]):
            return d.rsplit(".", 1)[-1]
    return None


def _clear_credential(name: str, ann: Any, dotted: list[str]) -> str | None:
    # not a field named `token` alone: in a model it is more often data than a credential
    # (llama-index's `LogProb.token`, a lexer's or a pager's token)
    if CREDENTIAL_NAME.search(name) and name.lstrip("_").lower() != "token" and _clear_text(ann):
        return _written(ann)
    return None


def _first_field(res: "Resolver", module: str, qual: str, seen: set[tuple[str, str]], depth: int,
                 own: Callable[[str, Any, list[str]], str | None]) -> tuple[str, str] | None:
    """(field path, what `own` says of it) of the first field of model class `qual` that `own`
    answers: its own fields first, then its fields' models, then its bases in the scan."""
    # `seen` is shared: a class met again was searched already (and held none, or the walk stopped)
    if (module, qual) in seen or depth > 8:
        return None
    seen.add((module, qual))
    rec = res.class_record(module, qual)
    if rec is None:
        return None
    fields = [(name, ann, conv_names(ann)) for name, ann in zip(rec.field_names, rec.fields)]
    for name, ann, dotted in fields:
        what = own(name, ann, dotted)
        if what:
            return (name, what)
    for name, ann, dotted in fields:
        for d in dotted:
            if d.rsplit(".", 1)[-1] in _CLEAR_TEXT:
                continue
            t = res.resolve_dotted(module, rec.body, d)
            if t[0] == "cls" and res.is_model(t)[0] is True:
                inner = _first_field(res, t[1], t[2], seen, depth + 1, own)
                if inner:
                    return (f"{name}.{inner[0]}", inner[1])
    for _, t in res.class_bases(module, rec):
        if t[0] == "cls":
            inner = _first_field(res, t[1], t[2], seen, depth + 1, own)
            if inner:
                return inner
    return None


_CLEAR_TEXT = frozenset({"str", "bytes"})
_ONE_OF = frozenset({"Optional", "Annotated", "Final", "Required", "NotRequired", "ReadOnly"})


def _clear_text(ann: Any, depth: int = 0) -> bool:
    """`str`, `bytes`, or one of those `| None`, in `Optional[...]`, `Union[..., None]` or
    `Annotated[..., ...]` (by the names written)."""
    if ann is None or depth > 10:
        return False
    k = ann[0]
    if k == "q":
        try:
            return _clear_text(conv(ast.parse(ann[1].strip(), mode="eval").body), depth + 1)
        except (SyntaxError, ValueError, RecursionError):
            return False
    if k == "n":
        return str(ann[1]).rsplit(".", 1)[-1] in _CLEAR_TEXT
    members: list[Any] = []
    if k == "or":
        members = _members(ann)
    elif k == "s" and ann[1] and ann[1][0] == "n" and ann[2]:
        head = str(ann[1][1]).rsplit(".", 1)[-1]
        if head in _ONE_OF:
            return _clear_text(ann[2][0], depth + 1)
        if head == "Union":
            members = list(ann[2])
    rest = [m for m in members if m is not None and m[0] != "none" and not (m[0] == "n" and m[1] == "None")]
    return bool(rest) and all(_clear_text(m, depth + 1) for m in rest)


def _written(ann: Any) -> str:
    """An annotation tuple as written (`str | None`, `Optional[str]`), for a reason."""
    k = ann[0] if ann else "x"
    if k == "n":
        return str(ann[1])
    if k == "q":
        return str(ann[1])
    if k == "none":
        return "None"
    if k == "or":
        return f"{_written(ann[1])} | {_written(ann[2])}"
    if k == "s":
        return f"{_written(ann[1])}[{', '.join(_written(a) for a in ann[2])}]"
    if k == "k":
        return str(ann[1])
    return "..."
