"""The three dataset shapes, and the tool schema capture and dispatch both send.

- `tools`: the current OpenAI chat fine-tuning shape (assistant `tool_calls`, top-level `tools`).
- `messages`: the legacy function-calling shape instructor writes (`function_call`, `functions`).
- `raw`: function id, prompt, call, args, kwargs, output and schema, for other trainers.

Lines are assembled from pre-serialised constant parts (system message, tools) so a call costs
one `model_dump_json` and two small `json.dumps`; the result is still compact, deterministic JSON.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import typing
import weakref
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from .. import _json
from ..errors import DistilgenError
from ..contracts import FORMATS, TOOL_SCHEMAS, FinetuneFormat, ToolSchema
# THE schema compaction lives in the self-contained script the project's interpreter runs for
# `distilgen prompts`, so the lock and the runtime compact alike (pydantic repeats every field
# name as a "title": pure token cost, no information)
from ..prompts._schema_worker import compact_schema

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
    """The return model's JSON schema as the model sees it in `tools`: compact, titles dropped."""
    return compact_schema(model.model_json_schema())  # type: ignore[no-any-return]


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

    A model without aliases gives exactly `model_dump_json()`."""
    if plan is None:
        plan = answer_keys(type(output))
    if plan == "name":
        return output.model_dump_json()
    if plan == "alias":
        return output.model_dump_json(by_alias=True)
    return dumps(answer_data(output))


def answer_data(output: BaseModel) -> Any:
    """The same answer as JSON data (a `raw` line's `output`)."""
    plan = answer_keys(type(output))
    if plan == "name":
        return output.model_dump(mode="json")
    data = output.model_dump(mode="json", by_alias=plan == "alias")
    return _rekey(output, data) if plan == "mixed" else data


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
    finally:
        if kept is not None:
            kept.restore()
    try:
        back = model.model_validate_json(answer)
    except Exception as exc:  # ValidationError mostly; any refusal means the answer does not fit
        first = str(exc).splitlines()
        raise error(f"{lead} {_cut(answer)} is not a valid {model.__qualname__} "
                    f"({first[0] if first else type(exc).__name__})") from None
    try:
        again = answer_json(back)
    except Exception as exc:  # the serializer refuses the value it validated: not the same answer either
        raise error(f"{lead} {_cut(answer)} reads back as a {model.__qualname__} that cannot be written again "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    if again != answer:
        raise error(f"{lead} {_cut(answer)} reads back as the {model.__qualname__} {_cut(again)}: {schema_says}")
    return back, answer


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
    if plan == "mixed":  # renamed field by field: compare two dumps by name instead
        answer = output.model_dump_json()
    wide = output.model_dump_json(serialize_as_any=True, by_alias=plan == "alias")
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
    subs = [node.get("items"), node.get("additionalProperties")]
    for k in ("properties", "$defs", "definitions", "patternProperties"):
        subs.extend((node.get(k) or {}).values())
    for k in ("anyOf", "oneOf", "allOf", "prefixItems"):
        subs.extend(node.get(k) or [])
    return any(_may_hold_float(sub) for sub in subs if sub is not None)


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
    _answers: tuple[type, AnswerKeys, bool, tuple[type[BaseModel], ...]] | None = field(
        init=False, repr=False, compare=False, default=None)
    """The last output class and its `answer_keys` (one class per function: no lookup a call)."""

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

    def line(self, user: str, call: str, args: tuple[Any, ...], kwargs: dict[str, Any], output: BaseModel,
             arguments: str | None = None) -> str:
        """One line; NonFiniteFloat when the output (or, in `raw`, an argument) holds NaN or infinity.

        `arguments`: the output's answer when already made (`validated_as`)."""
        if arguments is None:
            known = self._answers
            if known is None or known[0] is not type(output):
                cls = type(output)
                known = (cls, answer_keys(cls), own_serializer(cls), nested_models(cls))
                object.__setattr__(self, "_answers", known)
            if known[2]:  # its own serializers: the answer checked, the instance put back as it was
                arguments = read_back(known[0], output)[1]
            else:
                arguments = answer_json(output, known[1])
                if known[3] and any(c.__subclasses__() for c in known[3]):
                    whole_answer(output, arguments, known[1])
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
