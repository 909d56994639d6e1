"""Run by `distilgen prompts` under the PROJECT's interpreter: import the project, describe schemas.

Self-contained on purpose: it is copied into a temporary folder and run as a script by the
project's Python (its venv, not distilgen's), which needs only pydantic. It imports nothing from
distilgen; when the project itself imports distilgen (its `Instructions` module) and the project's
environment lacks it, the parent offers distilgen's own package at the END of sys.path. It owns
the schema compaction (`compact_schema`): `distilgen.runtime.formats` imports it from here, so the
runtime and this script cannot disagree and no arrow runs up the layers.

The fingerprint covers the return model's JSON schema, which only the model class knows. For each
target the cheapest import that answers is used: the module defining the return model (plus the
Instructions instance's module for `include_code_body`) when the scan could name both and the
decorator sets no `name=`; otherwise the function's own module, whose decorated function carries
the runtime's own answer in `__distil__`. A local function (`f.<locals>.g`) cannot be reached
from its module: its return annotation (`returns`, as written) is evaluated instead, first with
builtins only (`Page[None]`), then in its module's namespace (`Page[T]`), as the runtime would.

Input: a JSON file `{roots, fallback, preload, targets: [{key, module, qualname, model, instance,
light, named, function_id, returns}]}`; with `targets_file` instead of `targets`, the parent
started the child before its scan was done: it imports `preload` (the project's packages)
meanwhile, and reads the targets from that file once the parent closes stdin. Targets marked `new`
(about to be decorated) come first; once they are described, the answers so far go to `new_file`. Output: a JSON file mapping each key to `{function_id, tool, schema,
include_body}` or `{error, module, missing, kind, place}`; kind `schema` is a return model pydantic
cannot express as JSON schema, or whose values are not JSON objects (`RootModel[str]`): it cannot be
a tool call, `module` a missing import, `script` a
module outside any package that runs code when imported (never imported: see `_script_runs`).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
import traceback
import types
import typing
from typing import Any, Iterator


def compact_schema(node: Any, in_properties: bool = False) -> Any:
    """A model's JSON schema as tools carry it: every `title` dropped, except a property or
    definition that is itself called `title`. THE compaction: the runtime imports it from here."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "title" and not in_properties and isinstance(v, str):
                continue
            out[k] = compact_schema(v, in_properties=(k in ("properties", "$defs", "definitions")) and not in_properties)
        return out
    if isinstance(node, list):
        return [compact_schema(x) for x in node]
    return node


_QUIET: list[Any] = []


def quiet_json_schema(model: Any) -> Any:
    """`model.model_json_schema()`, without pydantic's `PydanticJsonSchemaWarning`s reaching the
    user's terminal (aiogram 3's `Default("parse_mode")` defaults: "Default value ... is not JSON
    serializable", and the `Default` member skipped from each union, two per field, wave 10). The
    schema is the same: pydantic leaves such a default out and the member out of the union either
    way; what this means for an answer is checked on each answer (`formats.UnwritableAnswer`). Done
    with a schema generator whose `emit_warning` keeps quiet, not `warnings.catch_warnings`, which
    changes the process's filters under other threads."""
    if not _QUIET:
        generator: Any = None
        try:
            from pydantic.json_schema import GenerateJsonSchema

            if hasattr(GenerateJsonSchema, "emit_warning"):
                class _QuietSchema(GenerateJsonSchema):
                    def emit_warning(self, kind: Any, detail: Any) -> None:
                        return None

                generator = _QuietSchema
        except Exception:  # noqa: BLE001 - an old or odd pydantic: its own default generator
            generator = None
        _QUIET.append(generator)
    generator = _QUIET[0]
    if generator is None:
        return model.model_json_schema()
    return model.model_json_schema(schema_generator=generator)


NOT_AN_OBJECT = "not an object: a tool call's arguments must be a JSON object"
"""The end of the refusal of a return model whose values are not JSON objects: the runtime's
`DecorationError` (`runtime/spec.py`) and this child's answer (kind `schema`) say the same."""

_KINDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
          "array": "an array", "null": "null"}


def _not_object(node: Any, defs: Any, depth: int = 0) -> str | None:
    """None when every value valid under schema `node` is a JSON object, else what it can be instead."""
    if not isinstance(node, dict) or depth > 50:
        return "any value"
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1]) if ref.startswith(("#/$defs/", "#/definitions/")) else None
        return _not_object(target, defs, depth + 1)
    kind = node.get("type")
    if isinstance(kind, str):
        return None if kind == "object" else _KINDS.get(kind, kind)
    if isinstance(kind, list):
        others = [k for k in kind if k != "object"]
        return None if not others else "a union that can be " + " or ".join(_KINDS.get(k, str(k)) for k in others)
    for key in ("anyOf", "oneOf"):
        branches = node.get(key)
        if isinstance(branches, list) and branches:
            for branch in branches:
                what = _not_object(branch, defs, depth + 1)
                if what is not None:
                    return f"a union that can be {what}"
            return None
    parts = node.get("allOf")
    if isinstance(parts, list) and parts:
        found = [_not_object(p, defs, depth + 1) for p in parts]
        return None if any(f is None for f in found) else found[0]
    if "enum" in node or "const" in node:
        return "a constant" if "const" in node else "one of fixed values"
    return "any value"


def object_schema_problem(model: Any, schema: Any) -> str | None:
    """None when the values of return model `model` (its compact JSON schema `schema`) are JSON
    objects, else why it cannot be a tool call's answer: `returns Identifier, a RootModel whose
    JSON schema is a string, not an object: ...`. A `RootModel[str]` dumps to a bare string: the
    line's arguments were `"hello-world"`, which `dataset validate` (and OpenAI) refuse, and
    dispatch declared a tool without parameters (phoenix's `Identifier`, wave 5). The runtime
    imports it from here, as `compact_schema`."""
    fields = getattr(model, "model_fields", None)
    root = any(c.__name__ == "RootModel" and c.__module__.startswith("pydantic") for c in getattr(model, "__mro__", ()))
    # not refused: a `@model_serializer` (pydantic-evals' `Dataset` writes another shape than its
    # fields), since every Fern-generated SDK's base model has one that keeps the shape (cohere,
    # langfuse, opik): it cannot be told from the class which, so capture checks each answer
    # (`formats.read_back`)
    if fields is not None and not fields and not root and not getattr(model, "model_config", {}).get("extra") == "allow":
        # `{}` whatever the call: what it holds is private (wave 7: beeai's AbortSignal)
        return (f"returns {model.__name__}, a model without fields: every answer would be {{}} "
                "(what it holds, if anything, is private)")
    defs = schema.get("$defs") or schema.get("definitions") or {} if isinstance(schema, dict) else {}
    what = _not_object(schema, defs)
    if what is not None:
        return f"returns {model.__name__}, {'a RootModel' if root else 'a model'} whose JSON schema is {what}, {NOT_AN_OBJECT}"
    secret = _secret_field(schema, defs)
    if secret is not None:
        # pydantic dumps a SecretStr as "**********": every answer would teach the mask, and dispatch
        # would hand it back as the secret (wave 8: prefect's `Secret` block)
        return (f"returns {model.__name__}, whose field {secret} is a secret (SecretStr or SecretBytes): its answer "
                'would be written masked as "**********", not its value')
    return None


def _is_secret(node: Any) -> bool:
    """A schema node of a pydantic secret (`SecretStr`, `SecretBytes`), alone or in a union."""
    if not isinstance(node, dict):
        return False
    if node.get("format") == "password" and node.get("writeOnly") is True:
        return True
    return any(_is_secret(b) for key in ("anyOf", "oneOf", "allOf") for b in node.get(key) or () if isinstance(b, dict))


def _secret_field(schema: Any, defs: Any) -> str | None:
    """The first field, in the model or in a model it holds (`Inner.key`), whose value is a secret;
    a list or dict of secrets counts too."""
    holders = [("", schema)] + [(f"{name}.", d) for name, d in defs.items()] if isinstance(defs, dict) else [("", schema)]
    for prefix, node in holders:
        props = node.get("properties") if isinstance(node, dict) else None
        for field, sub in (props.items() if isinstance(props, dict) else ()):
            inner = [sub]
            while inner:
                n = inner.pop()
                if _is_secret(n):
                    return f"{prefix}{field}"
                if isinstance(n, dict):
                    inner.extend(x for x in (n.get("items"), n.get("additionalProperties")) if isinstance(x, dict))
                    inner.extend(b for key in ("anyOf", "oneOf") for b in n.get(key) or () if isinstance(b, dict))
    return None


class _NotAnObject(Exception):
    """The return model's values are not JSON objects (`RootModel[str]`): it cannot be a tool call's answer."""


class _NoJsonSchema(Exception):
    """The return model has no JSON schema (a `Callable` field, an arbitrary class): it cannot be a tool."""

    def __init__(self, model: str, why: str) -> None:
        super().__init__(f"{model} {why}")
        self.why = why
        """What is wrong, without the model's name: `has no JSON schema (...)`."""


_FAILED: dict[str, tuple[BaseException, Any]] = {}


class _Missing:
    """A finder, first on `sys.meta_path`: a module that was found but failed to import for a
    missing dependency fails again at once, with the same error, from any importer. A failed
    import is taken out of sys.modules, and running the same chain of project modules again for
    every target cost seconds where a dependency is not installed. Only modules that exist are
    remembered: the missing dependency itself is looked up afresh each time, so a probe
    (`importlib.util.find_spec("extra") is None`) still says it is absent, and another module
    importing it fails at its own line."""

    def __init__(self) -> None:
        self.missing: dict[str, tuple[BaseException, Any]] = {}
        self.asked: list[tuple[str, Any]] | None = None

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        hit = self.missing.get(name)
        if hit is not None:
            return importlib.machinery.ModuleSpec(name, _Refuse(hit))
        if self.asked is not None:
            self.asked.append((name, path))
        return None

    def remember(self, asked: list[tuple[str, Any]], exc: BaseException) -> None:
        """After `exc` stopped an import: the modules it asked for that exist and are not loaded."""
        for name, path in asked:
            if name in sys.modules or name in self.missing or name == getattr(exc, "name", None):
                continue
            try:
                found = importlib.machinery.PathFinder.find_spec(name, path) is not None
            except Exception:  # noqa: BLE001 - a finder's own trouble: then just not remembered
                found = False
            if found:
                self.missing[name] = (exc, exc.__traceback__)


class _Refuse(importlib.abc.Loader):
    """The loader of a remembered failure: importing the module raises its error again."""

    def __init__(self, hit: tuple[BaseException, Any]) -> None:
        self.hit = hit

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        raise self.hit[0].with_traceback(self.hit[1])


_MISSING = _Missing()


def _import(name: str) -> Any:
    """`importlib.import_module`, but a module that failed once fails again at once, and so does
    every module of a package that fails: a package's `__init__` that imported `pkg.a` and then
    failed leaves `pkg.a` in sys.modules, which `import_module("pkg.a")` would hand back, where a
    fresh interpreter (the one that runs the decorated code) fails on `pkg` first."""
    parent = name.rpartition(".")[0]
    if parent:
        _import(parent)
    failed = _FAILED.get(name)
    if failed is not None:
        raise failed[0].with_traceback(failed[1])
    if _MISSING not in sys.meta_path:
        sys.meta_path.insert(0, _MISSING)
    asked: list[tuple[str, Any]] = []
    _MISSING.asked = asked
    try:
        return importlib.import_module(name)
    except BaseException as exc:
        _FAILED[name] = (exc, exc.__traceback__)
        if isinstance(exc, ModuleNotFoundError):  # only then: a probe (`try: import x`) sees the same kind
            _MISSING.asked = None
            _MISSING.remember(asked, exc)
        raise
    finally:
        _MISSING.asked = None


def _import_dotted(dotted: str) -> Any:
    """`pkg.mod.Cls.Inner` or `pkg.mod:attr`: import the longest module prefix, then getattr."""
    if ":" in dotted:
        mod, _, attr = dotted.partition(":")
        obj: Any = _import(mod)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    parts = dotted.split(".")
    obj = None
    found = 0
    for i in range(1, len(parts) + 1):  # shortest first: `_import` imports a module's packages first anyway
        name = ".".join(parts[:i])
        try:
            obj = _import(name)
        except ModuleNotFoundError as exc:
            if exc.name == name and i > 1:  # not a module: the rest are attributes
                break
            raise
        found = i
    for part in parts[found:]:
        obj = getattr(obj, part)
    return obj


def _resolve(module: str, qualname: str) -> Any:
    obj: Any = _import(module)
    for part in qualname.split("."):
        holder = obj
        if isinstance(holder, type) and part.startswith("__") and not part.endswith("__") and holder.__name__.strip("_"):
            part = f"_{holder.__name__.lstrip('_')}{part}"  # private name mangling: qualnames keep `__x`
        obj = vars(holder).get(part, None) if isinstance(holder, type) else getattr(holder, part, None)
        if obj is None:
            raise AttributeError(f"{module} has no {qualname}")
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
    return obj


_SCHEMAS: dict[Any, Any] = {}


def _schema(model: Any) -> Any:
    """The compact schema of `model`, generated once per model (many functions share one)."""
    if model not in _SCHEMAS:
        try:
            _SCHEMAS[model] = compact_schema(quiet_json_schema(model))
        except Exception as exc:  # noqa: BLE001 - pydantic's PydanticInvalidForJsonSchema and kin
            _SCHEMAS[model] = _NoJsonSchema(model.__name__, f"has no JSON schema ({type(exc).__name__}: "
                                           f"{str(exc).splitlines()[0] if str(exc) else ''})")
    found = _SCHEMAS[model]
    if isinstance(found, _NoJsonSchema):
        raise found
    return found


def _describe_model(model: Any, function_id: str, include_body: bool) -> dict[str, Any]:
    if not isinstance(model, type) or not hasattr(model, "model_json_schema"):
        raise TypeError(f"{function_id} returns {model!r}, not a pydantic model")
    schema = _schema(model)
    problem = object_schema_problem(model, schema)
    if problem is not None:
        raise _NotAnObject(problem)
    return {"function_id": function_id, "tool": model.__name__, "schema": schema, "include_body": include_body}


def _local_return(target: dict[str, Any]) -> Any:
    """The return model of a local function, from its annotation as written: with builtins only
    (`Page[None]`: the model's module is the only import), else in its module's namespace."""
    model, returns = target["model"], target["returns"]
    base, _, args = model.partition("[")
    if args:
        try:
            return eval(f"_model[{args[:-1]}]", {"__builtins__": builtins, "_model": _import_dotted(base)})  # noqa: S307 - the project's own annotation
        except NameError:
            pass
    target["importing"] = target["module"]
    return eval(returns, vars(_import(target["module"])))  # noqa: S307 - as typing.get_type_hints does


def _include_body(target: dict[str, Any]) -> bool:
    instance = target.get("instance")
    if not instance:
        return False
    target["importing"] = instance.partition(":")[0]  # a failure here is the instance module's
    return bool(getattr(_import_dotted(instance), "include_code_body", False))


@contextlib.contextmanager
def _blaming(target: dict[str, Any], module: str) -> Iterator[None]:
    """A failure inside is reported as `module`'s import; after success the label is as before."""
    before, target["importing"] = target["importing"], module
    yield
    target["importing"] = before


class _NoCallText(Exception):
    """A model's method whose instance has no JSON schema: the call (`Model(...).method()`)
    cannot be written, so no call of it can ever be captured or dispatched."""


def _owner_renders(target: dict[str, Any]) -> None:
    owner = target.get("owner")
    if not owner:
        return
    _guard_script(target, target["module"])  # the owner is a class of the function's own module
    with _blaming(target, owner.rsplit(".", 1)[0]):
        cls = _import_dotted(owner)
    if isinstance(cls, type) and not hasattr(cls, "model_json_schema") and not hasattr(cls, "__dataclass_fields__"):
        # a plain class: the scan passed its method because its body never reads the instance, which
        # capture leaves out (`Cls.method(...)`, kind selfless_method; wave 13: crawl4ai's
        # strategies, 2 of 2 left alone here); the runtime reads the body again when it decorates
        return
    try:
        _schema(cls)
    except _NoJsonSchema as exc:
        # semantic-kernel's services hold an AsyncOpenAI client: every call was only logged as
        # "example not captured" (third held-out wave)
        raise _NoCallText(f"{cls.__name__}, its instance, is written into each call, but {exc.why}") from None


def describe(target: dict[str, Any]) -> dict[str, Any]:
    _owner_renders(target)
    if target.get("package"):
        # the package the instructions module `apply` is about to create goes in: the decorated
        # module will import it, so it must import here, and from the project's own copy
        with _blaming(target, target["package"]):
            _import(target["package"])
            _created_module_reachable(target["package"], target.get("instance_module"))
    if target.get("light"):
        # the return model's module (and the Instructions module) only: no import side effects of
        # the function's own module (an app, a `Settings()` reading the environment)
        _guard_script(target, target["model"].rpartition(".")[0])
        return _describe_model(_import_dotted(target["model"]), target["function_id"], _include_body(target))
    _guard_script(target, target["module"])
    if "<locals>" in target["qualname"] and target.get("returns") and not target.get("named"):
        # not reachable from its module; a `name=` on its decorator only the runtime could read
        return _describe_model(_local_return(target), target["function_id"], _include_body(target))
    fn = _resolve(target["module"], target["qualname"])
    state = getattr(fn, "__distil__", None)
    if state is not None:
        try:
            spec = state.spec
        except Exception as exc:
            if type(exc).__name__ == "DecorationError" and str(exc).endswith(NOT_AN_OBJECT):
                # the runtime's refusal (`mod:fn: returns Identifier, ...`): the same answer as an
                # undecorated function's, without the function id the parent names anyway
                raise _NotAnObject(str(exc).split(": ", 1)[-1]) from None
            raise
        return {"function_id": spec.function_id, "tool": spec.tool_name, "schema": spec.schema,
                "include_body": bool(state.instructions.include_code_body)}
    # not decorated at import time (wrapped by something else, or not yet decorated): the return
    # annotation alone, as the runtime reads it (a parameter's TYPE_CHECKING-only hint is no matter)
    hint = _return_hint(fn)
    if repr(hint) in ("typing.Self", "typing_extensions.Self") and "." in target["qualname"]:
        hint = _resolve(target["module"], target["qualname"].rsplit(".", 1)[0])  # its class, as the runtime reads it
    return _describe_model(hint, target["function_id"], _include_body(target))


class _Script(Exception):
    """The module is a script that does its work when imported: the child does not run it."""


# methods a script calls on its own objects to configure them, not to run anything
_CONFIGURING = frozenset({"setLevel", "addHandler", "addFilter", "model_rebuild", "update_forward_refs"})


def _script_runs(path: str) -> tuple[int, str] | None:
    """(line, statement) of the first top-level statement that does the script's work, outside
    `if __name__ == "__main__":`, also inside a top-level `if`/`try`: a loop, a `with` block, an
    `await`, or a call of a function the file defines (`main()`, `asyncio.run(main())`,
    `print(extract(url))`) or of a method of an object it built at top level
    (`resp = client.chat.completions.create(...)`, `mcp.run()`, `PROFILE_DIR.mkdir()`). Importing
    such a file to read a schema would run the program: call the API, start the server. Calls of
    what it imports (`logging.basicConfig()`, `load_dotenv()`, `Instructions(...)`, `FastAPI()`)
    and of its classes (`Query.model_rebuild()`) configure, as instructor's distillation example
    does before its `__main__` block, and are left to run."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # the import reports it
    functions: set[str] = set()
    objects: set[str] = set()
    module_level = list(tree.body)
    while module_level:  # statements at module level, also in its `if`/`try`/`with`/loop blocks
        node = module_level.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                objects.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)):
            module_level.extend([*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                                 *(s for h in getattr(node, "handlers", []) for s in h.body)])

    def root(expr: ast.expr) -> str | None:
        while isinstance(expr, (ast.Attribute, ast.Call, ast.Subscript)):
            expr = expr.func if isinstance(expr, ast.Call) else expr.value
        return expr.id if isinstance(expr, ast.Name) else None

    def works(stmt: ast.stmt) -> bool:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Await):
                return True
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id in functions:
                    return True
                if (isinstance(node.func, ast.Attribute) and node.func.attr not in _CONFIGURING
                        and root(node.func.value) in objects):
                    return True
        return False

    def text(node: ast.AST) -> str:
        try:
            return ast.unparse(node).splitlines()[0][:60]
        except (RecursionError, IndexError, ValueError):  # too deep to print back: the line says where
            return type(node).__name__

    def main_guard(node: ast.If) -> bool:
        names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
        strings = {n.value for n in ast.walk(node.test) if isinstance(n, ast.Constant)}
        return "__name__" in names and "__main__" in strings

    def first(body: list[ast.stmt]) -> tuple[int, str] | None:
        for node in body:
            if isinstance(node, (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
                return node.lineno, text(node)
            if isinstance(node, (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign)) and works(node):
                return node.lineno, text(node)
            if isinstance(node, ast.If) and not main_guard(node):
                found = first(node.body) or first(node.orelse)
                if found:
                    return found
            if isinstance(node, ast.Try):
                found = first(node.body) or first(node.orelse) or first(node.finalbody)
                if found:
                    return found
        return None

    return first(tree.body)


def _guard_script(target: dict[str, Any], module: str) -> None:
    """Refuse to import `module` when it is the target's own module, a file in a folder that is no
    regular package (a script, `examples/server.py` also when `examples/` is a namespace), and
    does its work at import (`_script_runs`)."""
    folder = target.get("folder")
    if module != target["module"] or folder is None:
        return
    path = os.path.join(os.path.abspath(folder), *module.split(".")) + ".py"
    if not os.path.isfile(path) or os.path.isfile(os.path.join(os.path.dirname(path), "__init__.py")):
        return
    name = os.path.basename(path)
    if name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py":
        return  # pytest imports these to collect them: their top level is import-safe by design
    runs = _script_runs(path)
    if runs is not None:
        line, what = runs
        rel = "/".join([*([folder] if folder else []), *module.split(".")]) + ".py"
        raise _Script(f"{rel}:{line} runs `{what}` when imported (a script)")


class _BadAnnotation(Exception):
    """The return annotation does not evaluate at run time (a name only `TYPE_CHECKING` imports)."""


def _return_hint(fn: Any) -> Any:
    fn = getattr(fn, "__wrapped__", fn)
    probe = types.FunctionType((lambda: None).__code__, getattr(fn, "__globals__", {}))
    probe.__annotations__ = {"return": getattr(fn, "__annotations__", {}).get("return")}
    try:
        return typing.get_type_hints(probe).get("return")
    except Exception as exc:  # noqa: BLE001 - NameError, TypeError from a subscripted alias, ...
        raise _BadAnnotation(f"its return annotation does not evaluate at run time ({type(exc).__name__}: {exc})") from None


def _failure(exc: BaseException, target: dict[str, Any], roots: list[str]) -> dict[str, Any]:
    """What went wrong, in terms the parent turns into one line with the setting that fixes it."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    def ours(filename: str) -> bool:
        return _ours(filename, roots)

    inside = [f for f in frames if ours(f.filename)]
    where = inside[-1] if inside else None
    place = None
    if where is not None:
        rel = min((os.path.relpath(where.filename, r) for r in roots if os.path.abspath(where.filename).startswith(r + os.sep)), key=len)
        place = f"{rel}:{where.lineno}"
    kind, missing = "other", None
    if isinstance(exc, _NoCallText):
        kind = "owner"
    elif isinstance(exc, _Script):
        kind = "script"
    elif isinstance(exc, (_NoJsonSchema, _NotAnObject)) or type(exc).__name__ == "PydanticInvalidForJsonSchema":
        kind = "schema"  # the runtime's own spec raises pydantic's error
    elif isinstance(exc, _BadAnnotation):
        kind = "annotation"
    elif isinstance(exc, ModuleNotFoundError):
        kind, missing = "module", exc.name
        package = (exc.name or "").rpartition(".")[0]
        loaded = sys.modules.get(package) if package else None
        elsewhere = getattr(loaded, "__file__", None)
        if package and elsewhere and ours(elsewhere):
            # `pkg.distil` missing from the project's own `pkg` (deleted, renamed): nothing to install
            kind = "project"
        elif loaded is not None and elsewhere is None and hasattr(loaded, "__path__"):
            # a PEP 420 namespace (`azure`, `opentelemetry`): another distribution provides the
            # submodule, and "install azure" names none that would
            kind = "namespace"
        elif elsewhere and not ours(elsewhere) and _has_own_copy(package, roots):
            # `pkg.distil` missing from a `pkg` the interpreter imports from its site-packages (a
            # non-editable install): the project's copy, which has it, is not what runs
            kind, missing = "elsewhere", f"{package}={os.path.abspath(elsewhere)}"
        elif elsewhere and not ours(elsewhere):
            # a third-party package without the submodule the project imports: another version
            kind, missing = "submodule", f"{exc.name}={os.path.abspath(elsewhere)}"
    elif isinstance(exc, KeyError) and where is not None and "environ" in (where.line or ""):
        kind, missing = "variable", str(exc.args[0]) if exc.args else None
    text = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
    if type(exc).__name__ == "ValidationError":
        errors = _validation_errors(exc)
        if _raised_in(exc, "pydantic_settings") and errors and all(e.get("type") == "missing" for e in errors):
            kind = "settings"  # pydantic-settings: name the fields it could not fill
            missing = ", ".join(".".join(map(str, e.get("loc", ()))) for e in errors[:5]) or None
        elif errors:
            # the first error's own words are the cause (wave 9: django-ninja's `Settings` read from
            # Django's settings before DJANGO_SETTINGS_MODULE was set), not "1 validation error for X"
            first = errors[0]
            loc = ".".join(map(str, first.get("loc", ()))) or "(the value)"
            text = f"{text}: {loc}: {first.get('msg', '')}".splitlines()[0]
    return {"error": text, "module": target.get("importing"), "missing": missing, "kind": kind, "place": place}


def _validation_errors(exc: BaseException) -> list[dict[str, Any]]:
    """pydantic's `ValidationError.errors()`, or nothing when it cannot be read."""
    try:
        return list(exc.errors())[:20]  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - only a better message is at stake
        return []


def _raised_in(exc: BaseException, package: str) -> bool:
    """Whether the exception passed through a frame of `package` (pydantic-settings' `BaseSettings.__init__`)."""
    tb = exc.__traceback__
    marker = f"{os.sep}{package}{os.sep}"
    while tb is not None:
        if marker in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def _preload(names: list[str]) -> None:
    """Import the project's top-level packages while the parent is still scanning: every model
    import goes through them anyway. A failure is kept for the target that needs the package."""
    for name in names:
        try:
            _import(name)
        except BaseException:  # noqa: B902, S110 - reported by the target that imports it, if any
            pass


_ROOTS: list[str] = []  # the project's source roots, absolute (set by main)


def _ours(filename: str, roots: list[str]) -> bool:
    """The project's own files, not a venv or a frozen module inside the root."""
    full = os.path.abspath(filename)
    return not filename.startswith("<") and os.sep + "site-packages" + os.sep not in full and \
        full.startswith(tuple(r + os.sep for r in roots))


def _created_module_reachable(package: str, module: str | None) -> None:
    """Raise what importing `module` (the instructions module `apply` is about to create in the
    project's `package`) will raise, when the interpreter imports `package` from elsewhere (wave
    13: apache-airflow-core's regular `airflow/__init__.py` in site-packages made `airflow.sdk` the
    installed copy; `apply` decorated 22 functions, then `prompts` could not import
    `airflow.sdk.distil`): the same refusal `prompts` gives, before anything is written."""
    if not module:
        return
    elsewhere = getattr(sys.modules.get(package), "__file__", None)
    if elsewhere and not _ours(elsewhere, _ROOTS) and _has_own_copy(package, _ROOTS):
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)


def _has_own_copy(package: str, roots: list[str]) -> bool:
    """Whether the project has a package or module of that name under one of `roots` (mcp's
    `src/mcp-types/mcp_types`), so the copy the interpreter runs is not the project's; a
    third-party package (a missing submodule of langchain_community) has none."""
    parts = package.split(".")
    return any(os.path.isdir(os.path.join(r, *parts)) or os.path.isfile(os.path.join(r, *parts) + ".py") for r in roots)


def main(argv: list[str]) -> int:
    src, dst = argv
    with open(src, encoding="utf-8") as f:
        job = json.load(f)
    # the script's own folder is not the project: take it off the path, put the project's roots first
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    roots = [os.path.abspath(r) for r in job["roots"]]
    _ROOTS[:] = roots
    sys.path[:0] = [r for r in roots if r not in sys.path]
    if job.get("fallback"):
        sys.path.append(job["fallback"])  # distilgen itself, only if the project's environment lacks it
    out: dict[str, Any] = {}
    # user modules may print while importing: keep our stdout clean, results go to a file
    sys.stdout = sys.stderr
    try:
        __import__("pydantic")  # the only package the child needs: say so at once when it is missing
    except ImportError as exc:
        out["__fatal__"] = {"error": f"{type(exc).__name__}: {exc}", "kind": "pydantic"}
        job["preload"] = []
    _preload(job.get("preload", []))
    if "targets" not in job:
        # started early: the parent closes stdin once the scan has found the targets (or it died)
        sys.stdin.read()
        try:
            with open(job["targets_file"], encoding="utf-8") as f:
                job["targets"] = json.load(f)
        except OSError:
            job["targets"] = []
    if "__fatal__" in out:
        job["targets"] = []
    pending_new = sum(1 for t in job["targets"] if t.get("new"))
    for t in job["targets"]:
        t["importing"] = t["model"].rsplit(".", 1)[0] if t.get("light") else t["module"]
        # a module named from a folder that is not a source root (`my-scripts/tool.py` is `tool`,
        # an example project's package in `examples/simple-tool/`): that folder is on the path while
        # it is imported, as when it runs, after the project's roots so it shadows none of theirs
        folder = os.path.abspath(t["folder"]) if t.get("folder") is not None else ""
        added = bool(folder) and folder not in sys.path
        if added:
            sys.path.insert(len(roots), folder)
        try:
            out[t["key"]] = describe(t)
        except BaseException as exc:  # noqa: B902 - a module that exits or raises must not stop the others
            out[t["key"]] = _failure(exc, t, roots + [folder] if added else roots)
        finally:
            if added and folder in sys.path:
                sys.path.remove(folder)
        pending_new -= bool(t.get("new"))
        if pending_new == 0 and job.get("new_file"):
            _dump(out, job["new_file"])  # the functions about to be decorated are done: apply may go on
            pending_new = -1
    _dump(out, dst)
    return 0


def _dump(out: dict[str, Any], path: str) -> None:
    """Written whole, then renamed: the parent never reads half a file."""
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(out, f)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # the answers are written: the project's atexit handlers and the interpreter's teardown are not
    # ours to run (they flush telemetry, join threads: 1.2-1.5 s after importing prefect, which the
    # parent waited for)
    for stream in (sys.stderr, sys.__stdout__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
