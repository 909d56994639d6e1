"""One file -> a small, picklable index of what the cross-module resolver needs.

Built with the standard library `ast` (about 10x faster than libcst), from the file's text alone, so
it can be cached on the file's content. Only statements are walked, never whole expression trees:
the index records names bound at each scope (imports, classes, aliases), class bases, and every
def whose return annotation could name a model. Annotations are kept as tiny tuples:

    ("n", "a.b.C")            a dotted name
    ("s", base, (args, ...))  a subscript: Optional[M], Page[Item], Annotated[M, ...]
    ("q", "text")             a string (a forward reference, parsed when resolved)
    ("or", left, right)       X | Y
    ("l", (items, ...))       a list ([int, str] in Callable[[int, str], M])
    ("none",)                 None
    ("k", "repr")             another literal
    ("x",)                    anything else

Files are parsed by `parsing.parse_ast_noting_rewrite` (also reads PEP 695 syntax on Python < 3.12, and never lets
a pathological file reach libcst's native parser).
"""

from __future__ import annotations

import ast
import bisect
import functools
import itertools
import re
import sys
from typing import Any, Callable, Literal, NamedTuple, Sequence

from .._credentials import CREDENTIAL_NAME as _CREDENTIAL_NAME, is_credential_name
from .._instance_use import instance_use
from ..contracts import DefKind
from .parsing import UnparsableSource, decode_source, is_type_checking, parse_ast_noting_rewrite

__all__ = ["FileIndex", "FuncRec", "ClassRec", "build_index", "UnindexableFile", "INDEX_VERSION", "conv", "conv_names",
           "freeze", "thaw", "SECRET_TYPES", "CREDENTIAL_NAME", "HOOK_NAMES", "STATE_REASON", "NO_IMPLEMENTATION"]

INDEX_VERSION = 28
"""Bump when the index layout or its meaning changes: the cache keys on it."""

# Return annotations that can never name a model: those defs are not recorded at all.
_NEVER_MODEL = frozenset({"None", "int", "str", "bool", "float", "bytes", "complex", "object", "NoReturn", "Never"})


class ClassRec(NamedTuple):
    bases: tuple[Any, ...]
    scope: int
    """The scope the class statement is in (its bases are resolved there)."""
    body: int
    """The class body's own scope (nested classes and class attributes)."""
    lineno: int
    span: tuple[int, int, int, int] | None = None
    """(lineno, col_offset, end_lineno, end_col_offset) of the class statement, as `ast` gives them
    (columns in UTF-8 bytes); None when the file had to be rewritten to parse (newer syntax).
    With `fields`, what a model's closure digest reads (`depends`) without parsing the file again."""
    fields: tuple[Any, ...] = ()
    """The annotation of each field, in order: each annotated assignment directly in the class
    body, but a private attribute (`_x: T`) or a `ClassVar[...]` (pydantic takes neither as a field;
    wave 8: bioimageio's `Version._version`, a `packaging` Version, judged as a field)."""
    private: tuple[str, ...] = ()
    """The private attributes (`_x`) its body declares; with its methods' `self._x = ...` too when
    one of its methods reads private state (`FuncRec.private_reads`)."""
    decorators: tuple[str, ...] = ()
    """The dotted name of each decorator of the class statement (`dataclass`, `attrs.define`,
    `set_module`; "" for one that is no name): `writable` resolves them, and only one that can make
    a dataclass-like value makes the class not judged (wave 9: pandas 3's `@set_module` DataFrame)."""
    field_names: tuple[str, ...] = ()
    """The name of each of `fields`, in the same order."""
    abstract: bool = False
    """`metaclass=ABCMeta`, or an `@abstractmethod` in its body (an ABC `writable` does not judge)."""
    required: tuple[tuple[str, Any], ...] = ()
    """For a class under a decorator named `dataclass`: (name, annotation) of each field its body
    declares without a value (private ones too, not a `ClassVar`, `InitVar` or `KW_ONLY`), which
    every instance's written form holds: `writable` judges them (wave 11: zarr's `Group`, a frozen
    dataclass whose `_async_group` holds a `StorePath` over an open store)."""


class FuncRec(NamedTuple):
    qualname: str
    name: str
    lineno: int
    col: int
    end_lineno: int
    decorator_lineno: int
    returns: Any
    """The annotation tuple, or ("overloads", (ann, ...)) for an unannotated @overload implementation."""
    decorators: tuple[tuple[int, str | None, bool, tuple[tuple[str, str | None], ...]], ...]
    """(lineno, dotted target, called, ((kwarg, string value or None), ...)) per decorator."""
    is_async: bool
    kind: DefKind | Literal["property"]
    is_generator: bool
    no_input: str | None
    """Why its calls cannot carry what its answer depends on (no arguments, only *args/**kwargs,
    a Callable parameter, a closure), or None."""
    cls: str | None
    """Qualname of the class it is defined in, for methods."""
    scope: int
    """The scope its annotations are resolved in."""
    type_checking: bool = False
    """Defined under `if TYPE_CHECKING:` (never runs)."""
    private_reads: tuple[str, ...] = ()
    """An instance method's `self._x` reads (not its class's own methods): private state, if its
    class or a base declares `_x`, that no call carries (`project._classify`)."""
    params: tuple[tuple[str, Any], ...] = ()
    """(name, annotation) of each annotated parameter a call passes (no default; `*args` and
    `**kwargs`; not `self`/`cls`), for `writable`: a type no call text can carry makes the def
    ineligible."""
    calls: tuple[str, ...] = ()
    """The names its body calls (`load_profiles`, `helpers.read`, `self._fetch`), read from its
    text, for `project`: a helper that reads the outside (`FileIndex.effects`) makes it ineligible."""
    defaulted: tuple[tuple[str, Any], ...] = ()
    """(name, annotation) of each annotated parameter with a default: a call may leave it out, but
    one passing a model that holds a secret or a credential would write it (`project`; wave 11:
    datacontract's `import_mysql(..., config: Optional[Config] = None)`)."""
    body: int = -1
    """The scope of its own body: the imports it makes there (`from .image import image_info`)
    name what it calls as a module-level import does (`project._outside_call`; wave 12:
    datachain's `ImageFile.get_info`)."""
    reads_instance: bool = True
    """An instance method whose body names its instance (`self`), `super` or `__class__`
    (`distilgen._instance_use`); False for one that never does, which a plain class's method is
    judged as a function of its other arguments (wave 11: python-on-whales' `_parse_json_object`)."""
    takes_args: bool = True
    """An instance method taking an argument besides its instance (`*args`/`**kwargs` too)."""


Binding = tuple[Any, ...]
"""What a name is bound to in a scope: ("imp", module, name), ("cls", qualname), ("def",) ... (plain
tuples, marshalled into the cache; see `resolve` for how they are followed)."""


class FileIndex(NamedTuple):
    names: dict[str, Binding]
    scopes: tuple[tuple[int, dict[str, Binding], str], ...]
    """(parent scope, bindings, "module"|"class"|"function"); scope 0 is the module."""
    stars: tuple[tuple[int, str], ...]
    all: tuple[str, ...] | None
    classes: dict[str, ClassRec]
    funcs: tuple[FuncRec, ...]
    generated: bool
    lines: int
    effects: dict[str, str] = {}
    """Module- and class-level defs (by qualname) whose answer comes from outside their call (the
    clock, a file, a program, the network, a context variable: `_chance`), directly or through
    another def of this file they call, with the reason (`calls subprocess.run() (...)`,
    `calls _read(), which calls open() (...)`): what a function calling them inherits
    (`project._outside_call`; wave 8: prefect's `load_profile` reads a file through a helper)."""
    reaches: dict[str, tuple[int, tuple[str, ...]]] = {}
    """Module- and class-level defs not in `effects` that call what may have one in another
    module: (the scope of their body, those names: an import not of the standard library, a def
    of this file leading to one, `self.x`/`cls.x`), followed by `project._reached_effect` (wave 11:
    datacontract's `import_odcs` -> `read_resource()` -> `files.read_file()` -> `open()`)."""


class UnindexableFile(Exception):
    """The file cannot be indexed; the message is the reason shown to the user."""


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def conv(node: ast.AST | None) -> Any:
    """An annotation expression -> the tuple form described in the module docstring."""
    if node is None:
        return None
    if isinstance(node, (ast.Name, ast.Attribute)):
        d = _dotted(node)
        return ("n", d) if d else ("x",)
    if isinstance(node, ast.Subscript):
        sl = node.slice
        args = tuple(conv(e) for e in sl.elts) if isinstance(sl, ast.Tuple) else (conv(sl),)
        return ("s", conv(node.value), args)
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, str):
            return ("q", v)
        if v is None:
            return ("none",)
        return ("k", repr(v))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return ("or", conv(node.left), conv(node.right))
    if isinstance(node, (ast.List, ast.Tuple)):
        return ("l", tuple(conv(e) for e in node.elts))
    return ("x",)



def conv_names(ann: Any) -> list[str]:
    """The dotted names an annotation tuple (`conv`'s form) holds, in the order written, string
    annotations read too (a string that does not parse is a `Literal`'s value, not a name)."""
    out: list[str] = []
    todo = [ann]
    while todo:
        a = todo.pop()
        if a is None:
            continue
        k = a[0]
        if k == "n":
            out.append(a[1])
        elif k == "s":
            todo.extend(reversed((a[1], *a[2])))
        elif k == "or":
            todo.extend((a[2], a[1]))
        elif k in ("l", "overloads"):
            todo.extend(reversed(a[1]))
        elif k == "q":
            try:
                todo.append(conv(ast.parse(a[1].strip(), mode="eval").body))
            except (SyntaxError, ValueError, RecursionError):
                continue
    return out

def _value_binding(value: ast.AST) -> Binding:
    if isinstance(value, ast.Call):
        func = _dotted(value.func)
        return ("call", func) if func else ("other",)
    if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript, ast.BinOp)) or (
        isinstance(value, ast.Constant) and isinstance(value.value, str)
    ):
        return ("expr", conv(value))
    return ("other",)


def _is_type_checking(test: ast.AST) -> bool:
    return is_type_checking(_dotted(test))


def _is_main_guard(test: ast.AST) -> bool:
    """`if __name__ == "__main__":` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = (test.left, test.comparators[0])
    return any(isinstance(x, ast.Name) and x.id == "__name__" for x in sides) and any(
        isinstance(x, ast.Constant) and x.value == "__main__" for x in sides)


def _has_yield(fn: ast.AST) -> bool:
    """A `yield` in the def's own body (not in nested defs, lambdas or classes)."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _kw_string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class _Builder:
    def __init__(self, text: str, spans: bool = True) -> None:
        self.spans = spans
        self.scopes: list[tuple[int, dict[str, Binding], str]] = [(-1, {}, "module")]
        self.stars: list[tuple[int, str]] = []
        self.all: tuple[str, ...] | None = None
        self.classes: dict[str, ClassRec] = {}
        self.funcs: list[FuncRec] = []
        self.yield_lines: list[int] | None = None
        self.type_checking = 0  # inside how many `if TYPE_CHECKING:` bodies
        self.enclosing: list[ast.FunctionDef | ast.AsyncFunctionDef] = []  # the functions around a def
        self.bound: dict[int, set[str]] = {}  # id(function) -> the names it binds, read once per function
        self.class_nodes: dict[str, ast.ClassDef] = {}  # qualname -> its (first) class statement
        self.stored: set[str] = set()  # classes whose methods' `self._x = ...` are in their ClassRec
        self.dispatchers: set[str] = set()  # names of `@singledispatch` functions defined so far
        self.tc_bound: set[str] = set()  # module-level names bound under `if TYPE_CHECKING:`
        self.run_bound: set[str] = set()  # ... and bound elsewhere (at run time)
        self.return_names: list[tuple[int, int, tuple[str, ...]]] = []  # (func index, scope, names its return names)
        self.code: dict[str, set[str]] = {}  # class qualname -> the names of the defs in its body
        self.derived: dict[str, set[str]] = {}  # class qualname -> its private attributes made at construction
        self.effects: dict[str, str] = {}  # qualname -> why its answer comes from outside (see FileIndex.effects)
        self.defs: list[tuple[str, str | None, ast.FunctionDef | ast.AsyncFunctionDef]] = []  # module/class-level defs
        self.fscopes: dict[str, int] = {}  # module/class-level def -> its body's scope
        self._calls: dict[int, tuple[str, ...]] = {}  # id() of a def -> `_calls_of` it (the tree outlives the build)
        self.makes_property: set[int] = set()  # id() of the defs that return `property(...)`
        self.fnodes: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, int]] = []  # each FuncRec's def and body scope
        self.forwards: dict[int, str] = {}  # id() of a def whose body only returns `pydantic.model_validator(...)` -> that name
        self.environ = "environ" in text  # `_chance` looks for `os.environ` read any way
        self.parsers = "ConfigParser" in text  # ... and for a `ConfigParser().read(path)`
        self.text = text
        self._line_starts: list[int] | None = None  # offsets of each line, made when first needed
        # lines that may call the clock or a random draw, or read a file, the terminal or the
        # environment (one search of the file: most have none)
        self.chance_lines: list[int] = []
        line, pos = 1, 0
        for m in _chance_pattern(text).finditer(text):
            line += text.count("\n", pos, m.start())
            pos = m.start()
            self.chance_lines.append(line)
        if "yield" in text:
            self.yield_lines = [i for i, line in enumerate(text.splitlines(), 1) if "yield" in line]

    def new_scope(self, parent: int, kind: str) -> int:
        self.scopes.append((parent, {}, kind))
        return len(self.scopes) - 1

    # `soft` bindings (else-branches, except handlers) never replace an earlier binding, so
    # `if TYPE_CHECKING: from x import M` / `else: M = Any` keeps the import.
    def bind(self, scope: int, name: str, value: Binding, soft: bool) -> None:
        if scope == 0:
            (self.tc_bound if self.type_checking else self.run_bound).add(name)
        names = self.scopes[scope][1]
        if soft:
            names.setdefault(name, value)
        else:
            names[name] = value

    def block(self, stmts: list[ast.stmt], scope: int, prefix: str, cls: str | None, soft: bool = False) -> None:
        pending_overloads: dict[str, list[Any]] = {}
        for st in stmts:
            t = type(st)
            if t is ast.FunctionDef or t is ast.AsyncFunctionDef:
                self.func(st, scope, prefix, cls, pending_overloads)  # type: ignore[arg-type]
                hook = self.forwards.get(id(st))
                self.bind(scope, st.name, ("def", "property") if id(st) in self.makes_property  # type: ignore[attr-defined]
                          else ("def", "hook", hook) if hook else _def_binding(st), soft)  # type: ignore[arg-type]
            elif t is ast.ClassDef:
                self.klass(st, scope, prefix, soft)  # type: ignore[arg-type]
            elif t is ast.ImportFrom:
                mod = st.module or ""  # type: ignore[attr-defined]
                for a in st.names:  # type: ignore[attr-defined]
                    if a.name == "*":
                        if scope == 0:
                            self.stars.append((st.level, mod))  # type: ignore[attr-defined]
                    else:
                        self.bind(scope, a.asname or a.name, ("imp", st.level, mod, a.name), soft)  # type: ignore[attr-defined]
            elif t is ast.Import:
                for a in st.names:  # type: ignore[attr-defined]
                    if a.asname:
                        self.bind(scope, a.asname, ("mod", a.name), soft)
                    else:
                        head = a.name.split(".", 1)[0]
                        self.bind(scope, head, ("mod", head), soft)
            elif t is ast.Assign:
                value = st.value  # type: ignore[attr-defined]
                if type(value) is ast.Call and len(value.args) == 1 and type(value.args[0]) is ast.Name:
                    self._registered(st, value, scope)
                for target in st.targets:  # type: ignore[attr-defined]
                    if isinstance(target, ast.Name):
                        if target.id == "__all__" and scope == 0 and isinstance(value, (ast.List, ast.Tuple)):
                            self.all = tuple(e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
                        self.bind(scope, target.id, _value_binding(value), soft)
                    elif isinstance(target, (ast.Tuple, ast.List)):
                        for e in target.elts:
                            if isinstance(e, ast.Name):
                                self.bind(scope, e.id, ("other",), soft)
            elif t is ast.AnnAssign:
                target = st.target  # type: ignore[attr-defined]
                if isinstance(target, ast.Name):
                    value = st.value  # type: ignore[attr-defined]
                    self.bind(scope, target.id, _value_binding(value) if value is not None else ("other",), soft)
            elif t is ast.If:
                tc = _is_type_checking(st.test)  # type: ignore[attr-defined]
                main_guard = _is_main_guard(st.test)  # type: ignore[attr-defined]  # never runs on import
                if not main_guard:
                    self.type_checking += tc
                    try:
                        self.block(st.body, scope, prefix, cls, soft)  # type: ignore[attr-defined]
                    finally:
                        self.type_checking -= tc
                # a module-level `if`/`else` binding one name in both branches (a compat module:
                # `from pydantic.v1.fields import ModelField` / `from pydantic.fields import ...`)
                # keeps both, the `if` branch's first: the scan cannot tell which branch runs
                # (wave 5: langfuse's Fern module read the `else` import only, which this pydantic lacks)
                before = dict(self.scopes[0][1]) if scope == 0 and st.orelse and not tc and not main_guard else None  # type: ignore[attr-defined]
                self.block(st.orelse, scope, prefix, cls, True if tc else soft)  # type: ignore[attr-defined]
                if before is not None:
                    self._keep_both(before, st.body)  # type: ignore[attr-defined]
            elif t is ast.Try or t.__name__ == "TryStar":
                self.block(st.body, scope, prefix, cls, soft)  # type: ignore[attr-defined]
                # a module-level `try: from pydantic.v1 import BaseModel` / `except ImportError:
                # from pydantic import BaseModel` binds a name either way, as an `if`/`else` does:
                # both imports kept, the `try` body's first (wave 9: evidently's compat module)
                tried = dict(self.scopes[0][1]) if scope == 0 and st.handlers and not self.type_checking else None  # type: ignore[attr-defined]
                for h in st.handlers:  # type: ignore[attr-defined]
                    self.block(h.body, scope, prefix, cls, True)
                    if tried is not None:
                        self._keep_both(tried, st.body, h.body, imports_only=True)  # type: ignore[attr-defined]
                self.block(st.orelse, scope, prefix, cls, soft)  # type: ignore[attr-defined]
                self.block(st.finalbody, scope, prefix, cls, soft)  # type: ignore[attr-defined]
            elif t is ast.With or t is ast.AsyncWith or t is ast.For or t is ast.AsyncFor or t is ast.While:
                self.block(st.body, scope, prefix, cls, soft)  # type: ignore[attr-defined]
                self.block(getattr(st, "orelse", []), scope, prefix, cls, soft)
            elif t.__name__ == "Match":
                for case in st.cases:  # type: ignore[attr-defined]
                    self.block(case.body, scope, prefix, cls, soft)
            elif t is ast.Return and self.enclosing and type(st.value) is ast.Call:  # type: ignore[attr-defined]
                # `return property(wrapper)`: a decorator making a property (wave 11: stravalib's `lazy_property`)
                value = st.value  # type: ignore[attr-defined]
                made = _dotted(value.func) or ""
                last = made.rsplit(".", 1)[-1]
                if last in ("property", "cached_property"):
                    self.makes_property.add(id(self.enclosing[-1]))
                elif last in HOOK_NAMES and _only_statement(self.enclosing[-1], st):
                    # `def model_validator(*a, **k): return pydantic.model_validator(*a, **k)`: a
                    # project's own name for pydantic's decorator (wave 12: sqlmesh.utils.pydantic)
                    self.forwards[id(self.enclosing[-1])] = made
                if len(value.args) == 1 and type(value.args[0]) is ast.Name and type(value.func) is ast.Call:
                    # `return field_validator("x", mode="before")(_validator)` (wave 12: sqlmesh's `TimeColumn.validator`)
                    self._registered(st, value, scope)
            elif t is ast.Expr:
                value = st.value  # type: ignore[attr-defined]
                if type(value) is ast.Call and len(value.args) == 1 and type(value.args[0]) is ast.Name \
                        and type(value.func) is ast.Call:
                    self._registered(st, value, scope)

    def klass(self, node: ast.ClassDef, scope: int, prefix: str, soft: bool) -> None:
        qual = prefix + node.name
        body = self.new_scope(scope, "class")
        first = self.classes.get(qual)
        if first is not None:  # a class redefined: the closure reads the first statement, as `ast` walks do
            span, fields, field_names = first.span, first.fields, first.field_names
        else:
            span = (node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0) \
                if self.spans and node.end_col_offset is not None else None
            try:
                declared = _fields(node)
                fields, field_names = tuple(conv(ann) for _, ann in declared), tuple(name for name, _ in declared)
            except RecursionError:  # a field annotation too deep to keep: the class reads as unknown
                span, fields, field_names = None, (), ()
        private = tuple(sorted(_declared_private(node))) if first is None else first.private
        self.classes[qual] = ClassRec(tuple(conv(b) for b in node.bases), scope, body, node.lineno, span, fields,
                                      private, _decorator_names(node), field_names, _is_abstract(node),
                                      _required_fields(node))
        self.class_nodes.setdefault(qual, node)
        self.bind(scope, node.name, ("cls", qual), soft)
        self.block(node.body, body, qual + ".", qual)

    def func(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: int, prefix: str, cls: str | None,
             pending: dict[str, list[Any]]) -> None:
        qual = prefix + node.name
        decos = []
        is_overload = is_static = is_classm = is_property = False
        for d in node.decorator_list:
            called = isinstance(d, ast.Call)
            target = _dotted(d.func if called else d)  # type: ignore[attr-defined]
            kwargs: tuple[tuple[str, str | None], ...] = ()
            if called:
                kwargs = tuple((k.arg, _kw_string(k.value)) for k in d.keywords if k.arg in ("mode", "model"))  # type: ignore[attr-defined]
            decos.append((d.lineno, target, called, kwargs))
            last = target.rsplit(".", 1)[-1] if target else ""
            if last == "overload":
                is_overload = True
            elif last == "staticmethod":
                is_static = True
            elif last == "classmethod":
                is_classm = True
            elif last in ("property", "cached_property", "setter", "getter", "deleter"):
                is_property = True
        if any(d[1] and d[1].rsplit(".", 1)[-1] in _DISPATCHERS for d in decos):
            self.dispatchers.add(node.name)
        returns = conv(node.returns)
        if is_overload:
            pending.setdefault(node.name, []).append(returns)
        else:
            overloads = pending.pop(node.name, None)
            if returns is None and overloads and any(r is not None for r in overloads):
                returns = ("overloads", tuple(overloads))
        # The body is indexed whatever the annotation: nested defs and local classes live there.
        fscope = self.new_scope(scope, "function")
        self.enclosing.append(node)
        try:
            self.block(node.body, fscope, qual + ".<locals>.", None)
        finally:
            self.enclosing.pop()
        # what a module- or class-level def reads from outside: kept for any def a function may
        # call, whatever it returns (`FileIndex.effects`)
        top = self.scopes[scope][2] != "function" and not is_overload
        own = self._chance(node, fscope) if top else None
        if own:
            self.effects[qual] = own
        if top:
            self.defs.append((qual, cls, node))
            self.fscopes[qual] = fscope
        if is_overload or returns is None:
            return
        if returns[0] == "none" or (returns[0] == "n" and returns[1] in _NEVER_MODEL):
            return
        kind: DefKind
        if cls is not None:
            kind = "staticmethod" if is_static else "classmethod" if is_classm else "method"
        elif self.scopes[scope][2] == "function":
            kind = "nested"
        else:
            kind = "function"
        end = node.end_lineno or node.lineno
        gen = False
        if self.yield_lines is not None and any(node.lineno <= ln <= end for ln in self.yield_lines):
            gen = _has_yield(node)
        deco_line = min([node.lineno, *(d[0] for d in decos)])
        if self.tc_bound and node.returns is not None:
            self.return_names.append((len(self.funcs), scope, _annotation_names(node.returns)))
        no_input = (_no_implementation(node) or _no_input(node, kind, self.enclosing, self.bound)
                    or (own if top else self._chance(node, fscope))
                    or _dispatch_reason(node, decos, self.dispatchers) or _changes(node, kind))
        self.fnodes.append((node, fscope))
        self.funcs.append(FuncRec(
            qual, node.name, node.lineno, node.col_offset + 1, end, deco_line, returns, tuple(decos),
            isinstance(node, ast.AsyncFunctionDef), "property" if is_property else kind, gen, no_input, cls, scope,
            self.type_checking > 0,
            self._private_reads(node, kind, cls), _params(node, kind),
            () if no_input else self._calls_of(node),  # ineligible already: its calls add nothing
            _params(node, kind, defaulted=True), fscope,
            kind != "method" or instance_use(node) is not None,
            kind != "method" or len([*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]) > 1
            or node.args.vararg is not None or node.args.kwarg is not None,
        ))

    def _registered(self, st: ast.stmt, value: ast.Call, scope: int) -> None:
        """`f = model_validator(mode="after")(f)`, or in a class body `_check = validator("x")(check)`:
        the def `f` (or `check`) of this file is decorated so, as `@` would (wave 11: ome-zarr-models'
        `_check_valid_dtypes`, a module-level function registered in a model's body, was a candidate
        and every validation wrote an example). Before the statement's own binding is made. A
        pydantic hook's name (`field_validator(...)(f)`) registers `f` in any statement: returned,
        or assigned to another name outside a class body (wave 12: sqlmesh's `TimeColumn.validator()`
        returns `field_validator("time_column", mode="before")(_time_column_validator)`)."""
        arg = value.args[0].id  # type: ignore[attr-defined]
        deco = value.func
        called = isinstance(deco, ast.Call)
        target = _dotted(deco.func if isinstance(deco, ast.Call) else deco)
        hook = called and (target or "").rsplit(".", 1)[-1] in HOOK_NAMES
        if not hook and self.scopes[scope][2] != "class" and not any(
                isinstance(x, ast.Name) and x.id == arg for x in getattr(st, "targets", ())):
            return
        where = self._bound_in(scope, arg)
        if not target or target.endswith(".distil") or where is None or self.scopes[where][1][arg][0] != "def":
            return
        kwargs = tuple((k.arg, _kw_string(k.value)) for k in deco.keywords if k.arg in ("mode", "model")) \
            if isinstance(deco, ast.Call) else ()
        for i in range(len(self.funcs) - 1, -1, -1):
            f = self.funcs[i]
            if f.name == arg and f.scope == where:
                prop = target.rsplit(".", 1)[-1] in ("property", "cached_property")
                self.funcs[i] = f._replace(decorators=(*f.decorators, (st.lineno, target, called, kwargs)),
                                           kind="property" if prop else f.kind)
                return

    def _calls_of(self, node: ast.stmt) -> tuple[str, ...]:
        """`_called_names` of `node`'s text, once per def: the model rules, `spread_effects` and
        `reaches` all read them."""
        got = self._calls.get(id(node))
        if got is None:
            text = self._segment(node)
            got = _called_names(text)
            if any(name in text for name in _IN_MEMORY):
                memory = _memory_only_calls(node)
                got = tuple(c for c in got if c not in memory)
            self._calls[id(node)] = got
        return got

    def _segment(self, node: ast.stmt) -> str:
        """The text of `node`'s lines (its whole lines: a cheap superset of its own text)."""
        if self._line_starts is None:
            # only "\n" counted: a file with other line ends gets the whole text (a superset)
            self._line_starts = [0, *itertools.accumulate(len(line) + 1 for line in self.text.split("\n"))]
        starts = self._line_starts
        end = node.end_lineno or node.lineno
        if node.lineno > len(starts) - 1 or end >= len(starts):
            return self.text
        return self.text[starts[node.lineno - 1]:starts[end]]

    def _keep_both(self, after_body: dict[str, Binding], body: list[ast.stmt],
                   other: list[ast.stmt] | None = None, imports_only: bool = False) -> None:
        """After a module-level `if`/`else`: a name both branches bound becomes ("either", the
        `if` branch's binding, the `else` branch's), tried in that order (`resolve`). After a
        `try`/`except` (`other`: the handler's body, whose bindings never replace the body's), a
        name both import: an import's fallback to `None` or a stub keeps the import alone."""
        names = self.scopes[0][1]
        for name in _bound_in_blocks(body):
            first, now = after_body.get(name), names.get(name)
            if other is not None:
                now = _import_binding(other, name)
                if first is None or now is None or first[0] not in ("imp", "mod"):
                    continue
            if first is not None and now is not None and now is not first and first[0] != "either":
                names[name] = ("either", first, now)

    def _chance(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: int) -> str | None:
        """Why its answer is not a function of its call: it reads the clock or draws at random
        (wave 5: arize-phoenix's `_build_compaction_message` wrote `datetime.now()` into its
        answer; a note with `secrets.token_hex` ids), or reads a file, the terminal or the
        environment (wave 6: docling-core's `load_from_*` loaders). The call's own names are read
        as the imports bound so far say (`from datetime import datetime`, `import random as r`)."""
        lines = self.chance_lines
        if not lines:
            return None
        at = bisect.bisect_left(lines, node.lineno)
        if at == len(lines) or lines[at] > (node.end_lineno or node.lineno):
            return None  # none of those lines is in it
        parsers: set[str] = set()  # names bound to a `configparser.ConfigParser()` in it
        parsed: list[str] = []  # names whose `.read(...)` it calls
        for n in ast.walk(node):
            if isinstance(n, ast.Subscript):  # os.environ["KEY"]
                dotted = _dotted(n.value)
                if dotted is not None and self._full_name(scope, dotted) == "os.environ":
                    return f"reads {dotted}[...] (its answer depends on the environment, not on its call)"
                continue
            t = type(n)
            if t is ast.Name or t is ast.Attribute:
                # `env = os.environ if v is None else v`, `os.environ.items()`, `k in os.environ`:
                # any read, not only `.get`/`[...]` (wave 11: datacontract's `resolve_variables`
                # wrote the environment's password into an answer; conda-lock's `Channel.from_string`)
                if self.environ and (n.id if t is ast.Name else n.attr) in ("environ", "environb"):  # type: ignore[attr-defined]
                    dotted = _dotted(n)
                    if t is ast.Name and any(p.arg == n.id for p in ast.walk(node.args) if isinstance(p, ast.arg)):  # type: ignore[attr-defined]
                        continue  # a parameter named `environ`
                    if dotted is not None and self._full_name(scope, dotted) in ("os.environ", "os.environb"):
                        return f"reads {dotted} (its answer depends on the environment, not on its call)"
                continue
            if t is ast.Assign:  # `cp = configparser.ConfigParser()` (wave 11)
                if self.parsers and isinstance(n.value, ast.Call) and isinstance(n.targets[0], ast.Name) and (  # type: ignore[attr-defined]
                        self._full_name(scope, _dotted(n.value.func) or "_") or "") in _CONFIG_PARSERS:  # type: ignore[attr-defined]
                    parsers.add(n.targets[0].id)  # type: ignore[attr-defined]
                continue
            if not isinstance(n, ast.Call):
                continue
            func = n.func
            if isinstance(func, ast.Attribute) and func.attr == "get" and isinstance(func.value, ast.Name):
                if self._is_context_var(scope, func.value.id, node):
                    return (f"reads the context variable {func.value.id} (its answer depends on the context, "
                            "not on its call)")
            if self.parsers and isinstance(func, ast.Attribute) and func.attr == "read" and n.args:
                if isinstance(func.value, ast.Name):
                    parsed.append(func.value.id)
                elif isinstance(func.value, ast.Call) and (
                        self._full_name(scope, _dotted(func.value.func) or "_") or "") in _CONFIG_PARSERS:
                    return "calls ConfigParser().read() (its answer depends on a file's content, not on its call)"
            dotted = _dotted(func)
            full = self._full_name(scope, dotted) if dotted is not None else None
            kind = full and (_CHANCE.get(full) or _CHANCE.get(full.rsplit(".", 1)[0] + ".*") or _OUTSIDE.get(full))
            if not kind and isinstance(func, ast.Attribute) and func.attr in _OUTSIDE_METHODS \
                    and self._outside_method(scope, func, n):
                # `path.read_text()`: by the method's name (pathlib's, zipfile's and importlib's
                # resources' paths alike), whatever the receiver; `tarfile.open()` by its full name
                return (f"calls .{func.attr}() (its answer depends on {_OUTSIDE_METHODS[func.attr]}, "
                        "not on its call)")
            if dotted is None:
                continue
            if dotted in _OUTSIDE_BUILTINS and self._binding(scope, dotted) is None:
                return f"calls {dotted}() (its answer depends on {_OUTSIDE_BUILTINS[dotted]}, not on its call)"
            if kind and not (n.args and isinstance(n.args[0], ast.Call)
                             and (_dotted(n.args[0].func) or "").rsplit(".", 1)[-1] in _IN_MEMORY):
                return f"calls {dotted}() (its answer depends on {kind}, not on its call)"
            if _CLIENT_CALL.search(dotted.rpartition(".")[2]) and (self._binding(scope, dotted) or ("",))[0] != "cls":
                # `with get_client() as client: client.create_variable(...)`: by the name, as the
                # credential rule reads names (wave 8: prefect's `Variable.set`/`get`, `Artifact.create`);
                # not a class of this file (a model named `Client` made as data: it is read here)
                return f"calls {dotted}() (its answer depends on a service it connects to, not on its call)"
        for name in parsed:
            if name in parsers:
                return f"calls {name}.read() (its answer depends on a file's content, not on its call)"
        return None

    def _outside_method(self, scope: int, func: ast.Attribute, call: ast.Call) -> bool:
        """`x.read_text()`, `x.open()`: a method reading the outside, whatever `x` is, but a
        `.open()` of `self`/`cls` (its class's own method, followed by `spread_effects`), of a
        module that opens no file (`webbrowser.open(url)`), or of bytes in memory
        (`Image.open(BytesIO(data))`: wave 12, camel-ai's `MemoryRecord.from_dict`)."""
        if func.attr != "open" and func.attr not in _FS_METHODS:
            return True
        recv = func.value
        if isinstance(recv, ast.Name) and recv.id in ("self", "cls"):
            return False
        if func.attr != "open":
            return True
        if call.args and self._in_memory(scope, call.args[0]):
            return False
        dotted = _dotted(func)
        return dotted is None or self._full_name(scope, dotted) not in _NOT_FILE_OPENS

    def _in_memory(self, scope: int, arg: ast.expr) -> bool:
        """`BytesIO(...)`/`io.StringIO(...)`, or a name bound to one where `scope` sees it."""
        if isinstance(arg, ast.Name):
            b = self._binding(scope, arg.id)
            made = b[1] if b is not None and b[0] == "call" else None
        else:
            made = _dotted(arg.func) if isinstance(arg, ast.Call) else None
        if made is None:
            return False
        full = self._full_name(scope, made)
        return (full or made).rsplit(".", 1)[-1] in _IN_MEMORY and (
            full is None or full.partition(".")[0] in ("io", "_io"))

    def _is_context_var(self, scope: int, name: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """`name`, read in `node`, is a module-level `contextvars.ContextVar(...)` (wave 8:
        fastapi-pagination's `create_links` answered with the current request's URL, read from one)."""
        a = node.args
        if self._bound_in(scope, name) != 0 or any(
                p.arg == name for p in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if p is not None):
            return False  # a local or a parameter of that name
        b = self.scopes[0][1][name]
        return b[0] == "call" and self._full_name(0, b[1]) == "contextvars.ContextVar"

    def spread_effects(self) -> None:
        """A def of this file that calls one with an effect (`_read()`, `self._fetch()`,
        `cls.from_url()`, `Other.fetch()`, `_ctx.current()` on a module-level instance of a class
        of this file) has it too, named through the call; two more hops at most. A class of this
        file inherits the effect of a method it does not define from its bases of this file
        (`Sub.m` recorded too: wave 10, ical's `calendar_from_url` called `cls.from_url()`, its
        base's network fetch). Only files with an effect pay."""
        effects = self.effects
        names = self.scopes[0][1]
        calls: dict[str, tuple[str, ...]] = {}
        inherited = self._inherited() if effects else []
        for _ in range(3) if effects else ():
            self._alias_inherited(inherited)
            found: dict[str, str] = {}
            for qual, cls, node in self.defs:
                if qual in effects:
                    continue
                if qual not in calls:
                    calls[qual] = self._calls_of(node)
                for called in calls[qual]:
                    head, _, attr = called.partition(".")
                    if "." in attr:
                        continue
                    if head in ("self", "cls") and cls is not None:
                        target = f"{cls}.{attr}"
                    elif not attr:
                        if names.get(head, ("",))[0] != "def":
                            continue
                        target = head
                    else:
                        owner = self._instance_class(head)
                        if owner is None:
                            continue
                        target = f"{owner}.{attr}"
                    if target in effects and target != qual:
                        found[qual] = f"calls {called}(), which {effects[target]}"
                        break
            if not found:
                break
            effects.update(found)
        self._alias_inherited(inherited)

    def _alias_inherited(self, inherited: list[tuple[str, str]]) -> None:
        """`Sub.m` gets the effect of the `Base.m` it inherits (`_inherited`)."""
        effects = self.effects
        for sub_meth, base_meth in inherited:
            if sub_meth not in effects and base_meth in effects:
                effects[sub_meth] = effects[base_meth]

    def _instance_class(self, head: str) -> str | None:
        """The class of this file that module-level `head` names (`Other` in `Other.fetch()`) or
        is an instance of (`_ctx = Holder()`), or None."""
        names = self.scopes[0][1]
        b = names.get(head)
        if b is not None and b[0] == "call" and "." not in b[1]:
            b = names.get(b[1])
        return b[1] if b is not None and b[0] == "cls" and b[1] in self.class_nodes else None

    def _inherited(self) -> list[tuple[str, str]]:
        """("Sub.m", "Base.m") for each method `m` a class of this file does not define and
        inherits from a base of this file (module-level names; the first along its bases, depth
        first, as the MRO mostly is)."""
        names = self.scopes[0][1]
        local: dict[str, list[str]] = {}
        for qual, rec in self.classes.items():
            for base in rec.bases:
                if base is not None and base[0] == "s":
                    base = base[1]
                if base is not None and base[0] == "n" and "." not in base[1]:
                    b = names.get(base[1])
                    if b is not None and b[0] == "cls" and b[1] != qual and b[1] in self.class_nodes:
                        local.setdefault(qual, []).append(b[1])
        out: list[tuple[str, str]] = []
        for sub in local:
            own = set(self._methods(sub))
            seen = {sub}
            todo = list(reversed(local[sub]))
            while todo:
                base = todo.pop()
                if base in seen:
                    continue
                seen.add(base)
                for meth in self._methods(base) - own:
                    out.append((f"{sub}.{meth}", f"{base}.{meth}"))
                    own.add(meth)
                todo.extend(reversed(local.get(base, ())))
        return out

    def _methods(self, cls: str) -> set[str]:
        code = self.code.get(cls)
        if code is None:
            code = self.code[cls] = {st.name for st in self.class_nodes[cls].body
                                     if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef))}
        return code

    def reaches(self) -> dict[str, tuple[int, tuple[str, ...]]]:
        """`FileIndex.reaches`: what each def with no effect here calls that may lead to one in
        another module; a def of this file counts when it leads to such a call itself (three
        rounds, as `spread_effects` goes). Read from the text of each def, after `spread_effects`."""
        effects = self.effects
        found: dict[str, tuple[int, tuple[str, ...]]] = {}
        local: dict[str, tuple[int, list[tuple[str, str]]]] = {}  # qual -> (scope, [(call, def of this file)])
        for qual, cls, node in self.defs:
            if qual in effects or qual in found or qual in local:
                continue
            scope = self.fscopes[qual]
            out: list[str] = []
            mine: list[tuple[str, str]] = []  # (the call, the qualname of the def of this file it names)
            for called in self._calls_of(node):
                head, _, attr = called.partition(".")
                if called == node.name:
                    continue  # its own `def` line (or a recursive call)
                if head in ("self", "cls"):
                    if cls is not None and attr and "." not in attr:
                        mine.append((called, f"{cls}.{attr}"))
                    continue
                b = self._binding(scope, head)
                if b is None:
                    continue
                if b[0] == "def":
                    if not attr:
                        mine.append((called, called))
                elif b[0] == "cls":
                    if attr and "." not in attr:
                        mine.append((called, f"{b[1]}.{attr}"))
                elif (b[0] == "imp" and (b[1] or b[2].partition(".")[0] not in sys.stdlib_module_names)) or (
                        b[0] == "mod" and b[1].partition(".")[0] not in sys.stdlib_module_names):
                    out.append(called)
            if out:
                found[qual] = (scope, tuple(out + [c for c, _ in mine]))
            elif mine:
                local[qual] = (scope, mine)
        for _ in range(3) if local and found else ():
            more = {}
            for qual, (scope, mine) in local.items():
                if any(target in found for _, target in mine):
                    more[qual] = (scope, tuple(c for c, _ in mine))
            if not more:
                break
            found.update(more)
            for qual in more:
                del local[qual]
        return found

    def shared_state(self) -> None:
        """A def reading a module-level name or a class-level attribute (through `cls.` or its
        class's name) that another def of this file adds to (`_BLOCKS[k] = v`, `cls._readers[k] =
        v`, `.append()`, `.update()`...): its answer depends on what other calls put there (wave 12:
        datachain's `VFileRegistry.parent` read `cls._vtype_readers`, which `register()` fills). A
        table no def adds to (a constant) is not; nor one only the reader itself fills (a memo).
        Recorded as an effect (callers inherit it) and on the def's own record."""
        names = self.scopes[0][1]
        module_state = {n for n, b in names.items() if b[0] in ("other", "call")}
        class_state: dict[str, set[str]] = {}
        for qual, rec in self.classes.items():
            if qual in self.class_nodes:
                attrs = {n for n, b in self.scopes[rec.body][1].items()
                         if b[0] in ("other", "call") and n not in rec.field_names}
                if attrs:
                    class_state[qual] = attrs
        if not module_state and not class_state:
            return
        classes = {n: b[1] for n, b in names.items() if b[0] == "cls" and b[1] in class_state}
        written: dict[str, set[str]] = {}  # "_BLOCKS" or "Cls._readers" -> the defs adding to it
        for qual, cls, node in self.defs:
            fscope = self.fscopes[qual]
            owners = dict(classes)
            if cls in class_state:
                owners["cls"] = cls
            roots = {n for n in module_state - _param_names(node) if self._bound_in(fscope, n) == 0} | set(owners)
            for text in _adds(node.body, roots):
                root, _, rest = text.partition(".")
                root = root.split("[", 1)[0]
                if root in owners:
                    attr = re.split(r"[.\[]", rest, maxsplit=1)[0]
                    if attr in class_state[owners[root]]:
                        written.setdefault(f"{owners[root]}.{attr}", set()).add(qual)
                elif root in module_state:
                    written.setdefault(root, set()).add(qual)
        if not written:
            return
        last = {k.rsplit(".", 1)[-1] for k in written}
        for qual, cls, node in self.defs:
            if qual not in self.effects and (why := self._reads_state(node, self.fscopes[qual], cls, qual, written, last)):
                self.effects[qual] = why
        for i, (node, fscope) in enumerate(self.fnodes):
            fr = self.funcs[i]
            if fr.no_input is None:
                why = self.effects.get(fr.qualname) if fr.qualname in self.fscopes else \
                    self._reads_state(node, fscope, fr.cls, fr.qualname, written, last)
                if why:
                    self.funcs[i] = fr._replace(no_input=why, calls=())

    def _reads_state(self, node: ast.FunctionDef | ast.AsyncFunctionDef, fscope: int, cls: str | None, qual: str,
                     written: dict[str, set[str]], last: set[str]) -> str | None:
        """`reads _BLOCKS, which register() changes (...)`, or None (`shared_state`)."""
        text = self._segment(node)
        if not any(n in text for n in last):
            return None
        names = self.scopes[0][1]
        params = _param_names(node)
        for n in ast.walk(node):
            key = shown = None
            if type(n) is ast.Name and n.id in written and isinstance(n.ctx, ast.Load) \
                    and n.id not in params and self._bound_in(fscope, n.id) == 0:
                key = shown = n.id
            elif type(n) is ast.Attribute and type(n.value) is ast.Name and n.attr in last:
                recv = n.value.id
                owner = cls if recv == "cls" else names.get(recv, ("",))[1] if names.get(recv, ("",))[0] == "cls" else None
                key, shown = f"{owner}.{n.attr}", f"{recv}.{n.attr}"
            writers = written.get(key or "", set()) - {qual}
            if writers:
                return f"reads {shown}, which {min(writers)}() changes {STATE_REASON}"
        return None

    def type_checking_returns(self) -> None:
        """A return annotation naming what only `if TYPE_CHECKING:` imports cannot be resolved
        when the function runs: every call would be skipped, and a dispatch raise (wave 6:
        docling-core's `parse_otsl_table_content`, mlflow's `EndpointConfig.to_endpoint`)."""
        only = self.tc_bound - self.run_bound
        for i, scope, names in self.return_names if only else ():
            for name in names:
                if name in only and self._bound_in(scope, name) == 0:
                    rec = self.funcs[i]
                    if rec.no_input is None:
                        self.funcs[i] = rec._replace(no_input=(
                            f"its return annotation names {name}, imported only under `if TYPE_CHECKING:` "
                            "(not there when it runs; import it at run time)"))
                    break

    def _bound_in(self, scope: int, name: str) -> int | None:
        """The scope whose binding of `name` `scope` sees, or None."""
        s = scope
        while s >= 0:
            parent, names, _ = self.scopes[s]
            if name in names:
                return s
            s = parent
        return None

    def _full_name(self, scope: int, dotted: str) -> str | None:
        """`dotted` with its head read through the imports bound so far (`dt.now` -> `datetime.datetime.now`)."""
        head, _, rest = dotted.partition(".")
        b = self._binding(scope, head)
        if b is None:
            return None
        full = (b[1] if b[0] == "mod" else f"{b[2]}.{b[3]}" if b[0] == "imp" and b[1] == 0 else None)
        if full is None:
            return None
        return f"{full}.{rest}" if rest else full

    def _binding(self, scope: int, name: str) -> Binding | None:
        """What `name` is bound to as seen from `scope`, by the bindings recorded so far."""
        s = scope
        while s >= 0:
            parent, names, _ = self.scopes[s]
            b = names.get(name)
            if b is not None:
                return b
            s = parent
        return None

    def _derived_private(self, node: ast.ClassDef) -> set[str]:
        """The private attributes its `__init__`/`model_post_init` set to data made from the
        fields (`_made_from`) and no other method of its class writes: an instance written with
        its fields makes them again (wave 8: morecantile's `TileMatrixSet._tile_matrices_idx`,
        an index of its `tileMatrices`)."""
        made: set[str] = set()
        tainted: set[str] = set()  # set otherwise too (`self._client = client`, `= Storage(...)`): state
        for st in node.body:
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) and st.name in _CONSTRUCTION:
                args = [a.arg for a in (*st.args.posonlyargs, *st.args.args, *st.args.kwonlyargs,
                                        *(v for v in (st.args.vararg, st.args.kwarg) if v is not None))]
                if args:
                    _stores(st.body, args[0], functools.partial(_made_or_tainted, args[0], set(args[1:]), made, tainted))
        made -= tainted
        for st in node.body if made else ():
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) and st.name not in _CONSTRUCTION:
                plain = [*st.args.posonlyargs, *st.args.args]
                if plain:
                    made -= _private_writes(self._segment(st), plain[0].arg)
        return made

    def _private_reads(self, node: ast.FunctionDef | ast.AsyncFunctionDef, kind: str, cls: str | None) -> tuple[str, ...]:
        """The private attributes an instance method reads on its instance (wave 4: fastmcp's
        `ProxyResource.read` returned its cached content: one call, two answers), not counting its
        class's own methods; its class then also records the `self._x = ...` of its methods. Read
        from its text, not its tree (every method of every class is asked; a walk of each cost
        a tenth of the index build): a name written in a string or a comment may count too, and
        only names its class or a base declares as state matter (`project._classify`)."""
        if kind != "method" or cls is None or cls not in self.class_nodes:
            return ()
        plain = [*node.args.posonlyargs, *node.args.args]
        if not plain:
            return ()
        me = plain[0].arg
        text = self._segment(node)
        if f"{me}._" not in text:  # most methods: one substring search
            return ()
        klass = self.class_nodes[cls]
        code = self.code.get(cls)
        if code is None:
            code = self.code[cls] = {st.name for st in klass.body if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef))}
        # `self._x` not assigned (`self._x = ...`): a read
        read = {n for n in ("_" + m for m in re.findall(rf"\b{re.escape(me)}\._(\w+)\b(?!\s*=[^=])", text))
                if _is_private(n)} - code
        if read:
            if cls not in self.derived:
                self.derived[cls] = self._derived_private(klass)
            read -= self.derived[cls]
        if not read:
            return ()
        if cls not in self.stored:
            self.stored.add(cls)
            rec = self.classes[cls]
            self.classes[cls] = rec._replace(private=tuple(sorted(set(rec.private) | _stored_private(klass))))
        return tuple(sorted(read))


def _has_default(a: ast.arguments, p: ast.arg) -> bool:
    """Parameter `p` of `a` has a default (`*args`/`**kwargs` have none)."""
    return any(q is p for q in _defaulted(a))


def _defaulted(a: ast.arguments) -> list[ast.arg]:
    """The parameters of `a` with a default, positional first."""
    plain = [*a.posonlyargs, *a.args]
    return plain[len(plain) - len(a.defaults):] + [p for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]


# parameter types whose values no call text can carry (a function, a coroutine, a live iterator)
_ANNOTATION_HEAD = re.compile(r"[A-Za-z_][\w.]*(?=\[|$)")
_UNWRITABLE = frozenset({"Callable", "Coroutine", "Awaitable", "Generator", "AsyncGenerator", "Iterator",
                         "AsyncIterator"})


NO_IMPLEMENTATION = "has no implementation"


def _no_implementation(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """Why the def has nothing to distil, or None: a body (its docstring aside) that only raises
    NotImplementedError, or nothing but a docstring (wave 13: argilla's interface methods, eth-ape's
    docstring-only hooks: every call fails or answers None, never the model). A bare `...` or
    `pass` is left alone: it is how a sketch, a test's fixture or a dispatch stub spells a body."""
    body = _without_docstring(node)
    if not body:
        return f"{NO_IMPLEMENTATION} (its body is a docstring: every call answers None)"
    if len(body) != 1:
        return None
    st = body[0]
    if isinstance(st, ast.Raise) and st.exc is not None:
        exc = st.exc.func if isinstance(st.exc, ast.Call) else st.exc
        if (_dotted(exc) or "").rsplit(".", 1)[-1] == "NotImplementedError":
            return f"{NO_IMPLEMENTATION} (its body only raises NotImplementedError)"
    return None


def _no_input(node: ast.FunctionDef | ast.AsyncFunctionDef, kind: str,
              enclosing: list[ast.FunctionDef | ast.AsyncFunctionDef], bound: dict[int, set[str]]) -> str | None:
    """Why a call of this def cannot say everything its answer depends on, or None: the training
    examples would give one call two answers (wave 4: fastmcp's `_send` closures over `self`,
    crewai's `default_flow_persistence()`), or every call would fail to render."""
    a = node.args
    regular = [*a.posonlyargs, *a.args, *a.kwonlyargs]
    if kind in ("method", "classmethod") and regular:
        regular = regular[1:]  # `self` (a model instance is written into the call) or `cls`
    if not regular and (a.vararg is not None or a.kwarg is not None) and kind != "method":
        # a model's instance method is written with its instance (wave 12: sqlmesh's dbt
        # `XConfig.to_sqlmesh(self, **kwargs)`); another class's is refused for its state
        return "takes only *args/**kwargs"
    if not regular and kind != "method":  # a model method's instance is written into its call
        return "takes no arguments (a call carries nothing its answer could depend on)"
    every = [*regular, *(v for v in (a.vararg, a.kwarg) if v is not None)]
    for p in every:
        secret = _credential(p, every)
        if secret:
            return secret
        ann = p.annotation.value if isinstance(p.annotation, ast.Subscript) else p.annotation
        if isinstance(ann, ast.Constant) and isinstance(ann.value, str):  # "Callable[[int], str]"
            head = _ANNOTATION_HEAD.match(ann.value)
            name = head.group() if head else None
        else:
            name = _dotted(ann) if isinstance(ann, (ast.Name, ast.Attribute)) else None
        if name and name.rsplit(".", 1)[-1] in _UNWRITABLE and not _has_default(a, p):
            # a parameter with a default need not be in a call (wave 10: `key: Callable[[str],
            # str] = str.lower`): the calls leaving it out are written, one passing it is skipped
            return f"parameter {p.arg} is a {name.rsplit('.', 1)[-1]} (no call can write its value)"
    if enclosing:
        free = _closure_names(node, enclosing, bound)
        if free:
            shown = ", ".join(f"`{n}`" for n in free[:3])
            return f"reads {shown} from the function around it (a closure: its calls do not carry that)"
    return None


# calls whose result is not a function of their arguments: the clock, a random draw
_CHANCE: dict[str, str] = {
    **{f"datetime.{c}.{f}": "the clock" for c in ("datetime", "date") for f in ("now", "utcnow", "today")},
    # not `monotonic`/`perf_counter`: they time a duration or a timeout, rarely the answer itself
    **{f"time.{f}": "the clock" for f in ("time", "time_ns", "localtime", "ctime", "asctime")},
    "uuid.uuid1": "a random draw", "uuid.uuid4": "a random draw", "os.urandom": "a random draw",
    "random.*": "a random draw",
    **{f"secrets.{f}": "a random draw" for f in ("token_bytes", "token_hex", "token_urlsafe", "choice", "randbelow",
                                                 "randbits")},
}
# what lies outside the call: a file's content, the terminal, the environment (wave 6: docling-core's
# eight `load_from_*(filename)` loaders answered with whatever the file held when called)
_OUTSIDE_BUILTINS = {"open": "a file", "input": "what is typed at the terminal"}
# the file system's state, asked of a path: not of `self`/`cls` (the class's own method, followed)
_FS_METHODS = frozenset({"iterdir", "glob", "rglob", "exists", "is_file", "is_dir", "stat"})
_OUTSIDE_METHODS = {"read_text": "a file's content", "read_bytes": "a file's content",
                    # `path.open("rb")`, `Image.open(f)`, `zipfile.ZipFile(z).open(name)`, `tarfile.open(p)`
                    # (wave 10: pypi-attestations' `Distribution.from_file` hashed what `dist.open()` read)
                    "open": "a file's content",
                    # a listing, an existence check, a size or a time of a path (wave 12: sqlmesh's web
                    # `get_files` listed a folder with `os.scandir`)
                    **dict.fromkeys(_FS_METHODS, "the file system's state")}
# `.open()`s that read no file: a web browser shown a page
_NOT_FILE_OPENS = frozenset({"webbrowser.open", "webbrowser.open_new", "webbrowser.open_new_tab"})
_OUTSIDE: dict[str, str] = {"os.getenv": "the environment", "os.environ.get": "the environment",
                            "os.getenvb": "the environment", "io.open": "a file's content",
                            # a program it runs, the network (wave 8: prefect's `get_git_version_info`
                            # answered with the checkout's commit; a fetch answers what the server holds)
                            **{f"subprocess.{f}": "a program it runs" for f in (
                                "run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput")},
                            "os.system": "a program it runs", "os.popen": "a program it runs",
                            "asyncio.create_subprocess_exec": "a program it runs",
                            "asyncio.create_subprocess_shell": "a program it runs",
                            **{f"{m}.{f}": "the network" for m in ("requests", "httpx") for f in (
                                "get", "post", "put", "patch", "delete", "head", "options", "request")},
                            "requests.Session": "the network", "httpx.Client": "the network",
                            "httpx.AsyncClient": "the network", "httpx.stream": "the network",
                            "aiohttp.ClientSession": "the network", "urllib.request.urlopen": "the network",
                            "urllib.request.urlretrieve": "the network", "socket.create_connection": "the network",
                            # the standard library's readers of a file or a database (wave 11:
                            # datacontract's importers of a CSV, a Parquet file, a database)
                            "os.path.expandvars": "the environment", "sqlite3.connect": "a database",
                            "zipfile.ZipFile": "a file's content", "tarfile.open": "a file's content",
                            "tarfile.TarFile": "a file's content", "shelve.open": "a database",
                            "dbm.open": "a database",
                            # the file system's state: a listing, an existence check, a size or a time
                            **{f"os.{f}": "the file system's state" for f in (
                                "scandir", "listdir", "walk", "fwalk", "stat", "lstat")},
                            **{f"os.path.{f}": "the file system's state" for f in (
                                "exists", "lexists", "isfile", "isdir", "islink", "getsize", "getmtime", "getctime",
                                "getatime")},
                            "glob.glob": "the file system's state", "glob.iglob": "the file system's state",
                            # third-party readers of a file or a database (wave 11: datacontract's
                            # importers read a Parquet file through pyarrow, a CSV through duckdb)
                            **{f"{m}.read_{f}": "a file's content" for m in ("pandas", "polars") for f in (
                                "csv", "parquet", "json", "excel", "table", "feather", "orc", "pickle", "hdf",
                                "xml", "fwf", "sas", "spss", "stata", "ndjson", "ipc", "avro", "delta")},
                            **{f"{m}.read_{f}": "a database" for m in ("pandas", "polars") for f in (
                                "sql", "sql_query", "sql_table", "database", "database_uri")},
                            **{f"polars.scan_{f}": "a file's content" for f in ("csv", "parquet", "ndjson", "ipc",
                                                                                  "delta")},
                            **{f"pyarrow.{f}": "a file's content" for f in (
                                "parquet.read_table", "parquet.read_pandas", "parquet.read_schema",
                                "parquet.read_metadata", "parquet.ParquetFile", "parquet.ParquetDataset",
                                "csv.read_csv", "csv.open_csv", "json.read_json", "feather.read_table",
                                "feather.read_feather", "orc.read_table", "orc.ORCFile", "dataset.dataset")},
                            **{f"duckdb.{f}": "a file's content" for f in ("read_csv", "read_parquet", "read_json")},
                            **{f"{m}.connect": "a database" for m in ("duckdb", "psycopg", "psycopg2", "pymysql",
                                                                      "pyodbc", "mysql.connector")},
                            "openpyxl.load_workbook": "a file's content", "xmlschema.XMLSchema": "a file's content",
                            "xmlschema.XMLSchema10": "a file's content", "xmlschema.XMLSchema11": "a file's content",
                            "sqlalchemy.create_engine": "a database",
                            "sqlalchemy.ext.asyncio.create_async_engine": "a database"}
# a reader handed the text itself (`pd.read_csv(io.StringIO(text))`): its answer is its call's
_IN_MEMORY = frozenset({"StringIO", "BytesIO"})
_CONFIG_PARSERS = frozenset({"configparser.ConfigParser", "configparser.RawConfigParser",
                             "configparser.SafeConfigParser"})
# a call of one of those names, by the name it ends with: the prefilter before any walk
# a call making or handing out a client of a service: `get_client()`, `httpx.AsyncClient()`,
# `boto3.client("s3")`, `PrefectClient(...)` (its last name ends in "client")
_CLIENT_CALL = re.compile(r"(?i)client$")
_CHANCE_NAMES = (r"\w*[Cc]lient|now|utcnow|today|time|time_ns|localtime|ctime|asctime|uuid[14]|urandom|token_\w+|"
                 r"rand\w*|choices?|shuffle|sample|uniform|gauss|\w*variate|getrandbits|randbytes|"
                 r"triangular|random|open|input|read_text|read_bytes|getenvb?|system|popen|urlopen|urlretrieve|"
                 r"create_connection|create_subprocess_\w+|ClientSession|expandvars|"
                 r"scandir|listdir|walk|fwalk|l?stat|l?exists|isfile|isdir|islink|get[mca]?time|getsize|i?glob|rglob|"
                 r"iterdir|is_file|is_dir")
# names too common to look for in every file (`.get(` is everywhere): only in a file naming their module
_MARKED_NAMES = (("subprocess", "run|call|check_call|check_output|Popen|getoutput|getstatusoutput"),
                 ("requests", "get|post|put|patch|delete|head|options|request|Session"),
                 ("httpx", "get|post|put|patch|delete|head|options|request|stream|Client|AsyncClient"),
                 ("ContextVar", "get"), ("sqlite3", "connect"), ("zipfile", "ZipFile"), ("tarfile", "TarFile"),
                 ("configparser", r"\w*ConfigParser"),
                 # third-party readers of a file or a database, by their module's name in the file
                 ("pandas", r"read_\w+"), ("polars", r"read_\w+|scan_\w+"),
                 ("pyarrow", r"read_\w+|open_csv|ParquetFile|ParquetDataset|ORCFile|dataset"),
                 ("duckdb", r"connect|read_\w+"), ("psycopg", "connect"), ("pymysql", "connect"),
                 ("pyodbc", "connect"), ("mysql", "connect"), ("sqlalchemy", r"create_(?:async_)?engine"),
                 ("openpyxl", "load_workbook"), ("xmlschema", r"XMLSchema\w*"))


def _chance_pattern(text: str) -> re.Pattern[str]:
    marked = [names for marker, names in _MARKED_NAMES if marker in text]
    if " as " in text:
        # `from subprocess import check_output as co`: the alias is the name its calls use
        named = re.compile("|".join((_CHANCE_NAMES, *marked)))
        aliases = sorted({m[1] for m in _IMPORT_ALIAS.finditer(text)
                          if m.start() and text[m.start() - 1].isspace()
                          and named.fullmatch(_word_before(text, m.start()))})
        if aliases:
            marked.append("|".join(aliases))
    return _chance_regex(tuple(marked))


# `name as alias` (in an import: elsewhere the match only widens the search, never the verdict).
# The pattern starts with the literal "as", which the regex engine skips to; one starting at the
# name tried every word of every file (+7% of the index build on 1,096 files; now 1/80 of that).
_IMPORT_ALIAS = re.compile(r"as\s+([A-Za-z_]\w*)")


def _word_before(text: str, end: int) -> str:
    """The word before `end`, whitespace between skipped: `x` for `x  as y`."""
    stop = end
    while stop > 0 and text[stop - 1].isspace():
        stop -= 1
    start = stop
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return text[start:stop]


@functools.lru_cache(maxsize=256)
def _chance_regex(marked: tuple[str, ...]) -> re.Pattern[str]:
    names = "|".join((_CHANCE_NAMES, *marked))
    return re.compile(rf"\b(?:{names})\s*\(|\benviron\b")


def _top_bound(st: ast.stmt) -> set[str]:
    """The names an import or plain assignment statement binds (what `_keep_both` compares)."""
    if isinstance(st, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".", 1)[0] if isinstance(st, ast.Import) and not a.asname else (a.asname or a.name)
                for a in st.names if a.name != "*"}
    if isinstance(st, ast.Assign):
        return {t.id for t in st.targets if isinstance(t, ast.Name)}
    if isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name):
        return {st.target.id}
    if isinstance(st, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return {st.name}
    return set()


def _import_binding(stmts: list[ast.stmt], name: str) -> Binding | None:
    """The last binding these statements' imports (at any depth of blocks) give `name`, or None."""
    found: Binding | None = None
    for st in stmts:
        if isinstance(st, ast.ImportFrom):
            for a in st.names:
                if a.name != "*" and (a.asname or a.name) == name:
                    found = ("imp", st.level, st.module or "", a.name)
        elif isinstance(st, ast.Import):
            for a in st.names:
                if a.asname == name:
                    found = ("mod", a.name)
                elif not a.asname and a.name.split(".", 1)[0] == name:
                    found = ("mod", name)
        elif not isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for inner in _blocks(st):
                found = _import_binding(inner, name) or found
    return found


def _decorator_names(node: ast.ClassDef) -> tuple[str, ...]:
    """The dotted name of each decorator (`attrs.define(frozen=True)` -> "attrs.define"), "" for other forms."""
    return tuple(_dotted(d.func if isinstance(d, ast.Call) else d) or "" for d in node.decorator_list)


def _def_binding(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Binding:
    """("def",), or ("def", "transform") for a def under `@dataclass_transform()` (PEP 681: a
    decorator that makes dataclass-like classes, as `attrs.define` does; `writable`)."""
    for d in node.decorator_list:
        name = _dotted(d.func if isinstance(d, ast.Call) else d) or ""
        if name.rsplit(".", 1)[-1] == "dataclass_transform":
            return ("def", "transform")
    return ("def",)


def _bound_in_blocks(stmts: list[ast.stmt]) -> set[str]:
    """What `_top_bound` reads, in these statements and the blocks inside them (`try:` around an
    import in an `if` branch), not inside a def or class."""
    out: set[str] = set()
    for st in stmts:
        out |= _top_bound(st)
        if not isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for inner in _blocks(st):
                out |= _bound_in_blocks(inner)
    return out


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef, kind: str,
            defaulted: bool = False) -> tuple[tuple[str, Any], ...]:
    """The annotated parameters a call passes: those without a default, and `*args`/`**kwargs`
    (their element type, as the wave-4 `Callable` rule reads them). A parameter a call may leave
    out (`surface: Mapping[..., type[M]] = DEFAULT`, mcp) does not stop the calls that leave it
    out from being written. `defaulted`: those with a default instead."""
    a = node.args
    plain = [*a.posonlyargs, *a.args]
    cut = len(plain) - len(a.defaults)
    if defaulted:
        required = _defaulted(a)
    else:
        required = plain[:cut]
        if kind in ("method", "classmethod") and plain:
            required = required[1:]  # `self` (a model instance is written into the call) or `cls`
        required += [p for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is None]
        required += [v for v in (a.vararg, a.kwarg) if v is not None]
    out = []
    for p in required:
        if p.annotation is not None:
            try:
                out.append((p.arg, conv(p.annotation)))
            except RecursionError:  # an annotation too deep to keep: not judged
                continue
    return tuple(out)


# a call in a def's text: `name(`, `a.b.c(`, `self._x(`; the `def` line's own name matches too and
# is skipped by the readers (a word boundary, not a look-behind: 1.5x faster on prefect's files)
# The atomic group gives the same matches (a dotted name cannot hold the `(`, so no shorter
# match exists) without backtracking through each word that is not called: 1.03 -> 0.64 s of
# regex over 1,096 files of prefect-client, llama-index-core and langchain-core.
_CALL = re.compile(r"\b((?>[A-Za-z_][\w.]*))\(")
_MAX_CALLS = 64


def _called_names(text: str) -> tuple[str, ...]:
    """The dotted names a def's text calls, once each, in order (at most `_MAX_CALLS`): read from
    the text, a cheap superset (a name in a string or comment counts too)."""
    return tuple(dict.fromkeys(_CALL.findall(text)))[:_MAX_CALLS]


def _fields(node: ast.ClassDef) -> list[tuple[str, ast.expr]]:
    """(name, annotation) of each field its body declares: not a private attribute nor a `ClassVar`."""
    out = []
    for st in node.body:
        if type(st) is ast.AnnAssign and type(st.target) is ast.Name:
            name = st.target.id
            if not name.startswith("_") and not _is_classvar(st.annotation):
                out.append((name, st.annotation))
    return out


def _required_fields(node: ast.ClassDef) -> tuple[tuple[str, Any], ...]:
    """`ClassRec.required`: a dataclass's fields declared with no value (by the decorator's last
    name, `dataclass`; resolved by `writable`)."""
    if not any((_dotted(d.func if isinstance(d, ast.Call) else d) or "").rsplit(".", 1)[-1] == "dataclass"
               for d in node.decorator_list):
        return ()
    out = []
    for st in node.body:
        if type(st) is ast.AnnAssign and type(st.target) is ast.Name and st.value is None \
                and not _is_classvar(st.annotation):
            head = st.annotation.value if type(st.annotation) is ast.Subscript else st.annotation
            if (_dotted(head) or "").rsplit(".", 1)[-1] not in ("InitVar", "KW_ONLY"):
                try:
                    out.append((st.target.id, conv(st.annotation)))
                except RecursionError:
                    return ()
    return tuple(out)


def _is_classvar(ann: ast.expr) -> bool:
    """`ClassVar`, `ClassVar[T]`, `typing.ClassVar[T]`, `"ClassVar[T]"`."""
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        written = _ANNOTATION_HEAD.match(ann.value.strip())
        return written is not None and written.group().rsplit(".", 1)[-1] == "ClassVar"
    head = ann.value if type(ann) is ast.Subscript else ann
    return (_dotted(head) or "").rsplit(".", 1)[-1] == "ClassVar"


_ABSTRACT_DECORATORS = frozenset({"abstractmethod", "abstractclassmethod", "abstractstaticmethod", "abstractproperty"})


def _is_abstract(node: ast.ClassDef) -> bool:
    """`metaclass=ABCMeta` or an `@abstractmethod` of its own (by the names written)."""
    if any(k.arg == "metaclass" and (_dotted(k.value) or "").rsplit(".", 1)[-1] == "ABCMeta" for k in node.keywords):
        return True
    return any(isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
        (_dotted(d) or "").rsplit(".", 1)[-1] in _ABSTRACT_DECORATORS for d in st.decorator_list) for st in node.body)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _declared_private(node: ast.ClassDef) -> set[str]:
    """The private attributes a class body declares: `_x: T`, `_x = PrivateAttr()` or `_x = value`
    (pydantic makes each a private attribute; a `ClassVar` is not one). One pass over the body's
    statements: every class of every file is read so, for the subclasses that inherit them."""
    out: set[str] = set()
    for st in node.body:
        t = type(st)
        if t is ast.AnnAssign:
            x = st.target  # type: ignore[attr-defined]
            if type(x) is ast.Name and _is_private(x.id):
                if not _is_classvar(st.annotation):  # type: ignore[attr-defined]
                    out.add(x.id)
        elif t is ast.Assign:
            for x in st.targets:  # type: ignore[attr-defined]
                if type(x) is ast.Name and _is_private(x.id):
                    out.add(x.id)
    return out


def _stored_private(node: ast.ClassDef) -> set[str]:
    """The `self._x` its methods assign (`model_post_init` setting a client): state as well. Read
    from assignment statements only, at any depth of blocks (expressions are not walked: a big
    class's every method walked whole cost a fifth of the index build)."""
    out: set[str] = set()
    for st in node.body:
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
            plain = [*st.args.posonlyargs, *st.args.args]
            if plain:
                _stores(st.body, plain[0].arg, lambda a: out)
    return out


_CONSTRUCTION = frozenset({"__init__", "model_post_init"})


# calls a value made from the fields may hold: plain data out of plain data
_DATA_BUILTINS = frozenset({"dict", "list", "set", "frozenset", "tuple", "sorted", "reversed", "enumerate", "zip",
                            "range", "len", "min", "max", "sum", "any", "all", "int", "float", "str", "bool",
                            "abs", "round", "map", "filter", "isinstance"})


def _made_from(value: ast.expr | None, me: str, args: set[str]) -> bool:
    """`value` is data made from the instance `me` alone (`{m.id: i for i, m in enumerate(me.tiles)}`):
    it reads `me`, no other argument of the constructor, and calls only `_DATA_BUILTINS`. A call
    of anything else may make a live object (crewai's `Memory` storage, a client, `object()`):
    state, not data."""
    if value is None:
        return False
    reads_me = False
    for n in ast.walk(value):
        if isinstance(n, ast.Name):
            if n.id in args:
                return False
            reads_me = reads_me or n.id == me
        elif isinstance(n, ast.Call):
            if not (isinstance(n.func, ast.Name) and n.func.id in _DATA_BUILTINS):
                return False
        elif isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
    return reads_me


def _made_or_tainted(me: str, args: set[str], made: set[str], tainted: set[str], assign: Any) -> set[str]:
    """Where a constructor's `me._x = value` goes: `made` when `value` is made from the fields
    (`_made_from`), else `tainted`."""
    return made if type(assign) is not ast.AugAssign and _made_from(assign.value, me, args) else tainted


def _private_writes(text: str, me: str) -> set[str]:
    """The private attributes a method's text writes: `me._x = `, `me._x[k] = `, `me._x.y = `,
    `me._x.append(...)` and the other mutating methods (by the text: a superset)."""
    me = re.escape(me)
    mutators = "|".join(sorted(_MUTATORS))
    found = re.findall(rf"\b{me}\.(_\w+)\s*(?:\[[^\]\n]*\]\s*|\.\w+\s*)?(?:[-+*/|&^%@]|//|<<|>>|\*\*)?=(?!=)", text)
    found += re.findall(rf"\b{me}\.(_\w+)\.(?:{mutators})\s*\(", text)
    return set(found)


def _leaves(targets: list[ast.expr]) -> list[ast.expr]:
    """The single targets of an assignment's targets (`a, (b, *c) = ...` -> a, b, c)."""
    out: list[ast.expr] = []
    todo = list(targets)
    while todo:
        x = todo.pop()
        if isinstance(x, (ast.Tuple, ast.List)):
            todo.extend(x.elts)
        elif isinstance(x, ast.Starred):
            todo.append(x.value)
        else:
            out.append(x)
    return out


def _blocks(st: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists inside a compound statement (bodies, else branches, handlers, cases)."""
    out = [inner for field in ("body", "orelse", "finalbody") if (inner := getattr(st, field, None))]
    out.extend(h.body for h in getattr(st, "handlers", ()))
    out.extend(case.body for case in getattr(st, "cases", ()))
    return out


def _stores(stmts: list[ast.stmt], me: str, into: Callable[[Any], set[str]]) -> None:
    """Each `me._x = ...` (`+=`, annotated too) at any depth of blocks, not in nested scopes: `_x`
    into the set `into(assignment)` picks."""
    for st in stmts:
        t = type(st)
        if t is ast.Assign or t is ast.AnnAssign or t is ast.AugAssign:
            targets = st.targets if t is ast.Assign else [st.target]  # type: ignore[attr-defined]
            for x in _leaves(targets):
                if (isinstance(x, ast.Attribute) and _is_private(x.attr) and isinstance(x.value, ast.Name)
                        and x.value.id == me):
                    into(st).add(x.attr)
        elif t is ast.FunctionDef or t is ast.AsyncFunctionDef or t is ast.ClassDef:
            continue  # another scope: its `self` is not this one
        else:
            for inner in _blocks(st):
                _stores(inner, me, into)


def _annotation_names(ann: ast.expr) -> tuple[str, ...]:
    """The plain names an annotation reads, in strings too (`"Doc | None"`), first parts only."""
    out: list[str] = []
    for n in ast.walk(ann):
        if isinstance(n, ast.Name):
            out.append(n.id)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            out.extend(m.group() for m in re.finditer(r"(?<![\w.])[A-Za-z_]\w*", n.value))
    return tuple(out)


# pydantic's decorators that make a def a hook the model calls (`project._not_distillable` checks
# the name resolves into pydantic)
HOOK_NAMES = frozenset({"field_validator", "model_validator", "validator", "root_validator",
                        "field_serializer", "model_serializer", "computed_field"})


def _only_statement(node: ast.FunctionDef | ast.AsyncFunctionDef, st: ast.stmt) -> bool:
    """`st` is the whole body of `node` (a docstring aside)."""
    body = _without_docstring(node)
    return len(body) == 1 and body[0] is st


def _without_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    """`node`'s body statements after its docstring, if it has one."""
    body = node.body
    if body and type(body[0]) is ast.Expr and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


# the credential rule is distilgen._credentials' (capture reads it too)
CREDENTIAL_NAME = _CREDENTIAL_NAME
SECRET_TYPES = re.compile(r"\bSecret(?:Str|Bytes)\b")


# annotations no credential fits in (wave 8: firecrawl's `by_api_key: bool` flag; wave 10: aiogram's
# `reset_current(cls, token: contextvars.Token[...])`)
_NO_CREDENTIAL_TYPES = frozenset({"bool", "int", "float", "Literal"})


def _cannot_hold_credential(ann: ast.expr | None) -> bool:
    """`bool`, `int`, `float`, `Literal[...]`, or one of those `| None` / in `Optional[...]`."""
    if ann is None:
        return False
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        try:
            ann = ast.parse(ann.value.strip(), mode="eval").body
        except SyntaxError:
            return False
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        sides = [x for x in (ann.left, ann.right) if not (isinstance(x, ast.Constant) and x.value is None)]
        return len(sides) == 1 and _cannot_hold_credential(sides[0])
    head = _dotted(ann.value if isinstance(ann, ast.Subscript) else ann) or ""
    if head == "contextvars.Token":  # `token: contextvars.Token[T]`, what `ContextVar.set` returns
        return True
    last = head.rsplit(".", 1)[-1]
    if last == "Optional" and isinstance(ann, ast.Subscript):
        return _cannot_hold_credential(ann.slice)
    return last in _NO_CREDENTIAL_TYPES and (last == "Literal") == isinstance(ann, ast.Subscript)


# parameters that make a `token` beside them a piece of text, not a credential
_WORD_TOKENS = re.compile(r"(?:^|_)(?:tokens|tokenizer|vocab|vocabulary|lexer)$", re.IGNORECASE)


def _credential(p: ast.arg, siblings: Sequence[ast.arg] = ()) -> str | None:
    """Why parameter `p` cannot be written into an example, by its name or its type, or None. A
    `token` beside a `tokens`, `tokenizer`, `vocab` parameter (`siblings`) is a word's token (wave
    6's `words(token, tokens)`), not a credential."""
    if (is_credential_name(p.arg) and not _cannot_hold_credential(p.annotation)
            and not (p.arg.lstrip("_").lower() == "token" and any(_WORD_TOKENS.search(q.arg) for q in siblings))):
        return f"parameter {p.arg} carries a credential (every example would hold it in clear)"
    ann = p.annotation
    if ann is not None:
        for n in ast.walk(ann):
            name = (n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute)
                    else n.value if isinstance(n, ast.Constant) and isinstance(n.value, str) else None)
            if name is not None and SECRET_TYPES.search(name):
                return f"parameter {p.arg} is a secret ({ast.unparse(ann)}: no example may hold it)"
    return None


_DISPATCHERS = frozenset({"singledispatch", "singledispatchmethod"})


def _dispatch_reason(node: ast.FunctionDef | ast.AsyncFunctionDef, decos: list[tuple[Any, ...]],
                     dispatchers: set[str]) -> str | None:
    """A `functools.singledispatch` function answers by the type of its first argument, through
    implementations registered apart: its own body is the fallback (usually a raise), and each
    implementation (often named `_`) is called through it, never by its name (wave 6: pyiceberg's
    `promote`)."""
    for _, target, _, _ in decos:
        last = (target or "").rsplit(".", 1)[-1]
        if last in _DISPATCHERS:
            return "a singledispatch function (its answer comes from implementations registered apart)"
        head = (target or "").rsplit(".", 1)[0]
        if last == "register" and head in dispatchers:
            return f"an implementation registered on {head} (called through it, not by its name)"
    return None


# methods that change the object they are called on
_MUTATORS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "update", "add", "discard",
                       "setdefault", "sort", "reverse", "popitem", "appendleft", "extendleft", "popleft"})


def _changes(node: ast.FunctionDef | ast.AsyncFunctionDef, kind: str) -> str | None:
    """What it changes besides its answer: an attribute or item of `self` or of an argument
    (`self.pages.append(page)`, `doc.title = ...`). A dispatched call answers without that change
    (wave 6: docling-core's `add_*`/`insert_*` methods grew the document; capturing them rendered
    the whole document into every call, quadratic in its size). A parameter the body binds again
    (`items = list(items)`) is a copy by then, and `*args`/`**kwargs` are the call's own."""
    a = node.args
    roots = {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}  # `cls.registry[...] = ` too
    rebound: set[str] = set()
    found: list[str] = []
    _writes(node.body, roots, rebound, found, {})
    for what in found:
        if what.startswith("the ") or what.split(".", 1)[0].split("[", 1)[0] not in rebound:
            return f"changes {what} (a dispatched call would not)"
    return None


def _root(expr: ast.expr) -> tuple[str, str] | None:
    """(root name, text) of `a.b[c].d`-like targets rooted at a plain name."""
    parts: list[str] = []
    while True:
        if isinstance(expr, ast.Attribute):
            parts.append("." + expr.attr)
            expr = expr.value
        elif isinstance(expr, ast.Subscript):
            parts.append("[...]")
            expr = expr.value
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            # `self.items.copy()...`: a call on the way makes a new object, not a change
            return None
        else:
            break
    if not isinstance(expr, ast.Name) or not parts:
        return None
    return expr.id, expr.id + "".join(reversed(parts))


def _keeps(value: ast.expr | None, name: str) -> bool:
    """`value` may be the argument `name` itself: `x`, `{} if x is None else x`, `x or {}` (wave 12:
    sqlmesh's `cache = {} if cache is None else cache`, then `cache[node.fqn] = ...` filled the
    caller's dict)."""
    if isinstance(value, ast.Name):
        return value.id == name
    if isinstance(value, ast.IfExp):
        return _keeps(value.body, name) or _keeps(value.orelse, name)
    if isinstance(value, ast.BoolOp):
        return any(_keeps(v, name) for v in value.values)
    return False


def _tested_empty(test: ast.expr) -> set[str]:
    """The names an `if` test finds `None` or empty (`x is None`, `not x`, `x == None`, either side
    of an `or`): an assignment under it leaves the argument in place when it was passed."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return set().union(*(_tested_empty(v) for v in test.values))
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Name):
        return {test.operand.id}
    if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Is, ast.Eq))
            and isinstance(test.left, ast.Name) and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value is None):
        return {test.left.id}
    return set()


def _targets(st: ast.stmt, t: type) -> list[ast.expr]:
    """What statement `st` (of type `t`) binds or deletes: assignments' targets, `del`'s."""
    if t is ast.Assign or t is ast.Delete:
        return list(st.targets)  # type: ignore[attr-defined]
    if t is ast.AugAssign or t is ast.AnnAssign:
        return [st.target]  # type: ignore[attr-defined]
    return []


def _writes(stmts: list[ast.stmt], roots: set[str], rebound: set[str], found: list[str],
            declared: dict[str, str], guarded: frozenset[str] = frozenset()) -> None:
    """Collect into `found` what these statements change that the function does not own: what
    is rooted at a parameter (`roots`), and a module or enclosing name rebound after `global` or
    `nonlocal` (`declared`: name -> "global" or "enclosing"; wave 7: deepeval's `reset_settings`
    reset a settings singleton). A parameter bound again to what may be itself (`_keeps`), or
    under an `if` that finds it `None` (`guarded`: `if x is None: x = {}`), is still the caller's."""
    for st in stmts:
        t = type(st)
        if t is ast.FunctionDef or t is ast.AsyncFunctionDef or t is ast.ClassDef:
            continue  # another scope
        if t is ast.Global or t is ast.Nonlocal:
            declared.update(dict.fromkeys(st.names, "global" if t is ast.Global else "enclosing"))  # type: ignore[attr-defined]
            continue
        targets = _targets(st, t)
        if t is ast.Expr and isinstance(st.value, ast.Call):  # type: ignore[attr-defined]
            call = st.value  # type: ignore[attr-defined]
            f = call.func
            if isinstance(f, ast.Attribute) and f.attr in _MUTATORS:
                r = _root(f.value) if not isinstance(f.value, ast.Name) else (f.value.id, f.value.id)
                if r is not None and r[0] in roots:
                    found.append(r[1])
            elif (isinstance(f, ast.Name) and f.id == "setattr" or _dotted(f) == "object.__setattr__") and call.args:
                first = call.args[0]
                if isinstance(first, ast.Name) and first.id in roots:
                    found.append(f"{first.id} (setattr)")
        for x in _leaves(targets):
            if isinstance(x, ast.Name):
                if x.id in declared:
                    found.append(f"the {declared[x.id]} {x.id}")
                elif x.id in roots and t is not ast.Delete and x.id not in guarded and not (
                        t is not ast.AugAssign and _keeps(getattr(st, "value", None), x.id)):
                    rebound.add(x.id)
            else:
                r = _root(x)
                if r is not None and r[0] in roots:
                    found.append(r[1])
        if t is ast.If:
            tested = _tested_empty(st.test) & roots  # type: ignore[attr-defined]
            _writes(st.body, roots, rebound, found, declared, guarded | tested)  # type: ignore[attr-defined]
            _writes(st.orelse, roots, rebound, found, declared, guarded)  # type: ignore[attr-defined]
        else:
            for inner in _blocks(st):
                _writes(inner, roots, rebound, found, declared, guarded)
        if t is ast.For or t is ast.AsyncFor or t is ast.With or t is ast.AsyncWith:
            names = [st.target] if t in (ast.For, ast.AsyncFor) else [  # type: ignore[attr-defined]
                i.optional_vars for i in st.items if i.optional_vars is not None]  # type: ignore[attr-defined]
            for n in names:
                for w in ast.walk(n):
                    if isinstance(w, ast.Name) and w.id in roots:
                        rebound.add(w.id)


def _memory_only_calls(node: ast.stmt) -> set[str]:
    """The dotted names `node` calls only with bytes in memory as the first argument
    (`Image.open(BytesIO(data))`, or a name assigned `BytesIO(...)` in it): a library's `open()`
    reading a path when given one reads no file here (wave 12: camel-ai's `MemoryRecord.from_dict`,
    refused through PIL's `Image.open`). By the names written."""
    buffers = {t.id for n in ast.walk(node) if type(n) is ast.Assign and type(n.value) is ast.Call
               and (_dotted(n.value.func) or "").rsplit(".", 1)[-1] in _IN_MEMORY
               for t in n.targets if type(t) is ast.Name}
    memory: set[str] = set()
    other: set[str] = set()
    for n in ast.walk(node):
        if type(n) is not ast.Call:
            continue
        dotted = _dotted(n.func)
        if dotted is None:
            continue
        first = n.args[0] if n.args else None
        in_memory = (type(first) is ast.Call and (_dotted(first.func) or "").rsplit(".", 1)[-1] in _IN_MEMORY) or (
            type(first) is ast.Name and first.id in buffers)
        (memory if in_memory else other).add(dotted)
    return memory - other


def _param_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    a = node.args
    return {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if p is not None}


# methods that add to the container they are called on (not those emptying it: a memo's `clear()`)
STATE_REASON = "(its answer depends on what other calls put there, not on its call)"
"""How `shared_state`'s effects end: `project` follows them in the scanned modules only (a library's
registry, PIL's `EXTENSION`, is filled as it is imported)."""
_ADDERS = frozenset({"append", "extend", "insert", "update", "add", "setdefault", "appendleft", "extendleft"})


def _adds(stmts: list[ast.stmt], roots: set[str]) -> list[str]:
    """What these statements add to, rooted at `roots` (`_BLOCKS[...]`, `cls._readers[...]`,
    `_seen` for `_seen.add(x)`), at any depth of blocks, not in nested scopes."""
    out: list[str] = []
    for st in stmts:
        t = type(st)
        if t is ast.FunctionDef or t is ast.AsyncFunctionDef or t is ast.ClassDef:
            continue
        targets = _targets(st, t) if t is not ast.Delete else []
        if t is ast.Expr:
            call = st.value  # type: ignore[attr-defined]
            if type(call) is ast.Call and isinstance(call.func, ast.Attribute) and call.func.attr in _ADDERS:
                recv = call.func.value
                r = (recv.id, recv.id) if isinstance(recv, ast.Name) else _root(recv)
                if r is not None and r[0] in roots:
                    out.append(r[1])
        for x in _leaves(targets):
            # an item stored (`_BLOCKS[k] = v`), not an attribute set (`cls._registry = {}`, a lazy singleton)
            if isinstance(x, ast.Subscript) and (r := _root(x)) is not None and r[0] in roots:
                out.append(r[1])
        for inner in _blocks(st):
            out.extend(_adds(inner, roots))
    return out


def _closure_names(node: ast.FunctionDef | ast.AsyncFunctionDef,
                   enclosing: list[ast.FunctionDef | ast.AsyncFunctionDef], bound: dict[int, set[str]]) -> list[str]:
    """Names `node`'s body reads that a function around it binds (its parameters, its locals),
    sorted; its own name (recursion) is not one. Names bound anywhere inside `node` count as its
    own: more candidates kept, never a closure missed that reads a name `node` never binds."""
    from .bindings import reads_and_bindings, scope_bindings

    reads, own = reads_and_bindings(node)
    free = reads - own - {node.name}
    if not free:
        return []
    outer: set[str] = set()
    for f in enclosing:  # a test function around twenty handlers is read once, not twenty times
        if id(f) not in bound:
            bound[id(f)] = scope_bindings(f)
        outer |= bound[id(f)]
    return sorted(free & outer)


def decode(data: bytes) -> str:
    """Source bytes -> text (see `parsing.decode_source`); UnindexableFile with the reason."""
    try:
        return decode_source(data)
    except UnparsableSource as exc:
        raise UnindexableFile(str(exc)) from None


def is_generated(text: str) -> bool:
    """The `@generated` marker (Meta's convention, used by codegen tools) in the file's first lines."""
    head = text[:2000]
    return "@generated" in head


def build_index(data: bytes, filename: str) -> FileIndex:
    text = decode(data)
    try:
        tree, rewritten = parse_ast_noting_rewrite(text, filename)
    except UnparsableSource as exc:
        raise UnindexableFile(str(exc)) from None
    b = _Builder(text, spans=not rewritten)
    try:
        b.block(tree.body, 0, "", None)
    except RecursionError:  # an annotation of thousands of `A | B | ...` terms, say
        raise UnindexableFile("an expression is too long or too deeply nested to index (RecursionError)") from None
    b.type_checking_returns()
    b.shared_state()
    b.spread_effects()
    reaches = b.reaches()
    return FileIndex(
        names=b.scopes[0][1],
        scopes=tuple(b.scopes),
        stars=tuple(b.stars),
        all=b.all,
        classes=b.classes,
        funcs=tuple(b.funcs),
        generated=is_generated(text),
        lines=text.count("\n") + 1,
        effects=b.effects,
        reaches=reaches,
    )


def freeze(idx: Any) -> Any:
    """FileIndex (named tuples) -> plain tuples marshal can store; error entries pass through."""
    if not isinstance(idx, FileIndex):
        return idx  # already plain, or an ("error", reason) entry
    return (
        idx.names, idx.scopes, idx.stars, idx.all,
        {q: tuple(c) for q, c in idx.classes.items()},
        tuple(tuple(f) for f in idx.funcs),
        idx.generated, idx.lines, idx.effects, idx.reaches,
    )


def thaw(plain: tuple[Any, ...]) -> FileIndex | tuple[Any, ...]:
    if len(plain) != len(FileIndex._fields):
        return plain  # ("error", reason)
    names, scopes, stars, all_, classes, funcs, generated, lines, effects, reaches = plain
    return FileIndex(
        names, scopes, stars, all_,
        {q: ClassRec(*c) for q, c in classes.items()},
        tuple(FuncRec(*f) for f in funcs),
        generated, lines, effects, reaches,
    )
