"""Wave 9 (ormar 0.26.0): a return model whose schema holds a class the library names at random on
each import (`PkOnlyArtist<6 letters>` in `$defs`) changed the lock's schema and fingerprint on
every `distilgen prompts`: the lock churned in every commit and a pinned model's fingerprint moved.
The same schema under other `$defs` names keeps the entry as recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distilgen.prompts.lock import record_prompts
from distilgen.prompts.lock_format import PromptRecord, same_but_def_names


def album(pk_only: str, *, swapped: bool = False) -> dict[str, Any]:
    refs = [{"type": "integer"}, {"$ref": "#/$defs/Artist"}, {"$ref": f"#/$defs/{pk_only}"}, {"type": "null"}]
    if swapped:
        refs[1], refs[2] = refs[2], refs[1]
    return {
        "$defs": {
            "Artist": {"properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                      "label": {"$ref": f"#/$defs/Label{pk_only[-3:]}"}}, "type": "object"},
            f"Label{pk_only[-3:]}": {"properties": {"name": {"type": "string"}}, "type": "object"},
            pk_only: {"properties": {"id": {"default": None, "type": "integer"}}, "type": "object"},
        },
        "properties": {"title": {"type": "string"}, "artist": {"anyOf": refs, "default": None}},
        "required": ["title"], "type": "object",
    }


def test_schemas_that_differ_only_in_def_names_are_the_same() -> None:
    a, b = json.dumps(album("PkOnlyArtistaxkmnx")), json.dumps(album("PkOnlyArtistrbkeqf"))
    assert a != b and same_but_def_names(a, b)
    # which definition is referenced where is the shape: swapped, it is another schema
    assert not same_but_def_names(a, json.dumps(album("PkOnlyArtistrbkeqf", swapped=True)))
    changed = album("PkOnlyArtistrbkeqf")
    changed["$defs"]["PkOnlyArtistrbkeqf"]["properties"]["id"]["type"] = "string"
    assert not same_but_def_names(a, json.dumps(changed))
    assert not same_but_def_names(a, "not json")


def test_prompts_keeps_an_entry_whose_schema_only_renamed_its_defs(tmp_path: Path) -> None:
    lock = tmp_path / "distilgen.lock"

    def record(schema: dict[str, Any], prompt: str = "Return the album.") -> Any:
        return record_prompts(lock, [PromptRecord("m:fn", "m.py", "fn", 1, 2, "Album", False, prompt, schema)])

    first = record(album("PkOnlyArtistaxkmnx"))
    assert first.added == ("m:fn",)
    text = lock.read_text()
    again = record(album("PkOnlyArtistrbkeqf"))
    assert (again.changed, again.written) == ((), False)
    assert lock.read_text() == text and "PkOnlyArtistaxkmnx" in text
    # a real change still changes it
    changed = album("PkOnlyArtistfrlubu")
    changed["properties"]["title"]["maxLength"] = 100
    assert record(changed).changed == ("m:fn",)
    assert record(changed, prompt="Return the album, now.").changed == ("m:fn",)
