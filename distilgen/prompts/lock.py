"""`distilgen.lock`: the system prompts distilled models are trained on, recorded from source.

Why TOML: it reads with the standard library (`tomllib`), its tables need no separators between
them (adding an entry never touches its neighbours, unlike JSON's commas), and a prompt can be a
multi-line literal string, so a changed docstring shows up as a changed line in a diff.

Layout (entries sorted by function id, models by id, pinned prompts by fingerprint)::

    version = 1

    [functions."inbox.triage:classify_ticket"]
    path = "inbox/triage.py"
    qualname = "classify_ticket"
    lines = [15, 29]
    tool = "Triage"
    include-body = false
    renderer = "1"
    fingerprint = "sha256:..."
    schema = "{...compact JSON...}"
    prompt = '''
    Predict the result ...'''

    [functions."inbox.triage:classify_ticket".models]
    "ft:gpt-4o-mini:acme::abc" = "sha256:..."

    [functions."inbox.triage:classify_ticket".pinned."sha256:old"]
    schema = "..."
    prompt = '''...'''

`pinned` keeps the prompt of every older fingerprint a bound model still references, so dispatch
can send a model exactly what it was trained on after the source moved on.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from .._atomic import replace_atomically
from ..errors import DistilgenError
from .render import RENDERER_VERSION, fingerprint as compute_fingerprint

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "LOCK_VERSION",
    "LockError",
    "PromptGoneError",
    "PinnedPrompt",
    "LockedPrompt",
    "Lock",
    "PromptRecord",
    "RecordResult",
    "canonical_schema",
    "load_lock",
    "locked_prompt",
    "prompt_for_dispatch",
    "record_model",
    "record_prompts",
    "dump_lock",
]

LOCK_VERSION = 1
_HEADER = (
    "# distilgen.lock: the system prompts distilled models are trained on, recorded from source.\n"
    "# Written by `distilgen prompts`, `distilgen apply` and `distilgen train`. Commit it; do not edit.\n"
)


class LockError(DistilgenError):
    """The lock file cannot be read or is malformed (the message names the file and line)."""


class PromptGoneError(DistilgenError):
    """The prompt a bound model was trained on is no longer in the lock."""

    def __init__(self, function_id: str, model: str, trained: str, current: str, lock_path: Path) -> None:
        self.function_id = function_id
        self.model = model
        self.trained_fingerprint = trained
        self.current_fingerprint = current
        super().__init__(
            f"{function_id}: model {model} was trained on prompt {trained}, which is no longer in "
            f"{lock_path} (the current prompt is {current}); retrain the model on the current prompt, "
            f"or pass use_current_prompt=True to send the current prompt anyway"
        )


def canonical_schema(schema: Mapping[str, Any]) -> str:
    """The one spelling of a schema the lock stores: compact, keys in the model's field order
    (llama.cpp's grammar emits properties in schema order, and answers are trained in field order;
    the fingerprint sorts keys itself, so this spelling does not change it)."""
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class PinnedPrompt:
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
        return json.loads(self.schema_json)  # type: ignore[no-any-return]

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
        return idx  # type: ignore[no-any-return]

    def __contains__(self, function_id: object) -> bool:
        return function_id in self._index

    def __iter__(self) -> Iterator[LockedPrompt]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


# -- writing ------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _basic(s: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's, except that TOML also forbids raw DEL."""
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _line(s: str) -> str:
    """A literal string (JSON reads best without escaped quotes) when that is exact."""
    if "'" in s or _CONTROL.search(s) or "\n" in s or "\r" in s:
        return _basic(s)
    return "'" + s + "'"


def _text(s: str) -> str:
    """A multi-line literal string when that is exact (readable diffs), else a basic string."""
    if "'''" in s or "\r" in s or _CONTROL.search(s) or s.endswith("'"):
        return _basic(s)
    return "'''\n" + s + "'''"


def dump_lock(entries: Iterable[LockedPrompt]) -> str:
    """The lock file's text. Deterministic: the same entries always give the same bytes."""
    out = [_HEADER, f"version = {LOCK_VERSION}\n"]
    for e in sorted(entries, key=lambda e: e.function_id):
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
            + f"schema = {_line(e.schema_json)}\n"
            f"prompt = {_text(e.prompt)}\n"
        )
        if e.models:
            out.append(f"\n[{key}.models]\n")
            out.extend(f"{_basic(m)} = {_basic(fp)}\n" for m, fp in sorted(e.models))
        for p in sorted(e.pinned, key=lambda p: p.fingerprint):
            out.append(
                f"\n[{key}.pinned.{_basic(p.fingerprint)}]\n"
                f"schema = {_line(p.schema_json)}\n"
                f"prompt = {_text(p.prompt)}\n"
            )
    return "".join(out)


@contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """Serialise read-modify-write of the lock between processes (apply and train at once)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: writes are still atomic, just not serialised
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _write_atomic(path: Path, text: str) -> None:
    replace_atomically(path, text.encode("utf-8"))
    _cache.pop(str(path), None)


# -- reading ------------------------------------------------------------------------------------

_ENTRY_HEADER = re.compile(r'^\[functions\.("(?:[^"\\]|\\.)*")\]\s*$')
_FP = re.compile(r"^sha256:[0-9a-f]{16}$")


def _entry_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        m = _ENTRY_HEADER.match(line)
        if m:
            try:
                lines[json.loads(m.group(1))] = n
            except ValueError:
                pass
    return lines


def _parse(path: Path, text: str) -> Lock:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{path}:{m.group(1)}:{m.group(2)}" if m else str(path)
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise LockError(f"{where}: corrupt lock file: {msg}; fix it or delete it and run `distilgen prompts`") from None
    version = data.get("version")
    if version != LOCK_VERSION:
        raise LockError(
            f"{path}:1: lock file version {version!r} is not supported (this distilgen reads version "
            f"{LOCK_VERSION}); upgrade distilgen, or delete the file and run `distilgen prompts`"
        )
    unknown = set(data) - {"version", "functions"}
    if unknown:
        raise LockError(f"{path}:1: unknown top-level key(s) {', '.join(sorted(unknown))}")
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
        pinned = []
        for pfp, p in pinned_raw.items():
            if not isinstance(p, dict):
                raise LockError(f"{where}: pinned {pfp!r} must be a table")
            ctx = f"{where}: pinned {pfp!r}"
            pinned.append(PinnedPrompt(pfp, need(p, "prompt", str, ctx), need(p, "schema", str, ctx)))
        known = {"path", "qualname", "lines", "tool", "include-body", "renderer", "fingerprint", "static-fingerprint",
                 "schema", "prompt", "models", "pinned"}
        extra = set(raw) - known
        if extra:
            raise LockError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        schema_json = need(raw, "schema", str)
        try:
            json.loads(schema_json)
        except ValueError as exc:
            raise LockError(f"{where}: 'schema' is not valid JSON: {exc}") from None
        static = raw.get("static-fingerprint")
        if static is not None:
            static = need(raw, "static-fingerprint", str)
        for fp_ in (fp, *models.values(), *pinned_raw, *([static] if static else [])):
            if not _FP.match(fp_):
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


_cache: dict[str, tuple[tuple[int, int, int], Lock]] = {}
_cache_lock = threading.Lock()


def load_lock(path: Path | str) -> Lock:
    """The lock at `path` (an empty Lock when there is no file). Cached per path and mtime/size."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        return Lock(path=p)
    except OSError as exc:
        raise LockError(f"{p}: cannot read lock file: {exc.strerror or exc}") from None
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    hit = _cache.get(str(p))
    if hit is not None and hit[0] == key:
        return hit[1]
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        raise LockError(f"{p}:{line}: corrupt lock file: not UTF-8") from None
    except OSError as exc:
        raise LockError(f"{p}: cannot read lock file: {exc.strerror or exc}") from None
    lock = _parse(p, text)
    with _cache_lock:
        _cache[str(p)] = (key, lock)
    return lock


def locked_prompt(function_id: str, lock_path: Path | str | None) -> LockedPrompt | None:
    """The lock entry of `function_id`, or None when there is no lock file or no entry."""
    if lock_path is None:
        return None
    return load_lock(lock_path).get(function_id)


def prompt_for_dispatch(
    function_id: str,
    model: str,
    current_prompt: str,
    current_fingerprint: str,
    *,
    lock_path: Path | str | None,
    use_current: bool = False,
) -> str:
    """The system prompt to send `model` for `function_id`: the one it was trained on.

    Without a lock, an entry, or a recorded training for `model`, that is the current prompt.
    When the recorded fingerprint is neither current nor pinned, raise PromptGoneError naming the
    function, the model and both fingerprints, unless `use_current`.
    """
    entry = locked_prompt(function_id, lock_path)
    if entry is None:
        return current_prompt
    trained = entry.model_fingerprint(model)
    if trained is None or trained == current_fingerprint:
        return current_prompt
    prompt = entry.prompt_for(trained)
    if prompt is not None:
        return prompt
    if use_current:
        return current_prompt
    raise PromptGoneError(function_id, model, trained, current_fingerprint, Path(lock_path or ""))


# -- updating -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptRecord:
    """A freshly rendered prompt for one function, as `distilgen prompts` or `apply` computes it."""

    function_id: str
    path: str
    qualname: str
    start_line: int
    end_line: int
    tool: str
    include_body: bool
    prompt: str
    schema: Mapping[str, Any] = field(hash=False)
    static: str | None = None
    """The static fingerprint (None: not computed, e.g. the function's model is not readable)."""

    @property
    def schema_json(self) -> str:
        return canonical_schema(self.schema)

    @property
    def fingerprint(self) -> str:
        return compute_fingerprint(self.prompt, self.schema)


@dataclass(frozen=True)
class RecordResult:
    lock_path: Path
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    """Entries whose fingerprint changed."""
    moved: tuple[str, ...] = ()
    """Entries whose prompt is the same but whose file or qualname changed (`distil(name=...)`)."""
    removed: tuple[str, ...] = ()
    restamped: tuple[str, ...] = ()
    """Entries whose prompt and schema are the same but whose static fingerprint changed (a class
    they depend on was edited without changing the schema, or the entry predates it)."""
    pinned: tuple[str, ...] = ()
    """`function_id fingerprint` of prompts kept because a bound model references them."""
    written: bool = False
    text: str = ""


def _merge(old: LockedPrompt | None, rec: PromptRecord) -> LockedPrompt:
    fp = rec.fingerprint
    models = old.models if old else ()
    keep: dict[str, PinnedPrompt] = {p.fingerprint: p for p in (old.pinned if old else ())}
    if old is not None and old.fingerprint != fp:
        keep[old.fingerprint] = PinnedPrompt(old.fingerprint, old.prompt, old.schema_json)
    referenced = {m_fp for _, m_fp in models}
    pinned = tuple(sorted((p for f, p in keep.items() if f in referenced and f != fp), key=lambda p: p.fingerprint))
    # The span says where the prompt was recorded from. Lines shifting above an unchanged function
    # do not rewrite it: a lock that changed on every edit would conflict on every merge.
    span = (rec.start_line, rec.end_line)
    if old is not None and old.fingerprint == fp and (old.path, old.qualname) == (rec.path, rec.qualname):
        span = (old.start_line, old.end_line)
    return LockedPrompt(
        function_id=rec.function_id,
        path=rec.path,
        qualname=rec.qualname,
        start_line=span[0],
        end_line=span[1],
        tool=rec.tool,
        include_body=rec.include_body,
        renderer=RENDERER_VERSION,
        fingerprint=fp,
        schema_json=rec.schema_json,
        prompt=rec.prompt,
        models=models,
        pinned=pinned,
        static=rec.static,
    )


def record_prompts(
    lock_path: Path | str,
    records: Iterable[PromptRecord],
    *,
    drop: Iterable[str] = (),
    keep_only: Iterable[str] | None = None,
    write: bool = True,
) -> RecordResult:
    """Put `records` into the lock; drop the ids in `drop` (or every id not in `keep_only`).

    A changed entry keeps the prompt of its old fingerprint under `pinned` while a model still
    references it. The file is rewritten atomically, and only when its text changes. With
    `write=False` nothing is written (`prompts --check`); the result says what would change.
    """
    path = Path(lock_path)
    records = list(records)
    with _exclusive(path.parent):
        lock = load_lock(path)
        old_text = path.read_text(encoding="utf-8") if lock.exists else ""
        entries = {e.function_id: e for e in lock.entries}
        added: list[str] = []
        changed: list[str] = []
        moved: list[str] = []
        restamped: list[str] = []
        pinned_now: list[str] = []
        for rec in records:
            old = entries.get(rec.function_id)
            new = _merge(old, rec)
            if old is None:
                added.append(rec.function_id)
            elif old.fingerprint != new.fingerprint:
                changed.append(rec.function_id)
                pinned_now.extend(f"{rec.function_id} {p.fingerprint}" for p in new.pinned if p.fingerprint == old.fingerprint)
            elif (old.path, old.qualname) != (new.path, new.qualname):
                moved.append(rec.function_id)
            elif old.static != new.static:
                restamped.append(rec.function_id)
            entries[rec.function_id] = new
        gone = set(drop)
        if keep_only is not None:
            keep = set(keep_only) | {r.function_id for r in records}
            gone |= set(entries) - keep
        removed = sorted(fid for fid in gone if fid in entries)
        for fid in removed:
            del entries[fid]
        text = dump_lock(entries.values())
        written = False
        # a project with nothing distilled gets no lock file (the pre-commit hook runs everywhere)
        if write and text != old_text and (entries or lock.exists):
            _write_atomic(path, text)
            written = True
    return RecordResult(path, tuple(added), tuple(changed), tuple(moved), tuple(removed), tuple(restamped),
                        tuple(pinned_now), written, text)


def record_model(lock_path: Path | str, function_id: str, model_id: str, fingerprint: str | None = None) -> LockedPrompt:
    """Record that `model_id` was trained on `function_id`'s prompt `fingerprint`.

    Called by `apply --dispatch` and by `distilgen train` for `local:NAME` models. Without a
    fingerprint: the one already recorded for `model_id` (re-running `apply --dispatch` after the
    source drifted must not claim the model was trained on the new prompt), else the current one.
    """
    path = Path(lock_path)
    with _exclusive(path.parent):
        lock = load_lock(path)
        entry = lock.get(function_id)
        if entry is None:
            where = path if lock.exists else f"{path} (no such file)"
            raise LockError(f"{where}: no entry for {function_id}; run `distilgen prompts` first to record its prompt")
        fp = fingerprint or entry.model_fingerprint(model_id) or entry.fingerprint
        if fp not in entry.fingerprints:
            raise LockError(
                f"{path}:{entry.line}: {function_id} has no prompt with fingerprint {fp} (current: "
                f"{entry.fingerprint}); cannot bind {model_id} to it"
            )
        models = dict(entry.models)
        models[model_id] = fp
        referenced = set(models.values())
        new = replace(
            entry,
            models=tuple(sorted(models.items())),
            pinned=tuple(p for p in entry.pinned if p.fingerprint in referenced),
        )
        entries = [new if e.function_id == function_id else e for e in lock.entries]
        text = dump_lock(entries)
        if text != path.read_text(encoding="utf-8"):
            _write_atomic(path, text)
    return new
