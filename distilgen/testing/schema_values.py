"""A deterministic value that satisfies a JSON schema: the fake server's default answer."""

from __future__ import annotations

from typing import Any

__all__ = ["value_for_schema"]


def value_for_schema(schema: Any, root: Any = None, _depth: int = 0) -> Any:
    """The simplest value valid for `schema` (handles $ref/$defs, anyOf/oneOf/allOf, enum, const,
    objects, arrays, strings, numbers with bounds). Unknown shapes give None."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or _depth > 20:
        return None
    if "$ref" in schema:
        return value_for_schema(_resolve(schema["$ref"], root), root, _depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [s for s in schema[key] if not (isinstance(s, dict) and s.get("type") == "null")]
            return value_for_schema((options or schema[key])[0], root, _depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            if isinstance(part, dict) and "$ref" in part:
                part = _resolve(part["$ref"], root)
            merged.update(part if isinstance(part, dict) else {})
        return value_for_schema(merged, root, _depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object":
        props = schema.get("properties", {})
        return {name: value_for_schema(sub, root, _depth + 1) for name, sub in props.items()}
    if kind == "array":
        count = int(schema.get("minItems", 1) or 0)
        item = value_for_schema(schema.get("items", {}), root, _depth + 1)
        return [item for _ in range(count)]
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2024-01-01T00:00:00Z"
        if fmt == "date":
            return "2024-01-01"
        if fmt == "email":
            return "user@example.com"
        if fmt in ("uri", "url"):
            return "https://example.com/"
        if fmt == "uuid":
            return "00000000-0000-4000-8000-000000000000"
        text = "string"
        min_len = int(schema.get("minLength", 0) or 0)
        max_len = schema.get("maxLength")
        text = text.ljust(min_len, "x")
        return text[: int(max_len)] if max_len is not None else text
    if kind in ("integer", "number"):
        value: float = 0
        if "minimum" in schema:
            value = max(value, schema["minimum"])
        if "exclusiveMinimum" in schema:
            value = max(value, schema["exclusiveMinimum"] + 1)
        if "maximum" in schema:
            value = min(value, schema["maximum"])
        if "exclusiveMaximum" in schema:
            value = min(value, schema["exclusiveMaximum"] - 1)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    return None


def _resolve(ref: str, root: Any) -> Any:
    if not ref.startswith("#/"):
        return {}
    node = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return node
