"""A small JSON-schema checker: enough for the schemas pydantic generates, no new dependency.

Covers type, properties/required/additionalProperties, enum/const, anyOf/oneOf/allOf/not,
$ref into $defs/definitions, items/prefixItems, length/size/range bounds, pattern, and the
formats pydantic emits (date, date-time, time, uuid, email) checked loosely. Keywords it does
not know are ignored, as JSON Schema says, so a valid instance is never reported as invalid.
"""

from __future__ import annotations

import datetime
import math
import re
import reprlib
from typing import Any, Generator, Mapping

__all__ = ["schema_errors"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_FORMATS = {"date": _DATE, "date-time": _DATETIME, "time": _TIME, "uuid": _UUID, "email": _EMAIL}

_MAX_ERRORS = 20
_LOOP = "schema nests too deeply: recursive $ref"


def _real_date(fmt: str, value: str) -> bool:
    # the regex checks the shape; this rejects 2026-02-30 and 25:61
    try:
        if fmt == "date":
            datetime.date.fromisoformat(value)
        elif fmt == "date-time":
            datetime.datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", value.replace("t", "T")))
        elif fmt == "time":
            datetime.time.fromisoformat(re.sub(r"[Zz]$", "+00:00", value))
    except ValueError:
        return False
    return True


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_type(value: Any, expected: str) -> bool:
    actual = _type_name(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer":
        return actual == "integer" or (actual == "number" and math.isfinite(value) and float(value).is_integer())
    return actual == expected


_REPR = reprlib.Repr()
_REPR.maxlevel = 3  # a deep answer is shown by its top levels, without recursing to its bottom
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 20
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 80


def _short(value: Any) -> str:
    text = _REPR.repr(value) if isinstance(value, (dict, list)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _resolve(ref: str, root: Mapping[str, Any]) -> Any:
    if not ref.startswith("#"):
        raise KeyError(ref)
    node: Any = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _equal(a: Any, b: Any) -> bool:
    # JSON equality: 1 == 1.0 but True != 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


_NO_REFS: frozenset[str] = frozenset()


class _Call:
    """A request from one check to the driver: check `value` against `schema` into `checker`."""

    __slots__ = ("checker", "value", "schema", "path", "refs")

    def __init__(self, checker: _Checker, value: Any, schema: Any, path: str, refs: frozenset[str]) -> None:
        self.checker = checker
        self.value = value
        self.schema = schema
        self.path = path
        self.refs = refs


_Steps = Generator[_Call, None, None]


def _run(checker: _Checker, value: Any, schema: Any, path: str) -> None:
    # Checks are generators that yield the sub-checks they need and resume once those are done:
    # an explicit stack, so data of any depth is checked without Python recursion.
    stack: list[_Steps] = [checker.check(value, schema, path, _NO_REFS)]
    while stack:
        call = next(stack[-1], None)
        if call is None:
            stack.pop()
        else:
            stack.append(call.checker.check(call.value, call.schema, call.path, call.refs))


class _Checker:
    """Collects the errors of one check. `refs` are the `$ref`s followed since the check last
    descended into the data (a property or an item): meeting one of them again at the same value
    is a loop that would never end, while a `$ref` reached below a property or item always has less
    data left, so recursive models validate data of any depth."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.errors: list[str] = []

    def fail(self, path: str, message: str) -> None:
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(f"{path}: {message}")

    def extend(self, errors: list[str]) -> None:
        self.errors.extend(errors[:max(0, _MAX_ERRORS - len(self.errors))])

    def check(self, value: Any, schema: Any, path: str, refs: frozenset[str]) -> _Steps:
        if schema is True or schema is None:
            return
        if schema is False:
            self.fail(path, "no value is allowed here")
            return
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            ref = schema["$ref"]
            try:
                target = _resolve(ref, self.root)
            except (KeyError, IndexError, ValueError, TypeError):
                self.fail(path, f"schema $ref {ref!r} does not resolve")
                return
            if ref in refs:
                self.fail(path, f"{_LOOP} {ref!r} leads back to itself without consuming any data, "
                                "so no value can be checked against it")
                return
            yield _Call(self, value, target, path, refs | {ref})

        expected = schema.get("type")
        if expected is not None:
            types = expected if isinstance(expected, list) else [expected]
            if not any(_is_type(value, t) for t in types):
                self.fail(path, f"expected {' or '.join(types)}, got {_type_name(value)} {_short(value)}")
                return

        if "const" in schema and not _equal(value, schema["const"]):
            self.fail(path, f"expected {_short(schema['const'])}, got {_short(value)}")
        if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
            allowed = ", ".join(_short(e) for e in schema["enum"])
            self.fail(path, f"{_short(value)} is not one of {allowed}")

        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                # each alternative is checked once; its errors explain a failure without a second
                # pass (which, at every level of a recursive model, would cost 2**depth)
                results: list[list[str]] = []
                for option in options:
                    sub = _Checker(self.root)
                    yield _Call(sub, value, option, path, refs)
                    results.append(sub.errors)
                matches = sum(1 for errors in results if not errors)
                if matches == 0:
                    yield from self._explain_no_match(value, options, results, path, refs, schema)
                elif key == "oneOf" and matches > 1:
                    self.fail(path, f"matches {matches} of the oneOf alternatives, expected exactly one")
        for option in schema.get("allOf") or ():
            yield _Call(self, value, option, path, refs)
        if "not" in schema:
            sub = _Checker(self.root)
            yield _Call(sub, value, schema["not"], path, refs)
            if not sub.errors:
                self.fail(path, "matches a schema it must not match")

        if isinstance(value, dict):
            yield from self._object(value, schema, path)
        elif isinstance(value, list):
            yield from self._array(value, schema, path)
        elif isinstance(value, str):
            self._string(value, schema, path)
        elif _type_name(value) in ("integer", "number"):
            self._number(value, schema, path)

    def _explain_no_match(self, value: Any, options: list[Any], results: list[list[str]], path: str,
                          refs: frozenset[str], schema: Any = None) -> _Steps:
        # pydantic's discriminated unions name the branch: report that branch's own errors
        disc = schema.get("discriminator") if isinstance(schema, dict) else None
        if isinstance(disc, dict) and isinstance(value, dict):
            prop = disc.get("propertyName")
            mapping = disc.get("mapping") or {}
            tag = value.get(prop) if isinstance(prop, str) else None
            if isinstance(tag, str) and tag in mapping:
                for option, errors in zip(options, results):
                    if isinstance(option, dict) and option.get("$ref") == mapping[tag] and len(option) == 1:
                        self.extend(errors)
                        return
                yield _Call(self, value, {"$ref": mapping[tag]}, path, refs)
                return
            if isinstance(prop, str) and mapping:
                allowed = ", ".join(repr(k) for k in mapping)
                self.fail(path, f"{prop} {_short(tag)} is not one of {allowed}" if prop in value
                          else f"missing required property {prop!r} (one of {allowed})")
                return
        # Report the closest alternative's errors when only one alternative has the value's type:
        # "expected integer" is more useful than "matches none of 2 alternatives".
        typed = []
        for option, errors in zip(options, results):
            target = option
            for _ in range(8):  # follow a short $ref chain to the alternative's declared type
                if isinstance(target, dict) and "$ref" in target and "type" not in target:
                    try:
                        target = _resolve(target["$ref"], self.root)
                    except (KeyError, IndexError, ValueError, TypeError):
                        break
                else:
                    break
            kinds = target.get("type") if isinstance(target, dict) else None
            if kinds is not None and any(_is_type(value, t) for t in (kinds if isinstance(kinds, list) else [kinds])):
                typed.append(errors)
        loops = [e for errors in results for e in errors if _LOOP in e]
        if len(typed) == 1:
            self.extend(typed[0])
        elif loops:  # the schema's fault, not the value's: say so rather than "matches none"
            self.extend(loops[:1])
        else:
            self.fail(path, f"{_short(value)} matches none of the {len(options)} allowed alternatives")

    def _object(self, value: dict[str, Any], schema: Mapping[str, Any], path: str) -> _Steps:
        props = schema.get("properties") or {}
        for name in schema.get("required") or ():
            if name not in value:
                self.fail(path, f"missing required property {name!r}")
        extra = schema.get("additionalProperties", True)
        patterns = schema.get("patternProperties") or {}
        for key, item in value.items():
            child = f"{path}.{key}"
            if key in props:
                yield _Call(self, item, props[key], child, _NO_REFS)
                continue
            matched = [p for p in patterns if re.search(p, key)]
            for p in matched:
                yield _Call(self, item, patterns[p], child, _NO_REFS)
            if matched:
                continue
            if extra is False:
                self.fail(path, f"unexpected property {key!r} (allowed: {', '.join(props) or 'none'})")
            elif isinstance(extra, dict):
                yield _Call(self, item, extra, child, _NO_REFS)
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            self.fail(path, f"has {len(value)} properties, at least {schema['minProperties']} required")
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            self.fail(path, f"has {len(value)} properties, at most {schema['maxProperties']} allowed")

    def _array(self, value: list[Any], schema: Mapping[str, Any], path: str) -> _Steps:
        prefix = schema.get("prefixItems") or []
        for i, item in enumerate(value):
            if i < len(prefix):
                yield _Call(self, item, prefix[i], f"{path}[{i}]", _NO_REFS)
            elif "items" in schema and not isinstance(schema["items"], list):
                yield _Call(self, item, schema["items"], f"{path}[{i}]", _NO_REFS)
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.fail(path, f"has {len(value)} items, at least {schema['minItems']} required")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.fail(path, f"has {len(value)} items, at most {schema['maxItems']} allowed")
        if schema.get("uniqueItems"):
            for i in range(len(value)):
                if any(_equal(value[i], value[j]) for j in range(i)):
                    self.fail(f"{path}[{i}]", "duplicate item where items must be unique")
                    break

    def _string(self, value: str, schema: Mapping[str, Any], path: str) -> None:
        if "minLength" in schema and len(value) < schema["minLength"]:
            self.fail(path, f"shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            self.fail(path, f"longer than {schema['maxLength']} characters")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                if not re.search(pattern, value):
                    self.fail(path, f"{_short(value)} does not match pattern {pattern!r}")
            except re.error:
                pass  # an ECMA-only pattern Python cannot compile: not the data's fault
        fmt = _FORMATS.get(schema.get("format", ""))
        if fmt is not None and (not fmt.match(value) or not _real_date(schema["format"], value)):
            self.fail(path, f"{_short(value)} is not a valid {schema['format']}")

    def _number(self, value: float, schema: Mapping[str, Any], path: str) -> None:
        if "minimum" in schema and value < schema["minimum"]:
            self.fail(path, f"{value} is less than the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            self.fail(path, f"{value} is greater than the maximum {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            self.fail(path, f"{value} must be greater than {schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            self.fail(path, f"{value} must be less than {schema['exclusiveMaximum']}")
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            q = value / step
            if abs(q - round(q)) > 1e-9:
                self.fail(path, f"{value} is not a multiple of {step}")


def schema_errors(value: Any, schema: Any, path: str = "$") -> list[str]:
    """Every way `value` breaks `schema`, as `path: message` strings (empty when it conforms)."""
    checker = _Checker(schema)
    _run(checker, value, schema, path)
    return checker.errors
