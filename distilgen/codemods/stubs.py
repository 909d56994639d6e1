"""`distilgen stubs`: a module of dispatch-mode stubs for a fine-tuned model.

Each stub keeps the original's signature (as written, byte for byte), docstring and return
annotation; its body is `...` and it is decorated `@instructions.distil(mode="dispatch", model=ID)`.
Since prompts are rendered from the signature and docstring only, a stub's prompt is the
original's. The originals stay untouched: they remain the ground truth for evals.

Every name a signature uses is imported the way its own module got it (`from inbox.models import
Triage as TriageResult`, `import inbox.models as m`); names defined in that module are imported
from it. A name that would mean two different things in one stubs module is reported, not guessed.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Collection, Iterable, Mapping, NamedTuple, Sequence

import libcst as cst

from .._templates import render_template
from ..analysis.parsing import UnparsableSource, parse_cst
from ..analysis.roots import import_folders
from ..errors import DistilgenError, UsageError
from .apply import (
    check_instance_module,
    instance_ref,
    main_placement,
    render_instance_module,
)
from .decorate import InstanceRef, is_docstring, string_literal
from .edits import EditError, FileEdit, PlannedEdit, commit_edits, inside, read_snapshot
from .function_index import index_functions
from .names import Binding, ModuleNames, NameReads, dotted, module_names

if TYPE_CHECKING:
    from ..analysis.scan import ScanReport, ScanResult
    from ..config import Config

__all__ = ["StubsReport", "Skipped", "write_stubs", "render_stubs", "DEFAULT_NAME"]

DEFAULT_NAME = "distil_stubs.py"
_BUILTINS = frozenset(dir(builtins))
_LINE = 99


@dataclass(frozen=True)
class Skipped:
    path: str
    lineno: int
    qualname: str
    reason: str


@dataclass(frozen=True)
class StubsReport:
    root: Path
    path: str
    """The stubs module, relative to the root."""
    text: str
    edits: tuple[FileEdit, ...]
    """The stubs module's (none when there is nothing to stub), the Instructions module's when it
    had to be created, then one error per file the scan could not read."""
    functions: tuple[str, ...]
    """Function ids of the originals, in the order they appear in the stubs module."""
    skipped: tuple[Skipped, ...] = ()

    @property
    def edit(self) -> FileEdit | None:
        """The stubs module's own edit; None when there was nothing to stub (no module)."""
        return next((e for e in self.edits if e.path == self.path), None)


@dataclass(frozen=True, order=True)
class _Import:
    module: str
    name: str | None = None
    """None for `import module [as alias]`."""
    alias: str | None = None

    @property
    def bound(self) -> str:
        if self.alias:
            return self.alias
        return self.name if self.name is not None else self.module.split(".")[0]


@dataclass
class _Stub:
    function_id: str
    classes: tuple[str, ...]
    node: cst.FunctionDef
    base: str | None = None
    """For a model's instance method: the original model, which the stub class subclasses."""
    file_codes: tuple[str, ...] = ()
    """mypy error codes the module must disable for this stub (its signature spans lines)."""
    generic_base: bool = False
    """The base is a generic model: its stub class names it without type arguments (`type-arg`)."""
    base_keywords: tuple[tuple[str, str], ...] = ()
    """The base's class keywords its stub class repeats (`frozen=True`: `_class_keywords`)."""
    frozen_conflict: bool = False
    """The base is frozen over a non-frozen model ancestor (`_Resolver.unfrozen_ancestor`): its
    stub class line ignores mypy's `misc` (the original's own class line has the same error)."""


@dataclass
class _Plan:
    imports: dict[str, _Import] = field(default_factory=dict)
    stubs: list[_Stub] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    more: set[_Import] = field(default_factory=set)
    """Further `import a.x` lines whose bound name `a` another plain import already binds."""
    top_names: dict[str, str] = field(default_factory=dict)
    """Top-level stub names -> function id (functions and classes)."""
    typing_only: set[str] = field(default_factory=set)
    """Names of `imports` only type checkers need: each stub that reads them found them bound
    under `if TYPE_CHECKING:` only (an optional dependency); imported the same way here."""
    fallbacks: dict[str, _Import] = field(default_factory=dict)
    """Names of `imports` its import binds for type checkers only: at run time the stubs module
    imports them from the original's module (`_fallback_for`)."""
    runtime: set[str] = field(default_factory=set)
    """Names of `imports` some stub needs at run time."""


def _signature_names(fn: cst.FunctionDef) -> set[str]:
    return _signature_collector(fn).names - _type_params(fn)


def _type_params(fn: cst.FunctionDef) -> set[str]:
    if fn.type_parameters is None:
        return set()
    return {tp.param.name.value for tp in fn.type_parameters.params}


def _signature_collector(fn: cst.FunctionDef) -> NameReads:
    collector = NameReads(strings=True)  # free names of annotations and defaults, string annotations too
    for param in (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params):
        if param.annotation is not None:
            param.annotation.visit(collector)
        if param.default is not None:
            _defaults(param.default, collector)
    for star in (fn.params.star_arg, fn.params.star_kwarg):
        if isinstance(star, cst.Param) and star.annotation is not None:
            star.annotation.visit(collector)
    if fn.returns is not None:
        fn.returns.visit(collector)
    return collector


_ABCS = ("Callable", "Iterable", "Iterator", "Generator", "AsyncIterable", "AsyncIterator", "AsyncGenerator",
         "Awaitable", "Coroutine", "Collection", "Container", "Sequence", "MutableSequence", "Mapping",
         "MutableMapping", "MutableSet", "KeysView", "ValuesView", "ItemsView", "MappingView", "Reversible")
_TYPING_GENERICS = (*_ABCS, "Dict", "List", "Set", "FrozenSet", "Tuple", "Type", "DefaultDict", "OrderedDict",
                    "Counter", "Deque", "ChainMap", "AbstractSet", "ContextManager", "AsyncContextManager",
                    "Pattern", "Match", "IO")
# classes that `mypy --strict` (disallow_any_generics) refuses without type arguments
_GENERIC_CLASSES = frozenset({
    *(f"{m}.{n}" for m in ("typing", "typing_extensions") for n in _TYPING_GENERICS),
    *(f"collections.abc.{n}" for n in (*_ABCS, "Set")),
    *(f"collections.{n}" for n in ("deque", "defaultdict", "OrderedDict", "Counter", "ChainMap")),
    "re.Pattern", "re.Match",
    # the standard library's own generic classes, each checked against mypy --strict (docling-core's
    # `model_name: str | PathLike`, wave 6)
    "os.PathLike", "os.DirEntry", "array.array", "functools.partial", "logging.LoggerAdapter",
    "types.MappingProxyType", "subprocess.Popen", "subprocess.CompletedProcess", "shelve.Shelf",
    "tempfile.TemporaryDirectory", "tempfile.SpooledTemporaryFile", "contextvars.ContextVar", "contextvars.Token",
    "concurrent.futures.Future", "typing.SupportsAbs", "typing_extensions.SupportsAbs",
    *(f"queue.{n}" for n in ("Queue", "SimpleQueue", "LifoQueue", "PriorityQueue")),
    *(f"asyncio.{n}" for n in ("Queue", "LifoQueue", "PriorityQueue", "Future", "Task")),
    *(f"weakref.{n}" for n in ("ref", "ReferenceType", "WeakMethod", "WeakKeyDictionary", "WeakValueDictionary",
                               "WeakSet")),
})
_GENERIC_BUILTINS = frozenset({"dict", "list", "set", "frozenset", "tuple", "type"})


class _BareGenerics(cst.CSTVisitor):
    """Finds a generic class named without type arguments in an annotation (`data: dict`,
    `Optional[List]`), which `mypy --strict` reports as `type-arg` (llama-index-core: 20 of its
    stubs' 22 errors were the originals' own bare `dict` and `List`)."""

    def __init__(self, names: ModuleNames, is_generic: Callable[[str], bool], standing: Collection[str]) -> None:
        self.names = names
        self.is_generic = is_generic
        self.standing = standing
        """Names a stub class stands for in the stubs module: not generic there."""
        self.found = False

    def _check(self, node: cst.Name | cst.Attribute) -> None:
        if isinstance(node, cst.Name) and node.value in _GENERIC_BUILTINS and node.value not in self.names.bindings:
            self.found = True
            return
        target = self.names.resolve(node)
        if target in _GENERIC_CLASSES:
            self.found = True
        elif (target is not None and not (isinstance(node, cst.Name) and node.value in self.standing)
              and self.is_generic(target)):
            self.found = True  # a generic class of the project, used bare

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        kind = (self.names.resolve(node.value) or "").rpartition(".")[2]
        if kind == "Literal":
            return False  # values, not types
        # the subscripted class has its arguments; its arguments may not (Annotated: the first)
        for element in node.slice[:1] if kind == "Annotated" else node.slice:
            element.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self._check(node)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        self._check(node)
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        return False  # `Annotated[..., Field(default_factory=dict)]`: values, not types

    def visit_SimpleString(self, node: cst.SimpleString) -> bool:
        # a forward reference (`names: "dict"`): mypy reads the expression it spells
        value = node.evaluated_value
        if isinstance(value, str):
            try:
                cst.parse_expression(value.strip()).visit(self)
            except (cst.ParserSyntaxError, RecursionError):
                pass
        return False


def _bare_generics(fn: cst.FunctionDef, names: ModuleNames, is_generic: Callable[[str], bool],
                   standing: Collection[str]) -> bool:
    finder = _BareGenerics(names, is_generic, standing)
    params = fn.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params, params.star_arg, params.star_kwarg):
        if isinstance(param, cst.Param) and param.annotation is not None:
            param.annotation.visit(finder)
    if fn.returns is not None:
        fn.returns.visit(finder)
    return finder.found


def _defaults(expr: cst.BaseExpression, collector: NameReads) -> None:
    # a string default is a value, not an annotation: only names outside strings count
    plain = NameReads()
    expr.visit(plain)
    collector.names |= plain.names


def _binding_for(name: str, names: ModuleNames) -> Binding | None:
    """How the stubs module must bind `name`: the module's own binding, or, for a name imported
    under `if TYPE_CHECKING:` and computed again at run time (openai's `_sdk_client`), that
    import, for type checkers only (what the run-time value is, no import statement can say); for
    a name imported in `try:` and computed in its `except` (optimade's `Atoms = type(...)` without
    ase), that import too: mypy reads the first binding (`_fallback_for`)."""
    b = names.bindings.get(name)
    if b is not None and b.kind == "local" and name in names.checking_imports:
        return names.checking_imports[name]
    if b is not None and b.kind == "local" and name in names.try_imports:
        return names.try_imports[name]
    return b


def _fallback_for(name: str, names: ModuleNames, module: str) -> _Import | None:
    """For a name imported in `try:` and computed in its `except` (`_binding_for`): the original's
    module's own binding, which the stubs module imports at run time only (`else:` of `if
    TYPE_CHECKING:`), so it imports whichever ran, the optional dependency's class or the
    fallback. Type checkers read the `try:` import from its source: importing the name from the
    original's module is an implicit re-export, which `mypy --strict` refuses. None otherwise."""
    b = names.bindings.get(name)
    if b is None or b.kind != "local" or name in names.checking_imports or name not in names.try_imports:
        return None
    return _Import(module, name)


def _import_for(name: str, names: ModuleNames, module: str) -> _Import | None:
    b = _binding_for(name, names)
    if b is None:
        return _Import(module, name) if names.has_star_import else None
    if b.kind == "import" and b.target is not None and isinstance(b.node, cst.Import):
        if b.target == name and name in names.imported_modules:
            # `import a.b.c` binds `a`: import the deepest module the file imported
            deepest = max(names.imported_modules[name], key=lambda m: m.count("."))
            return _Import(deepest)
        return _Import(b.target, None, name)
    if b.kind == "import" and b.target is not None and isinstance(b.node, cst.ImportFrom):
        src, _, attr = b.target.rpartition(".")
        return _Import(src, attr, None if attr == name else name)
    return _Import(module, name)


def _read_module(folders: Iterable[Path], module: str) -> tuple[ModuleNames, cst.Module] | None:
    """The names and tree of `module`'s file in the first of `folders` that has one (a module,
    else a package); None when none has it, or it cannot be read or parsed."""
    parts = module.split(".")
    for folder in folders:
        base = folder.joinpath(*parts)
        for path, pkg in ((base.with_suffix(".py"), False), (base / "__init__.py", True)):
            if path.is_file():
                try:
                    tree = parse_cst(path.read_bytes(), str(path))
                    return module_names(tree, module, pkg), tree
                except (UnparsableSource, OSError, RecursionError, MemoryError):
                    return None
    return None


class _Resolver:
    """Follows imports and re-exports across the project's modules to the defining module."""

    def __init__(self, root: Path, source_roots: list[str], search: Sequence[str] = ()) -> None:
        self.root = root
        self.source_roots = source_roots
        self.search = tuple(search)
        """The project interpreter's sys.path: installed packages, read only to tell whether two
        imports name one class (`same`)."""
        self.installed: dict[str, ModuleNames | None] = {}
        self.modules: dict[str, ModuleNames | None] = {}
        self.trees: dict[str, cst.Module] = {}
        self._generic: dict[str, frozenset[str]] = {}
        self._typevars: dict[str, dict[str, _TypeVar]] = {}

    def add(self, module: str, names: ModuleNames, tree: cst.Module) -> None:
        self.modules[module] = names
        self.trees[module] = tree

    def names_of(self, module: str) -> ModuleNames | None:
        if module not in self.modules:
            folders = [self.root / sroot if sroot else self.root for sroot in self.source_roots]
            found = _read_module(folders, module)
            self.modules[module] = found[0] if found is not None else None
            if found is not None:
                self.trees[module] = found[1]
        return self.modules[module]

    def installed_names_of(self, module: str) -> ModuleNames | None:
        """`names_of`, or else the module as installed on the project's path (read once)."""
        names = self.names_of(module)
        if names is not None or not self.search:
            return names
        if module not in self.installed:
            found = _read_module([Path(folder) for folder in self.search], module)
            self.installed[module] = found[0] if found is not None else None
        return self.installed[module]

    def canonical(self, target: str, depth: int = 0, installed: bool = False) -> str:
        """Where `target` is defined, following imports and re-exports; through installed
        packages too with `installed` (fastapi's `Request` is starlette's)."""
        mod, _, attr = target.rpartition(".")
        read = self.installed_names_of if installed else self.names_of
        names = read(mod) if mod and depth < 30 else None
        if names is None:
            return target
        b = names.bindings.get(attr)
        if b is None:
            for star in names.star_modules:
                found = self.canonical(f"{star}.{attr}", depth + 1, installed)
                star_names = read(star)
                if found != f"{star}.{attr}" or (star_names is not None and attr in star_names.bindings):
                    return found
            return target
        if b.target is not None and b.target != target:
            return self.canonical(b.target, depth + 1, installed)
        return target

    def type_variables(self, module: str) -> dict[str, _TypeVar]:
        """`_type_variables` of the project module `module` (nothing when it cannot be read), once."""
        if module not in self._typevars:
            tree = self.trees.get(module) if self.names_of(module) is not None else None
            self._typevars[module] = _type_variables(tree) if tree is not None else {}
        return self._typevars[module]

    def generic(self, module: str) -> frozenset[str]:
        """The module's generic classes (`_generic_classes`), its type variables including those
        it imports from the project (semantic-kernel's `KernelProcessStateMetadata(Base[TState])`)."""
        if module not in self._generic:
            names, tree = self.names_of(module), self.trees.get(module)
            self._generic[module] = frozenset()
            if names is not None and tree is not None:
                local = self.type_variables(module)

                def typevar(name: str) -> _TypeVar | None:
                    if name in local:
                        return local[name]
                    b = names.bindings.get(name)
                    if b is None or b.kind != "import" or b.target is None:
                        return None
                    home, _, attr = self.canonical(b.target).rpartition(".")
                    return self.type_variables(home).get(attr)

                self._generic[module] = _generic_classes(tree, typevar)
        return self._generic[module]

    def unfrozen_ancestor(self, module: str, name: str, depth: int = 0) -> bool:
        """Whether the project class `module.name` has a model ancestor below pydantic's root
        that is not declared `frozen=True` (sqlmesh's `class PydanticModel(pydantic.BaseModel)`
        under `class Plan(PydanticModel, frozen=True)`): mypy reports that class line itself
        (frozen from non-frozen), and any subclass of it either way. False when not known."""
        names, tree = self.names_of(module), self.trees.get(module)
        if names is None or tree is None or depth > 10:
            return False
        stmt = _top_class(tree, name)
        for arg in stmt.bases if stmt is not None else ():
            target = names.resolve(arg.value)
            if target is None:
                continue
            home, _, attr = self.canonical(target).rpartition(".")
            if not home or home.split(".")[0] == "pydantic":
                continue  # pydantic's root, or a builtin
            if self.names_of(home) is None:
                continue  # not the project's: not known
            if not any(k == "frozen" and v == "True" for k, v in _class_keywords(self.trees[home], attr)):
                return True
            if self.unfrozen_ancestor(home, attr, depth + 1):
                return True
        return False

    def is_generic(self, target: str) -> bool:
        """Whether the dotted name is a generic class of the project."""
        module, _, name = self.canonical(target).rpartition(".")
        return bool(module) and name in self.generic(module)

    def exporter(self, imp: _Import) -> _Import:
        """`imp`, or the same object imported from where it is exported: `from m import X` where m
        only imported X itself is an implicit re-export, which `mypy --strict` refuses
        (llama-index-core's `load_extractor`, `-> BaseExtractor`). Each hop is an import statement
        that ran when the original's module was imported, followed through the project's modules
        to the first that defines X or re-exports it explicitly, or to the dependency it came
        from; never past a name bound twice (`try: from a import X` / `except ImportError:`)."""
        current = imp
        for _ in range(30):
            names = self.names_of(current.module) if current.name is not None else None
            b = names.bindings.get(current.name) if names is not None and current.name is not None else None
            if (names is None or b is None or b.kind != "import" or b.target is None or not b.runtime
                    or not isinstance(b.node, cst.ImportFrom) or current.name in names.exported | names.rebound):
                return current
            module, _, attr = b.target.rpartition(".")
            # the stub's signature reads the name the original's module bound
            current = _Import(module, attr, None if attr == imp.bound else imp.bound)
        return current

    def same(self, a: _Import, b: _Import) -> bool:
        def key(i: _Import, installed: bool = False) -> str:
            return i.module if i.name is None else self.canonical(f"{i.module}.{i.name}", installed=installed)

        if a == b or (a.name is not None) != (b.name is not None):
            return a == b
        # through installed packages only when the project's own modules do not tell (wave 5:
        # `from fastapi import Request` and `from starlette.requests import Request`, one class)
        return key(a) == key(b) or bool(self.search) and key(a, True) == key(b, True)


def _shadowed_submodule(module: str, resolver: _Resolver) -> str | None:
    """`pkg.sub = <what pkg binds>` when a package of `module` binds the name of the next
    submodule itself: to something else (a function re-exported under the subpackage's name), so
    the dotted path `module.X` does not reach the module at run time, or to the submodule by an
    import (`import pkg.sub as sub`, dagster's `components`), which mypy then follows as a name of
    `pkg`, not as the submodule (`Name "pkg.sub.mod.Spec" is not defined`); None when no step is
    bound."""
    parts = module.split(".")
    for i in range(1, len(parts)):
        package, sub = ".".join(parts[:i]), parts[i]
        names = resolver.names_of(package)
        b = names.bindings.get(sub) if names is not None else None
        if b is not None:
            return f"{package}.{sub} = {b.target or 'a local name'}"
    return None


def _first_party(report: ScanReport) -> set[str]:
    return {r.module.split(".")[0] for r in report.results if r.module}


def _section(imp: _Import, first_party: set[str]) -> int:
    top = imp.module.split(".")[0]
    if imp.module == "__future__":
        return 0
    if top in sys.stdlib_module_names:
        return 1
    return 3 if top in first_party else 2


def _type_order(name: str) -> tuple[int, str]:
    # isort/ruff `order-by-type`: CONSTANTS, Classes, functions
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


_OPTIONAL_IMPORT_CODES = "import-not-found, import-untyped, unused-ignore"


def _import_line(imp: _Import) -> str:
    """One import statement, on one line (for a `# type: ignore` of its own)."""
    if imp.name is None:
        return f"import {imp.module}" + (f" as {imp.alias}" if imp.alias else "")
    return f"from {imp.module} import {imp.name}" + (f" as {imp.alias}" if imp.alias else "")


def _format_imports(imports: list[_Import], first_party: set[str]) -> str:
    sections: dict[int, list[str]] = {}
    for sec in sorted({_section(i, first_party) for i in imports}):
        group = [i for i in imports if _section(i, first_party) == sec]
        lines: list[str] = []
        for imp in sorted((i for i in group if i.name is None), key=lambda i: (i.module, i.alias or "")):
            lines.append(f"import {imp.module}" + (f" as {imp.alias}" if imp.alias else ""))
        froms: dict[str, list[_Import]] = {}
        for imp in group:
            if imp.name is not None:
                froms.setdefault(imp.module, []).append(imp)
        for mod in sorted(froms):
            plain = sorted({i.name for i in froms[mod] if not i.alias and i.name}, key=_type_order)
            if plain:
                line = f"from {mod} import {', '.join(plain)}"
                if len(line) > _LINE:
                    line = f"from {mod} import (\n" + "".join(f"    {n},\n" for n in plain) + ")"
                lines.append(line)
            # the alias breaks ties: two names of one class (`Choice as A`, `Choice as B`) came out
            # in the order of a set, so the module changed between runs (semantic-kernel)
            aliased = (i for i in froms[mod] if i.alias)
            for imp in sorted(aliased, key=lambda i: (*_type_order(i.name or ""), i.alias or "")):
                lines.append(f"from {mod} import {imp.name} as {imp.alias}")
        sections[sec] = lines
    return "\n\n".join("\n".join(lines) for lines in sections.values())


def _stub_node(fn: cst.FunctionDef, decorator: cst.Decorator, names: ModuleNames, in_class: bool,
               subclass_of: str | None = None, free_typevars: frozenset[str] = frozenset(),
               is_generic: Callable[[str], bool] = lambda target: False, standing: Collection[str] = (),
               ) -> tuple[cst.FunctionDef, tuple[str, ...]]:
    """The stub, and the mypy error codes the whole module must disable for it: `subclass_of` is
    the model's name, when the stub class is its subclass of that name."""
    keep: list[cst.Decorator] = []
    for d in fn.decorators:
        target = names.resolve(d.decorator) if not isinstance(d.decorator, cst.Call) else None
        if dotted(d.decorator) in ("staticmethod", "classmethod") and target is None:
            keep.append(d.with_changes(leading_lines=[]))
    body: list[cst.BaseStatement] = []
    if isinstance(fn.body, cst.IndentedBlock) and fn.body.body:
        first = fn.body.body[0]
        if is_docstring(first):
            body.append(first.with_changes(leading_lines=[]))
    body.append(cst.SimpleStatementLine(body=[cst.Expr(cst.Ellipsis())]))
    header = cst.TrailingWhitespace()
    params = fn.params
    plain = [*params.posonly_params, *params.params, *params.kwonly_params]
    stars = [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
    # self / cls need no annotation: a class member that is not a staticmethod
    first_is_self = bool(plain) and in_class and not any(dotted(d.decorator) == "staticmethod" for d in keep)
    untyped = [p for p in (plain[1:] if first_is_self else plain) + stars if p.annotation is None]
    codes = ["no-untyped-def"] if untyped else []
    if subclass_of is not None and subclass_of in _signature_names(fn.with_changes(returns=None)):
        # a parameter typed with the model's name now takes the stub subclass: narrower than the
        # original method it overrides, which mypy reports (the prompt needs the text as written)
        codes.append("override")
    if first_is_self and subclass_of is None and plain[0].annotation is not None:
        reads = NameReads(strings=True)
        plain[0].annotation.visit(reads)
        if "Self" not in reads.names and not reads.names <= free_typevars | {"type", "Type"}:
            # `cls: type[_T]`, _T bound to the original class: the stub class is not its subclass
            # (semantic-kernel's ResponsesAgentThreadActions)
            codes.append("misc")
    if _bare_generics(fn, names, is_generic, standing):
        codes.append("type-arg")  # the original's own annotation (`data: dict`), kept as written
    # the signature stays as written (it is the prompt); tell mypy --strict why it differs. mypy
    # reports these at the `def` line, and a comment there would be inside a signature that spans
    # lines (and in the prompt): then the module disables the codes instead (browser-use, agno)
    spans_lines = "\n" in _signature_text(fn).strip()
    # the original's own ignore on its one-line signature (`# type: ignore[override]`): the stub
    # class inherits the same incompatibility (fastmcp's `ProxyTemplate.from_raw`, wave 4)
    own = fn.body.header.comment if isinstance(fn.body, cst.IndentedBlock) else None
    if own is not None and own.value.startswith("# type: ignore[") and own.value.endswith("]") and not spans_lines:
        codes.extend(c for c in own.value.removeprefix("# type: ignore[").rstrip("]").split(", ")
                     if c and c not in codes)
    if codes and not spans_lines:
        header = _ignoring(codes)
    stub = fn.with_changes(
        decorators=[*keep, decorator],
        leading_lines=[],
        lines_after_decorators=[],
        body=cst.IndentedBlock(body=body, header=header),
    )
    return stub, tuple(codes) if spans_lines else ()


_EMPTY = cst.Module(body=[])


def _ignoring(codes: Iterable[str]) -> cst.TrailingWhitespace:
    """The end of a header line: `  # type: ignore[a, b]`, or nothing when there are no codes."""
    codes = list(codes)
    if not codes:
        return cst.TrailingWhitespace()
    return cst.TrailingWhitespace(whitespace=cst.SimpleWhitespace("  "),
                                  comment=cst.Comment(f"# type: ignore[{', '.join(codes)}]"))


def _without_ignores(fn: cst.FunctionDef, codes: set[str]) -> cst.FunctionDef:
    """`fn` without the `# type: ignore[...]` codes the module disables (mypy --strict reports an
    ignore that nothing needs)."""
    body = fn.body
    comment = body.header.comment if isinstance(body, cst.IndentedBlock) else None
    if comment is None or not comment.value.startswith("# type: ignore["):
        return fn
    left = [c for c in comment.value.removeprefix("# type: ignore[").rstrip("]").split(", ") if c not in codes]
    return fn.with_changes(body=body.with_changes(header=_ignoring(left)))


_IGNORE = re.compile(r"#\s*type:\s*ignore\[([^\]]*)\]")


def _signature_text(fn: cst.FunctionDef) -> str:
    """`fn`'s signature as written (`def f(...) -> R: pass`), without its decorators, comments
    above it, body or the header line's own comment."""
    return _EMPTY.code_for_node(fn.with_changes(decorators=[], leading_lines=[],
                                                body=cst.SimpleStatementSuite(body=[cst.Pass()])))


def _signature_ignores(fn: cst.FunctionDef) -> list[list[str]]:
    """The codes of each `# type: ignore[...]` written inside `fn`'s signature (a multi-line one's
    comments, which are part of its prompt; the header line's own comment is not counted)."""
    return [[c.strip() for c in m.group(1).split(",") if c.strip()] for m in _IGNORE.finditer(_signature_text(fn))]


@dataclass(frozen=True)
class _ParsedModule:
    """A module with functions to stub: its names, and its defs by qualname as (line, node)."""

    names: ModuleNames
    found: dict[str, list[tuple[int, cst.FunctionDef]]]
    tree: cst.Module
    generic: frozenset[str] = frozenset()
    """Top-level classes generic in a type variable of this module (see `_generic_classes`)."""
    free_typevars: frozenset[str] = frozenset()
    """This module's type variables with no bound or constraints."""


@dataclass(frozen=True)
class _Context:
    """What every function's stub plan reads."""

    parsed: dict[str, _ParsedModule]
    resolver: _Resolver
    decorator: cst.Decorator
    model_classes: frozenset[str]
    """Classes known to be models: the stub class of each subclasses it (see `_model_classes`)."""


@dataclass(frozen=True)
class _Candidate:
    """One function found in its file, with where its stub goes."""

    result: ScanResult
    node: cst.FunctionDef
    names: ModuleNames
    module: str
    qual: str
    """The qualname without any `<locals>` prefix: a nested function becomes a top-level stub."""
    classes: tuple[str, ...]
    """The classes the stub is nested in."""

    @property
    def top(self) -> str:
        return self.qual.split(".")[0]


@dataclass(frozen=True)
class _Imports:
    """The imports one stub needs (`more`: extra plain imports binding a name already bound)."""

    imports: dict[str, _Import]
    more: frozenset[_Import]
    base: str | None
    """For a model's method: the model, which the stub class subclasses."""
    typing_only: frozenset[str] = frozenset()
    """Names of `imports` its module binds only under `if TYPE_CHECKING:`."""
    fallbacks: Mapping[str, _Import] = field(default_factory=dict)
    """Names of `imports` bound at run time by these imports instead (`_fallback_for`)."""


def _plan(report: ScanReport, instance: InstanceRef, model: str,
          refused: Mapping[tuple[str, str], str] | None = None, search: Sequence[str] = ()) -> _Plan:
    plan = _Plan()
    refused = refused or {}
    chosen = []
    for r in sorted((r for r in report.results if r.status in ("candidate", "decorated")), key=lambda r: (r.path, r.lineno)):
        if (r.path, r.qualname) in refused:
            # what the last `apply` left alone (its schema child imported the models): a stub of it
            # would fail the same way (langsmith's RunTree has no JSON schema)
            plan.skipped.append(Skipped(r.path, r.lineno, r.qualname, refused[(r.path, r.qualname)]))
        else:
            chosen.append(r)
    by_path: dict[str, list[ScanResult]] = {}
    for r in chosen:
        by_path.setdefault(r.path, []).append(r)
    resolver = _Resolver(report.root, import_folders(report.results), search)
    parsed = _parse_modules(report.root, by_path, resolver, plan)
    decorator = _instance_decorator(instance, model, chosen, parsed, by_path, plan)
    ctx = _Context(parsed, resolver, decorator, _model_classes(chosen, parsed, resolver))
    class_modules: dict[str, str] = {}  # top-level stub class name -> the module of its original
    candidates = [(r, _candidate(r, parsed[r.path])) for r in chosen if r.path in parsed]
    # models' methods first: their stub classes (subclasses of the models, of the same names) then
    # stand for the models in every other signature (zenml: `TagResponse.get_hydrated_version`
    # made `class TagResponse` and every `-> TagResponse` elsewhere was skipped); the module keeps
    # the file and line order
    first = [(r, c) for r, c in candidates if not isinstance(c, str) and _stands_for_model(c, ctx)]
    rest = [(r, c) for r, c in candidates if isinstance(c, str) or not _stands_for_model(c, ctx)]
    for r, candidate in [*first, *rest]:
        problem = candidate if isinstance(candidate, str) else _add_stub(candidate, ctx, plan, class_modules)
        if problem is not None:
            plan.skipped.append(Skipped(r.path, r.lineno, r.qualname, problem))
    place = {r.function_id: i for i, r in enumerate(chosen)}
    plan.stubs.sort(key=lambda s: place[s.function_id])
    plan.skipped.sort(key=lambda s: (s.path, s.lineno))
    return plan


def _stands_for_model(c: _Candidate, ctx: _Context) -> bool:
    """Whether the candidate's stub class will subclass its model (a model's method)."""
    return len(c.classes) == 1 and f"{c.module}.{c.classes[0]}" in ctx.model_classes


def _parse_modules(root: Path, by_path: dict[str, list[ScanResult]], resolver: _Resolver,
                   plan: _Plan) -> dict[str, _ParsedModule]:
    """Each module with functions to stub, read and indexed; a module that cannot be skips its functions."""
    parsed: dict[str, _ParsedModule] = {}
    for rel, results in by_path.items():
        module = results[0].module or ""
        read = _parse_module(root, rel, module)
        if isinstance(read, str):
            plan.skipped.extend(Skipped(r.path, r.lineno, r.qualname, read) for r in results)
            continue
        if module:
            resolver.add(module, read.names, read.tree)
        typevars = resolver.type_variables(module) if module else _type_variables(read.tree)
        parsed[rel] = replace(read, generic=resolver.generic(module) if module else _generic_classes(read.tree),
                              free_typevars=frozenset(name for name, v in typevars.items() if not v.bounded))
    return parsed


def _parse_module(root: Path, rel: str, module: str) -> _ParsedModule | str:
    """The module's names and defs, or why its functions cannot be stubbed."""
    try:
        data = (root / rel).read_bytes()
        tree = parse_cst(data, rel)
    except (OSError, UnparsableSource) as exc:
        return f"its module cannot be read: {exc}"
    try:
        ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        # newer syntax than this interpreter's: a stubs module importing it could not load
        py = f"{sys.version_info.major}.{sys.version_info.minor}"
        why = exc.msg if isinstance(exc, SyntaxError) else str(exc) or type(exc).__name__
        return f"its module does not compile on Python {py} ({why})"
    try:
        index = index_functions(tree, data)
        names = module_names(tree, module, rel.endswith("__init__.py"), class_names=index.class_names)
    except (RecursionError, MemoryError) as exc:
        # libcst's visitors recurse in Python: a file `ast` accepts can be too deep for them
        return f"its module is too deeply nested to read ({exc or type(exc).__name__})"
    return _ParsedModule(names, index.found, tree)


_TYPE_VARIABLES = frozenset({"TypeVar", "ParamSpec", "TypeVarTuple"})


class _TypeVar(NamedTuple):
    bounded: bool
    """A bound or constraints."""
    defaulted: bool
    """A PEP 696 default (`TypeVar("T", default=Any)`): a class generic only in such variables may
    be named bare, and mypy then reports a `type-arg` ignore as unused (pydantic-evals, wave 7)."""


def _type_variables(tree: cst.Module) -> dict[str, _TypeVar]:
    """Module-level type variables (`T = TypeVar("T", bound=Base)`), by name."""
    out: dict[str, _TypeVar] = {}
    for stmt in tree.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (isinstance(small, cst.Assign) and isinstance(small.value, cst.Call)
                        and (dotted(small.value.func) or "").rsplit(".", 1)[-1] in _TYPE_VARIABLES):
                    args = small.value.args
                    bounded = len(args) > 1 and any(a.keyword is None or a.keyword.value == "bound" for a in args[1:])
                    defaulted = any(a.keyword is not None and a.keyword.value == "default" for a in args)
                    out.update((t.target.value, _TypeVar(bounded, defaulted))
                               for t in small.targets if isinstance(t.target, cst.Name))
    return out


def _generic_classes(tree: cst.Module, typevar: Callable[[str], _TypeVar | None] | None = None) -> frozenset[str]:
    """Top-level classes that take type arguments: `class Page(BaseModel, Generic[T])`,
    `class Page(Base[T])` with `T` a type variable (`typevar`; by default: `T = TypeVar(...)`
    in this module), or `class Page[T]`, unless every variable has a default. A stub class
    subclasses its model without arguments (at run time the parametrised class would be another
    class), which `mypy --strict` reports as `type-arg`: its class line says so (openai's,
    langsmith's and semantic-kernel's pages and collections, third held-out wave)."""
    if typevar is None:
        typevar = _type_variables(tree).get
    out: set[str] = set()
    for stmt in tree.body:
        if not isinstance(stmt, cst.ClassDef):
            continue
        if stmt.type_parameters is not None:
            if not all(getattr(p, "default", None) is not None for p in stmt.type_parameters.params):
                out.add(stmt.name.value)
            continue
        for arg in stmt.bases:
            if not isinstance(arg.value, cst.Subscript):
                continue
            reads = NameReads()
            for element in arg.value.slice:
                element.visit(reads)
            found = [typevar(name) for name in reads.names]
            if (dotted(arg.value.value) or "").rsplit(".", 1)[-1] == "Generic":
                # its arguments are the class's variables: generic unless each is known and defaulted
                if not (found and all(v is not None and v.defaulted for v in found)):
                    out.add(stmt.name.value)
            elif any(v is not None and not v.defaulted for v in found):
                out.add(stmt.name.value)
    return frozenset(out)


# class keywords a type checker's dataclass_transform reads off a pydantic model's class line: a stub
# class that leaves out its base's `frozen=True` is "a non-frozen dataclass inheriting from a frozen
# one" under mypy --strict (sqlmesh's `class Plan(PydanticModel, frozen=True)`, wave 12)
_TRANSFORM_KEYWORDS = frozenset({"frozen"})


def _top_class(tree: cst.Module, name: str) -> cst.ClassDef | None:
    """The module's top-level class statement `name`, or None."""
    for stmt in tree.body:
        if isinstance(stmt, cst.ClassDef) and stmt.name.value == name:
            return stmt
    return None


def _class_keywords(tree: cst.Module, name: str) -> tuple[tuple[str, str], ...]:
    """The `_TRANSFORM_KEYWORDS` on the class line of the top-level class `name`, as written."""
    stmt = _top_class(tree, name)
    return () if stmt is None else tuple((a.keyword.value, tree.code_for_node(a.value)) for a in stmt.keywords
                                         if a.keyword is not None and a.keyword.value in _TRANSFORM_KEYWORDS)


def _instance_decorator(instance: InstanceRef, model: str, chosen: list[ScanResult], parsed: dict[str, _ParsedModule],
                        by_path: dict[str, list[ScanResult]], plan: _Plan) -> cst.Decorator:
    """`@instructions.distil(mode="dispatch", model=...)`, the instance imported under a free name."""
    needed_everywhere: set[str] = set()
    for rel, module in parsed.items():
        for r in by_path[rel]:
            for line, node in module.found.get(r.qualname, []):
                if line == r.lineno:
                    needed_everywhere |= _signature_names(node)
    # the instance's name: `instructions` unless a signature needs that name for something else
    inst_name = instance.attr
    while inst_name in needed_everywhere or inst_name in {r.qualname.split(".")[0] for r in chosen}:
        inst_name = f"distil_{inst_name}"
    plan.imports[inst_name] = _Import(instance.module, instance.attr, None if inst_name == instance.attr else inst_name)
    return cst.Decorator(decorator=cst.parse_expression(f'{inst_name}.distil(mode="dispatch", model={string_literal(model)})'))


def _model_classes(chosen: list[ScanResult], parsed: dict[str, _ParsedModule], resolver: _Resolver) -> frozenset[str]:
    """Classes known to be models: the stub class of each subclasses it, whichever of its methods
    (instance, class or static) are stubbed, so the model's name means one class in the module."""
    out: set[str] = set()
    for r in chosen:
        owner = r.qualname.split(".")
        if r.path not in parsed or not r.module or len(owner) != 2 or "<locals>" in r.qualname:
            continue
        cls = f"{r.module}.{owner[0]}"
        if r.kind == "method" or r.model and resolver.canonical(r.model) == resolver.canonical(cls):
            out.add(cls)
    return frozenset(out)


def _candidate(r: ScanResult, module: _ParsedModule) -> _Candidate | str:
    """The function's def in its file, or why it cannot have a stub."""
    node = next((n for line, n in module.found.get(r.qualname, []) if line == r.lineno), None)
    if node is None:
        return "not found in the file any more (changed since the scan?)"
    if not r.module:
        return "its file is not importable as a module, so its types cannot be imported"
    if not _nameable(r.module):
        # alembic's `versions/7b651bf6822e_track_secrets.py` (zenml): no import statement names it
        return f"its module {r.module} cannot be named in an import statement"
    if node.returns is None:
        return "no return annotation on the definition itself (the runtime reads it from there)"
    qual = r.qualname.rsplit("<locals>.", 1)[-1]  # a nested function becomes a top-level stub
    *classes, _ = qual.split(".")
    if any(p.startswith("<") for p in qual.split(".")):
        return "not a plain function or class member"
    if r.kind == "method" and (len(classes) != 1 or "<locals>" in r.qualname):
        return "a method of a nested or local model class: no stub class can stand in for it"
    if r.kind == "method" and _dataclass_class(module.tree, classes[0]):
        # the stub class, a plain subclass, is no dataclass of its own: the runtime would write its
        # calls without the instance (`runtime.spec.function_kind` reads the class's own decorators)
        return "a method of a dataclass: its stub class, a plain subclass, would not write the instance into the call"
    return _Candidate(r, node, module.names, r.module, qual, tuple(classes))


def _dataclass_class(tree: cst.Module, name: str) -> bool:
    """The module's top-level class `name` has a decorator named `dataclass` (`@dataclass`,
    `@dataclasses.dataclass(kw_only=True)`)."""
    st = _top_class(tree, name)
    for d in st.decorators if st is not None else ():
        target = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
        last = target.attr.value if isinstance(target, cst.Attribute) else \
            target.value if isinstance(target, cst.Name) else ""
        if last == "dataclass":
            return True
    return False


def _add_stub(c: _Candidate, ctx: _Context, plan: _Plan, class_modules: dict[str, str]) -> str | None:
    """Add the candidate's stub and its imports to the plan; or say why not (the plan unchanged)."""
    needed = _imports_for(c, ctx, plan, class_modules)
    if isinstance(needed, str):
        return needed
    problem = _clash(c, needed, plan, class_modules)
    if problem is not None:
        return problem
    plan.imports.update(needed.imports)
    plan.more |= needed.more
    plan.runtime |= needed.imports.keys() - needed.typing_only
    plan.typing_only = (plan.typing_only | needed.typing_only) - plan.runtime
    plan.fallbacks.update(needed.fallbacks)
    plan.top_names.setdefault(c.top, c.result.function_id)
    if c.classes:
        class_modules.setdefault(c.top, c.module)
    in_model = c.classes[0] if needed.base else None
    # names no import binds here: the stub classes standing for models (not generic classes)
    standing = _signature_names(c.node) - plan.imports.keys()
    stub, file_codes = _stub_node(c.node, ctx.decorator, c.names, bool(c.classes), in_model,
                                  ctx.parsed[c.result.path].free_typevars, ctx.resolver.is_generic, standing)
    generic = needed.base is not None and c.classes[0] in ctx.parsed[c.result.path].generic
    keywords = _class_keywords(ctx.parsed[c.result.path].tree, c.classes[0]) if needed.base is not None else ()
    conflict = (("frozen", "True") in keywords and bool(c.module)
                and ctx.resolver.unfrozen_ancestor(c.module, c.classes[0]))
    plan.stubs.append(_Stub(c.result.function_id, c.classes, stub, needed.base, file_codes, generic, keywords,
                            conflict))
    return None


def _imports_for(c: _Candidate, ctx: _Context, plan: _Plan, class_modules: dict[str, str]) -> _Imports | str:
    """What the stub's signature needs imported, or why its names cannot all be imported here."""
    imports: dict[str, _Import] = {}
    more: set[_Import] = set()
    base = None
    classes = c.classes
    subscripted = _signature_collector(c.node).subscripted
    if _stands_for_model(c, ctx):
        # a model's method: the stub class subclasses the model, so the instance renders as
        # the same `Model(...)` call the examples were captured with, and the model's name in
        # a signature (`-> "Blob"`) means that subclass: same fields, same name, no import
        base = f"{c.module}.{classes[0]}"
        if classes[0] in subscripted:
            # `-> RunnableEach[Input, Output]` would name the stub subclass, which is not generic
            return f"its signature gives its own generic class {classes[0]!r} type arguments, which its stub class cannot take"
        shadowed = _shadowed_submodule(c.module, ctx.resolver)
        if shadowed is not None:
            # `pkg.sandbox.views.Event` does not reach the class when `pkg` binds `sandbox` to
            # something else (browser-use re-exports a function named like its subpackage): import
            # the model under an alias of its own, which no stub class shadows
            alias = f"{classes[0]}_model"
            model_import = _Import(c.module, classes[0], alias)
            other = plan.imports.get(alias)
            if other is not None and not ctx.resolver.same(other, model_import):
                return f"name {alias!r} is needed for the model {base} (`{shadowed}`) but means {_describe(other)}"
            imports[alias] = model_import
            base = alias
        else:
            module_import = _Import(c.module)
            other = plan.imports.get(module_import.bound)
            if other is not None and not (_plain(other)):
                return f"name {module_import.bound!r} is needed for `import {c.module}` but means {_describe(other)}"
            if other is not None:
                more.add(module_import)
            else:
                imports[module_import.bound] = module_import
    typing_only: set[str] = set()
    fallbacks: dict[str, _Import] = {}
    returns = NameReads(strings=True)
    if c.node.returns is not None:
        c.node.returns.visit(returns)
    for name in sorted(_signature_names(c.node)):
        if name in _BUILTINS and name not in c.names.bindings:
            continue
        imp = _import_for(name, c.names, c.module)
        if imp is None:
            return f"name {name!r} in its signature is not defined at module level in {c.module}"
        imp = ctx.resolver.exporter(imp)
        if not _nameable(imp.module):
            return f"name {name!r} in its signature comes from {imp.module}, which no import statement can name"
        binding = _binding_for(name, c.names)
        if binding is not None and not binding.runtime:
            if name in returns.names:
                # dispatch evaluates the return annotation: the model must exist at run time
                return (f"name {name!r} in its return annotation is imported only under `if TYPE_CHECKING:` "
                        f"in {c.module}")
            typing_only.add(name)
        if (base is not None and name == classes[0] and imp.name is not None
                and ctx.resolver.canonical(f"{imp.module}.{imp.name}") == ctx.resolver.canonical(f"{c.module}.{classes[0]}")):
            continue  # the stub class, a subclass of the model, stands for it
        other = plan.imports.get(name) or imports.get(name)
        if other is not None and _plain(other) and _plain(imp):
            more.add(imp)  # `import a.b` and `import a.c` both bind `a`: keep both lines
            continue
        if other is not None and ctx.resolver.same(other, imp):
            continue  # the same object under the same name: the first import serves both
        if other is not None:
            return (f"name {name!r} means {_describe(imp)} here but {_describe(other)} elsewhere; "
                    f"write these stubs into separate modules (--select)")
        if (name in class_modules and imp.name is not None and f"{class_modules[name]}.{name}" in ctx.model_classes
                and name not in subscripted
                and ctx.resolver.canonical(f"{imp.module}.{imp.name}") == ctx.resolver.canonical(f"{class_modules[name]}.{name}")):
            # a stub class stands for that model: its subclass, same name, same fields (not where
            # the signature gives it type arguments: the stub class takes none, langchain-core's
            # `BasePromptTemplate[str]`)
            continue
        if name in plan.top_names and plan.top_names[name] != c.result.function_id:
            return f"name {name!r} is also the name of a stub ({plan.top_names[name]})"
        imports[name] = imp
        fallback = _fallback_for(name, c.names, c.module)
        if fallback is not None and fallback != imp:
            fallbacks[name] = fallback
    return _Imports(imports, frozenset(more), base, frozenset(typing_only & imports.keys()), fallbacks)


def _clash(c: _Candidate, needed: _Imports, plan: _Plan, class_modules: dict[str, str]) -> str | None:
    """Why the stub's own name would collide with an import or another stub (None: it does not)."""
    top, classes = c.top, c.classes
    if classes and top in needed.imports:
        # `class Color:` would shadow the `Color` its signature imports; only a model's stub
        # class can stand for its original (as a subclass)
        return f"its signature names its own class {top!r}, which is not a model: a stub class would shadow it"
    if top in plan.imports:
        return f"its name {top!r} is already used for an import of the stubs module"
    if classes and class_modules.get(top, c.module) != c.module:
        return f"a stub class {top!r} already stands for {class_modules[top]}.{top}"
    if not classes and top in plan.top_names:
        return f"a stub named {top!r} already exists ({plan.top_names[top]})"
    if any(s.classes == classes and s.node.name.value == c.node.name.value for s in plan.stubs):
        return f"a stub {c.qual} already exists"
    return None


def _nameable(module: str) -> bool:
    """Whether `import MODULE` is Python: every part an identifier and no keyword."""
    return all(part.isidentifier() and not keyword.iskeyword(part) for part in module.split("."))


def _plain(imp: _Import) -> bool:
    return imp.name is None and imp.alias is None


def _describe(imp: _Import) -> str:
    if imp.name is None:
        return f"module {imp.module}"
    return f"{imp.module}.{imp.name}"


@dataclass
class _ClassBlock:
    name: str
    members: list[cst.FunctionDef | _ClassBlock] = field(default_factory=list)
    base: str | None = None
    generic_base: bool = False
    keywords: tuple[tuple[str, str], ...] = ()
    frozen_conflict: bool = False


def _render_body(stubs: list[_Stub], disabled: set[str] | frozenset[str] = frozenset()) -> str:
    """Top-level functions and (nested) classes, two blank lines apart, members one apart; no
    class line ignores a code the module disables (an unused ignore is an error under --strict)."""
    top: list[cst.FunctionDef | _ClassBlock] = []
    blocks: dict[tuple[str, ...], _ClassBlock] = {}
    for stub in stubs:
        members = top
        for i in range(len(stub.classes)):
            path = stub.classes[: i + 1]
            if path not in blocks:
                blocks[path] = _ClassBlock(path[-1])
                members.append(blocks[path])
            members = blocks[path].members
        if stub.base is not None:
            blocks[stub.classes].base = stub.base
            blocks[stub.classes].generic_base = stub.generic_base
            blocks[stub.classes].keywords = stub.base_keywords
            blocks[stub.classes].frozen_conflict = stub.frozen_conflict
        members.append(stub.node)

    def build(item: cst.FunctionDef | _ClassBlock, blank_lines: int) -> cst.BaseCompoundStatement:
        lines = [cst.EmptyLine(indent=False)] * blank_lines
        if isinstance(item, cst.FunctionDef):
            return item.with_changes(leading_lines=lines)
        body = [build(m, 0 if i == 0 else 1) for i, m in enumerate(item.members)]
        bases = [cst.Arg(cst.parse_expression(item.base))] if item.base else []
        keywords = [cst.Arg(cst.parse_expression(value), keyword=cst.Name(key),
                            equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                                  whitespace_after=cst.SimpleWhitespace("")))
                    for key, value in item.keywords]
        codes = [code for code, needed in (("misc", item.frozen_conflict), ("type-arg", item.generic_base))
                 if needed and code not in disabled]
        header = _ignoring(codes)
        return cst.ClassDef(name=cst.Name(item.name), body=cst.IndentedBlock(body=body, header=header), bases=bases,
                            keywords=keywords, leading_lines=lines)

    # nodes keep their own string literals: a method's docstring stays indented as at its origin
    return cst.Module(body=[build(item, 0 if i == 0 else 2) for i, item in enumerate(top)]).code


def _instance(report: ScanReport, config: Config) -> tuple[InstanceRef, Path, bool]:
    return main_placement(report.root, report.results, instance_ref(config))


def _installed_path(config: Config) -> tuple[str, ...]:
    """The project interpreter's sys.path (the scan asked it already: cached), or nothing."""
    from ..analysis.interpreter import find_interpreter

    try:
        return find_interpreter(config).sys_path
    except DistilgenError:
        return ()


def render_stubs(report: ScanReport, config: Config, *, model: str,
                 refused: Mapping[tuple[str, str], str] | None = None) -> tuple[str, _Plan]:
    instance, _, _ = _instance(report, config)
    plan = _plan(report, instance, model, refused, _installed_path(config))
    first_party = _first_party(report)
    checked = plan.typing_only | plan.fallbacks.keys()
    now = [imp for name, imp in plan.imports.items() if name not in checked]
    if checked and "TYPE_CHECKING" not in plan.imports:
        now.append(_Import("typing", "TYPE_CHECKING"))  # with the other `from typing` names, if any
    imports = _format_imports(list({*now, *plan.more}), first_party)
    if checked:
        # as the originals have them: only for type checkers, so the stubs module imports without
        # the optional dependency; postponed annotations keep the signatures from reading them.
        # A name its original imports in `try:` and computes in `except` is bound at run time
        # by the original module's own binding, whichever ran (`else:`, which mypy skips)
        def indented(text: str) -> str:
            return "".join(f"    {line}\n" if line else "\n" for line in text.split("\n"))

        checking = _format_imports([plan.imports[name] for name in sorted(plan.typing_only)], first_party)
        # the `try:` import of an optional dependency: where it is not installed, or has no type
        # information, mypy reads its names as Any in the original module (which it follows
        # silently), and so here (optimade's `from ase import Atoms`); where it is, the ignore is
        # not used, which `unused-ignore` keeps quiet
        optional = "\n".join(f"{_import_line(plan.imports[name])}  # type: ignore[{_OPTIONAL_IMPORT_CODES}]"
                             for name in sorted(plan.fallbacks))
        block = "if TYPE_CHECKING:\n" + indented("\n\n".join(t for t in (checking, optional) if t))
        if plan.fallbacks:
            block += "else:\n" + indented(_format_imports(list(plan.fallbacks.values()), first_party))
        head = ["from __future__ import annotations"] if plan.typing_only else []
        imports = "\n\n".join([*head, imports, block.rstrip("\n")])
    bases = list(dict.fromkeys(s.base for s in plan.stubs if s.base is not None))
    if bases:
        # pydantic builds a subclass from its model as the model is at that moment: a model whose
        # forward references (`Optional["Details"]`, a class defined below it) are not resolved
        # yet, because nothing has used it, gives a stub class that is never complete ("not fully
        # defined" on every call; opik's OpenAICompletionsUsage). Resolve them in the model's own
        # module first; one that cannot resolve stays as it was, failing as its original does.
        # (a plain class whose method never reads `self` is subclassed too: it has no `model_rebuild`)
        imports += ("\n\n# the models the stub classes subclass, with their forward references resolved where written\n"
                    + "".join(f"if hasattr({base}, \"model_rebuild\"):\n    {base}.model_rebuild(raise_errors=False)\n"
                              for base in bases).rstrip("\n"))
    disabled = {c for s in plan.stubs for c in s.file_codes}
    stub_classes = {s.classes[0] for s in plan.stubs if s.base is not None}
    if any(s.base is not None and _signature_names(s.node.with_changes(returns=None)) & (stub_classes - {s.classes[0]})
           for s in plan.stubs):
        # a method of one model's stub class takes another model, whose name now means that
        # model's stub class (a subclass): narrower than the original method's parameter, which
        # mypy reports as `override` (google-genai's Part.from_function_response, zenml's 129)
        disabled.add("override")
    stubs = [replace(s, node=_without_ignores(s.node, disabled)) for s in plan.stubs] if disabled \
        else plan.stubs
    if any(set(codes) & disabled for s in stubs for codes in _signature_ignores(s.node)):
        # an original's ignore inside its multi-line signature (`def from_raw(  # type:
        # ignore[override]`) is part of the prompt and stays; the module disabling that code makes
        # it unused, which --strict reports (fastmcp's ProxyTemplate.from_mcp_template, wave 4)
        disabled.add("unused-ignore")
    text = render_template(
        "stubs_module.py.tmpl",
        model=model,
        mypy="allow-empty-bodies" + (f', disable-error-code="{", ".join(sorted(disabled))}"' if disabled else ""),
        functions="\n".join(f"- {s.function_id}" for s in plan.stubs) or "- (none)",
        imports=imports,
        body=_render_body(stubs, disabled).rstrip("\n"),
    )
    return text, plan


def default_output(report: ScanReport, config: Config) -> Path:
    _, path, _ = _instance(report, config)
    return path.with_name(DEFAULT_NAME)


def write_stubs(
    report: ScanReport,
    config: Config,
    *,
    model: str,
    output: str | Path | None = None,
    write: bool = True,
    refused: Mapping[tuple[str, str], str] | None = None,
) -> StubsReport:
    """Render the stubs module; with write=True write it (atomically, only when it changes).
    `refused`: (path, qualname) -> why the last `apply` left that candidate alone (skipped here)."""
    if not model or not model.strip() or not model.isprintable():
        raise UsageError(f"--model: not a model id: {model!r}")
    path = Path(output).resolve() if output is not None else default_output(report, config)
    if path.suffix != ".py":
        raise UsageError(f"-o {output}: the stubs module must be a .py file")
    try:
        inside(report.root, path)
    except EditError as exc:
        raise UsageError(f"-o {output}: {exc}") from None
    rel = path.resolve().relative_to(report.root.resolve()).as_posix()
    text, plan = render_stubs(report, config, model=model, refused=refused)
    functions = tuple(s.function_id for s in plan.stubs)
    # nothing to stub: no module (one importing only the instance fails `mypy --strict`); an
    # existing one is the user's to delete
    planned = [PlannedEdit(rel, read_snapshot(path), text.encode("utf-8"), functions)] if plan.stubs else []
    instance, module_path, exists = _instance(report, config)
    if exists:
        check_instance_module(module_path, instance)
    elif plan.stubs:
        # the stubs import the project's Instructions instance: it has to exist
        planned.append(PlannedEdit(module_path.relative_to(report.root).as_posix(), read_snapshot(module_path),
                                   render_instance_module(config, instance, module_path).encode("utf-8"),
                                   note="from template"))
    edits = commit_edits(report.root, planned, write=write)
    # files the scan could not read or parse are named, as `apply` names them
    edits += [FileEdit(err.path, "error", f"cannot be scanned: {err.reason}") for err in report.errors]
    return StubsReport(report.root, rel, text, tuple(edits), functions, tuple(plan.skipped))
