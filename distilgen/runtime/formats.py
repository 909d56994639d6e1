"""The three dataset shapes, and the tool schema capture and dispatch both send.

- `tools`: the current OpenAI chat fine-tuning shape (assistant `tool_calls`, top-level `tools`).
- `messages`: the legacy function-calling shape instructor writes (`function_call`, `functions`).
- `raw`: function id, prompt, call, args, kwargs, output and schema, for other trainers.

Lines are assembled from pre-serialised constant parts (system message, tools) so a call costs
one `model_dump_json` and two small `json.dumps`; the result is still compact, deterministic JSON.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import enum
import hashlib
import json
import math
import re
import typing
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError, to_jsonable_python
from pydantic_core import TzInfo as _PydanticTzInfo

from .. import _json
from .._credentials import is_credential_name
from ..errors import DistilgenError
from ..contracts import FORMATS, TOOL_SCHEMAS, FinetuneFormat, ToolSchema
# THE schema compaction lives in the self-contained script the project's interpreter runs for
# `distilgen prompts`, so the lock and the runtime compact alike (pydantic repeats every field
# name as a "title": pure token cost, no information)
from ..prompts._schema_worker import compact_schema, quiet_json_schema
from .credentials import CredentialValue, credential_in_answer, masked

__all__ = [
    "FORMATS",
    "TOOL_SCHEMAS",
    "declared_parameters",
    "tool_schema",
    "decoding_schema",
    "order_like",
    "tool_description",
    "request_tools",
    "request_functions",
    "response_format",
    "LineWriter",
    "build_example",
    "dumps",
    "NonFiniteFloat",
    "answer_json",
    "answer_data",
    "answer_keys",
    "validated_as",
    "SubclassAnswer",
    "own_serializer",
    "read_back",
    "whole_answer",
    "nested_models",
    "SerializedAnswer",
    "UnwritableAnswer",
    "ZonedAnswer",
    "check_zones",
]

# OpenAI's fine-tuning guide, on function calling: to use fewer tokens, omit the parameters of
# the declared functions (and their descriptions); the fine-tuned model learns the output shape
# from the examples. The full schema still validates every answer (dispatch), is recorded in the
# lock file, and goes in `raw` lines and in JSON-schema structured output (constrained decoding).


loads = _json.loads  # capture's reads (a redact hook's example, shadow's comparisons): see _json


def dumps(obj: Any) -> str:
    """Compact, deterministic JSON (key order as built, no spaces, UTF-8 kept)."""
    return _json.COMPACT.encode(obj)


# the C string encoder json.dumps uses inside; calling it directly skips building an encoder per call
_encode_str = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring  # type: ignore[attr-defined]


def tool_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The return model's JSON schema as the model sees it in `tools`: compact, titles dropped.

    pydantic's schema warnings (`PydanticJsonSchemaWarning`: a default it cannot write, a union
    member it skips, as for aiogram's `Default("parse_mode")` fields, wave 10) are not printed at
    the user: what they mean for an answer is checked per answer (`UnwritableAnswer`)."""
    return compact_schema(quiet_json_schema(model))  # type: ignore[no-any-return]


# --- the answer: keyed as the tool schema keys it --------------------------------------------
#
# The schema (pydantic's `model_json_schema()`, validation mode: recorded in the lock, sent by
# dispatch) names a field by its validation alias; `model_dump_json()` by its name. A model with
# `Field(alias="$ref")` (docling-core's RefItem) was trained on answers `dataset validate --lock`
# refuses and, without `populate_by_name`, that its own validation refuses (wave 6). The answer
# now uses the schema's keys; a model with no alias anywhere dumps exactly as before.

AnswerKeys = Literal["name", "alias", "mixed"]
_ANSWER_KEYS: "weakref.WeakKeyDictionary[type, AnswerKeys]" = weakref.WeakKeyDictionary()


def _schema_key(cls: type[BaseModel], name: str, info: Any) -> str:
    """The property name pydantic's validation-mode JSON schema gives this field (its
    `GenerateJsonSchema._get_alias_name`): the validation alias when it is a string, the first
    one-key choice of an `AliasChoices`, else the name (`AliasPath`, or `validate_by_alias=False`)."""
    if cls.model_config.get("validate_by_alias") is False:
        return name
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias
    if alias is None:
        return name
    for choice in alias.convert_to_aliases() if hasattr(alias, "convert_to_aliases") else []:
        if len(choice) == 1 and isinstance(choice[0], str):
            return choice[0]
    return name


def _models_in(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The model and every model its field annotations name, nested ones too."""
    found: list[type[BaseModel]] = []
    seen: set[int] = set()
    todo: list[Any] = [model]
    while todo:
        t = todo.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        todo.extend(typing.get_args(t))
        if isinstance(t, type) and issubclass(t, BaseModel):
            found.append(t)
            todo.extend(f.annotation for f in t.model_fields.values())
    return found


def _key_map(cls: type[BaseModel]) -> dict[str, str]:
    return {name: _schema_key(cls, name, info) for name, info in cls.model_fields.items()}


def answer_keys(model: type[BaseModel]) -> AnswerKeys:
    """How `model`'s answers are keyed to match its schema: `name` (no field anywhere in the
    model's tree has an alias: `model_dump_json()` as ever), `alias` (every field's
    serialization key is its schema key: `Field(alias=...)`, `alias_generator`), or `mixed` (a
    `serialization_alias` other than the validation alias, `validate_by_alias=False`): dumped by
    name and renamed field by field. Decided once per class."""
    known = _ANSWER_KEYS.get(model)
    if known is not None:
        return known
    plain = by_alias = True
    for cls in _models_in(model):
        for name, info in cls.model_fields.items():
            key, written = _schema_key(cls, name, info), info.serialization_alias or name
            plain = plain and key == name == written
            by_alias = by_alias and key == written
    plan: AnswerKeys = "name" if plain else "alias" if by_alias else "mixed"
    try:
        _ANSWER_KEYS[model] = plan
    except TypeError:  # not weak-referenceable: decided again next time
        pass
    return plan


def _rekey(value: Any, dumped: Any) -> Any:
    """`dumped` (a by-name JSON dump of `value`) with every model's field names replaced by
    their schema keys, walking the value beside its dump."""
    if isinstance(value, BaseModel) and isinstance(dumped, dict):
        keys = _key_map(type(value))
        fields = value.__dict__
        return {keys.get(k, k): (_rekey(fields[k], v) if k in keys and k in fields else v) for k, v in dumped.items()}
    if isinstance(value, (list, tuple)) and isinstance(dumped, list) and len(value) == len(dumped):
        return [_rekey(x, d) for x, d in zip(value, dumped)]
    if isinstance(value, dict) and isinstance(dumped, dict) and len(value) == len(dumped):
        return {k: _rekey(x, d) for x, (k, d) in zip(value.values(), dumped.items())}
    return dumped


def answer_json(output: BaseModel, plan: AnswerKeys | None = None) -> str:
    """The answer a line records: `output`'s compact JSON, keyed as its class's tool schema keys it
    (`plan`: `answer_keys(type(output))`, when the caller keeps it).

    A model without aliases gives exactly `model_dump_json()`. A field holding a value pydantic
    cannot write (aiogram's `Default("parse_mode")` placeholder) is left out when the value is the
    field's default, so that the answer reads back equal; otherwise `UnwritableAnswer`, naming the
    field (`_without_placeholders`: only when the dump failed)."""
    if plan is None:
        plan = answer_keys(type(output))
    try:
        if plan == "name":
            return output.model_dump_json()
        if plan == "alias":
            return output.model_dump_json(by_alias=True)
        return dumps(_dump_data(output, plan))
    except PydanticSerializationError as exc:
        return _without_placeholders(output, plan, exc)


def _dump_data(output: BaseModel, plan: AnswerKeys, exclude: Any = None) -> Any:
    if plan == "name":
        return output.model_dump(mode="json", exclude=exclude)
    data = output.model_dump(mode="json", by_alias=plan == "alias", exclude=exclude)
    return _rekey(output, data) if plan == "mixed" else data


def answer_data(output: BaseModel) -> Any:
    """The same answer as JSON data (a `raw` line's `output`)."""
    plan = answer_keys(type(output))
    try:
        return _dump_data(output, plan)
    except PydanticSerializationError as exc:
        return json.loads(_without_placeholders(output, plan, exc))


# --- values JSON cannot write (wave 10) -------------------------------------------------------
#
# aiogram 3's method and type models default many fields to a placeholder, `Default("parse_mode")`
# (resolved from the bot's settings when the request is sent). pydantic cannot write it: every
# answer holding one was skipped, the reason naming the class (`Unable to serialize unknown type:
# <class 'aiogram.client.default.Default'>`), not the field. A placeholder the field holds as its
# default is left out of the answer: the schema does not require the field, and validating the
# answer gives the default back, so the answer reads back equal (checked). Any other value pydantic
# cannot write skips the example, naming where it is.


class UnwritableAnswer(DistilgenError, TypeError):
    """The answer holds a value pydantic cannot write as JSON, and it is not a field's default
    that could be left out (`answer .parse_mode holds Default('link_preview') ...`). Capture counts
    it (`CaptureStats.causes`)."""


def _unwritable_values(output: BaseModel, plan: AnswerKeys) -> list[Any]:
    """The values pydantic's dump of `output` cannot write, in the order met (its `fallback` hook)."""
    found: list[Any] = []

    def note(value: Any) -> None:
        found.append(value)
        return None

    try:
        output.model_dump(mode="json", by_alias=plan == "alias", fallback=note)
    except TypeError:  # pydantic before 2.9: no `fallback`, nothing to locate
        return found
    except Exception:  # noqa: BLE001 - the user's serializer refusing something else: what was met so far
        return found
    return found


def _locate(value: Any, targets: dict[int, Any], path: list[Any], out: list[tuple[list[Any], Any, Any]],
            seen: set[int], depth: int = 0) -> None:
    """Where in `value` the objects of `targets` (by id) are: (path, the model holding them as a field
    or None, the value), walking models, their extras, dataclasses, lists, tuples and dicts."""
    if depth > 100 or id(value) in seen:
        return
    if isinstance(value, BaseModel):
        seen.add(id(value))
        fields = value.__dict__
        for name in type(value).model_fields:
            if name in fields:
                item = fields[name]
                if id(item) in targets:
                    out.append(([*path, name], value, item))
                else:
                    _locate(item, targets, [*path, name], out, seen, depth + 1)
        for key, item in (value.__pydantic_extra__ or {}).items():
            if id(item) in targets:
                out.append(([*path, key], None, item))
            else:
                _locate(item, targets, [*path, key], out, seen, depth + 1)
    elif isinstance(value, (list, tuple, dict)):
        seen.add(id(value))
        items: Any = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if id(item) in targets:
                out.append(([*path, key], None, item))
            else:
                _locate(item, targets, [*path, key], out, seen, depth + 1)


def _answer_path(path: list[Any]) -> str:
    """`answer .reply_markup.keyboard[0][1]`: a field path as the skip reasons spell it."""
    out = "answer "
    for step in path:
        out += f".{step}" if isinstance(step, str) and step.isidentifier() else f"[{step!r}]"
    return out if path else "answer"


def _same_default(value: Any, default: Any) -> bool:
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:  # noqa: BLE001 - an __eq__ that refuses: not provably the default
        return False


def _exclusion(paths: list[list[Any]]) -> dict[Any, Any]:
    """pydantic's nested `exclude` for these field paths (`{"a": {2: {"b": True}}}`)."""
    root: dict[Any, Any] = {}
    for path in paths:
        node = root
        for step in path[:-1]:
            node = node.setdefault(step, {})
        node[path[-1]] = True
    return root


def _placeholder_fields(output: BaseModel, plan: AnswerKeys, error: Exception) -> list[list[Any]]:
    """The paths of the fields of `output` (whose dump failed: `error`) that hold a value pydantic
    cannot write as their default; `UnwritableAnswer` naming the first other such value."""
    model = type(output).__qualname__
    unknown = _unwritable_values(output, plan)
    targets = {id(v): v for v in unknown}
    found: list[tuple[list[Any], Any, Any]] = []
    if targets:
        _locate(output, targets, [], found, set())
    if not found:
        first = str(error).splitlines()
        what = (f"{_short(unknown[0])} ({_qualified(type(unknown[0]))})" if unknown
                else (first[0] if first else type(error).__name__))
        raise UnwritableAnswer(f"the {model} answer holds a value JSON cannot write: {what}") from None
    left_out = []
    for path, holder, value in found:
        info = type(holder).model_fields.get(path[-1]) if holder is not None else None
        if info is None or info.is_required() or not _same_default(value, info.default):
            why = ("a value JSON cannot write, and not the field's default, so the field cannot be left out "
                   "either" if info is not None else "a value JSON cannot write")
            raise UnwritableAnswer(f"{_answer_path(path)} holds {_short(value)} ({_qualified(type(value))}), {why}")
        left_out.append(path)
    return left_out


def _without_placeholders(output: BaseModel, plan: AnswerKeys, error: Exception) -> str:
    """The answer of `output`, whose dump failed (`error`), with every field left out that holds a
    value pydantic cannot write as its default (checked to read back as the same value);
    `UnwritableAnswer` naming the field otherwise."""
    model = type(output).__qualname__
    left_out = _placeholder_fields(output, plan, error)
    exclude = _exclusion(left_out)
    where = ", ".join(_answer_path(p)[len("answer "):] for p in left_out)
    try:
        answer = dumps(_dump_data(output, plan, exclude)) if plan == "mixed" else output.model_dump_json(
            by_alias=plan == "alias", exclude=exclude)
    except PydanticSerializationError as exc:
        raise UnwritableAnswer(f"the {model} answer, without {where} (placeholders at their defaults), "
                               f"still cannot be written: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    # read back: the fields left out must come back as the same defaults (a validator could fill them)
    try:
        back = type(output).model_validate_json(answer)
        again = dumps(_dump_data(back, plan, exclude)) if plan == "mixed" else back.model_dump_json(
            by_alias=plan == "alias", exclude=exclude)
        same = again == answer and all(_same_default(_at(back, p), _at(output, p)) for p in left_out)
    except Exception:  # noqa: BLE001 - a refusal: not the same answer
        same = False
    if not same:
        raise UnwritableAnswer(f"{_answer_path(left_out[0])} holds {_short(_at(output, left_out[0]))}, a value JSON "
                               f"cannot write; left out, the {model} answer {_cut(answer)} does not read back as the "
                               "same value") from None
    return answer


def _at(value: Any, path: list[Any]) -> Any:
    for step in path:
        value = value.__dict__[step] if isinstance(value, BaseModel) else value[step]
    return value


def _qualified(cls: type) -> str:
    module = getattr(cls, "__module__", None)
    return cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"


def _short(value: Any) -> str:
    try:
        own_str = getattr(type(value), "__str__", None) is not getattr(object, "__str__")
        text = str(value) if own_str else repr(value)
    except Exception:  # noqa: BLE001
        return f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def validated_as(model: type[BaseModel], output: BaseModel) -> tuple[BaseModel, str]:
    """An instance of a subclass of `model` (returned by a function declared `-> model`) as the
    declared class, with its answer: kept only when its answer validates as `model` and the
    validated value's answer is the same JSON (a subclass that adds nothing the schema lacks).
    A `SubclassAnswer` otherwise: pyiceberg's `-> IcebergType` returning `IntegerType`, a
    RootModel[str] subclass whose answer is a bare string, or guardrails' `FailResult` with
    fields the declared schema does not have (wave 6)."""
    lead = f"returned a {type(output).__qualname__}, a subclass of the declared {model.__qualname__}, whose answer"
    return _read_back(model, output, lead, SubclassAnswer, "the tool schema is the declared class's")


def read_back(model: type[BaseModel], output: BaseModel) -> tuple[BaseModel, str]:
    """The answer of a `model` (one with its own serializer somewhere, `own_serializer`), kept only
    when it validates as `model` to a value whose answer is the same JSON: the schema is the
    fields' (validation mode), and an answer the serializer reshaped (a bare string, extra keys,
    a field renamed or dropped) is not what the schema describes nor what dispatch reads back
    (wave 7: pydantic-evals' `Dataset`). A `SerializedAnswer` otherwise."""
    lead = f"returned a {model.__qualname__} whose answer (its own serializer's)"
    back, answer = _read_back(model, output, lead, SerializedAnswer, "the tool schema describes its fields")
    stray = _stray_key(back, json.loads(answer))
    if stray is not None:  # a key added at every dump reads back the same: the schema still lacks it
        raise SerializedAnswer(f"{lead} {_cut(answer)} has the key {stray}, which the tool schema does not declare")
    return back, answer


_SCHEMA_NAMES: "weakref.WeakKeyDictionary[type, dict[str, str]]" = weakref.WeakKeyDictionary()


def _schema_names(cls: type[BaseModel]) -> dict[str, str]:
    """Schema key -> field name, once per class."""
    known = _SCHEMA_NAMES.get(cls)
    if known is None:
        known = {key: name for name, key in _key_map(cls).items()}
        try:
            _SCHEMA_NAMES[cls] = known
        except TypeError:
            pass
    return known


def _stray_key(value: Any, dumped: Any) -> str | None:
    """The first key of `dumped` (an answer, walked beside the value read back from it) that the
    schema of the model there does not declare (a model allowing extras declares any), as a path."""
    if isinstance(value, BaseModel) and isinstance(dumped, dict):
        cls = type(value)
        names = _schema_names(cls)
        for key, item in dumped.items():
            name = names.get(key)
            if name is None:
                if cls.model_config.get("extra") == "allow":
                    continue
                return repr(key)
            inner = _stray_key(value.__dict__.get(name), item)
            if inner is not None:
                return f"{key!r} > {inner}"
    elif isinstance(value, (list, tuple)) and isinstance(dumped, list):
        for x, d in zip(value, dumped):
            if (inner := _stray_key(x, d)) is not None:
                return inner
    elif isinstance(value, dict) and isinstance(dumped, dict) and len(value) == len(dumped):
        for x, d in zip(value.values(), dumped.values()):
            if (inner := _stray_key(x, d)) is not None:
                return inner
    return None


def _read_back(model: type[BaseModel], output: BaseModel, lead: str, error: type[DistilgenError],
               schema_says: str) -> tuple[BaseModel, str]:
    subject, kept = output, None
    if own_serializer(type(output)):
        # serializers are the user's code: they run on a copy, so that nothing they change, in
        # place either (`self.seen.append(...)`, a cache filled, wave 9), reaches the caller's object
        try:
            subject = copy.deepcopy(output)
        except Exception:  # noqa: BLE001 - a value that cannot be copied (a lock, a client): its state put back
            kept = _Kept(output)
    try:
        answer = answer_json(subject)
        nested = nested_models(type(subject))
        if nested and any(c.__subclasses__() for c in nested):
            whole_answer(subject, answer)
        check_zones(subject, answer)  # before the read-back, which gives fixed offsets
    finally:
        if kept is not None:
            kept.restore()
    try:
        # strict: the answer must be what the tool schema describes, as dispatch, training and
        # `dataset validate --lock` see it; lax validation turned a serializer's "400" back into the
        # integer 400 the schema asks for, and the line taught the string (scim2's `Error.status`, wave 10)
        back = model.model_validate_json(answer, strict=True)
    except Exception as exc:  # ValidationError mostly; any refusal means the answer does not fit
        lax = _lax_but_fits(model, answer, exc)
        if lax is None:
            raise error(_refusal(model, answer, exc, lead)) from None
        back = lax
    try:
        again = answer_json(back)
    except Exception as exc:  # the serializer refuses the value it validated: not the same answer either
        raise error(f"{lead} {_cut(answer)} reads back as a {model.__qualname__} that cannot be written again "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    if again != answer:
        raise error(f"{lead} {_cut(answer)} reads back as the {model.__qualname__} {_cut(again)}: {schema_says}")
    return back, answer


def _refusal(model: type[BaseModel], answer: str, exc: Exception, lead: str) -> str:
    """Why `answer` does not validate (strictly) as `model`: where, what is written there and what
    the tool schema wants, when only strict validation refuses it (error path only)."""
    first = str(exc).splitlines()
    plain = f"{lead} {_cut(answer)} is not a valid {model.__qualname__} ({first[0] if first else type(exc).__name__})"
    if not isinstance(exc, ValidationError):
        return plain
    try:
        model.model_validate_json(answer)
    except Exception:  # noqa: BLE001 - refused either way: not a question of strictness
        return plain
    try:
        err = exc.errors()[0]
        data = json.loads(answer)
        path, written = _along(data, err.get("loc", ()))
        schema = _CHECK_SCHEMAS.get(model)
        if schema is None:
            schema = _CHECK_SCHEMAS[model] = tool_schema(model)
        wanted = _wanted(schema, path)
    except Exception:  # noqa: BLE001 - the plain reason then
        return plain
    where = _answer_path(path)[len("answer "):] or "the whole answer"
    shown = json.dumps(written, ensure_ascii=False)
    if isinstance(written, str) and any(isinstance(step, str) and is_credential_name(step) for step in path):
        shown = '"***"'
    return (f"{lead} {_cut(answer)} writes {where} as {_cut(shown)} "
            f"({_KIND_OF.get(type(written), type(written).__name__)}) where the tool schema wants {wanted}: "
            "only pydantic's lax validation reads it back, dispatch and training see the schema")


_CHECK_SCHEMAS: "weakref.WeakKeyDictionary[type, dict[str, Any]]" = weakref.WeakKeyDictionary()
_KIND_OF: dict[type, str] = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
                             list: "an array", dict: "an object", type(None): "null"}
_SCHEMA_KINDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
                 "array": "an array", "object": "an object", "null": "null"}


def _along(data: Any, loc: Any) -> tuple[list[Any], Any]:
    """The keys of a validation error's `loc` that lead through the answer (union members and
    validator names, `int`, `function-after[...]`, are not keys), and the value written there."""
    path: list[Any] = []
    for step in loc:
        if isinstance(data, dict) and isinstance(step, str) and step in data:
            data = data[step]
        elif isinstance(data, list) and isinstance(step, int) and 0 <= step < len(data):
            data = data[step]
        else:
            continue
        path.append(step)
    return path, data


def _lax_but_fits(model: type[BaseModel], answer: str, exc: Exception) -> BaseModel | None:
    """The lax read-back of `answer` when strict validation refused it only where what is written
    fits the tool schema: a `mode="before"` validator handing pydantic the list it read for a tuple
    field fails strict validation, not the schema (ome-zarr-models' `Dataset`, wave 11). None when
    any refusal is one the schema makes too, or cannot be placed."""
    if not isinstance(exc, ValidationError):
        return None
    try:
        back = model.model_validate_json(answer)
        data = json.loads(answer)
        schema = _CHECK_SCHEMAS.get(model)
        if schema is None:
            schema = _CHECK_SCHEMAS[model] = tool_schema(model)
        for err in exc.errors():
            path, written = _along(data, err.get("loc", ()))
            if not _fits(_leaves_at(schema, path), written):
                return None
    except Exception:  # noqa: BLE001 - refused either way
        return None
    return back


def _fits(branches: list[dict[str, Any]], value: Any) -> bool:
    """`value` is of a kind one of the schema's `branches` allows (its type, const or enum; formats
    and bounds are not looked at: only the kind is in question)."""
    kind = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array",
            dict: "object", type(None): "null"}.get(type(value))
    for b in branches:
        if "const" in b:
            if b["const"] == value and type(b["const"]) is type(value):
                return True
            continue
        if "enum" in b:
            if any(x == value and type(x) is type(value) for x in b["enum"]):
                return True
            continue
        kinds = b.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
        if not kinds or kind in kinds or (kind == "integer" and "number" in kinds):
            return True
    return False


def _leaves_at(schema: dict[str, Any], path: list[Any]) -> list[dict[str, Any]]:
    """The schema's alternatives (`anyOf`/`oneOf` branches, `$ref`s followed) for the value at `path`."""
    defs = schema.get("$defs") or {}

    def deref(node: Any) -> Any:
        for _ in range(50):
            ref = node.get("$ref") if isinstance(node, dict) else None
            if not isinstance(ref, str):
                break
            node = defs.get(ref.rsplit("/", 1)[-1], {})
        return node

    nodes = [schema]
    for step in path:
        nxt = []
        for node in nodes:
            node = deref(node)
            branches = [deref(b) for b in node.get("anyOf") or node.get("oneOf") or node.get("allOf") or [node]]
            for b in branches:
                if isinstance(step, str) and isinstance(b.get("properties"), dict) and step in b["properties"]:
                    nxt.append(b["properties"][step])
                elif isinstance(step, str) and isinstance(b.get("additionalProperties"), dict):
                    nxt.append(b["additionalProperties"])
                elif isinstance(step, int) and isinstance(b.get("items"), dict):
                    nxt.append(b["items"])
                elif isinstance(step, int) and isinstance(b.get("prefixItems"), list) and step < len(b["prefixItems"]):
                    nxt.append(b["prefixItems"][step])
        nodes = nxt or nodes
    out: list[dict[str, Any]] = []
    for node in nodes:
        node = deref(node)
        out.extend(d for d in (deref(b) for b in node.get("anyOf") or node.get("oneOf") or [node]) if isinstance(d, dict))
    return out


def _wanted(schema: dict[str, Any], path: list[Any]) -> str:
    """What the schema allows at `path`, in words: `an integer or null`, `a string (date-time)`."""
    words: list[str] = []
    for b in _leaves_at(schema, path):
        if "const" in b:
            text = f"the constant {json.dumps(b['const'])}"
        elif "enum" in b:
            text = "one of " + ", ".join(json.dumps(x) for x in b["enum"][:6])
        else:
            kinds = b.get("type")
            kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
            text = " or ".join(_SCHEMA_KINDS.get(k, str(k)) for k in kinds) or "any value"
            if b.get("format"):
                text += f" ({b['format']})"
        if text not in words:
            words.append(text)
    return " or ".join(words) or "another value"


class _Kept:
    """An answer's state before its dump, put back after it, for a value `_read_back` cannot copy:
    serializers are the user's code, and what they do to the instance must not reach the object the
    caller gets back (bioimageio's `ValidationSummary` caches a subprocess's output on itself from a
    field serializer, wave 8). Its fields and private attributes, by identity: a change inside a
    field's own value is not undone, which is why a copy is dumped whenever one can be made."""

    __slots__ = ("output", "fields", "private")

    def __init__(self, output: BaseModel) -> None:
        self.output = output
        self.fields = dict(output.__dict__)
        private = output.__pydantic_private__
        self.private = dict(private) if private else None

    def restore(self) -> None:
        _put_back(self.output.__dict__, self.fields)
        private = self.output.__pydantic_private__
        if self.private is not None and private is not None:
            _put_back(private, self.private)


def _put_back(now: dict[str, Any], before: dict[str, Any]) -> None:
    if len(now) != len(before) or any(now.get(k, _put_back) is not v for k, v in before.items()):
        now.clear()
        now.update(before)


_NESTED: "weakref.WeakKeyDictionary[type, tuple[type[BaseModel], ...]]" = weakref.WeakKeyDictionary()


def nested_models(model: type[BaseModel]) -> tuple[type[BaseModel], ...]:
    """The model classes `model`'s fields declare, at any depth (not `model` itself): where an
    instance of a subclass would be written as the declared class (`whole_answer`). Once per class."""
    known = _NESTED.get(model)
    if known is None:
        known = tuple(c for c in _models_in(model) if c is not model)
        try:
            _NESTED[model] = known
        except TypeError:
            pass
    return known


def whole_answer(output: BaseModel, answer: str, plan: AnswerKeys | None = None) -> None:
    """Raise `SubclassAnswer` when a field of `output` holds an instance of a subclass of its
    declared model whose own fields the answer leaves out: pydantic writes a field by its declared
    type, so `answer` would teach (and dispatch hand back) another value, silently (prefect's
    `ResultRecordMetadata.serializer`, a `JSONSerializer` written `{"type":"json"}`, wave 8). Only
    called when a declared nested class has subclasses; costs one more dump then (`answer` is
    `answer_json(output, plan)`)."""
    if plan is None:
        plan = answer_keys(type(output))
    try:
        if plan == "mixed":  # renamed field by field: compare two dumps by name instead
            answer = output.model_dump_json()
        wide = output.model_dump_json(serialize_as_any=True, by_alias=plan == "alias")
    except PydanticSerializationError as exc:  # placeholders at their defaults, left out of `answer` alike
        exclude = _exclusion(_placeholder_fields(output, plan, exc))
        if plan == "mixed":
            answer = output.model_dump_json(exclude=exclude)
        wide = output.model_dump_json(serialize_as_any=True, by_alias=plan == "alias", exclude=exclude)
    if wide == answer:
        return
    where, have, written = _first_difference(json.loads(wide), json.loads(answer))
    model = type(output).__qualname__
    raise SubclassAnswer(f"returned a {model} whose answer {_cut(answer)} leaves out what a subclass instance holds "
                         f"at {where or 'its top'}: {_cut(json.dumps(have, separators=(',', ':')))} is written "
                         f"{_cut(json.dumps(written, separators=(',', ':')))} (the schema is the declared field type's)")


def _first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any]:
    """Where two JSON values first differ, as a path (`serializer`, `items[2]`), and both values there."""
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() >= b.keys():
        for key, value in b.items():
            if a[key] != value:
                return _first_difference(a[key], value, f"{path}.{key}" if path else key)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return path, a, b


# serializer kinds that run the user's code: anything else is pydantic's own, which reads back
_FUNCTION_SERIALIZERS = frozenset({"function-plain", "function-wrap"})
_OWN_SERIALIZER: "weakref.WeakKeyDictionary[type, bool]" = weakref.WeakKeyDictionary()


def own_serializer(model: type[BaseModel]) -> bool:
    """Whether anything in `model`'s core schema serializes through a function: a
    `@model_serializer`, a `@field_serializer`, `PlainSerializer`/`WrapSerializer` (and a few of
    pydantic's own types, such as IP addresses, at the cost of a check that passes). Such a model's
    answers are checked with `read_back` at capture. Decided once per class; a schema that cannot
    be read counts as one."""
    known = _OWN_SERIALIZER.get(model)
    if known is not None:
        return known
    try:
        todo: list[Any] = [model.__pydantic_core_schema__]
        found = False
        seen: set[int] = set()
        while todo and not found:
            node = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, dict):
                ser = node.get("serialization")
                found = isinstance(ser, dict) and ser.get("type") in _FUNCTION_SERIALIZERS
                todo.extend(node.values())
            elif isinstance(node, (list, tuple)):
                todo.extend(node)
    except Exception:
        found = True
    try:
        _OWN_SERIALIZER[model] = found
    except TypeError:  # not weak-referenceable: decided again next time
        pass
    return found


def _cut(text: str) -> str:
    """`text` (an answer's JSON, mostly) as a message quotes it: short, credentials masked."""
    text = masked(text)
    return text if len(text) <= 80 else text[:77] + "..."


class SerializedAnswer(DistilgenError, TypeError):
    """A return model's own serializer wrote an answer that does not read back as the same value
    (`read_back`): the line would teach a shape the tool schema does not describe, and dispatch
    validates answers against the fields. Capture counts it (`CaptureStats.causes`)."""


class SubclassAnswer(DistilgenError, TypeError):
    """A function declared `-> Base` returned an instance of a subclass whose answer is not the
    same value as a `Base`: the line would teach an answer the tool schema does not describe, and
    dispatch validates answers as `Base`. Capture counts it (`CaptureStats.causes`)."""


def _walk_objects(node: Any, visit: Any) -> Any:
    """A copy of a schema with `visit` applied to every object node (properties), inside out."""
    if isinstance(node, dict):
        out = {k: (_walk_objects(v, visit) if k not in ("properties", "$defs", "definitions")
                   else {n: _walk_objects(s, visit) for n, s in v.items()} if isinstance(v, dict) else v)
               for k, v in node.items()}
        return visit(out) if isinstance(out.get("properties"), dict) else out
    if isinstance(node, list):
        return [_walk_objects(x, visit) for x in node]
    return node


def decoding_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a constrained decoder (llama.cpp's grammar) should enforce: every property
    required, in field order. llama.cpp puts required properties first and lets optional ones be
    skipped, while every answer a model is trained on is `answer_json(...)`: all fields, in field
    order, defaults included. A field with a default before a required one would otherwise be
    forced out of place."""

    def visit(obj: dict[str, Any]) -> dict[str, Any]:
        return {**obj, "required": list(obj["properties"])}

    return _walk_objects(schema, visit)  # type: ignore[no-any-return]


def order_like(schema: dict[str, Any], answer: Any) -> dict[str, Any]:
    """`schema` with every object's properties in the key order of `answer` (a training answer):
    repairs a schema stored key-sorted (locks before field order was kept) so the decoder asks
    for the fields in the order the model learned them. Keys the answer lacks keep their place
    after the others; `required` follows the same order."""
    defs = schema.get("$defs") or schema.get("definitions") or {}
    orders: dict[int, list[str]] = {}

    def learn(node: Any, value: Any) -> None:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in defs:
            learn(defs[ref.rsplit("/", 1)[-1]], value)
        for branch in node.get("anyOf") or node.get("oneOf") or node.get("allOf") or []:
            learn(branch, value)
        props = node.get("properties")
        if isinstance(props, dict) and isinstance(value, dict):
            orders.setdefault(id(node), [k for k in value if k in props])
            for k, v in value.items():
                learn(props.get(k), v)
        if isinstance(node.get("items"), dict) and isinstance(value, list) and value:
            learn(node["items"], value[0])

    learn(schema, answer)

    def reorder(node: Any) -> Any:
        if isinstance(node, list):
            return [reorder(x) for x in node]
        if not isinstance(node, dict):
            return node
        out = {k: reorder(v) for k, v in node.items()}
        order = orders.get(id(node))
        if order is not None:
            props = out["properties"]
            names = order + [k for k in props if k not in order]
            out["properties"] = {k: props[k] for k in names}
            if isinstance(out.get("required"), list):
                req = set(out["required"])
                out["required"] = [k for k in names if k in req]
        return out

    return reorder(schema)  # type: ignore[no-any-return]


def declared_parameters(schema: dict[str, Any], tool_schema: ToolSchema) -> dict[str, Any] | None:
    """What the `tools`/`functions` declaration carries: the full schema, or None (omitted)."""
    if tool_schema not in TOOL_SCHEMAS:
        raise ValueError(f"tool_schema must be one of {', '.join(TOOL_SCHEMAS)}, got {tool_schema!r}")
    return schema if tool_schema == "full" else None


def tool_description(model: type[BaseModel]) -> str:
    """The model's own docstring, or "" (pydantic hands undocumented models BaseModel's)."""
    doc = model.__doc__ or ""
    return " ".join(doc.split()) if doc and doc is not BaseModel.__doc__ else ""


def declaration(name: str, description: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
    """One function declaration; empty description and omitted parameters leave their keys out."""
    out: dict[str, Any] = {"name": name}
    if description:
        out["description"] = description
    if parameters is not None:
        out["parameters"] = parameters
    return out


def request_tools(spec: Any) -> list[dict[str, Any]]:
    """`tools` for a chat request: identical to what the `tools` training lines carry."""
    return [{"type": "function", "function": declaration(spec.tool_name, spec.tool_description, spec.parameters)}]


def request_functions(spec: Any) -> list[dict[str, Any]]:
    """Legacy `functions` for a chat request: identical to the `messages` training lines."""
    return [declaration(spec.tool_name, spec.tool_description, spec.parameters)]


def response_format(spec: Any) -> dict[str, Any]:
    """JSON-schema structured output (non-strict: pydantic schemas are not always strict-compatible)."""
    return {"type": "json_schema", "json_schema": {"name": spec.tool_name, "schema": spec.schema}}


class NonFiniteFloat(ValueError):
    """A NaN or infinite float in what a line would record: JSON has no such value.

    pydantic writes it as `null` (a wrong answer to train on) and `json.dumps` as `NaN` (not JSON),
    so capture skips the call and counts it instead (`CaptureStats.causes`)."""


def _find_non_finite(value: Any) -> list[Any] | None:
    """The keys/indexes leading to the first NaN/inf float in plain data, or None (no strings built)."""
    if isinstance(value, float):  # numpy's float64 too
        return None if math.isfinite(value) else []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = enumerate(value)
    else:
        return None
    for k, v in items:
        if isinstance(v, (float, dict, list, tuple, set, frozenset)):
            hit = _find_non_finite(v)
            if hit is not None:
                return [k, *hit]
    return None


def _may_hold_float(node: Any) -> bool:
    """Whether a value valid under this JSON schema can hold a float: only then can it hold a NaN."""
    if node is True or node == {}:
        return True  # Any
    if not isinstance(node, dict):
        return False
    kind = node.get("type")
    if kind is not None:
        if "number" in (kind if isinstance(kind, list) else [kind]):
            return True
    elif not any(k in node for k in ("$ref", "anyOf", "oneOf", "allOf", "enum", "const")):
        return True  # no type given: anything goes
    return any(_may_hold_float(sub) for sub in _subschemas(node))


def _subschemas(node: dict[str, Any]) -> list[Any]:
    """The schemas directly inside `node`: items, properties, definitions, union members."""
    subs = [node.get("items"), node.get("additionalProperties")]
    for k in ("properties", "$defs", "definitions", "patternProperties"):
        subs.extend((node.get(k) or {}).values())
    for k in ("anyOf", "oneOf", "allOf", "prefixItems"):
        subs.extend(node.get(k) or [])
    return [sub for sub in subs if sub is not None]


def _may_hold_credential(node: Any) -> bool:
    """Whether a value valid under this JSON schema can hold a key named like a credential: a dict,
    `Any` or extra fields anywhere, or a property by such a name (the scan refuses those; a
    function decorated by hand is not scanned). Only then does capture look at an answer's keys
    (`credentials.credential_in_answer`)."""
    if node is True or node == {}:
        return True
    if not isinstance(node, dict):
        return False
    extra = node.get("additionalProperties")
    if extra is not None and extra is not False:
        return True
    if node.get("type") is None and not any(k in node for k in ("$ref", "anyOf", "oneOf", "allOf", "enum", "const",
                                                                 "properties", "$defs", "items")):
        return True  # no type given: anything goes
    if any(is_credential_name(k, bare_token=False) for k in node.get("properties") or {}):
        return True
    return any(_may_hold_credential(sub) for sub in _subschemas(node))


def _may_hold_time(node: Any) -> bool:
    """Whether a value valid under this JSON schema can hold a datetime or time (format
    `date-time`/`time`, or a field of any type): only then can an answer hold a zoned one."""
    if node is True or node == {}:
        return True
    if not isinstance(node, dict):
        return False
    if node.get("format") in ("date-time", "time"):
        return True
    if node.get("type") is None and not any(k in node for k in ("$ref", "anyOf", "oneOf", "allOf", "enum", "const")):
        return True
    return any(_may_hold_time(sub) for sub in _subschemas(node))


# --- times in a zone (wave 10) ---------------------------------------------------------------
#
# JSON has no time zones: pydantic writes `datetime(2026, 3, 1, tzinfo=ZoneInfo("Europe/Paris"))` as
# `2026-03-01T00:00:00+01:00`, and what reads it back (dispatch, a trained model's answer) gets a
# fixed offset: adding a day across a daylight saving change then gives another wall time than the
# function's own answer (ical 14.3.1's events). The example is skipped, naming the field, rather
# than written with another meaning. A zone whose offset does not change in the value's year (UTC,
# Asia/Tokyo, `Etc/GMT+5`) is written as its offset: nothing changes for arithmetic. Call
# arguments keep the zone (`zoneinfo.ZoneInfo(key=...)` in the call text, calls.py).

_AWARE_TEXT = re.compile(r'(?:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)|"\d\d:\d\d:\d\d(?:\.\d+)?)"')
"""An aware datetime or time as pydantic writes it, or a time of day (a `time` in a zone is written
without its zone): the cheap test on the answer's text before the walk. A naive datetime (the
string starts with its date) and answers without times do not pay the walk."""


class ZonedAnswer(DistilgenError, TypeError):
    """The answer holds a datetime (or time) in a time zone with daylight saving changes: JSON
    would write it as a fixed offset, which reads back with another meaning for arithmetic. Capture
    counts it (`CaptureStats.causes`)."""


_FIXED_TZINFOS = (datetime.timezone, _PydanticTzInfo)
_TIMES = (datetime.datetime, datetime.time)


def _zone_changes(v: datetime.datetime | datetime.time) -> bool:
    """Whether `v`'s tzinfo gives another offset somewhere in `v`'s year (daylight saving), or,
    for a time of day, has no offset of its own without a date."""
    tz = v.tzinfo
    if tz is None or type(tz) in _FIXED_TZINFOS:
        return False
    try:
        if isinstance(v, datetime.datetime):
            offsets = {tz.utcoffset(datetime.datetime(v.year, month, 1)) for month in range(1, 13)}
            offsets.add(v.utcoffset())
            return len(offsets) > 1 or bool(v.dst())
        return v.utcoffset() is None or bool(v.dst()) or bool(tz.utcoffset(None) != v.utcoffset())
    except Exception:  # noqa: BLE001 - a tzinfo that cannot say: not provably fixed
        return True


_SCALARS = frozenset({int, float, str, bool, bytes, bytearray, type(None), datetime.date, datetime.timedelta})
_TIME_PLANS: "weakref.WeakKeyDictionary[type, tuple[tuple[str, bool], ...]]" = weakref.WeakKeyDictionary()


def _holds_time(annotation: Any, seen: set[int]) -> bool:
    """Whether a value of this annotation can hold a datetime or time, at any depth (anything
    not known to be without one counts: `Any`, a class of the user's, a forward reference)."""
    if id(annotation) in seen:
        return False
    seen.add(id(annotation))
    if annotation in _SCALARS or annotation is None:
        return False
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return False
    if isinstance(annotation, type):
        if issubclass(annotation, _TIMES):
            return True
        if issubclass(annotation, BaseModel):
            fields = annotation.model_fields
            return any(_holds_time(f.annotation, seen) for f in fields.values()) or \
                annotation.model_config.get("extra") == "allow"
        if issubclass(annotation, (enum.Enum, int, float, str, bytes, decimal.Decimal, uuid.UUID)) or \
                annotation in (datetime.date, datetime.timedelta):
            return False
        if not args:
            return True  # a class of the user's, a dataclass: walked
    if origin is not None or args:
        return any(_holds_time(a, seen) for a in args if a is not Ellipsis) if args else True
    return True


def _time_plan(cls: type[BaseModel]) -> tuple[tuple[str, bool], ...]:
    """The fields of `cls` that can hold a datetime or time: (name, True when the field is a
    datetime/time itself, optional or not; False: walked). Once per class."""
    known = _TIME_PLANS.get(cls)
    if known is None:
        plan = []
        for name, info in cls.model_fields.items():
            ann = info.annotation
            if not _holds_time(ann, set()):
                continue
            inner = [a for a in (typing.get_args(ann) or (ann,)) if a is not type(None)]
            direct = all(isinstance(a, type) and issubclass(a, _TIMES) for a in inner)
            plan.append((name, direct))
        known = tuple(plan)
        try:
            _TIME_PLANS[cls] = known
        except TypeError:
            pass
    return known


def _zoned(value: Any, path: list[Any], seen: set[int], depth: int = 0) -> tuple[list[Any], Any] | None:
    """The first datetime/time in `value` whose zone `_zone_changes`, with its path. A model is
    looked into through the fields that can hold one (`_time_plan`) and its extras."""
    if isinstance(value, _TIMES):
        return (path, value) if _zone_changes(value) else None
    if depth > 100 or id(value) in seen:
        return None
    children: Any
    if isinstance(value, BaseModel):
        seen.add(id(value))
        fields = value.__dict__
        children = []
        for name, direct in _time_plan(type(value)):
            item = fields.get(name)
            if direct:
                if isinstance(item, _TIMES) and item.tzinfo is not None and _zone_changes(item):
                    return [*path, name], item
            elif item is not None:
                children.append((name, item))
        children.extend((value.__pydantic_extra__ or {}).items())
    elif isinstance(value, dict):
        seen.add(id(value))
        children = value.items()
    elif isinstance(value, (list, tuple, set, frozenset)):
        seen.add(id(value))
        children = enumerate(value)
    elif hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type):
        seen.add(id(value))
        children = [(n, getattr(value, n, None)) for n in type(value).__dataclass_fields__]
    else:
        return None
    for key, item in children:
        if isinstance(item, (str, int, float, bool, type(None))):
            continue
        hit = _zoned(item, [*path, key], seen, depth + 1)
        if hit is not None:
            return hit
    return None


def check_zones(output: BaseModel, answer: str, plan: tuple[tuple[str, bool], ...] | None = None) -> None:
    """`ZonedAnswer` when `output` (whose answer is `answer`) holds a datetime or time in a zone
    whose offset changes: its datetime fields are looked at directly (`plan`: `_time_plan`, kept
    by the caller), the rest walked only when the answer's text holds a time at all."""
    if plan is None:
        plan = _time_plan(type(output))
    fields = output.__dict__
    deep = bool(output.__pydantic_extra__)
    for name, direct in plan:
        if direct:
            item = fields.get(name)
            if isinstance(item, _TIMES) and item.tzinfo is not None and type(item.tzinfo) not in _FIXED_TZINFOS \
                    and _zone_changes(item):
                _refuse_zoned([name], item)
        else:
            deep = True
    if deep and _AWARE_TEXT.search(answer) is not None:
        hit = _zoned(output, [], set())
        if hit is not None:
            _refuse_zoned(*hit)


def _refuse_zoned(path: list[Any], value: Any) -> None:
    tz = value.tzinfo
    name = getattr(tz, "key", None) or (tz.tzname(value if isinstance(value, datetime.datetime) else None) or repr(tz))
    offset = value.isoformat()[-6:] if value.utcoffset() is not None else "none"
    raise ZonedAnswer(f"{_answer_path(path)} holds {value} in the time zone {name} (a {_qualified(type(tz))}): JSON "
                      f"writes it with the fixed offset {offset}, and read back (dispatch, training) it would no longer "
                      "follow the zone's daylight saving changes; a fixed-offset tzinfo (datetime.timezone) is captured")


def _spell_path(name: str, keys: list[Any]) -> str:
    path = name
    for k in keys:
        path += f".{k}" if isinstance(k, str) and k.isidentifier() else f"[{k!r}]"
    return path


def _refuse_non_finite(**parts: Any) -> None:
    for name, value in parts.items():
        keys = _find_non_finite(value)
        if keys is not None:
            bad = value
            for k in keys:
                bad = list(bad)[k] if isinstance(bad, (set, frozenset)) else bad[k]
            raise NonFiniteFloat(f"{_spell_path(name, keys)} = {bad!r}: JSON has no NaN or infinity, "
                                 "the line would record a wrong value")


def _call_id(user: str) -> str:
    return "call_" + hashlib.blake2b(user.encode("utf-8"), digest_size=8).hexdigest()


@dataclass(frozen=True)
class LineWriter:
    """Builds one JSONL line per call for a fixed (function, format, prompt)."""

    fmt: FinetuneFormat
    function_id: str
    tool_name: str
    prompt: str
    schema: dict[str, Any]
    description: str
    parameters: dict[str, Any] | None = None
    """What the tool declaration carries (None: omitted, see declared_parameters)."""
    # the line's constant parts, serialised once in __post_init__
    _head: str = field(init=False, repr=False, compare=False, default="")
    _mid: str = field(init=False, repr=False, compare=False, default="")
    _tail: str = field(init=False, repr=False, compare=False, default="")
    _name_json: str = field(init=False, repr=False, compare=False, default="")
    _floats: bool = field(init=False, repr=False, compare=False, default=False)
    _credentials: bool = field(init=False, repr=False, compare=False, default=False)
    _times: bool = field(init=False, repr=False, compare=False, default=False)
    _answers: tuple[type, AnswerKeys, bool, tuple[type[BaseModel], ...], tuple[tuple[str, bool], ...]] | None = field(
        init=False, repr=False, compare=False, default=None)
    """The last output class, its `answer_keys`, `own_serializer`, `nested_models` and `_time_plan`
    (one class per function: no lookup a call)."""

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"finetune_format must be one of {', '.join(FORMATS)}, got {self.fmt!r}")
        decl = declaration(self.tool_name, self.description, self.parameters)
        head = '{"messages":[{"role":"system","content":' + dumps(self.prompt) + '},{"role":"user","content":'
        if self.fmt == "tools":
            tools = dumps([{"type": "function", "function": decl}])
            mid = '},{"role":"assistant","tool_calls":[{"id":'
            tail = '}}]}],"tools":' + tools + ',"parallel_tool_calls":false}'
        else:
            functions = dumps([decl])
            mid = '},{"role":"assistant","function_call":{"name":' + dumps(self.tool_name) + ',"arguments":'
            tail = '}}],"functions":' + functions + "}"
        object.__setattr__(self, "_head", head)
        object.__setattr__(self, "_mid", mid)
        object.__setattr__(self, "_tail", tail)
        object.__setattr__(self, "_name_json", dumps(self.tool_name))
        object.__setattr__(self, "_floats", _may_hold_float(self.schema))
        object.__setattr__(self, "_times", _may_hold_time(self.schema))
        object.__setattr__(self, "_credentials", _may_hold_credential(self.schema))

    def line(self, user: str, call: str, args: tuple[Any, ...], kwargs: dict[str, Any], output: BaseModel,
             arguments: str | None = None) -> str:
        """One line; NonFiniteFloat when the output (or, in `raw`, an argument) holds NaN or infinity.

        `arguments`: the output's answer when already made (`validated_as`)."""
        if arguments is None:
            known = self._answers
            if known is None or known[0] is not type(output):
                cls = type(output)
                known = (cls, answer_keys(cls), own_serializer(cls), nested_models(cls),
                         _time_plan(cls) if self._times else ())
                object.__setattr__(self, "_answers", known)
            if known[2]:  # its own serializers: the answer checked, the instance put back as it was
                arguments = read_back(known[0], output)[1]
            else:
                arguments = answer_json(output, known[1])
                if known[3] and any(c.__subclasses__() for c in known[3]):
                    whole_answer(output, arguments, known[1])
                if known[4]:  # a datetime in a zone with daylight saving: see ZonedAnswer
                    check_zones(output, arguments, known[4])
        if self._credentials:  # a dict or a field named like a credential: look at the keys written
            leak = credential_in_answer(arguments)
            if leak is not None:
                raise CredentialValue(leak)
        if self.fmt != "raw" and self._floats and ("null" in arguments or "NaN" in arguments or "Infinity" in arguments):
            # pydantic writes NaN/inf as null (or NaN / "NaN" under ser_json_inf_nan): look closer only
            # then (a model_dump and a walk: ~8 us on a loaded machine for a 3-field model)
            _refuse_non_finite(output=output.model_dump())
        if self.fmt == "tools":
            return (self._head + _encode_str(user) + self._mid + _encode_str(_call_id(user))
                    + ',"type":"function","function":{"name":' + self._name_json
                    + ',"arguments":' + _encode_str(arguments) + self._tail)
        if self.fmt == "messages":
            return self._head + _encode_str(user) + self._mid + _encode_str(arguments) + self._tail
        record = self.raw(call, args, kwargs, output)
        try:
            return _json.COMPACT_FINITE.encode(record)
        except ValueError:
            _refuse_non_finite(output=record["output"], args=record["args"], kwargs=record["kwargs"])
            raise

    def raw(self, call: str, args: tuple[Any, ...], kwargs: dict[str, Any], output: BaseModel) -> dict[str, Any]:
        return {
            "format": "raw",
            "function_id": self.function_id,
            "prompt": self.prompt,
            "call": call,
            "args": to_jsonable_python(list(args)),
            "kwargs": to_jsonable_python(kwargs),
            "output": answer_data(output),
            "tool_name": self.tool_name,
            "schema": self.schema,
        }


def build_example(writer: LineWriter, user: str, call: str, args: tuple[Any, ...], kwargs: dict[str, Any], output: BaseModel) -> dict[str, Any]:
    """The same example as a dict (the slow path, used when a `redact` hook must see it)."""
    example: dict[str, Any] = loads(writer.line(user, call, args, kwargs, output))
    return example
