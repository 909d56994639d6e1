"""Everything fixed about one distilled function at decoration time: `FunctionSpec`.

Built once per function (not per call): the return model, the kind of callable, the prompt from
the function's source (through the shared renderer, or the lock file when it has an entry), the
tool schema. Errors name the function and what was found.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

from .. import _ast_parse
from .._instance_use import instance_use
from ..contracts import FunctionKind, ToolSchema
from ..errors import DecorationError, DistilgenError
from ..prompts._schema_worker import object_schema_problem
from ..prompts.render import fingerprint as make_fingerprint
from ..prompts.render import render_prompt
from ..prompts.source import FunctionSource, function_source
from . import formats

__all__ = ["FunctionSpec", "build_spec", "resolve_return_model", "UnresolvedAnnotation", "function_kind"]


@dataclass(frozen=True)
class FunctionSpec:
    function_id: str
    module: str
    qualname: str
    name: str
    """The callee as the user message spells it: `fn`, `Catalog.summarise`."""
    kind: FunctionKind
    is_async: bool
    return_model: type[BaseModel]
    tool_name: str
    tool_description: str
    schema: dict[str, Any]
    """The return model's full JSON schema: validates answers, recorded in the lock."""
    parameters: dict[str, Any] | None
    """What the tool declaration in training lines and requests carries (see formats.TOOL_SCHEMAS)."""
    source: FunctionSource
    prompt: str
    fingerprint: str
    rendered_fingerprint: str
    """Fingerprint of the prompt rendered from the current source (differs from `fingerprint`
    when the lock pins an older prompt)."""
    signature: inspect.Signature = field(compare=False)
    source_path: str | None = None
    positional: tuple[str, ...] = ()
    """The names of the arguments `callee` leaves in the call, by position: what an unrenderable
    argument's message names (`argument bounds[2]`, not `args[1]`)."""

    def callee(self, args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        """The name to render and the arguments that belong in the call (self/cls removed)."""
        if self.kind == "model_method":
            from .calls import render_value

            return f"{render_value(args[0])}.{self.name}", args[1:]
        if self.kind == "classmethod":
            cls = args[0] if args else None
            owner = self.qualname.rsplit(".", 1)[0]
            if isinstance(cls, type) and (cls.__qualname__ != owner or cls.__module__ != self.module):
                # `Flow.definition()` for `Billing.definition()`: one call text, one answer per
                # subclass (crewai's flows, gradio's `FileData.from_json`, wave 4)
                raise SubclassCall(f"called on {cls.__qualname__}, not on {owner}: the call `{self.name}(...)` "
                                   f"cannot say which class it was made on")
            return self.name, args[1:]
        if self.kind == "selfless_method":  # `Cls.method(...)`: its body never reads the instance
            return self.name, args[1:]
        return self.name, args


class SubclassCall(DistilgenError, TypeError):
    """A classmethod called through a subclass: the call text names the defining class only, so it
    is neither captured (its answer is the subclass's) nor dispatched (the answer would be validated
    as the defining class)."""


def _decorator_names(src_text: str) -> set[str]:
    try:
        tree = _ast_parse.parse(textwrap.dedent(src_text))
    except SyntaxError:
        return set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = set()
            for d in node.decorator_list:
                target = d.func if isinstance(d, ast.Call) else d
                if isinstance(target, ast.Name):
                    names.add(target.id)
                elif isinstance(target, ast.Attribute):
                    names.add(target.attr)
            return names
    return set()


def _in_class(qualname: str) -> bool:
    parts = qualname.split(".")
    return len(parts) >= 2 and parts[-2] != "<locals>"


def _class_bases_from_frame(class_qualname: str) -> tuple[list[Any], list[Any]] | None:
    """(bases, decorators) of the class `class_qualname` whose body is executing up the stack,
    or None when unknown. A called decorator (`@dataclass(kw_only=True)`) is given as what it
    calls (`dataclass`).

    At decoration time a method's class does not exist yet; its bases and decorators do. We read
    the class header from the source and evaluate those expressions where the class statement runs.
    """
    frame = sys._getframe(1)
    while frame is not None and frame.f_locals.get("__qualname__") != class_qualname:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None or "__module__" not in frame.f_locals or frame.f_back is None:
        return None
    import linecache

    lines = linecache.getlines(frame.f_code.co_filename)
    start = frame.f_code.co_firstlineno - 1
    header = ""
    for line in lines[start : start + 50]:
        header += line
        stripped = textwrap.dedent(header)
        if not stripped.lstrip().startswith(("class ", "@")):
            continue
        try:
            tree = _ast_parse.parse(stripped + "\n    pass\n" if stripped.rstrip().endswith(":") else stripped)
        except SyntaxError:
            continue
        node = tree.body[0] if tree.body else None
        if isinstance(node, ast.ClassDef):
            try:
                outer = frame.f_back
                bases = [eval(_ast_parse.compile_ast(ast.Expression(b), "<bases>", "eval"), outer.f_globals, outer.f_locals) for b in node.bases]
                decorators = [eval(_ast_parse.compile_ast(ast.Expression(d.func if isinstance(d, ast.Call) else d),
                                                          "<decorators>", "eval"), outer.f_globals, outer.f_locals)
                              for d in node.decorator_list]
                return bases, decorators
            except Exception:
                return None
    return None


def function_kind(fn: Callable[..., Any], src_text: str | None, class_depth: int) -> FunctionKind:
    decorators = _decorator_names(src_text) if src_text else set()
    if "staticmethod" in decorators:
        return "staticmethod"
    if "classmethod" in decorators:
        return "classmethod"
    if not _in_class(fn.__qualname__):
        return "function"
    params = list(inspect.signature(fn).parameters)
    first = params[0] if params else None
    if first == "cls":
        return "classmethod"
    if first != "self":
        return "staticmethod"
    header = _class_bases_from_frame(fn.__qualname__.rsplit(".", 1)[0])
    if header is not None and any(d in _dataclass_makers() for d in header[1]):
        # a dataclass's method: its instance is written into the call, as a model's is (wave 10:
        # hera's `Parameter.as_input()`); a field no call can write skips the call at capture
        return "model_method"
    bases = header[0] if header is not None else None
    if bases is not None and not any(isinstance(b, type) and issubclass(b, BaseModel) for b in bases):
        used = _instance_used(src_text)
        if used is None:
            # its body never reads its instance: a function of its other arguments, written
            # `Cls.method(...)` (wave 11: python-on-whales' `_parse_json_object(self, json_object)`)
            return "selfless_method"
        names = ", ".join(getattr(b, "__name__", repr(b)) for b in bases) or "object"
        raise DecorationError(
            f"{fn.__module__}:{fn.__qualname__}: an instance method of a class that is not a pydantic model "
            f"(bases: {names}) whose body reads {used}; its result depends on state the call does not show. "
            f"Distil a function, a staticmethod/classmethod, a method of a BaseModel subclass, or a method "
            f"whose body never uses self"
        )
    return "model_method"


def _dataclass_makers() -> tuple[Any, ...]:
    """The decorators that make a class a dataclass the renderer writes by its fields."""
    import dataclasses

    import pydantic.dataclasses

    return (dataclasses.dataclass, pydantic.dataclasses.dataclass)


def _instance_used(src_text: str | None) -> str | None:
    """What the def's body reads of its instance (`self`, `super`, `__class__`), as the scan
    reads it (`distilgen._instance_use`); "its instance" when the source cannot be read."""
    if not src_text:
        return "its instance (its source could not be read)"
    try:
        tree = _ast_parse.parse(textwrap.dedent(src_text))
    except SyntaxError:
        return "its instance (its source could not be parsed)"
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return instance_use(node)
    return "its instance (no def in its source)"


class _OneAnnotation:
    """Stands in for a function with a single annotation, so `get_type_hints` resolves just that one."""

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.__annotations__ = {name: fn.__annotations__[name]}
        self.__globals__ = getattr(inspect.unwrap(fn), "__globals__", {})


def resolve_annotation(fn: Callable[..., Any], name: str, *, include_extras: bool = False) -> Any:
    """The evaluated annotation of one parameter (or `"return"`); raises what evaluating it raises."""
    return typing.get_type_hints(_OneAnnotation(fn, name), include_extras=include_extras)[name]


def parameter_hints(fn: Callable[..., Any], *, include_extras: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """Each parameter's annotation resolved on its own: (resolved hints, {name: why it failed}).

    `typing.get_type_hints(fn)` fails as a whole when one hint names a class imported only under
    `if TYPE_CHECKING:`; here only that parameter is missing, and the caller can say which.
    """
    hints: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for name in getattr(fn, "__annotations__", {}):
        if name == "return":
            continue
        try:
            hints[name] = resolve_annotation(fn, name, include_extras=include_extras)
        except Exception as exc:  # NameError mostly; any error is the annotation's own problem
            failed[name] = f"{exc.__class__.__name__}: {exc}"
    return hints, failed


class UnresolvedAnnotation(DecorationError):
    """Evaluating the return annotation failed, perhaps only for now: at decoration time the
    module that defines the model may still be importing (a name not bound yet, or
    `pkg.Model` while `pkg` is partly initialised in a circular import), so the decorator
    retries at the first call instead of breaking the import of working code."""


def resolve_return_model(fn: Callable[..., Any]) -> type[BaseModel]:
    """The function's return annotation as a BaseModel subclass, or a DecorationError saying why
    not (`UnresolvedAnnotation` when the annotation could not be evaluated)."""
    where = f"{fn.__module__}:{fn.__qualname__}"
    if "return" not in getattr(fn, "__annotations__", {}):
        raise DecorationError(f"{where}: has no return annotation; annotate it with a pydantic BaseModel subclass")
    try:
        # the return annotation on its own: a parameter hint imported only under TYPE_CHECKING
        # must not stop capture (the runtime never needs parameter types)
        rt = resolve_annotation(fn, "return")
    except Exception as exc:  # NameError, AttributeError of a partly imported module, ...
        raise UnresolvedAnnotation(f"{where}: cannot resolve the return annotation: {exc}") from None
    if repr(rt) in ("typing.Self", "typing_extensions.Self"):
        rt = _self_class(fn, where)
    if isinstance(rt, type) and issubclass(rt, BaseModel):
        return rt
    origin = typing.get_origin(rt)
    if origin is not None:
        raise DecorationError(
            f"{where}: returns {rt!r}, a wrapped type; distil needs the return annotation to be a "
            f"pydantic BaseModel subclass itself (wrap the list/optional in a model)"
        )
    raise DecorationError(f"{where}: returns {rt!r}, which is not a pydantic BaseModel subclass")


def _self_class(fn: Callable[..., Any], where: str) -> Any:
    """The class `-> Self` names: the one the method is defined in (a call through a subclass is
    refused: `SubclassCall`). While its class statement still runs (decoration), not yet built:
    resolved again at the first call."""
    path = fn.__qualname__.split(".")[:-1]
    if not path or "<locals>" in path:
        raise DecorationError(f"{where}: returns Self outside a class defined at module level; "
                              "annotate it with the model class itself")
    obj: Any = sys.modules.get(fn.__module__)
    for part in path:
        obj = getattr(obj, part, None)
    if obj is None:
        raise UnresolvedAnnotation(f"{where}: returns Self, and {'.'.join(path)} is not built yet")
    return obj


class _Spelled(str):
    """An annotation already spelled as source text (inspect prints it without quotes)."""

    def __repr__(self) -> str:
        return str(self)


def _fallback_source(fn: Callable[..., Any]) -> str:
    # no source file (REPL, exec): synthesise the def line from the live signature
    def spell(ann: Any) -> Any:
        # types as a person writes them (`Multiply`, not `__main__.Multiply`)
        if ann is inspect.Parameter.empty:
            return ann
        if isinstance(ann, str):
            return _Spelled(ann)
        if isinstance(ann, type):
            return _Spelled(ann.__qualname__)
        return _Spelled(re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*)", "", repr(ann)))

    raw = inspect.signature(fn)
    sig = raw.replace(
        parameters=[p.replace(annotation=spell(p.annotation)) for p in raw.parameters.values()],
        return_annotation=spell(raw.return_annotation),
    )
    prefix = "async def" if inspect.iscoroutinefunction(fn) else "def"
    doc = inspect.getdoc(fn)
    body = f'    """{doc}"""\n' if doc else ""
    return f"{prefix} {fn.__name__}{sig}:\n{body}    ...\n"


def _locked(function_id: str, lock_path: Path | None) -> Any:
    """The lock file's entry for this function, when the lock layer and a lock file exist."""
    if lock_path is None:
        return None
    try:
        from ..prompts.lock import locked_prompt
    except ImportError:
        return None
    return locked_prompt(function_id, lock_path)


def build_spec(
    fn: Callable[..., Any],
    *,
    kind: FunctionKind,
    return_model: type[BaseModel],
    src_text: str | None,
    include_body: bool,
    function_id: str | None = None,
    lock_path: Path | None = None,
    tool_schema: ToolSchema = "compact",
    call_name: str | None = None,
) -> FunctionSpec:
    module = fn.__module__
    qualname = fn.__qualname__
    fid = function_id or f"{module}:{qualname}"
    src = function_source(src_text if src_text else _fallback_source(fn))
    try:
        schema = formats.tool_schema(return_model)
    except Exception as exc:  # pydantic's PydanticInvalidForJsonSchema and kin: refused for good, not rebuilt each call
        first = str(exc).splitlines()
        raise DecorationError(f"{fid}: returns {return_model.__name__}, which has no JSON schema ({type(exc).__name__}: "
                              f"{first[0] if first else ''}): it cannot be a tool call's answer") from None
    problem = object_schema_problem(return_model, schema)
    if problem is not None:  # RootModel[str]: the tool call's arguments would be a bare string
        raise DecorationError(f"{fid}: {problem}")
    rendered = render_prompt(src, return_model.__name__, include_body=include_body)
    rendered_fp = make_fingerprint(rendered, schema)
    prompt, fp = rendered, rendered_fp
    entry = _locked(fid, lock_path)
    if entry is not None:
        prompt, fp = entry.prompt, entry.fingerprint
    if call_name:  # distil(name=...): the user message says `Return call_name(...)`, as instructor's does
        name = call_name
    elif kind in ("staticmethod", "classmethod", "selfless_method"):
        name = ".".join(p for p in qualname.split(".") if p != "<locals>")
        name = ".".join(name.split(".")[-2:])
    else:
        name = fn.__name__
    try:
        source_path = inspect.getsourcefile(fn)
    except TypeError:
        source_path = None
    signature = inspect.signature(fn)
    return FunctionSpec(
        function_id=fid,
        module=module,
        qualname=qualname,
        name=name,
        kind=kind,
        is_async=inspect.iscoroutinefunction(fn),
        return_model=return_model,
        tool_name=return_model.__name__,
        tool_description=formats.tool_description(return_model),
        schema=schema,
        parameters=formats.declared_parameters(schema, tool_schema),
        source=src,
        prompt=prompt,
        fingerprint=fp,
        rendered_fingerprint=rendered_fp,
        signature=signature,
        source_path=source_path,
        positional=_positional(signature, kind),
    )


def _positional(signature: inspect.Signature, kind: str) -> tuple[str, ...]:
    names = [p.name for p in signature.parameters.values()
             if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    return tuple(names[1:] if kind in ("model_method", "classmethod", "selfless_method") else names)  # self / cls
