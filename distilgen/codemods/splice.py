"""The edited module's source, generating code only for the statements that changed.

`Module.code` regenerates every node of the file, which costs several times the parse on a big
module. An edit changes a few statements (a decorated def, the import block); every other
statement keeps the exact bytes of the original, located through the standard parser's line
numbers. A changed class or def whose header is untouched is spliced the same way one level down,
so decorating one method of a 2,000-line class generates that method only. Everything else is
copied, so each generated region is checked first: the original statement, generated alone at its
indentation, must give back exactly the bytes of its region; otherwise the caller falls back to
generating the whole module.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from typing import Iterable, Mapping, Sequence

import libcst as cst
from libcst._nodes.internal import CodegenState

from ..prompts.source import LINE_PATTERN
from ..analysis.bindings import statement_bindings

__all__ = ["splice", "reduce_source", "source_lines"]

_LINES = re.compile(LINE_PATTERN.encode("ascii"))  # the same rule as the prompts' `source_lines`
_BOM = b"\xef\xbb\xbf"


def source_lines(source: bytes | str) -> list[bytes]:
    """The lines of `source` (as UTF-8 when it is text), each with its own line ending."""
    return _LINES.findall(source if isinstance(source, bytes) else source.encode("utf-8"))


class _Mismatch(Exception):
    """The line regions do not match libcst's statements: generate the whole module instead."""


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", None)
    return min([node.lineno, *(d.lineno for d in decorators)]) if decorators else node.lineno


def _align(stmts: Sequence[cst.BaseStatement], std: Sequence[ast.stmt]) -> list[tuple[int, ast.stmt]]:
    """(first line with leading comments/blank lines, first ast statement) of each libcst statement."""
    out: list[tuple[int, ast.stmt]] = []
    i = 0
    for stmt in stmts:
        if i >= len(std):
            raise _Mismatch
        # every BaseStatement is one of these two; both carry the comments/blank lines above it
        assert isinstance(stmt, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
        out.append((_first_line(std[i]) - len(stmt.leading_lines), std[i]))
        i += len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
    if i != len(std):
        raise _Mismatch
    return out


class _Splicer:
    def __init__(self, module: cst.Module, lines: list[bytes], encoding: str,
                 replaced: Mapping[int, cst.CSTNode]) -> None:
        self.module = module
        self.lines = lines
        self.encoding = encoding
        self.replaced = replaced

    def text(self, start: int, stop: int) -> bytes:
        """Lines start..stop-1 (1-based)."""
        return b"".join(self.lines[start - 1: stop - 1])

    def generate(self, node: cst.CSTNode, indents: list[str]) -> bytes:
        state = CodegenState(default_indent=self.module.default_indent,
                             default_newline=self.module.default_newline, indent_tokens=list(indents))
        node._codegen(state)
        return "".join(state.tokens).encode(self.encoding)

    def block(self, old: Sequence[cst.BaseStatement], new: Sequence[cst.BaseStatement], std: Sequence[ast.stmt],
              end: int, indents: list[str]) -> bytes:
        """The statements `new` (an edit of `old`, whose text ends before line `end`)."""
        aligned = _align(old, std)
        bounds = [start for start, _ in aligned] + [end]
        if any(a > b for a, b in zip(bounds, bounds[1:])):
            raise _Mismatch
        position = {id(s): k for k, s in enumerate(old)}
        kept = {position[id(s)] for s in new if id(s) in position}
        in_new = {id(s) for s in new}
        edited = {k: self.replaced[id(s)] for k, s in enumerate(old)
                  if k not in kept and id(s) in self.replaced and id(self.replaced[id(s)]) in in_new}
        out: list[bytes] = []
        for stmt in new:
            k = position.get(id(stmt))
            if k is not None:
                out.append(self.text(bounds[k], bounds[k + 1]))
                continue
            k = next((j for j, s in edited.items() if s is stmt), None)
            if k is not None:
                out.append(self.nested(old[k], stmt, aligned[k][1], bounds[k], bounds[k + 1], indents))
            else:
                out.append(self.generate(stmt, indents))
        for k, stmt in enumerate(old):
            if k not in kept and k not in edited and self.generate(stmt, indents) != self.text(bounds[k], bounds[k + 1]):
                raise _Mismatch
        return b"".join(out)

    def decorators(self, fn: cst.FunctionDef, indents: list[str]) -> bytes:
        """The decorator lines of `fn` and the lines between them and the `def`."""
        state = CodegenState(default_indent=self.module.default_indent,
                             default_newline=self.module.default_newline, indent_tokens=list(indents))
        for d in fn.decorators:
            d._codegen(state)
        for line in fn.lines_after_decorators:
            line._codegen(state)
        return "".join(state.tokens).encode(self.encoding)

    def nested(self, old: cst.BaseStatement, new: cst.BaseStatement, std: ast.stmt, start: int, stop: int,
               indents: list[str]) -> bytes:
        """`new` replacing `old` (lines start..stop-1): one level down when only its body changed."""
        if (isinstance(old, cst.FunctionDef) and isinstance(new, cst.FunctionDef)
                and isinstance(std, (ast.FunctionDef, ast.AsyncFunctionDef))
                and all(getattr(old, f.name) is getattr(new, f.name) for f in dataclasses.fields(old)
                        if f.name not in ("decorators", "lines_after_decorators"))):
            # only the decorators changed (the common edit): generate those lines, copy the def
            head = start + len(old.leading_lines)
            if self.decorators(old, indents) != self.text(head, std.lineno):
                raise _Mismatch
            return self.text(start, head) + self.decorators(new, indents) + self.text(std.lineno, stop)
        same_head = (
            isinstance(old, (cst.ClassDef, cst.FunctionDef, cst.If, cst.With)) and isinstance(new, type(old))
            and isinstance(old.body, cst.IndentedBlock) and isinstance(new.body, cst.IndentedBlock)
            and all(getattr(old, f.name) is getattr(new, f.name) for f in dataclasses.fields(old) if f.name != "body")
            and all(getattr(old.body, f.name) is getattr(new.body, f.name)
                    for f in dataclasses.fields(old.body) if f.name != "body")
            and (isinstance(std, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                 # a `with` (mcp's tests define handlers in `async with` blocks), an `if` without
                 # `else`: the body runs to the end of the region
                 or (isinstance(std, (ast.With, ast.AsyncWith)) and isinstance(old, cst.With))
                 or (isinstance(std, ast.If) and isinstance(old, cst.If) and old.orelse is None and not std.orelse))
        )
        if not same_head:
            # the region is trusted only if it is exactly what libcst makes of the original
            if self.generate(old, indents) != self.text(start, stop):
                raise _Mismatch
            return self.generate(new, indents)
        assert isinstance(old, (cst.ClassDef, cst.FunctionDef, cst.If, cst.With))
        assert isinstance(new, (cst.ClassDef, cst.FunctionDef, cst.If, cst.With))
        assert isinstance(old.body, cst.IndentedBlock) and isinstance(new.body, cst.IndentedBlock)
        assert isinstance(std, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef, ast.If, ast.With, ast.AsyncWith))
        inner = [*indents, old.body.indent if old.body.indent is not None else self.module.default_indent]
        body_end = stop - len(old.body.footer)
        first = _align(old.body.body, std.body)[0][0]
        return self.text(start, first) + self.block(old.body.body, new.body.body, std.body, body_end, inner) \
            + self.text(body_end, stop)


def splice(source: bytes | str, old: cst.Module, new: cst.Module, tree: ast.Module | None,
           replaced: Mapping[int, cst.CSTNode] | None = None) -> bytes | str | None:
    """`new` as source text (the type of `source`), or None when the regions cannot be trusted."""
    if tree is None or new.header is not old.header or new.footer is not old.footer or not old.body:
        return None
    is_bytes = isinstance(source, bytes)
    data = source if isinstance(source, bytes) else source.encode("utf-8")
    # a byte order mark belongs to the file, not to its first line: a statement inserted at the top
    # must not push it into the middle of the file (where Python rejects U+FEFF)
    bom = _BOM if data.startswith(_BOM) else b""
    lines = _LINES.findall(data[len(bom):])
    splicer = _Splicer(old, lines, old.encoding if is_bytes else "utf-8", replaced or {})
    end = len(lines) - len(old.footer) + 1
    try:
        first = _align(old.body, tree.body)[0][0]
        if first < 1:
            return None
        body = splicer.block(old.body, new.body, tree.body, end, [])
    except (_Mismatch, RecursionError):
        return None
    result = bom + splicer.text(1, first) + body + splicer.text(end, len(lines) + 1)
    return result if is_bytes else result.decode("utf-8")


_NEWLINE = re.compile(rb"(?:\r\n|\r|\n)\Z")
_INDENT = re.compile(rb"[ \t]*")


def reduce_source(source: bytes | str, tree: ast.Module, keep_lines: Iterable[int],
                  lines: Sequence[bytes] | None = None) -> bytes | str | None:
    """`source` with what no edit can touch cut down to stand-ins, or None when nothing would be cut:
    every def and class that holds none of `keep_lines` (at the top level, in a class that holds
    one, in top-level `if`/`try`/`with`/loop blocks that hold none and in top-level `if` blocks
    without `else` that hold some), and the body of each def whose own line is kept (when no
    other kept line is inside it). In a def around a kept line (a test's local handler), each
    statement of three lines or more that holds no def has a stand-in that binds the names it
    bound (`a = b = \"\"\"`...`\"\"\"`): the decorator is spelled with a name no enclosing scope binds.

    A stand-in spans the same lines as what it replaces (`def name(): \"\"\"` ... `\"\"\"`: one
    string token, where blank lines would cost libcst a node each), so line numbers, the scan's
    included, keep meaning the same. libcst then parses only what an edit can touch; `splice`
    copies every untouched line from the original, and checks each generated region against it, so
    a stand-in can never reach the output (if an edit reaches one, the splice fails and the caller
    parses the whole file).
    """
    keep = sorted(set(keep_lines))
    lines = list(lines) if lines is not None else source_lines(source)  # `source_lines(source)`, copied: cut here
    cut = False

    def held(first: int, last: int) -> list[int]:
        return [k for k in keep if first <= k <= last]

    def stand_in(first: int, last: int, head: bytes) -> None:
        """Lines first..last (1-based) become `head` + an empty string spanning them."""
        nonlocal cut
        nl = _NEWLINE.search(lines[last - 1]) if last - first >= 2 and last <= len(lines) else None
        if nl is None:
            return
        lines[first - 1] = head + b'"""' + nl.group()
        for i in range(first, last - 1):
            lines[i] = nl.group()
        lines[last - 1] = b'"""' + nl.group()
        cut = True

    def indent(line: int) -> bytes:
        found = _INDENT.match(lines[line - 1])
        return found.group() if found else b""

    def cut_body(node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """The body of a kept def: only its decorators and header are ever edited."""
        first, last = _first_line(node.body[0]), node.end_lineno or node.lineno
        start = indent(first)
        # the body must start a line of its own (not `def f(): return 1`)
        if first > node.lineno and len(start) == node.body[0].col_offset and len(start) > node.col_offset:
            stand_in(first, last, start)

    def whole_lines(node: ast.stmt, first: int, last: int) -> bool:
        """Whether `node` has lines first..last to itself (no `a = 1; b = f(` before it on its first
        line, nothing but a comment after it on its last)."""
        head, tail = lines[first - 1][:node.col_offset], lines[last - 1][node.end_col_offset or 0:]
        return not head.strip() and (not tail.strip() or tail.lstrip().startswith(b"#"))

    def cut_enclosing(body: list[ast.stmt]) -> None:
        """The body of a function around a target: its defs as in a class, each other statement
        that holds no def and no kept line as a stand-in binding the same names (the names
        enclosing scopes bind decide how the decorator is spelled); a block holding a def is cut
        inside, and so is a `with` or an `if` without `else` on the way to a target."""
        for node in body:
            first, last = _first_line(node), node.end_lineno or node.lineno
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                cut_down([node], False)
            elif held(first, last):
                # on the way to a target: the splice goes down into a def, a class, a `with` or an
                # `if` without `else` only, and generates anything else whole (a stand-in there
                # would send the file back to a whole parse)
                if isinstance(node, (ast.With, ast.AsyncWith)) or isinstance(node, ast.If) and not node.orelse:
                    cut_enclosing(node.body)
            elif any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.walk(node)):
                if isinstance(node, (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)):
                    for block in _blocks(node):  # copied whole by the splice: its defs need their names only
                        cut_enclosing(block)
            elif not isinstance(node, (ast.Global, ast.Nonlocal)) and whole_lines(node, first, last):
                names = sorted(statement_bindings(node))
                if all(n.isascii() for n in names):
                    stand_in(first, last, indent(first) + "".join(f"{n} = " for n in names).encode("ascii"))

    def cut_down(body: list[ast.stmt], top: bool) -> None:
        for node in body:
            first, last = _first_line(node), node.end_lineno or node.lineno
            inside = held(first, last)
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if top and not inside and isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                    # copied whole by the splice: the defs in it only need their names
                    for block in _blocks(node):
                        cut_down(block, top)
                elif top and isinstance(node, ast.If) and not node.orelse:
                    # `if AVAILABLE:` around a module's API: the splice goes one level down there
                    cut_down(node.body, top)
                continue
            if not node.name.isascii():
                continue
            if inside:
                if isinstance(node, ast.ClassDef):
                    cut_down(node.body, False)  # the other methods of a class holding a target
                elif inside == [node.lineno]:
                    cut_body(node)
                else:
                    cut_enclosing(node.body)  # a function around a target (a test's local handler)
                continue
            stand = f"class {node.name}: " if isinstance(node, ast.ClassDef) else f"def {node.name}(): "
            stand_in(first, last, indent(first) + stand.encode("ascii"))

    cut_down(tree.body, True)
    if not cut:
        return None
    out = b"".join(lines)
    return out if isinstance(source, bytes) else out.decode("utf-8")


def _blocks(node: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists of a compound statement."""
    out = [getattr(node, "body", []), getattr(node, "orelse", []), getattr(node, "finalbody", [])]
    out.extend(h.body for h in getattr(node, "handlers", []))
    return [b for b in out if b]
