"""Add, rebind and remove `@instructions.distil` on chosen functions of one module (a LibCST codemod).

The codemod takes the module and the functions to touch (qualnames as the interpreter spells them,
plus the scan's line numbers when known) and one action:

- `decorate`: add a bare `@<instance>.distil` (innermost, right above the `def`) where none is;
- `dispatch`: make it `@<instance>.distil(mode="dispatch", model="ID")`, adding or updating;
- `capture`: drop `mode=`/`model=` again, back to the bare form when nothing else is left;
- `remove`: take the decorator out, and the import of the instance when that left it unused.

Decorators and imports are recognised by what their names resolve to (see `names.py`), or by the
line the scan reported. Everything not touched stays byte-identical, and each action undoes the
previous one exactly: `decorate` then `remove` gives back the original bytes.
"""

from __future__ import annotations

import ast
import dataclasses
import symtable
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import libcst as cst
from libcst.metadata import CodeRange

from ..analysis.parsing import parse_cst
from ..contracts import APPLY_ACTIONS, ApplyAction
from .function_index import ast_class_body_names, index_functions
from .names import ModuleNames, dotted, load_counts, module_names
from .splice import reduce_source, source_lines, splice

__all__ = [
    "ACTIONS",
    "Target",
    "InstanceRef",
    "ModuleEdit",
    "DecoratorEdit",
    "edit_module",
    "string_literal",
    "is_docstring",
]

ACTIONS = APPLY_ACTIONS


@dataclass(frozen=True)
class Target:
    """One function to edit."""

    qualname: str
    lineno: int | None = None
    """The `def` line, to tell same-named definitions apart (overloads, `if` branches)."""
    decorator_lineno: int | None = None
    """The line of the distil decorator the scan found on it, if any."""


@dataclass(frozen=True)
class InstanceRef:
    """The project's `Instructions` instance, `module:attr` as in `[tool.distilgen] instructions`."""

    module: str
    attr: str

    @classmethod
    def parse(cls, spec: str) -> InstanceRef:
        module, sep, attr = spec.partition(":")
        if not sep or not module or not attr.isidentifier() or not all(p.isidentifier() for p in module.split(".")):
            raise ValueError(f"expected 'package.module:attribute', got {spec!r}")
        return cls(module, attr)

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.attr}"

    def __str__(self) -> str:
        return f"{self.module}:{self.attr}"


@dataclass(frozen=True)
class ModuleEdit:
    """The outcome of one codemod run over one module."""

    changed: tuple[str, ...]
    """Qualnames whose decorators changed."""
    missing: tuple[str, ...]
    """Targets that name no function in this module."""
    added_import: str | None
    removed_imports: tuple[str, ...]
    encoding: str = "utf-8"
    refused: tuple[tuple[str, str, int], ...] = ()
    """(qualname, why, def line) of targets left undecorated: decorating them would be wrong."""
    std_parsed: bool = True
    """The original parsed with this interpreter's own parser (so its output must too)."""
    line_inserts: tuple[tuple[int, int, int], ...] | None = field(default=None, compare=False)
    """Where the edit only inserted whole lines (`quick_decorate`): (old line they go before, how
    many, the old line of the def decorated or 0 for the import), for `analysis.index_shift`."""


def string_literal(value: str) -> str:
    """A double-quoted Python string literal for `value` (repr when it needs escapes)."""
    if value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return repr(value)


def _literal_value(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


_NO_SPACE = cst.SimpleWhitespace("")


def _kwarg(name: str, value: str) -> cst.Arg:
    return cst.Arg(
        keyword=cst.Name(name),
        value=cst.SimpleString(string_literal(value)),
        equal=cst.AssignEqual(whitespace_before=_NO_SPACE, whitespace_after=_NO_SPACE),
    )


def _is_multiline(ws: cst.BaseParenthesizableWhitespace) -> bool:
    return isinstance(ws, cst.ParenthesizedWhitespace)


def _append_args(call: cst.Call, new: Sequence[cst.Arg]) -> cst.Call:
    """Append keyword arguments, following the call's layout (one per line, trailing comma)."""
    args = list(call.args)
    if not args:
        return call.with_changes(args=list(new))
    last = args[-1]
    if isinstance(last.comma, cst.Comma):
        # trailing comma: the new args take the same separator as the first line, the last keeps it
        first = call.whitespace_before_args
        sep_ws = first if _is_multiline(first) else cst.SimpleWhitespace(" ")
        sep = cst.Comma(whitespace_after=sep_ws)
        args[-1] = last.with_changes(comma=sep)
        added = [a.with_changes(comma=sep) for a in new[:-1]] + [new[-1].with_changes(comma=last.comma)]
    else:
        sep = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        args[-1] = last.with_changes(comma=sep)
        added = [a.with_changes(comma=sep) for a in new[:-1]] + [new[-1]]
    return call.with_changes(args=args + added)


def _drop_args(call: cst.Call, names: Iterable[str]) -> cst.Call:
    """Remove keyword arguments; the argument before a removed one takes over its comma."""
    drop = set(names)
    args = list(call.args)
    i = 0
    while i < len(args):
        a = args[i]
        if a.keyword is not None and a.keyword.value in drop:
            if i > 0:
                args[i - 1] = args[i - 1].with_changes(comma=a.comma)
            args.pop(i)
        else:
            i += 1
    if not args:
        return call.with_changes(args=[], whitespace_before_args=_NO_SPACE)
    return call.with_changes(args=args)


def _remove_decorator(
    decorators: list[cst.Decorator], i: int, fn: cst.FunctionDef
) -> tuple[list[cst.Decorator], cst.FunctionDef]:
    """Drop decorators[i], keeping any comment lines that were written above it."""
    removed = decorators.pop(i)
    comments = [ln for ln in removed.leading_lines if ln.comment is not None]
    if comments:
        if i < len(decorators):
            lines = [*removed.leading_lines, *decorators[i].leading_lines]
            decorators[i] = decorators[i].with_changes(leading_lines=lines)
        else:
            fn = fn.with_changes(lines_after_decorators=[*removed.leading_lines, *fn.lines_after_decorators])
    return decorators, fn


def _is_overload(fn: cst.FunctionDef) -> bool:
    return any(
        (dotted(d.decorator) or "").split(".")[-1] == "overload" for d in fn.decorators
    )


def _replace_child(parent: cst.CSTNode, old: cst.CSTNode, new: cst.CSTNode) -> cst.CSTNode:
    """`parent` with its direct child `old` (by identity) replaced by `new`."""
    for f in dataclasses.fields(parent):
        value = getattr(parent, f.name)
        if value is old:
            return parent.with_changes(**{f.name: new})
        if isinstance(value, (tuple, list)) and any(v is old for v in value):
            return parent.with_changes(**{f.name: type(value)(new if v is old else v for v in value)})
    raise ValueError(f"{type(old).__name__} is not a child of {type(parent).__name__}")


def _rebuild(tree: cst.Module, edits: dict[cst.FunctionDef, cst.FunctionDef],
             chains: Mapping[cst.FunctionDef, tuple[cst.CSTNode, ...]], latest: dict[int, cst.CSTNode]) -> cst.Module:
    """The module with each edited def's decorators replaced, rebuilding only the nodes on the
    path from the module down to it (a full-tree transform copies every statement). `latest`
    receives id(original node) -> its rebuilt copy."""

    def now(node: cst.CSTNode) -> cst.CSTNode:
        return latest.get(id(node), node)

    for fn, new in edits.items():
        # a nested target may already sit inside an edited outer def: start from the newest copy
        child_old = now(fn)
        assert isinstance(child_old, cst.FunctionDef)
        child_new: cst.CSTNode = child_old.with_changes(
            decorators=new.decorators, lines_after_decorators=new.lines_after_decorators
        )
        latest[id(fn)] = child_new
        for parent in reversed(chains[fn]):
            parent_now = now(parent)
            parent_new = _replace_child(parent_now, child_old, child_new)
            latest[id(parent)] = parent_new
            child_old, child_new = parent_now, parent_new
    out = now(tree)
    assert isinstance(out, cst.Module)
    return out


class DecoratorEdit:
    """The transform. `module` names the module (for relative imports and its own names).

    `codemod.DistilDecorators` wraps it as a `libcst.codemod.Codemod`; `edit_module` runs it
    directly, so the CLI never imports `libcst.codemod` (over a second of start-up).
    """

    def __init__(
        self,
        targets: Iterable[Target | str],
        instance: InstanceRef | str,
        action: ApplyAction = "decorate",
        model: str | None = None,
        *,
        module: str = "",
        is_package: bool = False,
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
        if action == "dispatch" and not model:
            raise ValueError("the dispatch action needs a model id")
        self.targets = tuple(t if isinstance(t, Target) else Target(t) for t in targets)
        self.instance = instance if isinstance(instance, InstanceRef) else InstanceRef.parse(instance)
        self.action = action
        self.model = model
        self.module = module
        self.is_package = is_package
        self.result = ModuleEdit((), (), None, ())
        self.lines: Mapping[cst.CSTNode, int] = {}
        self.replaced: dict[int, cst.CSTNode] = {}
        """id(original node) -> its edited copy, for each node rebuilt on the way to an edit."""

    # -- recognising -------------------------------------------------------------------------

    def _is_distil(self, dec: cst.Decorator, names: ModuleNames, line_hint: int | None) -> bool:
        expr = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
        if names.resolve(expr) == f"{self.instance.dotted}.distil":
            return True
        if line_hint is not None and self.lines.get(dec) == line_hint:
            return isinstance(expr, (cst.Attribute, cst.Name))
        return False

    def _unresolved_distil(self, decorators: list[cst.Decorator], names: ModuleNames) -> str | None:
        """The text of an `X.distil` decorator whose `X` is no module-level name, if any."""
        for d in decorators:
            expr = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
            text = dotted(expr)
            if text is not None and text.endswith(".distil") and names.resolve(expr) is None:
                return text
        return None

    def _pick(self, found: dict[str, list[tuple[int, cst.FunctionDef]]], t: Target) -> cst.FunctionDef | None:
        defs = found.get(t.qualname, [])
        if t.lineno is not None:
            for line, node in defs:
                if line == t.lineno:
                    return node
        if not defs:
            return None
        plain = [node for _, node in defs if not _is_overload(node)]
        return (plain or [node for _, node in defs])[-1]

    # -- the transform -----------------------------------------------------------------------

    def run(
        self,
        tree: cst.Module,
        positions: Mapping[cst.CSTNode, CodeRange] | None = None,
        source: bytes | str | None = None,
        std_tree: ast.Module | None = None,
        class_names: set[str] | None = None,
    ) -> cst.Module:
        """The edited module (`tree` itself when nothing changes); the outcome is in `.result`.

        Pass the `source` the tree was parsed from (line numbers then come from `ast`), or
        libcst `positions` when a codemod pipeline already resolved them. `class_names`: the
        names class bodies bind in the whole file, when `tree` is of a reduced copy of it.
        """
        visitor = index_functions(tree, source, positions, std_tree)
        self.lines = visitor.lines
        names = module_names(tree, self.module, self.is_package,
                             class_names=visitor.class_names if class_names is None else class_names)

        # names bound in a function or class around a target: its decorator is evaluated there, so
        # the instance must be spelled with a name none of them binds (`def outer(instructions)`)
        shadowed: set[str] = set()
        for t in self.targets:
            fn = self._pick(visitor.found, t)
            if fn is not None:
                shadowed |= visitor.enclosing.get(fn, frozenset())
        expr_text = names.expression_for(self.instance.dotted)
        if expr_text is not None and expr_text.split(".")[0] in shadowed:
            expr_text = None
        import_name: str | None = None
        if expr_text is None:
            import_name = self.instance.attr
            n = 1
            while import_name in shadowed or not (
                names.is_free(import_name) or _same(names, import_name, self.instance.dotted)
            ):
                import_name = f"distil_{self.instance.attr}" + ("" if n == 1 else f"_{n}")
                n += 1
            expr_text = import_name
        new_decorator = cst.Decorator(decorator=cst.parse_expression(f"{expr_text}.distil"))

        edits: dict[cst.FunctionDef, cst.FunctionDef] = {}
        changed: list[str] = []
        missing: list[str] = []
        refused: list[tuple[str, str, int]] = []
        added_any = False
        removed_heads: set[str] = set()
        for t in self.targets:
            fn = self._pick(visitor.found, t)
            if fn is None:
                missing.append(t.qualname)
                continue
            if fn in edits:
                continue
            decorators = list(fn.decorators)
            hits = [i for i, d in enumerate(decorators) if self._is_distil(d, names, t.decorator_lineno)]
            new_fn = fn
            if self.action == "remove":
                for i in reversed(hits):
                    d = decorators[i].decorator
                    head = (dotted(d.func if isinstance(d, cst.Call) else d) or "").split(".")[0]
                    removed_heads.add(head)
                    decorators, new_fn = _remove_decorator(decorators, i, new_fn)
            elif not hits and fn.returns is None:
                # e.g. an @overload implementation: the runtime reads the annotation of this def
                refused.append((t.qualname, "the definition has no return annotation of its own "
                                "(the runtime reads it from there); annotate it", self.lines[fn]))
                continue
            elif not hits and (unknown := self._unresolved_distil(decorators, names)):
                refused.append((t.qualname, f"it already has @{unknown}, whose instance cannot be resolved "
                                "from module-level names (a local variable?); not decorated twice",
                                self.lines[fn]))
                continue
            elif not hits:
                dec = new_decorator
                if self.action == "dispatch":
                    dec = self._to_dispatch(dec)
                decorators.append(dec)
                added_any = True
            else:
                for i in hits:
                    if self.action == "dispatch":
                        decorators[i] = self._to_dispatch(decorators[i])
                    elif self.action == "capture":
                        decorators[i] = self._to_capture(decorators[i])
            new_fn = new_fn.with_changes(decorators=decorators)
            if not new_fn.deep_equals(fn):
                edits[fn] = new_fn
                changed.append(t.qualname)

        if not edits:
            self.result = ModuleEdit((), tuple(missing), None, (), tree.encoding, tuple(refused))
            return tree
        tree = _rebuild(tree, edits, visitor.chains, self.replaced)
        added_import = None
        if added_any and import_name is not None:
            tree = _add_import(tree, self.instance, import_name)
            added_import = import_name
        removed: list[str] = []
        if removed_heads:
            # an import read only by the removed decorators is now unused; a parameter or a local
            # of the same name elsewhere is not a use of it
            heads = {h for h in removed_heads if h in names.bindings and names.bindings[h].kind == "import"}
            gone = heads - global_uses(tree, heads)
            if gone:
                tree = _remove_imports(tree, gone)
                removed = sorted(gone)
        self.result = ModuleEdit(
            tuple(changed), tuple(missing), added_import, tuple(removed), tree.encoding, tuple(refused)
        )
        return tree

    def _to_dispatch(self, dec: cst.Decorator) -> cst.Decorator:
        assert self.model is not None
        expr = dec.decorator
        call = expr if isinstance(expr, cst.Call) else cst.Call(func=expr)
        args = list(call.args)
        wanted = {"mode": "dispatch", "model": self.model}
        missing: list[cst.Arg] = []
        for key, value in wanted.items():
            idx = next((i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == key), None)
            if idx is None:
                missing.append(_kwarg(key, value))
            elif _literal_value(args[idx].value) != value:
                args[idx] = args[idx].with_changes(value=cst.SimpleString(string_literal(value)))
        call = call.with_changes(args=args)
        if missing:
            call = _append_args(call, missing)
        return dec.with_changes(decorator=call)

    def _to_capture(self, dec: cst.Decorator) -> cst.Decorator:
        expr = dec.decorator
        if not isinstance(expr, cst.Call):
            return dec
        keys = {a.keyword.value for a in expr.args if a.keyword is not None}
        if not keys & {"mode", "model"}:
            return dec
        call = _drop_args(expr, ("mode", "model"))
        if not call.args:
            return dec.with_changes(decorator=call.func)
        return dec.with_changes(decorator=call)


def _same(names: ModuleNames, name: str, target: str) -> bool:
    # bound to the instance already, but only for type checkers: import it again for run time
    b = names.bindings.get(name)
    return b is not None and b.target == target and name not in names.class_names


def _is_import_line(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


_BLANK = cst.EmptyLine()


def _add_import(tree: cst.Module, instance: InstanceRef, name: str) -> cst.Module:
    """`from pkg.mod import attr` after the module's top import block (see `_remove_imports`)."""
    alias = cst.ImportAlias(
        name=cst.Name(instance.attr),
        asname=None if name == instance.attr else cst.AsName(name=cst.Name(name)),
    )
    stmt = cst.SimpleStatementLine(
        body=[cst.ImportFrom(module=cst.parse_expression(instance.module), names=[alias])]  # type: ignore[arg-type]
    )
    body = list(tree.body)
    last_import = None
    for i, s in enumerate(body):
        if isinstance(s, (cst.FunctionDef, cst.ClassDef)):
            break
        if _is_import_line(s):
            last_import = i
    if last_import is not None:
        body.insert(last_import + 1, stmt)
    elif body and is_docstring(body[0]):
        body.insert(1, stmt.with_changes(leading_lines=[_BLANK]))
    else:
        # top of the file: the blank lines after the import go on the next statement; removing an
        # import that is the first statement strips them again, so the round trip is exact
        nxt = body[0]
        blanks = 2 if isinstance(nxt, (cst.FunctionDef, cst.ClassDef)) else 1
        body[0] = nxt.with_changes(leading_lines=[*([_BLANK] * blanks), *nxt.leading_lines])
        body.insert(0, stmt)
    return tree.with_changes(body=body)


class _ImportRemover(cst.CSTTransformer):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def _bound(self, alias: cst.ImportAlias) -> str:
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            return alias.asname.name.value
        return (dotted(alias.name) or "").split(".")[0]

    def _strip(self, node: cst.Import | cst.ImportFrom) -> cst.Import | cst.ImportFrom | cst.RemovalSentinel:
        if isinstance(node.names, cst.ImportStar):
            return node
        names = list(node.names)
        i = 0
        while i < len(names):
            if self._bound(names[i]) in self.names:
                if i > 0:
                    names[i - 1] = names[i - 1].with_changes(comma=names[i].comma)
                names.pop(i)
            else:
                i += 1
        if not names:
            return cst.RemoveFromParent()
        if len(names) == len(node.names):
            return node
        if isinstance(node, cst.ImportFrom) and node.lpar is None:
            names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return node.with_changes(names=names)

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.Import | cst.RemovalSentinel:
        return self._strip(updated_node)  # type: ignore[return-value]

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom | cst.RemovalSentinel:
        return self._strip(updated_node)  # type: ignore[return-value]



def _remove_imports(tree: cst.Module, names: set[str]) -> cst.Module:
    body = list(tree.body)
    out: list[cst.BaseStatement] = []
    carry: list[cst.EmptyLine] = []
    dropped_first = False
    for i, stmt in enumerate(body):
        # only top-level import lines: an import inside `if`/`try` may be the block's only statement
        new = stmt.visit(_ImportRemover(names)) if isinstance(stmt, cst.SimpleStatementLine) else stmt
        if isinstance(new, cst.RemovalSentinel) or (isinstance(new, cst.SimpleStatementLine) and not new.body):
            # keep comment lines written above a removed import; plain blank lines go with it
            if any(ln.comment is not None for ln in stmt.leading_lines):
                carry.extend(stmt.leading_lines)
            if not out:
                dropped_first = True
            continue
        assert isinstance(new, cst.BaseStatement)
        if carry:
            new = new.with_changes(leading_lines=[*carry, *new.leading_lines])
            carry = []
        if dropped_first and not out:
            lines = list(new.leading_lines)
            while lines and lines[0].comment is None:
                lines.pop(0)
            new = new.with_changes(leading_lines=lines)
        out.append(new)
    return tree.with_changes(body=out)


def global_uses(tree: cst.Module, names: set[str]) -> set[str]:
    """Which of the module-level `names` some code of `tree` still reads (Python's own scoping:
    a parameter, a local or a keyword argument of the same name is not a read of the global)."""
    try:
        table = symtable.symtable(tree.code, "<module>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # syntax newer than this interpreter: any read of the name, parameters excepted, counts
        counts = load_counts(tree)
        return {n for n in names if counts.get(n, 0)}
    used: set[str] = set()
    todo = [table]
    while todo and used != names:
        scope = todo.pop()
        todo.extend(scope.get_children())
        for n in names - used:
            try:
                sym = scope.lookup(n)
            except KeyError:
                continue
            if sym.is_referenced() and (scope.get_type() in ("module", "class") or sym.is_global()):
                used.add(n)
    return used


def edit_module(
    source: bytes | str,
    targets: Iterable[Target | str],
    instance: InstanceRef | str,
    action: ApplyAction = "decorate",
    *,
    module: str = "",
    is_package: bool = False,
    model: str | None = None,
) -> tuple[bytes | str, ModuleEdit]:
    """Run the codemod over `source` (bytes keep their encoding, BOM and line endings exactly).

    Raises `analysis.parsing.UnparsableSource` for a source that cannot be parsed (libcst only
    ever sees what `parse_cst` lets through), RecursionError for one too deep for libcst's visitors.
    """
    wanted = [t if isinstance(t, Target) else Target(t) for t in targets]
    # a probe, not the parse: None means "not this interpreter's syntax" (newer, or broken:
    # `parse_cst` tells the two apart and raises UnparsableSource for the latter)
    std_tree = _std_parse(source)
    if action == "decorate" and std_tree is not None:
        from .quick_decorate import quick_decorate  # here: it reads this module's types

        ref = instance if isinstance(instance, InstanceRef) else InstanceRef.parse(instance)
        quick = quick_decorate(source, std_tree, wanted, ref)
        if quick is not None:
            return quick
    # libcst parses only the top-level statements an edit can touch (`--remove` reads the whole
    # module to tell whether the import is still used, so it parses everything)
    if std_tree is not None and action != "remove" and all(t.lineno is not None for t in wanted):
        lines = source_lines(source)
        reduced = reduce_source(source, std_tree, [t.lineno for t in wanted if t.lineno is not None], lines)
        reduced_tree = _std_parse(reduced) if reduced is not None else None
        if reduced is not None and reduced_tree is not None:
            # what class bodies bind, from the whole file: stand-ins keep only the class names
            class_names = ast_class_body_names(std_tree, lines)
            done = _edit(source, reduced, reduced_tree, wanted, instance, action, model, module, is_package,
                         class_names)
            if done is not None:
                return done
    done = _edit(source, source, std_tree, wanted, instance, action, model, module, is_package)
    assert done is not None
    return done


def _std_parse(source: bytes | str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _edit(
    source: bytes | str, parsed: bytes | str, std_tree: ast.Module | None, targets: list[Target],
    instance: InstanceRef | str, action: ApplyAction, model: str | None, module: str, is_package: bool,
    class_names: set[str] | None = None,
) -> tuple[bytes | str, ModuleEdit] | None:
    """Edit `source`, parsing `parsed` (the source itself or its `reduce_source`, whose standard
    parse is `std_tree`); None when a reduced source does not give a result that can be trusted."""
    whole = parsed is source
    # `ast` already accepted `parsed` when std_tree is there: libcst may have it at once
    tree = parse_cst(parsed, checked=std_tree is not None)
    edit = DecoratorEdit(targets, instance, action, model, module=module, is_package=is_package)
    new = edit.run(tree, source=parsed, std_tree=std_tree, class_names=class_names)
    if not whole and edit.result.missing:
        return None
    if std_tree is None:
        edit.result = dataclasses.replace(edit.result, std_parsed=False)
    if not edit.result.changed:
        return source, edit.result  # untouched: the very same bytes
    out = splice(source, tree, new, std_tree, edit.replaced)
    if out is None:
        if not whole:
            return None
        out = new.bytes if isinstance(source, bytes) else new.code
    return out, edit.result
