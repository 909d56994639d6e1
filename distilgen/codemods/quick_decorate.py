"""`decorate` as line insertions, without libcst, for the files where the answer is certain.

Decorating a function adds one line, `@instructions.distil`, right below its last decorator (or
above its `def`), and one import after the module's top import block. When nothing in the file can
change how those lines are spelled or where they go, the standard parser's line numbers say all
that is needed, and parsing the file with libcst (most of `apply`'s planning time on a big tree) is
not. So this answers only the plain case and returns None for anything else, which `edit_module`
then hands to the libcst codemod:

- the instance's name and its module's last part (`instructions`, `distil`) appear nowhere in the
  text as words: no existing import of it, no scope binding the name (the codemod's aliases), no
  `.distil` decorator already there (its refusals and rebinds);
- UTF-8 without a BOM or a coding line, `\\n` line endings only, a final newline, no `;` between
  top-level statements, no line continuation where a line goes in;
- every target is found by its qualname at its `def` line and has a return annotation;
- the module has an import block before its first def or class, or starts with a docstring.

The output equals the codemod's byte for byte (`tests/test_quick_decorate.py` compares the two on
every def of the corpora and on generated programs).
"""

from __future__ import annotations

import ast
import re
from typing import Iterator, Sequence

from .decorate import InstanceRef, ModuleEdit, Target

__all__ = ["quick_decorate"]

_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=]", re.MULTILINE)
_INDENT = re.compile(r"[ \t]*")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _children(node: ast.AST) -> Iterator[ast.AST]:
    # definitions are statements: only statement lists can hold one (handlers and cases hold bodies)
    for field in ("body", "orelse", "finalbody", "handlers", "cases"):
        yield from getattr(node, field, ())


def _defs_by_line(tree: ast.Module) -> dict[int, tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """def line -> (qualname as the interpreter spells it, node)."""
    out: dict[int, tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        for child in _children(node):
            if isinstance(child, _DEFS):
                out[child.lineno] = (prefix + child.name, child)
                stack.append((child, f"{prefix}{child.name}.<locals>."))
            elif isinstance(child, ast.ClassDef):
                stack.append((child, f"{prefix}{child.name}."))
            else:
                stack.append((child, prefix))
    return out


def _import_line(body: Sequence[ast.stmt]) -> tuple[int, bool] | None:
    """(line after which the import goes, whether a blank line goes before it), as the codemod's
    `_add_import` places it; None where it would go on top of the file (libcst's header rules)."""
    last = None
    for stmt in body:
        if isinstance(stmt, (*_DEFS, ast.ClassDef)):
            break
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            last = stmt
    if last is not None:
        return (last.end_lineno or last.lineno), False
    first = body[0] if body else None
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, (str, bytes))):
        return (first.end_lineno or first.lineno), True
    return None


def quick_decorate(source: bytes | str, tree: ast.Module, targets: Sequence[Target],
                   instance: InstanceRef) -> tuple[bytes | str, ModuleEdit] | None:
    """`edit_module(source, targets, instance, "decorate")`'s answer, or None where this cannot be
    sure of it. `tree` is the standard parse of `source`."""
    if isinstance(source, bytes):
        if source.startswith(b"\xef\xbb\xbf"):
            return None
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError:
            return None
    else:
        text = source
    if not text.endswith("\n") or "\r" in text or _CODING.search(text, 0, _second_line_end(text)):
        return None
    words = {instance.attr, instance.module.rpartition(".")[2]}
    if re.search(r"\b(?:" + "|".join(map(re.escape, sorted(words))) + r")\b", text):
        return None
    body = tree.body
    if any(b.lineno <= (a.end_lineno or a.lineno) for a, b in zip(body, body[1:])):
        return None  # `a; b` on one line: libcst's statement lines are not ast's statements
    where = _import_line(body)
    if where is None:
        return None
    lines = text.split("\n")  # the tokenizer's lines: only \n ends one here (no \r above)

    def continued(line_no: int) -> bool:
        return line_no >= 1 and lines[line_no - 1].endswith("\\")

    defs = _defs_by_line(tree)
    inserts: list[tuple[int, int, str, int]] = []  # (line the new text goes before, import first, the text, def line)
    changed: list[str] = []
    seen: set[int] = set()
    for t in targets:
        found = defs.get(t.lineno) if t.lineno is not None else None
        if found is None or found[0] != t.qualname or t.decorator_lineno is not None:
            return None
        qualname, node = found
        if node.returns is None:
            return None  # the codemod refuses it, with its reason
        if node.lineno in seen:
            continue
        seen.add(node.lineno)
        def_line = lines[node.lineno - 1]
        indent = _INDENT.match(def_line).group()  # type: ignore[union-attr]  # always matches
        if not def_line.startswith(("def", "async"), len(indent)):
            return None
        after = max((d.end_lineno or d.lineno for d in node.decorator_list), default=node.lineno - 1)
        if continued(after) or continued(node.lineno - 1):
            return None
        inserts.append((after + 1, 1, f"{indent}@{instance.attr}.distil\n", node.lineno))
        changed.append(qualname)
    line, blank = where
    if not changed or continued(line):  # no target: the codemod adds no import either
        return None
    # the import is a statement before the def whose line it shares: it comes first
    inserts.append((line + 1, 0, ("\n" if blank else "") + f"from {instance.module} import {instance.attr}\n", 0))
    inserts.sort()
    out: list[str] = []
    start = 0  # index into `lines` of the next line to copy
    for before, _, new, _ in inserts:
        out.append("".join(f"{piece}\n" for piece in lines[start:before - 1]))
        out.append(new)
        start = before - 1
    out.append("\n".join(lines[start:]))
    new_text = "".join(out)
    result = ModuleEdit(tuple(changed), (), instance.attr, (), "utf-8", (), True,
                        line_inserts=tuple((before, text.count("\n"), def_line) for before, _, text, def_line in inserts))
    return (new_text.encode("utf-8") if isinstance(source, bytes) else new_text), result


def _second_line_end(text: str) -> int:
    """Where a coding line may stand: the first two lines (PEP 263)."""
    first = text.find("\n")
    second = text.find("\n", first + 1) if first >= 0 else -1
    return len(text) if second < 0 else second
