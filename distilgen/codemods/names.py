"""What a module's top-level names resolve to, from its own import statements (no other file read).

`import inbox.distil as d` binds `d` to `inbox.distil`; `from .distil import instructions` in
`inbox/triage.py` binds `instructions` to `inbox.distil.instructions`; `def f` / `x = ...` bind to
`<this module>.f`; `alias = instructions` binds `alias` to whatever `instructions` resolves to.
The codemods use this to recognise a decorator or an import by what it refers to, not by its text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ..analysis.parsing import UnparsableSource, is_type_checking, parse_cst_expression
from ..analysis.resolve import absolute
from .function_index import class_body_names

__all__ = ["Binding", "ModuleNames", "module_names", "dotted", "load_counts", "NameReads"]


@dataclass(frozen=True)
class Binding:
    name: str
    target: str | None
    """The dotted name it refers to, or None when it is something computed here."""
    kind: str
    """`import` (import statement), `local` (def / class / assignment)."""
    runtime: bool = True
    """False for names bound only under `if TYPE_CHECKING:`."""
    node: cst.CSTNode | None = None
    """The `Import`/`ImportFrom` statement for `kind == "import"`."""


@dataclass
class ModuleNames:
    module: str
    bindings: dict[str, Binding] = field(default_factory=dict)
    imported_modules: dict[str, set[str]] = field(default_factory=dict)
    """`import a.b.c` binds `a` and guarantees `a.b.c` is loaded: {"a": {"a.b.c"}}."""
    class_names: set[str] = field(default_factory=set)
    """Names bound directly in any class body (they shadow globals inside that body)."""
    has_star_import: bool = False
    star_modules: list[str] = field(default_factory=list)
    """Absolute modules of `from m import *` statements, in order."""
    rebound: set[str] = field(default_factory=set)
    """Names bound by more than one statement (`try: from a import X` / `except: from b import X`):
    `bindings` holds the last one, which may not be the one that ran."""
    checking_imports: dict[str, Binding] = field(default_factory=dict)
    """Imports under `if TYPE_CHECKING:`, kept when the name is bound again for run time
    (`import openai._client as _sdk_client` there, `_sdk_client = import_module(...)` after): what
    a type checker reads."""
    try_imports: dict[str, Binding] = field(default_factory=dict)
    """Imports in a `try:` body whose name an `except` (or later) statement binds again to
    something computed (`try: from ase import Atoms` / `except ImportError: Atoms = type(...)`):
    `bindings` holds the computed one, but a type checker reads the first, the import."""
    exported: set[str] = field(default_factory=set)
    """Imported names this module re-exports explicitly, as `mypy --no-implicit-reexport` reads
    it: listed in a literal `__all__`, or imported `as` their own name (`from a import X as X`)."""

    def resolve(self, expr: cst.BaseExpression) -> str | None:
        """The dotted name `expr` (a Name or Attribute chain) refers to, or None."""
        parts = dotted(expr)
        if parts is None:
            return None
        head, *rest = parts.split(".")
        b = self.bindings.get(head)
        if b is None or b.target is None:
            return None
        return ".".join([b.target, *rest])

    def expression_for(self, dotted_target: str) -> str | None:
        """Source text that evaluates to `dotted_target` at run time with the existing imports."""
        module, _, attr = dotted_target.rpartition(".")
        for b in self.bindings.values():
            if b.runtime and b.target == dotted_target:
                return b.name
        for b in self.bindings.values():
            if b.runtime and b.kind == "import" and b.target == module:
                return f"{b.name}.{attr}"
        for head, modules in self.imported_modules.items():
            hb = self.bindings.get(head)
            if hb is not None and hb.runtime and hb.target == head and module in modules:
                return dotted_target
        return None

    def is_free(self, name: str) -> bool:
        """True when binding `name` at module level shadows nothing this module defines."""
        return name not in self.bindings and name not in self.class_names


def dotted(expr: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        head = dotted(expr.value)
        return None if head is None else f"{head}.{expr.attr.value}"
    return None


def _is_type_checking(test: cst.BaseExpression) -> bool:
    return is_type_checking(dotted(test))


def _target_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for el in target.elements for n in _target_names(el.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


def module_names(tree: cst.Module, module: str, is_package: bool = False,
                 class_names: set[str] | None = None) -> ModuleNames:
    """Collect the module-level bindings of `tree`, the module named `module`."""
    out = ModuleNames(module=module)
    first_in_try: dict[str, Binding] = {}
    in_try = False

    def bind(name: str, target: str | None, kind: str, runtime: bool, node: cst.CSTNode | None = None) -> None:
        if name in out.bindings:
            out.rebound.add(name)
        elif in_try and kind == "import" and runtime:
            first_in_try[name] = Binding(name, target, kind, runtime, node)
        out.bindings[name] = Binding(name, target, kind, runtime, node)
        if kind == "import" and not runtime:
            out.checking_imports[name] = out.bindings[name]

    def local(name: str, runtime: bool) -> None:
        bind(name, f"{module}.{name}" if module else name, "local", runtime)

    def walk(body: object, runtime: bool) -> None:
        nonlocal in_try
        for stmt in body:  # type: ignore[attr-defined]
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    small_stmt(small, runtime)
            elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                local(stmt.name.value, runtime)
            elif isinstance(stmt, cst.If):
                inner = runtime and not _is_type_checking(stmt.test)
                walk(_block(stmt.body), inner)
                orelse = stmt.orelse
                while orelse is not None:
                    if isinstance(orelse, cst.If):
                        walk(_block(orelse.body), runtime)
                        orelse = orelse.orelse
                    else:
                        walk(_block(orelse.body), runtime)
                        orelse = None
            elif isinstance(stmt, (cst.Try, cst.TryStar)):
                was, in_try = in_try, True
                walk(_block(stmt.body), runtime)
                in_try = was
                for h in stmt.handlers:
                    walk(_block(h.body), runtime)
                for extra in (stmt.orelse, stmt.finalbody):
                    if extra is not None:
                        walk(_block(extra.body), runtime)
            elif isinstance(stmt, (cst.With, cst.For, cst.While)):
                walk(_block(stmt.body), runtime)

    def small_stmt(small: cst.BaseSmallStatement, runtime: bool) -> None:
        if isinstance(small, cst.Import):
            for alias in small.names:
                full = dotted(alias.name) or ""
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    bind(alias.asname.name.value, full, "import", runtime, small)
                    if alias.asname.name.value == full:
                        out.exported.add(full)
                else:
                    head = full.split(".")[0]
                    bind(head, head, "import", runtime, small)
                    out.imported_modules.setdefault(head, set()).update(
                        ".".join(full.split(".")[: i + 1]) for i in range(full.count(".") + 1)
                    )
        elif isinstance(small, cst.ImportFrom):
            level = len(small.relative)
            name = dotted(small.module) if small.module is not None else None
            # the scan's own rule for relative imports; "" when the dots climb above the top package
            base = absolute(module, is_package, level, name or "") if module or not level else ""
            if isinstance(small.names, cst.ImportStar):
                out.has_star_import = True
                if base:
                    out.star_modules.append(base)
                return
            for alias in small.names:
                imported = dotted(alias.name) or ""
                bound = (
                    alias.asname.name.value
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name)
                    else imported
                )
                bind(bound, f"{base}.{imported}" if base else None, "import", runtime, small)
                if alias.asname is not None and bound == imported:
                    out.exported.add(bound)
        elif isinstance(small, cst.Assign):
            value = out.resolve(small.value)
            for t in small.targets:
                for n in _target_names(t.target):
                    if value is not None and isinstance(t.target, cst.Name):
                        bind(n, value, "local", runtime)
                    else:
                        local(n, runtime)
            if any(isinstance(t.target, cst.Name) and t.target.value == "__all__" for t in small.targets):
                out.exported.update(_literal_names(small.value))
        elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
            for n in _target_names(small.target):
                local(n, runtime)
            if isinstance(small.target, cst.Name) and small.target.value == "__all__" and small.value is not None:
                out.exported.update(_literal_names(small.value))
        elif isinstance(small, cst.TypeAlias):
            local(small.name.value, runtime)

    walk(tree.body, True)
    for name, first in first_in_try.items():
        last = out.bindings[name]
        if name in out.rebound and last.kind == "local" and last.runtime:
            out.try_imports[name] = first
    out.class_names = class_names if class_names is not None else class_body_names(tree)
    return out


def _literal_names(value: cst.BaseExpression) -> list[str]:
    """The strings of a literal list or tuple (`__all__ = ["A", "B"]`); nothing for anything else."""
    if not isinstance(value, (cst.List, cst.Tuple)):
        return []
    return [el.value.evaluated_value for el in value.elements
            if isinstance(el.value, cst.SimpleString) and isinstance(el.value.evaluated_value, str)]


def _block(body: cst.BaseSuite) -> tuple[cst.BaseStatement, ...] | tuple[cst.BaseSmallStatement, ...]:
    if isinstance(body, cst.IndentedBlock):
        return tuple(body.body)
    return ()


class NameReads(cst.CSTVisitor):
    """THE libcst walk collecting the names some code reads: attribute names, keyword names,
    parameter names and import statements are not reads (a parameter's annotation and default are).
    With `strings=True` a string (`"Ticket"`, a forward reference) is read as the expression it
    spells; stubs want that for annotations, never for default values."""

    def __init__(self, *, strings: bool = False) -> None:
        self.strings = strings
        self.counts: dict[str, int] = {}
        self.names: set[str] = set()
        self.subscripted: set[str] = set()
        """Names used as `Name[...]` (generic classes given type arguments)."""

    def visit_Name(self, node: cst.Name) -> None:
        self.counts[node.value] = self.counts.get(node.value, 0) + 1
        self.names.add(node.value)

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        if isinstance(node.value, cst.Name):
            self.subscripted.add(node.value.value)
        if not self.strings or (dotted(node.value) or "").rsplit(".", 1)[-1] != "Literal":
            return True
        # `Literal["DEBUG", "CRITICAL"]`: its strings are values, not forward references
        # (fastmcp's `from_cli_args` was skipped: "name 'CRITICAL' ... is not defined")
        node.value.visit(self)
        self.strings = False
        try:
            for element in node.slice:
                element.visit(self)
        finally:
            self.strings = True
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        # a parameter's name binds, it does not read; its annotation and default do read
        for part in (node.annotation, node.default):
            if part is not None:
                part.visit(self)
        return False

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if not self.strings:
            return
        value = node.evaluated_value
        if isinstance(value, str) and value.strip():
            try:
                parse_cst_expression(value.strip()).visit(self)
            except (UnparsableSource, RecursionError, MemoryError):
                pass  # a plain string, not an annotation (or one too deep to follow)


def load_counts(tree: cst.CSTNode) -> dict[str, int]:
    """How often each name is read in `tree` (strings not followed)."""
    reads = NameReads()
    tree.visit(reads)
    return reads.counts
