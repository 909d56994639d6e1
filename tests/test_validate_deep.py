"""`dataset validate` on recursive models: finite answers of any depth validate (no RecursionError, no
"nests too deeply"), and only a loop of `$ref`s that consumes no data is refused, in one line."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import pytest
from pydantic import BaseModel

from distilgen.ops.dataset import validate_file
from distilgen.ops.jsonschema import schema_errors


class Entry(BaseModel):
    """docling-core's PdfTableOfContents shape: children of children, each a list of the same model."""
    text: str
    children: list["Entry"] = []
    marker: Optional[str] = None


class Chain(BaseModel):
    """A linked list: every level goes through an anyOf (Optional) into a $ref."""
    value: int
    next: Optional["Chain"] = None


ENTRY = Entry.model_json_schema()
CHAIN = Chain.model_json_schema()


def entry(depth: int, leaf_text: Any = "leaf") -> dict[str, Any]:
    node: dict[str, Any] = {"text": leaf_text, "children": [], "marker": None}
    for d in range(depth - 1, -1, -1):
        node = {"text": f"level {d}", "children": [node], "marker": None}
    return node


def chain(depth: int, leaf_value: Any = 0) -> dict[str, Any]:
    node: dict[str, Any] = {"value": leaf_value, "next": None}
    for d in range(depth - 1, -1, -1):
        node = {"value": d, "next": node}
    return node


@pytest.mark.parametrize("depth", [25, 65, 500, 1000])
def test_finite_recursive_data_of_any_depth_validates(depth: int) -> None:
    assert schema_errors(entry(depth), ENTRY) == []
    assert schema_errors(chain(depth), CHAIN) == []


def test_the_pydantic_dump_of_a_deep_model_validates() -> None:
    model = Entry(text="leaf")
    for d in range(99, -1, -1):
        model = Entry(text=f"level {d}", children=[model])
    assert schema_errors(json.loads(model.model_dump_json()), ENTRY, "arguments") == []


@pytest.mark.parametrize("depth", [500, 1000])
def test_an_error_at_the_bottom_of_deep_data_is_reported_at_its_path(depth: int) -> None:
    errors = schema_errors(entry(depth, leaf_text=7), ENTRY, "arguments")
    assert errors == ["arguments" + ".children[0]" * depth + ".text: expected string, got integer 7"]
    errors = schema_errors(chain(depth, leaf_value="x"), CHAIN, "arguments")
    assert errors == ["arguments" + ".next" * depth + ".value: expected integer, got string 'x'"]


def test_an_error_under_nested_alternatives_is_found_in_linear_time() -> None:
    # each level is an anyOf (Optional): re-checking the matching alternative to explain a failure
    # at every level would cost 2**depth
    start = time.monotonic()
    errors = schema_errors(chain(300, leaf_value="x"), CHAIN, "arguments")
    assert errors == ["arguments" + ".next" * 300 + ".value: expected integer, got string 'x'"]
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("schema", [
    {"$defs": {"A": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"},
    {"$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"allOf": [{"$ref": "#/$defs/A"}]}}, "$ref": "#/$defs/A"},
    {"$defs": {"A": {"type": "object", "properties": {"x": {"$ref": "#/$defs/B"}}},
               "B": {"anyOf": [{"$ref": "#/$defs/B"}]}}, "$ref": "#/$defs/A"},
])
def test_a_ref_loop_that_consumes_no_data_is_one_clear_error(schema: dict[str, Any]) -> None:
    value: Any = {"x": 1}
    errors = schema_errors(value, schema, "arguments")
    assert len(errors) == 1, errors
    assert "\n" not in errors[0]
    assert "recursive $ref" in errors[0] and "without consuming" in errors[0], errors
    assert "nests too deeply" in errors[0]  # the wording tests and users already match on


def test_a_ref_loop_beside_a_matching_alternative_does_not_hide_the_match() -> None:
    schema = {"$defs": {"A": {"anyOf": [{"$ref": "#/$defs/A"}, {"type": "integer"}]}}, "$ref": "#/$defs/A"}
    assert schema_errors(3, schema) == []


def _tools_line(arguments: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "Predict the result of this function:\n\ndef nest(depth: int) -> Entry:\n    ..."},
            {"role": "user", "content": f"Return nest({n})"},
            {"role": "assistant", "tool_calls": [{"id": f"call_{n}", "type": "function",
                                                  "function": {"name": "Entry", "arguments": json.dumps(arguments)}}]},
        ],
        "tools": [{"type": "function", "function": {"name": "Entry", "description": "Return an Entry.",
                                                    "parameters": ENTRY}}],
        "parallel_tool_calls": False,
    }


def test_dataset_validate_accepts_deep_recursive_answers(tmp_path: Path) -> None:
    # 200 levels are 400 nested JSON containers, within what Python's json module parses
    depths = [5, 25, 70, 120, 200, 3, 4, 6, 7, 8]
    path = tmp_path / "deep.jsonl"
    path.write_text("".join(json.dumps(_tools_line(entry(d), d)) + "\n" for d in depths), encoding="utf-8")
    report = validate_file(path, duplicates=False)
    assert report.errors == (), [str(p) for p in report.errors]
