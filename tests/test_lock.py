"""distilgen.lock: format, determinism, pinned prompts, dispatch selection, corrupt files, datasets."""

from __future__ import annotations

import json
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilgen.errors import DistilgenError
from distilgen.prompts.lock import (
    LockError,
    LockedPrompt,
    PromptGoneError,
    PromptRecord,
    canonical_schema,
    dump_lock,
    load_lock,
    locked_prompt,
    prompt_for_dispatch,
    record_model,
    record_models,
    record_prompts,
)
from distilgen.prompts.render import RENDERER_VERSION, fingerprint

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def rec(fid: str = "pkg.mod:fn", prompt: str = "Predict fn.\n\ndef fn(a: int) -> M:\n    ...", schema=SCHEMA, **kw) -> PromptRecord:
    base = dict(function_id=fid, path="pkg/mod.py", qualname=fid.split(":")[1], start_line=3, end_line=5,
                tool="M", include_body=False, prompt=prompt, schema=schema)
    base.update(kw)
    return PromptRecord(**base)  # type: ignore[arg-type]


def test_record_then_load_round_trips(tmp_path):
    lock = tmp_path / "distilgen.lock"
    r = rec()
    result = record_prompts(lock, [r])
    assert result.added == ("pkg.mod:fn",) and result.written
    entry = locked_prompt("pkg.mod:fn", lock)
    assert entry is not None
    assert entry.prompt == r.prompt
    assert entry.schema == SCHEMA
    assert entry.fingerprint == fingerprint(r.prompt, SCHEMA) == r.fingerprint
    assert (entry.path, entry.qualname, entry.start_line, entry.end_line) == ("pkg/mod.py", "fn", 3, 5)
    assert entry.renderer == RENDERER_VERSION
    text = lock.read_text()
    # the prompt is a multi-line literal: each prompt line is a line of the file (readable diffs)
    assert "def fn(a: int) -> M:\n    ...'''" in text
    # nothing changed -> nothing written
    mtime = lock.stat().st_mtime_ns
    again = record_prompts(lock, [r])
    assert not again.written and not (again.added or again.changed or again.moved)
    assert lock.stat().st_mtime_ns == mtime


def test_output_is_sorted_and_independent_of_input_order(tmp_path):
    a, b, c = rec("z.mod:f"), rec("a.mod:g"), rec("m.mod:Cls.h")
    t1 = record_prompts(tmp_path / "one.lock", [a, b, c]).text
    t2 = record_prompts(tmp_path / "two.lock", [c, a, b]).text
    assert t1 == t2
    headers = [line for line in t1.splitlines() if line.startswith("[functions.")]
    assert headers == ['[functions."a.mod:g"]', '[functions."m.mod:Cls.h"]', '[functions."z.mod:f"]']
    # entries are separated by blank lines and nothing else: adding one never edits a neighbour
    assert "\n\n[functions." in t1 and "," not in t1.split("[functions.", 1)[1].split("schema", 1)[0].replace("lines = [3, 5]", "")


@settings(max_examples=200, deadline=None)
@given(prompt=st.text(), model=st.text(min_size=1, max_size=30), fid=st.text(min_size=1, max_size=40), desc=st.text())
def test_any_text_round_trips_exactly(tmp_path_factory, prompt, model, fid, desc):
    schema = {**SCHEMA, "description": desc}
    fp = fingerprint(prompt, schema)
    entry = LockedPrompt(function_id=fid, path="p.py", qualname="f", start_line=1, end_line=2, tool="T",
                         include_body=True, renderer=RENDERER_VERSION, fingerprint=fp,
                         schema_json=canonical_schema(schema), prompt=prompt, models=((model, fp),))
    path = tmp_path_factory.mktemp("rt") / "distilgen.lock"
    path.write_text(dump_lock([entry]), encoding="utf-8")
    back = load_lock(path).get(fid)
    assert back is not None
    assert back.schema == schema and back.fingerprint == fingerprint(back.prompt, back.schema)
    assert back.prompt == prompt and back.models == ((model, fp),) and back.include_body is True


def test_changed_prompt_is_pinned_while_a_model_references_it(tmp_path):
    lock = tmp_path / "distilgen.lock"
    old = rec(prompt="old prompt")
    record_prompts(lock, [old])
    record_model(lock, old.function_id, "ft:gpt-4o-mini:acme::abc")
    new = rec(prompt="new prompt")
    result = record_prompts(lock, [new])
    assert result.changed == (old.function_id,)
    assert result.pinned == (f"{old.function_id} {old.fingerprint}",)
    entry = load_lock(lock).get(old.function_id)
    assert entry.fingerprint == new.fingerprint and entry.prompt == "new prompt"
    assert entry.prompt_for(old.fingerprint) == "old prompt"
    assert entry.model_fingerprint("ft:gpt-4o-mini:acme::abc") == old.fingerprint
    # dispatch sends the model the prompt it was trained on, not today's
    sent = prompt_for_dispatch(old.function_id, "ft:gpt-4o-mini:acme::abc", "new prompt", new.fingerprint,
                               lock_path=lock, use_current=False)
    assert sent == "old prompt"
    # binding the same model again without a fingerprint keeps what it was trained on
    record_model(lock, old.function_id, "ft:gpt-4o-mini:acme::abc")
    assert load_lock(lock).get(old.function_id).model_fingerprint("ft:gpt-4o-mini:acme::abc") == old.fingerprint
    # once it is rebound to the new prompt (retrained), the old one is no longer kept
    record_model(lock, old.function_id, "ft:gpt-4o-mini:acme::abc", new.fingerprint)
    entry = load_lock(lock).get(old.function_id)
    assert entry.pinned == () and entry.prompt_for(old.fingerprint) is None


def test_unreferenced_old_prompts_are_not_kept(tmp_path):
    lock = tmp_path / "distilgen.lock"
    record_prompts(lock, [rec(prompt="v1")])
    record_prompts(lock, [rec(prompt="v2")])
    entry = load_lock(lock).get("pkg.mod:fn")
    assert entry.pinned == () and entry.prompt == "v2"


def test_prompt_for_dispatch_cases(tmp_path):
    lock = tmp_path / "distilgen.lock"
    fid = "pkg.mod:fn"
    # no lock file at all: the prompt rendered from source
    assert prompt_for_dispatch(fid, "ft:x", "current", "sha256:0000000000000000", lock_path=lock, use_current=False) == "current"
    assert prompt_for_dispatch(fid, "ft:x", "current", "sha256:0000000000000000", lock_path=None, use_current=False) == "current"
    r = rec()
    record_prompts(lock, [r])
    # a model the lock knows nothing about: the current prompt
    assert prompt_for_dispatch(fid, "ft:unknown", r.prompt, r.fingerprint, lock_path=lock, use_current=False) == r.prompt
    record_model(lock, fid, "ft:x")
    assert prompt_for_dispatch(fid, "ft:x", r.prompt, r.fingerprint, lock_path=lock, use_current=False) == r.prompt
    # the trained-on prompt is gone (lock edited / entry re-created): refuse, naming everything
    text = lock.read_text().replace(f'"ft:x" = "{r.fingerprint}"', '"ft:x" = "sha256:deadbeefdeadbeef"')
    lock.write_text(text)
    with pytest.raises(PromptGoneError) as info:
        prompt_for_dispatch(fid, "ft:x", r.prompt, r.fingerprint, lock_path=lock, use_current=False)
    msg = str(info.value)
    assert fid in msg and "ft:x" in msg and "sha256:deadbeefdeadbeef" in msg and r.fingerprint in msg
    assert isinstance(info.value, DistilgenError)
    assert prompt_for_dispatch(fid, "ft:x", r.prompt, r.fingerprint, lock_path=lock, use_current=True) == r.prompt


def test_record_model_errors_name_the_function(tmp_path):
    lock = tmp_path / "distilgen.lock"
    with pytest.raises(LockError, match=r"no entry for pkg.mod:fn.*distilgen prompts"):
        record_model(lock, "pkg.mod:fn", "ft:x")
    record_prompts(lock, [rec()])
    with pytest.raises(LockError, match=r"distilgen.lock:\d+: pkg.mod:fn has no prompt with fingerprint sha256:1111111111111111"):
        record_model(lock, "pkg.mod:fn", "ft:x", "sha256:1111111111111111")


def test_record_models_pins_many_in_one_write_like_one_at_a_time(tmp_path, monkeypatch):
    """`apply --dispatch` pinned each function with its own read and write of the lock: 400
    functions took 132 s (third held-out wave); one write now, the same file as one at a time."""
    import distilgen.prompts.lock_store as store

    fids = [f"pkg.mod:f{i}" for i in range(5)]
    one, many = tmp_path / "one" / "distilgen.lock", tmp_path / "many" / "distilgen.lock"
    for lock in (one, many):
        lock.parent.mkdir()
        record_prompts(lock, [rec(fid, prompt=f"Predict {fid}.") for fid in fids])
    for fid in fids:
        record_model(one, fid, "ft:x")
    writes = []
    real = store._write_atomic
    monkeypatch.setattr(store, "_write_atomic", lambda path, text: (writes.append(path), real(path, text)))
    recorded, failed = record_models(many, [*fids, "pkg.mod:gone"], "ft:x")
    assert len(writes) == 1
    assert [e.function_id for e in recorded] == fids
    assert list(failed) == ["pkg.mod:gone"] and "no entry for pkg.mod:gone" in str(failed["pkg.mod:gone"])
    assert many.read_text() == one.read_text()
    assert record_models(many, fids, "ft:x")[0] and len(writes) == 1  # already pinned: nothing written


@pytest.mark.parametrize(
    "mutate, expect",
    [
        (lambda t: t.replace("lines = [3, 5]", "lines = [3, 5"), r"distilgen.lock:\d+:\d+: corrupt lock file"),
        (lambda t: t.replace("version = 1", "version = 7"), r"distilgen.lock:1: lock file version 7"),
        (lambda t: t.replace('tool = "M"\n', ""), r"distilgen.lock:5: entry 'pkg.mod:fn': 'tool' must be a str"),
        (lambda t: t.replace("include-body = false", 'include-body = "no"'), r"distilgen.lock:5: .*'include-body' must be a bool"),
        (lambda t: t.replace("schema = '{", "schema = 'x{"), r"distilgen.lock:5: .*'schema' is not valid JSON"),
        (lambda t: t + "\n[functions.\"pkg.mod:fn\".models]\n\"ft:x\" = \"nope\"\n", r"corrupt lock file|not a fingerprint"),
        (lambda t: t.replace("version = 1", "version = 1\nextra = 2"), r"unknown top-level key"),
    ],
)
def test_corrupt_lock_names_file_and_line(tmp_path, mutate, expect):
    lock = tmp_path / "distilgen.lock"
    record_prompts(lock, [rec()])
    lock.write_text(mutate(lock.read_text()))
    with pytest.raises(LockError, match=expect):
        load_lock(lock)


def test_not_utf8_names_the_line(tmp_path):
    lock = tmp_path / "distilgen.lock"
    lock.write_bytes(b"version = 1\n# \xff\n")
    with pytest.raises(LockError, match=r"distilgen.lock:2: corrupt lock file: not UTF-8"):
        load_lock(lock)


def test_parsed_lock_is_cached_until_the_file_changes(tmp_path):
    lock = tmp_path / "distilgen.lock"
    record_prompts(lock, [rec()])
    first = load_lock(lock)
    assert load_lock(lock) is first
    record_prompts(lock, [rec(prompt="changed")])
    second = load_lock(lock)
    assert second is not first and second.get("pkg.mod:fn").prompt == "changed"


def test_atomic_write_keeps_permissions_and_leaves_no_temp_files(tmp_path):
    lock = tmp_path / "distilgen.lock"
    record_prompts(lock, [rec()])
    os.chmod(lock, 0o640)
    record_prompts(lock, [rec(prompt="changed")])
    assert stat.S_IMODE(lock.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["distilgen.lock"]


def test_keep_only_drops_functions_that_are_gone(tmp_path):
    lock = tmp_path / "distilgen.lock"
    record_prompts(lock, [rec("a:f"), rec("b:g")])
    result = record_prompts(lock, [rec("a:f")], keep_only={"a:f"})
    assert result.removed == ("b:g",)
    assert [e.function_id for e in load_lock(lock)] == ["a:f"]


def test_shifted_lines_alone_do_not_rewrite_the_lock(tmp_path):
    lock = tmp_path / "distilgen.lock"
    record_prompts(lock, [rec()])
    before = lock.read_bytes()
    result = record_prompts(lock, [rec(start_line=30, end_line=32)])
    assert not result.written and lock.read_bytes() == before
    # a real change records the new span along with the new prompt
    record_prompts(lock, [rec(prompt="changed", start_line=30, end_line=32)])
    entry = load_lock(lock).get("pkg.mod:fn")
    assert (entry.start_line, entry.end_line) == (30, 32)


def test_nothing_distilled_writes_no_lock(tmp_path):
    result = record_prompts(tmp_path / "distilgen.lock", [])
    assert not result.written and not (tmp_path / "distilgen.lock").exists()


_RECORD_MANY = """
import sys
from distilgen.prompts.lock import record_model
lock, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(first, first + count):
    record_model(lock, "pkg.mod:fn", f"ft:model-{i:03d}")
"""


def test_concurrent_record_model_loses_nothing(tmp_path):
    import subprocess
    import sys

    lock = tmp_path / "distilgen.lock"
    record_prompts(lock, [rec()])
    procs = [subprocess.Popen([sys.executable, "-c", _RECORD_MANY, str(lock), str(k * 10), "10"]) for k in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    entry = load_lock(lock).get("pkg.mod:fn")
    assert [m for m, _ in entry.models] == [f"ft:model-{i:03d}" for i in range(40)]


@given(prompt=st.text(), schema=st.dictionaries(st.text(), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c), max_leaves=8)))
def test_fingerprint_of_a_canonical_schema_needs_no_parse(prompt, schema):

    from distilgen.prompts.lock import canonical_schema
    from distilgen.prompts.render import fingerprint, fingerprint_json

    sorted_text = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert fingerprint_json(prompt, sorted_text) == fingerprint(prompt, schema)
    # The lock spells schemas in field order (what llama.cpp's grammar follows), so check's fast
    # path can miss; it then hashes the parsed schema, which must give the recorded fingerprint.
    assert fingerprint(prompt, json.loads(canonical_schema(schema))) == fingerprint(prompt, schema)


def test_a_shared_schema_is_written_once(tmp_path):
    """zenml (third held-out wave): hundreds of methods returning the same response models made an
    18 MB lock, 17.8 MB of it copies of schemas. A schema two or more entries (or pinned prompts)
    answer with goes once into `[schemas]`, named by its hash; a lock without one keeps version 1's
    bytes; the entries read back the same either way."""
    from distilgen.prompts.lock_format import dump_lock, parse_lock, schema_key

    big = {"type": "object", "properties": {f"f{i}": {"type": "string", "description": "x" * 200} for i in range(20)}}
    lock = tmp_path / "distilgen.lock"
    record_prompts(lock, [rec(f"pkg.mod:f{i}", prompt=f"Predict f{i}.", schema=big) for i in range(50)] + [rec("pkg.mod:own")])
    text = lock.read_text()
    shared = json.dumps(big, separators=(",", ":"))
    assert text.count(shared) == 1 and "version = 2\n" in text and text.count("schema-ref = ") == 50
    assert f'\n[schemas]\n"{schema_key(shared)}" = \'{shared}\'\n' in text
    assert len(text) < 50 * len(shared) / 5
    loaded = load_lock(lock)
    assert all(e.schema == big for e in loaded if e.function_id != "pkg.mod:own") and loaded.get("pkg.mod:own").schema == SCHEMA
    assert dump_lock(parse_lock(lock, text).entries) == text  # deterministic, round trip
    # a pinned prompt shares it too
    record_model(lock, "pkg.mod:f0", "ft:x")
    record_prompts(lock, [rec("pkg.mod:f0", prompt="Predict f0, reworded.", schema=big)])
    text = lock.read_text()
    assert text.count(shared) == 1 and load_lock(lock).get("pkg.mod:f0").pinned[0].schema_json == shared
    # nothing shared: the version 1 text, byte for byte as before
    solo = tmp_path / "solo" / "distilgen.lock"
    solo.parent.mkdir()
    record_prompts(solo, [rec("pkg.mod:a", schema=big), rec("pkg.mod:b")])
    assert "version = 1\n" in solo.read_text() and "[schemas]" not in solo.read_text()


@pytest.mark.parametrize(
    "mutate, expect",
    [
        (lambda t: t.replace("schema-ref = \"sha256:", "schema-ref = \"sha256:0", 1), r"distilgen.lock:\d+: entry 'pkg.mod:a': 'schema-ref' .* is not in the \[schemas\] table"),
        (lambda t: t.replace("\"x\":1", "\"x\":2"), r"distilgen.lock:\d+: schema 'sha256:[0-9a-f]+' does not match its text"),
        (lambda t: t.replace("= '{\"x\":1}'", "= '{x'"), r"schema 'sha256:[0-9a-f]+' is not valid JSON"),
        (lambda t: t.replace("version = 2", "version = 1"), r"distilgen.lock:1: unknown top-level key\(s\) schemas"),
        (lambda t: t.replace("schema-ref = ", "schema = '{}'\nschema-ref = ", 1), r"has both 'schema' and 'schema-ref'"),
    ],
)
def test_corrupt_shared_schemas_name_the_file_and_line(tmp_path, mutate, expect):
    lock = tmp_path / "distilgen.lock"
    record_prompts(lock, [rec("pkg.mod:a", schema={"x": 1}), rec("pkg.mod:b", schema={"x": 1})])
    lock.write_text(mutate(lock.read_text()))
    with pytest.raises(LockError, match=expect):
        load_lock(lock)
