"""The lock file on disk: cached reads, and read-modify-write under a flock with an atomic replace.

`record_prompts` merges freshly rendered prompts in (pinning the old prompt of a changed entry
while a bound model references it); `record_model` binds a model id to the prompt it was trained on.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Iterable, Iterator

from .lock_format import Lock, LockedPrompt, LockError, PinnedPrompt, dump_lock, parse_lock, same_but_def_names

__all__ = ["load_lock", "record_prompts", "record_model", "record_models", "RecordResult"]

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
    from .._atomic import replace_atomically  # here: reading a lock writes nothing

    replace_atomically(path, text.encode("utf-8"))
    _cache.pop(str(path), None)


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
    lock = parse_lock(p, text)
    with _cache_lock:
        _cache[str(p)] = (key, lock)
    return lock



# -- updating -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordResult:
    """What recording prompts changed in the lock (or would change, with write=False)."""

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


def _merge(old: LockedPrompt | None, rec: LockedPrompt) -> LockedPrompt:
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
        renderer=rec.renderer,
        fingerprint=fp,
        schema_json=rec.schema_json,
        prompt=rec.prompt,
        models=models,
        pinned=pinned,
        static=rec.static,
    )


def record_prompts(
    lock_path: Path | str,
    records: Iterable[LockedPrompt],
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
            if (old is not None and old.fingerprint != rec.fingerprint and old.schema_json != rec.schema_json
                    and (old.prompt, old.renderer, old.tool) == (rec.prompt, rec.renderer, rec.tool)
                    and same_but_def_names(old.schema_json, rec.schema_json)):
                # the same schema under other `$defs` names: the entry as recorded (no churn)
                rec = LockedPrompt(**{f.name: getattr(rec, f.name) for f in fields(LockedPrompt)}
                                   | {"schema_json": old.schema_json, "fingerprint": old.fingerprint})
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
    recorded, failed = record_models(lock_path, [function_id], model_id, fingerprint)
    if failed:
        raise failed[function_id]
    return recorded[0]


def record_models(lock_path: Path | str, function_ids: Iterable[str], model_id: str,
                  fingerprint: str | None = None) -> tuple[list[LockedPrompt], dict[str, LockError]]:
    """`record_model` for several functions bound to one model: one read and one write of the lock
    (`apply --dispatch` pinned each function with its own: quadratic in the lock's size). Returns
    the entries recorded and, per function that could not be, why; the others are written."""
    path = Path(lock_path)
    recorded: list[LockedPrompt] = []
    failed: dict[str, LockError] = {}
    with _exclusive(path.parent):
        lock = load_lock(path)
        changed: dict[str, LockedPrompt] = {}
        for function_id in function_ids:
            entry = changed.get(function_id) or lock.get(function_id)
            if entry is None:
                where = path if lock.exists else f"{path} (no such file)"
                failed[function_id] = LockError(f"{where}: no entry for {function_id}; run `distilgen prompts` first "
                                                f"to record its prompt")
                continue
            fp = fingerprint or entry.model_fingerprint(model_id) or entry.fingerprint
            if fp not in entry.fingerprints:
                failed[function_id] = LockError(
                    f"{path}:{entry.line}: {function_id} has no prompt with fingerprint {fp} (current: "
                    f"{entry.fingerprint}); cannot bind {model_id} to it"
                )
                continue
            models = dict(entry.models)
            models[model_id] = fp
            referenced = set(models.values())
            changed[function_id] = replace(
                entry,
                models=tuple(sorted(models.items())),
                pinned=tuple(p for p in entry.pinned if p.fingerprint in referenced),
            )
            recorded.append(changed[function_id])
        if changed:
            text = dump_lock([changed.get(e.function_id, e) for e in lock.entries])
            if text != path.read_text(encoding="utf-8"):
                _write_atomic(path, text)
    return recorded, failed
