"""The lock file's format: its records and their TOML text, both ways (see `lock.py` for the layout).

Why TOML: it reads with the standard library (`tomllib`), its tables need no separators between
them (adding an entry never touches its neighbours, unlike JSON's commas), and a prompt can be a
multi-line literal string, so a changed docstring shows up as a changed line in a diff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from .. import _json
from .._hashes import sha256
from ..errors import DistilgenError
from .._toml import TomlSyntaxError, parse_toml
from .render import RENDERER_VERSION, fingerprint as compute_fingerprint

__all__ = ["LOCK_VERSION", "LockError", "PinnedPrompt", "LockedPrompt", "PromptRecord", "Lock", "canonical_schema",
           "same_but_def_names", "schema_key", "dump_lock", "parse_lock"]

LOCK_VERSION = 2
"""The newest version this distilgen writes: 2 when a schema is shared (the `[schemas]` table),
1 otherwise (a lock without shared schemas keeps the bytes version 1 gave it); both are read."""
_VERSIONS = (1, 2)
_HEADER = (
    "# distilgen.lock: the system prompts distilled models are trained on, recorded from source.\n"
    "# Written by `distilgen prompts`, `distilgen apply` and `distilgen train`. Commit it; do not edit.\n"
)


class LockError(DistilgenError):
    """The lock file cannot be read or is malformed (the message names the file and line)."""


def canonical_schema(schema: Mapping[str, Any]) -> str:
    """The one spelling of a schema the lock stores: compact, keys in the model's field order
    (llama.cpp's grammar emits properties in schema order, and answers are trained in field order;
    the fingerprint sorts keys itself, so this spelling does not change it)."""
    return _json.COMPACT.encode(schema)


def same_but_def_names(a: str, b: str) -> bool:
    """Whether two schemas (JSON text) differ only in the names of their `$defs`: a library that
    names a generated class at random on each import (wave 9: ormar's `PkOnlyArtist<6 letters>`)
    would otherwise change the recorded schema, and its fingerprint, on every `prompts`."""
    if a == b:
        return True
    try:
        return bool(_by_use(_json.loads(a)) == _by_use(_json.loads(b)))
    except (ValueError, TypeError, RecursionError):
        return False


def _by_use(schema: Any) -> Any:
    """`schema` with each `$defs` entry renamed by the order its first `$ref` is met (the schema
    first, then each definition as it is reached): the same shape gives the same value."""
    defs = schema.get("$defs") if isinstance(schema, dict) else None
    if not isinstance(defs, dict):
        return schema
    names: dict[str, str] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "$defs" and node is schema:
                    continue
                if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/"):
                    name = v[len("#/$defs/"):]
                    if name not in names:
                        names[name] = f"#{len(names)}"
                    out[k] = f"#/$defs/{names[name]}"
                else:
                    out[k] = walk(v)
            return out
        if isinstance(node, list):
            return [walk(x) for x in node]
        return node

    body = walk(schema)
    renamed: dict[str, Any] = {}
    done = 0
    while done < len(names):  # definitions reached through others get their names on the way
        for name, new in list(names.items())[done:]:
            renamed[new] = walk(defs.get(name))
            done += 1
    renamed.update({f"unused:{k}": walk(v) for k, v in sorted(defs.items()) if k not in names})
    body["$defs"] = renamed
    return body


@dataclass(frozen=True)
class PinnedPrompt:
    """A prompt and schema a trained model was pinned to, kept after the function changed."""

    fingerprint: str
    prompt: str
    schema_json: str


@dataclass(frozen=True)
class LockedPrompt:
    """One function's entry in the lock."""

    function_id: str
    path: str
    """The source file, relative to the project root, `/`-separated."""
    qualname: str
    """The function's qualname in that file (the id's part differs when `distil(name=...)`)."""
    start_line: int
    """First line of the definition (its first decorator)."""
    end_line: int
    tool: str
    """The return model's name: the tool the prompt tells the model to answer with."""
    include_body: bool
    renderer: str
    fingerprint: str
    schema_json: str
    prompt: str
    models: tuple[tuple[str, str], ...] = ()
    """(model id, fingerprint it was trained on), sorted by model id."""
    pinned: tuple[PinnedPrompt, ...] = ()
    line: int = 0
    """Line of the entry's header in the lock file (0 when not read from a file)."""
    static: str | None = None
    """The static fingerprint (`render.static_fingerprint`): what `check` compares without
    importing. None in entries recorded by a distilgen before 0.x (re-record them)."""

    @property
    def schema(self) -> dict[str, Any]:
        return _json.loads(self.schema_json)  # type: ignore[no-any-return]

    def model_fingerprint(self, model: str) -> str | None:
        return dict(self.models).get(model)

    def prompt_for(self, fp: str) -> str | None:
        """The prompt recorded under fingerprint `fp` (current or pinned), or None."""
        if fp == self.fingerprint:
            return self.prompt
        for p in self.pinned:
            if p.fingerprint == fp:
                return p.prompt
        return None

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset([self.fingerprint, *(p.fingerprint for p in self.pinned)])


@dataclass(frozen=True)
class Lock:
    """The parsed lock file: one LockedPrompt per recorded function, sorted by id."""

    path: Path
    entries: tuple[LockedPrompt, ...] = ()
    exists: bool = False

    def get(self, function_id: str) -> LockedPrompt | None:
        return self._index.get(function_id)

    @property
    def _index(self) -> dict[str, LockedPrompt]:
        idx = self.__dict__.get("_idx")
        if idx is None:
            idx = {e.function_id: e for e in self.entries}
            object.__setattr__(self, "_idx", idx)
        return idx

    def __contains__(self, function_id: object) -> bool:
        return function_id in self._index

    def __iter__(self) -> Iterator[LockedPrompt]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


class PromptRecord(LockedPrompt):
    """A LockedPrompt fresh from source, as `distilgen prompts` or `apply` computes it: no models,
    nothing pinned, the current renderer, the fingerprint and the canonical schema computed here.
    One record for both sides of `record_prompts` (it used to be a near-copy of LockedPrompt)."""

    def __init__(self, function_id: str, path: str, qualname: str, start_line: int, end_line: int, tool: str,
                 include_body: bool, prompt: str, schema: Mapping[str, Any], static: str | None = None) -> None:
        """`static`: the static fingerprint (None: not computed, e.g. the model is not readable)."""
        super().__init__(function_id=function_id, path=path, qualname=qualname, start_line=start_line,
                         end_line=end_line, tool=tool, include_body=include_body, renderer=RENDERER_VERSION,
                         fingerprint=compute_fingerprint(prompt, schema), schema_json=canonical_schema(schema),
                         prompt=prompt, static=static)


# -- writing ------------------------------------------------------------------------------------

# compiled on first use (re's cache): reading a lock never uses it
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f]"


def _basic(s: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's, except that TOML also forbids raw DEL."""
    return _json.TEXT.encode(s).replace("\x7f", "\\u007f")


def _line(s: str) -> str:
    """A literal string (JSON reads best without escaped quotes) when that is exact."""
    if "'" in s or re.search(_CONTROL, s) or "\n" in s or "\r" in s:
        return _basic(s)
    return "'" + s + "'"


def _text(s: str) -> str:
    """A multi-line literal string when that is exact (readable diffs), else a basic string."""
    if "'''" in s or "\r" in s or re.search(_CONTROL, s) or s.endswith("'"):
        return _basic(s)
    return "'''\n" + s + "'''"


def schema_key(schema_json: str) -> str:
    """The key of a shared schema in the lock's `[schemas]` table: a hash of its canonical text."""
    return "sha256:" + sha256(schema_json.encode("utf-8")).hexdigest()[:16]


def dump_lock(entries: Iterable[LockedPrompt]) -> str:
    """The lock file's text. Deterministic: the same entries always give the same bytes.

    A schema that two or more entries (or pinned prompts) answer with is written once, in a
    `[schemas]` table at the end, and referenced by its key (`schema-ref`): zenml's hundreds of
    store methods returning the same response models made an 18 MB lock, 17.8 MB of it copies."""
    entries = sorted(entries, key=lambda e: e.function_id)
    uses: dict[str, int] = {}
    for e in entries:
        for text in (e.schema_json, *(p.schema_json for p in e.pinned)):
            uses[text] = uses.get(text, 0) + 1
    shared = {text: schema_key(text) for text, n in uses.items() if n > 1}

    def schema_line(text: str) -> str:
        return f"schema-ref = {_basic(shared[text])}\n" if text in shared else f"schema = {_line(text)}\n"

    out = [_HEADER, f"version = {2 if shared else 1}\n"]
    for e in entries:
        key = "functions." + _basic(e.function_id)
        out.append(
            f"\n[{key}]\n"
            f"path = {_basic(e.path)}\n"
            f"qualname = {_basic(e.qualname)}\n"
            f"lines = [{int(e.start_line)}, {int(e.end_line)}]\n"
            f"tool = {_basic(e.tool)}\n"
            f"include-body = {'true' if e.include_body else 'false'}\n"
            f"renderer = {_basic(e.renderer)}\n"
            f"fingerprint = {_basic(e.fingerprint)}\n"
            + (f"static-fingerprint = {_basic(e.static)}\n" if e.static else "")
            + schema_line(e.schema_json)
            + f"prompt = {_text(e.prompt)}\n"
        )
        if e.models:
            out.append(f"\n[{key}.models]\n")
            out.extend(f"{_basic(m)} = {_basic(fp)}\n" for m, fp in sorted(e.models))
        for p in sorted(e.pinned, key=lambda p: p.fingerprint):
            out.append(
                f"\n[{key}.pinned.{_basic(p.fingerprint)}]\n"
                + schema_line(p.schema_json)
                + f"prompt = {_text(p.prompt)}\n"
            )
    if shared:
        out.append("\n[schemas]\n")
        out.extend(f"{_basic(k)} = {_line(text)}\n" for text, k in sorted(shared.items(), key=lambda kv: kv[1]))
    return "".join(out)


# -- reading ------------------------------------------------------------------------------------

# compiled on first use (re's cache): a check of a project without a lock never uses them
_ENTRY_HEADER = r'^\[functions\.("(?:[^"\\]|\\.)*")\]\s*$'
_FP = r"^sha256:[0-9a-f]{16}$"


def _entry_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(_ENTRY_HEADER, line)
        if m:
            try:
                lines[_json.loads(m.group(1))] = n
            except ValueError:
                pass
    return lines


def parse_lock(path: Path, text: str) -> Lock:
    """The lock in `text` (read from `path`, which error messages name); LockError when malformed."""
    try:
        data = parse_toml(text, path)
    except TomlSyntaxError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{path}:{m.group(1)}:{m.group(2)}" if m else str(path)
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise LockError(f"{where}: corrupt lock file: {msg}; fix it or delete it and run `distilgen prompts`") from None
    version = data.get("version")
    if version not in _VERSIONS or isinstance(version, bool):
        raise LockError(
            f"{path}:1: lock file version {version!r} is not supported (this distilgen reads versions "
            f"{', '.join(map(str, _VERSIONS))}); upgrade distilgen, or delete the file and run `distilgen prompts`"
        )
    unknown = set(data) - {"version", "functions", *(["schemas"] if version >= 2 else [])}
    if unknown:
        raise LockError(f"{path}:1: unknown top-level key(s) {', '.join(sorted(unknown))}")
    schemas = _shared_schemas(path, text, data.get("schemas", {}))
    functions = data.get("functions", {})
    if not isinstance(functions, dict):
        raise LockError(f"{path}:1: 'functions' must be a table")
    lines = _entry_lines(text)
    entries = []
    for fid, raw in functions.items():
        line = lines.get(fid, 1)
        where = f"{path}:{line}: entry {fid!r}"

        def need(table: Mapping[str, Any], key: str, kind: type, ctx: str = where) -> Any:
            value = table.get(key)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise LockError(f"{ctx}: '{key}' must be a {kind.__name__}, got {value!r}")
            return value

        if not isinstance(raw, dict):
            raise LockError(f"{where}: must be a table")
        span = need(raw, "lines", list)
        if len(span) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) for n in span):
            raise LockError(f"{where}: 'lines' must be [first, last], got {span!r}")
        fp = need(raw, "fingerprint", str)
        models = raw.get("models", {})
        pinned_raw = raw.get("pinned", {})
        if not isinstance(models, dict) or not all(isinstance(v, str) for v in models.values()):
            raise LockError(f"{where}: 'models' must be a table of model id = \"fingerprint\"")
        if not isinstance(pinned_raw, dict):
            raise LockError(f"{where}: 'pinned' must be a table of fingerprints")
        def schema_of(table: Mapping[str, Any], ctx: str) -> str:
            """The entry's schema: written in place, or the shared one its `schema-ref` names."""
            if "schema-ref" in table and "schema" not in table:
                ref = need(table, "schema-ref", str, ctx)
                if ref not in schemas:
                    raise LockError(f"{ctx}: 'schema-ref' {ref!r} is not in the [schemas] table")
                return schemas[ref]
            if "schema-ref" in table:
                raise LockError(f"{ctx}: has both 'schema' and 'schema-ref'")
            text_: str = need(table, "schema", str, ctx)
            try:
                _json.loads(text_)
            except ValueError as exc:
                raise LockError(f"{ctx}: 'schema' is not valid JSON: {exc}") from None
            return text_

        pinned = []
        for pfp, p in pinned_raw.items():
            if not isinstance(p, dict):
                raise LockError(f"{where}: pinned {pfp!r} must be a table")
            ctx = f"{where}: pinned {pfp!r}"
            pinned.append(PinnedPrompt(pfp, need(p, "prompt", str, ctx), schema_of(p, ctx)))
        known = {"path", "qualname", "lines", "tool", "include-body", "renderer", "fingerprint", "static-fingerprint",
                 "schema", "schema-ref", "prompt", "models", "pinned"}
        extra = set(raw) - known
        if extra:
            raise LockError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        schema_json = schema_of(raw, where)
        static = raw.get("static-fingerprint")
        if static is not None:
            static = need(raw, "static-fingerprint", str)
        for fp_ in (fp, *models.values(), *pinned_raw, *([static] if static else [])):
            if not re.match(_FP, fp_):
                raise LockError(f"{where}: {fp_!r} is not a fingerprint (sha256:<16 hex digits>)")
        entries.append(
            LockedPrompt(
                function_id=fid,
                path=need(raw, "path", str),
                qualname=need(raw, "qualname", str),
                start_line=span[0],
                end_line=span[1],
                tool=need(raw, "tool", str),
                include_body=need(raw, "include-body", bool),
                renderer=need(raw, "renderer", str),
                fingerprint=fp,
                schema_json=schema_json,
                prompt=need(raw, "prompt", str),
                models=tuple(sorted(models.items())),
                pinned=tuple(sorted(pinned, key=lambda p: p.fingerprint)),
                line=line,
                static=static,
            )
        )
    entries.sort(key=lambda e: e.function_id)
    return Lock(path=path, entries=tuple(entries), exists=True)


def _shared_schemas(path: Path, text: str, table: Any) -> dict[str, str]:
    """The `[schemas]` table: key -> schema text, each checked (JSON, and the key is its hash)."""
    if isinstance(table, dict) and not table:
        return {}

    def where() -> str:  # the table's header line, looked up only for an error
        line = next((n for n, ln in enumerate(text.splitlines(), 1) if ln.strip() == "[schemas]"), 1)
        return f"{path}:{line}"

    if not isinstance(table, dict):
        raise LockError(f"{where()}: 'schemas' must be a table")
    for key, value in table.items():
        if not isinstance(value, str):
            raise LockError(f"{where()}: schema {key!r} must be a string, got {value!r}")
        try:
            _json.loads(value)
        except ValueError as exc:
            raise LockError(f"{where()}: schema {key!r} is not valid JSON: {exc}") from None
        if schema_key(value) != key:
            raise LockError(f"{where()}: schema {key!r} does not match its text (edited by hand?); delete the file "
                            f"and run `distilgen prompts`")
    return dict(table)
