"""Parse a user's file safely: every parse of user code (ast or libcst) goes through here.

Python's own parser refuses pathological input with an exception (more than 200 nested brackets,
expressions too deep for its recursion limit). libcst's native parser does not: on 2,000 nested
parentheses it overflows the C stack and kills the process (exit 139, no output). So:

- `parse_ast` runs `ast.parse`; only when that fails on syntax newer than the running interpreter
  (`type X = ...`, `def f[T]()`, PEP 695) is libcst asked, to rewrite those statements into older
  syntax on the same lines.
- `parse_cst` hands libcst only what `ast` accepted (or that PEP 695 case, after the bracket depth
  was checked against CPython's own limit), and runs it on a thread with a large stack as a second
  guard. Measured: libcst parses the deepest inputs `ast` accepts (about 3,000 nested unary
  operators, calls or conditional expressions; 200 brackets) on an 8 MB stack.

Every failure is an `UnparsableSource` whose message is the one-line reason shown to the user.
"""

from __future__ import annotations

import ast
import re
import threading
from typing import Any, Callable, TypeVar

__all__ = ["UnparsableSource", "decode_source", "parse_ast", "parse_ast_noting_rewrite", "parse_cst", "parse_cst_expression", "run_deep",
           "MAX_BRACKET_DEPTH", "is_type_checking"]

MAX_BRACKET_DEPTH = 200
"""CPython's tokenizer limit (MAXLEVEL): deeper nesting is a syntax error for the interpreter too."""

_CST_STACK_BYTES = 256 * 1024 * 1024  # virtual; only the pages a parse touches are committed
# compiled on first use (re's cache): a warm `check` never uses it
_NEW_SYNTAX = rb"(?m)^[ \t]*type[ \t]+\w+|\b(?:def|class)[ \t]+\w+[ \t]*\["

T = TypeVar("T")


class UnparsableSource(ValueError):
    """The file cannot be parsed; the message is the reason shown to the user (no path)."""


def decode_source(data: bytes) -> str:
    """Source bytes -> text: UTF-8 (with or without BOM), or a PEP 263 coding cookie."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        import io
        import tokenize

        try:
            enc, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError:
            enc = "utf-8"
        if enc in ("utf-8", "utf-8-sig"):
            raise UnparsableSource(f"not valid UTF-8 (byte {exc.start}: {exc.reason}) and no coding declaration") from None
        try:
            return data.decode(enc)
        except (UnicodeDecodeError, LookupError) as exc2:
            raise UnparsableSource(f"cannot decode as declared {enc}: {exc2}") from None
    return text[1:] if text.startswith("\ufeff") else text


def _text(source: str | bytes) -> str:
    return decode_source(source) if isinstance(source, bytes) else source


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {col}"


def _reason(exc: BaseException, text: str) -> str:
    """A one-line reason for a failed `ast.parse`, never with `None` positions or an empty tail."""
    nul = text.find("\x00")
    if nul != -1 and (isinstance(exc, ValueError) or "null bytes" in str(exc)):
        return f"contains a NUL byte at {_position(text, nul)} (not Python source)"
    if isinstance(exc, SyntaxError):
        msg = exc.msg or "invalid syntax"
        if exc.lineno is None:
            return f"syntax error: {msg}"
        if exc.offset is None:
            return f"syntax error at line {exc.lineno}: {msg}"
        return f"syntax error at line {exc.lineno}, column {exc.offset}: {msg}"
    if isinstance(exc, (RecursionError, MemoryError)):
        detail = str(exc) or type(exc).__name__
        return f"an expression is too long or too deeply nested for Python's parser ({detail})"
    return f"cannot parse ({type(exc).__name__}: {exc})" if str(exc) else f"cannot parse ({type(exc).__name__})"


def _bracket_depth_ok(text: str) -> bool:
    """No more than MAX_BRACKET_DEPTH nested brackets outside strings and comments (tokenize)."""
    import io
    import tokenize

    depth = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.OP:
                if tok.string in "([{":
                    depth += 1
                    if depth > MAX_BRACKET_DEPTH:
                        return False
                elif tok.string in ")]}":
                    depth -= 1
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # libcst reports these itself; the depth seen so far is within bounds
    return True


def _on_big_stack(fn: Callable[[], T]) -> T:
    """Run `fn` on a thread with a large stack (native parsers recurse on the C stack)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised on the caller's thread
            box["error"] = exc

    try:
        old = threading.stack_size(_CST_STACK_BYTES)
    except (ValueError, RuntimeError):  # platform without settable stacks: the ast guard still holds
        return fn()
    try:
        worker = threading.Thread(target=run, name="distilgen-parse", daemon=True)
        try:
            worker.start()
        except RuntimeError:  # no memory for the stack (strict overcommit): parse here
            return fn()
    finally:
        threading.stack_size(old)
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


_DEEP_RECURSION_LIMIT = 20_000  # ~13 KB of the big stack per frame: far more than a frame takes


def run_deep(fn: Callable[[], T]) -> T:
    """Run `fn` (a libcst visit or code generation over a tree `parse_cst` returned) on the big
    stack with a higher recursion limit: libcst's visitors recurse in Python, so a file `ast`
    accepts (a sum of 1,500 terms) can exceed the default limit of 1,000. Still raises
    RecursionError beyond that; the caller reports the file."""
    import sys

    def run() -> T:
        if threading.current_thread().name != "distilgen-parse":
            return fn()  # no big stack on this platform: the default limit is the safe one
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, _DEEP_RECURSION_LIMIT))
        try:
            return fn()
        finally:
            sys.setrecursionlimit(old)

    return _on_big_stack(run)


def _libcst(source: str | bytes) -> Any:
    import libcst as cst

    def parse() -> Any:
        try:
            return cst.parse_module(source)
        except cst.ParserSyntaxError as exc:
            raise UnparsableSource(f"syntax error at line {exc.raw_line}, column {exc.raw_column + 1}: "
                                   f"{str(exc.message).splitlines()[0] if exc.message else 'invalid syntax'}") from None
        except (RecursionError, MemoryError) as exc:
            raise UnparsableSource(_reason(exc, "")) from None
        except Exception as exc:  # libcst raises a few other types on odd input
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UnparsableSource(f"cannot parse: {first}") from None

    return _on_big_stack(parse)


def _check(text: str, filename: str) -> ast.Module | None:
    """`ast.parse`, or None when the only problem may be syntax newer than this interpreter."""
    try:
        return ast.parse(text, filename)
    except SyntaxError as exc:
        if "\x00" not in text and re.search(_NEW_SYNTAX, text.encode("utf-8", "surrogatepass")) and _bracket_depth_ok(text):
            return None
        raise UnparsableSource(_reason(exc, text)) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise UnparsableSource(_reason(exc, text)) from None


def parse_cst(source: str | bytes, filename: str = "<unknown>", *, checked: bool = False) -> Any:
    """`libcst.parse_module(source)` (bytes keep their encoding exactly), never on input that could
    crash the native parser. Raises UnparsableSource. `checked`: the caller's own `ast.parse` of
    this very source succeeded (a second one here would cost as much again)."""
    if checked:
        return _libcst(source)
    text = _text(source)
    if _check(text, filename) is not None:
        return _libcst(source)
    try:
        return _libcst(source)
    except UnparsableSource:
        _raise_ast_reason(text, filename)  # the interpreter's message is the more familiar one
        raise


def parse_cst_expression(text: str) -> Any:
    """`libcst.parse_expression(text)` for an expression taken from a user's file (a string
    annotation): only once `ast` accepted it, on the big stack. Raises UnparsableSource."""
    import libcst as cst

    try:
        ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise UnparsableSource(_reason(exc, text)) from None

    def parse() -> Any:
        try:
            return cst.parse_expression(text)
        except Exception as exc:  # ParserSyntaxError, RecursionError and the odd other type
            raise UnparsableSource(f"cannot parse: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None

    return _on_big_stack(parse)


def _raise_ast_reason(text: str, filename: str) -> None:
    try:
        ast.parse(text, filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise UnparsableSource(_reason(exc, text)) from None


def parse_ast(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse`, also of files using syntax newer than the running interpreter (rewritten by
    libcst on the same lines, so positions stay exact). Raises UnparsableSource."""
    return parse_ast_noting_rewrite(source, filename)[0]


def parse_ast_noting_rewrite(source: str | bytes, filename: str = "<unknown>") -> tuple[ast.Module, bool]:
    """`parse_ast`, and whether the text had to be rewritten first (then a line's columns may
    differ from the file's)."""
    text = _text(source)
    tree = _check(text, filename)
    if tree is not None:
        return tree, False
    try:
        rewritten = _rewrite_new_syntax(_libcst(text))
        return ast.parse(rewritten, filename), True
    except (UnparsableSource, SyntaxError, ValueError, RecursionError, MemoryError):
        _raise_ast_reason(text, filename)
        raise


def _rewrite_new_syntax(module: Any) -> str:
    """Python >= 3.12 syntax (`type X = M`, `def f[T]`) -> equivalent older syntax, same lines."""
    import libcst as cst

    class Rewrite(cst.CSTTransformer):
        def leave_TypeAlias(self, original: Any, updated: Any) -> Any:
            return cst.Assign(targets=[cst.AssignTarget(target=updated.name)], value=updated.value,
                              semicolon=updated.semicolon)

        def leave_FunctionDef(self, original: Any, updated: Any) -> Any:
            return updated.with_changes(type_parameters=None, whitespace_after_type_parameters=cst.SimpleWhitespace(""))

        def leave_ClassDef(self, original: Any, updated: Any) -> Any:
            return updated.with_changes(type_parameters=None, whitespace_after_type_parameters=cst.SimpleWhitespace(""))

    return str(_on_big_stack(lambda: module.visit(Rewrite()).code))


def is_type_checking(dotted: str | None) -> bool:
    """Whether an `if` test spelled `dotted` is the TYPE_CHECKING guard (`TYPE_CHECKING`,
    `typing.TYPE_CHECKING`, `t.TYPE_CHECKING`, `typing_extensions.TYPE_CHECKING`, ...). THE rule: the
    scan's index and the codemods (`codemods/names.py`) must read one file's imports alike."""
    return dotted is not None and dotted.rsplit(".", 1)[-1] == "TYPE_CHECKING"
