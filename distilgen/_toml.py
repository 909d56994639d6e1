"""Parsing TOML (pyproject.toml, distilgen.lock): the one place that calls `tomllib`.

`tomllib` is pure Python: importing it (with `datetime` and `string`) costs a warm `distilgen check`
~3 ms of its ~60, and parsing costs more than reading JSON. So the parse of a file is kept in the
user cache as JSON, one cache file per TOML file, and used only when the text it was parsed from is
byte for byte the text read now (its blake2b digest is stored with it): no stat races, nothing
stale. Values JSON cannot hold (dates and times, which neither file uses) skip the cache, as does
any failure to read or write it: the cache only ever makes a run faster.
"""

from __future__ import annotations

import os

from . import _json
from ._hashes import blake2b
from ._user_cache import cache_root

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: this module is on the warm `check` path
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

__all__ = ["TomlSyntaxError", "parse_toml"]

_FORMAT = 1  # bumped when what is stored changes


class TomlSyntaxError(ValueError):
    """tomllib's message for a file that is not TOML (it ends "(at line L, column C)")."""


def parse_toml(text: str, path: "Path | None" = None) -> "dict[str, Any]":
    """The TOML document in `text`; `path` (the file it was read from) names its cache entry.
    Raises TomlSyntaxError for invalid TOML."""
    if path is None:
        return _parse(text)
    digest = blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    entry = cache_root() / "toml" / (blake2b(os.fsencode(os.path.abspath(path)), digest_size=16).hexdigest() + ".json")
    try:
        with open(entry, "rb") as fh:
            stored = _json.loads(fh.read())
        if stored["format"] == _FORMAT and stored["digest"] == digest and type(stored["data"]) is dict:
            data: dict[str, Any] = stored["data"]
            return data
    except Exception:  # missing, unreadable, truncated, another shape: parse the text
        pass
    data = _parse(text)
    _store(entry, digest, data)
    return data


def _parse(text: str) -> "dict[str, Any]":
    import sys

    if sys.version_info >= (3, 11):
        import tomllib  # here: a cached parse never imports it
    else:  # pragma: no cover - 3.10
        import tomli as tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlSyntaxError(str(exc)) from None


def _store(entry: "Path", digest: str, data: "dict[str, Any]") -> None:
    try:
        payload = _json.TEXT.encode({"format": _FORMAT, "digest": digest, "data": data}).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):  # a date or time: JSON has no type for it
        return
    if _json.loads(payload) != {"format": _FORMAT, "digest": digest, "data": data}:
        return  # a value JSON would read back differently (e.g. NaN != NaN): never serve it
    from ._atomic import write_cache_file

    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a cache that cannot be written is only slower
    if write_cache_file(entry, payload):
        _prune(entry.parent)


_KEEP = 256  # entries: one per TOML file parsed, so a test suite's temporary projects do not pile up


def _prune(folder: "Path") -> None:
    """Keep the most recently written entries only (a miss is rare: this runs after a parse)."""
    try:
        with os.scandir(folder) as it:
            entries = [(e.stat().st_mtime_ns, e.path) for e in it if e.name.endswith(".json")]
    except OSError:
        return
    if len(entries) <= _KEEP:
        return
    entries.sort()
    for _, path in entries[:len(entries) - _KEEP * 3 // 4]:
        try:
            os.unlink(path)
        except OSError:
            pass
