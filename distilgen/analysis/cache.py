"""The scan's on-disk cache under `.distilgen_cache/` (git-ignored, CACHEDIR.TAG'd).

The folder sits inside the project, under a predictable name, so a repository can commit files
there: loading a cache must never run code and a wrong one must never break or fool a scan. Hence
no pickle. Two files, so a rescan with nothing changed reads only the small one:
- `scan-results-<key>.json`: the last report, with the (path, mtime, size, digest) of every file
  it was built from and of every third-party file it read. Reused as a whole when all match.
  Checked field by field on load (`_decode_results`): anything off and the whole entry is ignored.
- `scan-index-<key>.marshal`: each file's index keyed on mtime+size, then on content digest (a
  touched but unchanged file costs one read and one hash, never a parse). Stored with `marshal`
  as plain tuples: several times faster to load and save than pickle or JSON, which a one-file
  rescan pays. marshal builds builtin values only (it has no way to name a class or call
  anything); entries are shape-checked on load and a scan that still trips on a wrong one is redone
  without the cache (`analysis.project`).

`key` covers the distilgen version, the index format and the Python version; the results entry is
also keyed on the effective configuration. A cache that cannot be read is ignored, never an error.
"""

from __future__ import annotations

import json
import marshal
import sys
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from .._version import __version__
from ..contracts import DEF_KINDS, SCAN_STATUSES, one_of
from .file_index import INDEX_VERSION, freeze
from .scan import DecoratorInfo, FileError, ScanResult
from .._hashes import blake2b

_V = TypeVar("_V", bound=str)

__all__ = ["ScanCache", "CachedFile", "CachedExternal", "IndexCache", "StoredScan", "FileStat", "digest", "CACHEDIR_TAG"]


class CachedFile(NamedTuple):
    """A scanned file's index, valid while the file keeps this mtime and size (or this digest).
    A named tuple: marshal stores it as the plain tuple it is."""

    mtime_ns: int
    size: int
    digest: bytes
    index: Any
    """A frozen `FileIndex` (see `file_index.freeze`) or an ("error", reason) entry."""


class CachedExternal(NamedTuple):
    """A third-party module's index (None: unreadable), valid while its mtime and size hold."""

    mtime_ns: int
    size: int
    index: Any


class FileStat(NamedTuple):
    """What the stored report was built from, per scanned file."""

    rel: str
    mtime_ns: int
    size: int
    module: str


class IndexCache(NamedTuple):  # not a dataclass: ~6x cheaper to define, on the warm `check` path
    """`scan-index-*.marshal`: file path -> CachedFile, third-party file path -> CachedExternal."""

    files: dict[str, CachedFile]
    ext: dict[str, CachedExternal]


class StoredScan(NamedTuple):  # not a dataclass: ~6x cheaper to define, on the warm `check` path
    """`scan-results-*.json`: the last report and what it was built from."""

    key: str
    """The effective configuration's digest (`project._config_key`)."""
    stats: tuple[FileStat, ...]
    ext: dict[str, tuple[int, int]]
    """Third-party files read: path -> (mtime_ns, size)."""
    results: tuple[ScanResult, ...]
    errors: tuple[FileError, ...]
    by_path: dict[str, tuple[ScanResult, ...]]
    digests: dict[str, bytes | None]
    deps: dict[str, frozenset[str]]
    """Per file: the modules its resolution read (a change in one of them invalidates it)."""

CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by distilgen.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def digest(data: bytes) -> bytes:
    return blake2b(data, digest_size=16).digest()


def _key() -> str:
    raw = f"{__version__}|{INDEX_VERSION}|{sys.version_info[:2]}|{sys.implementation.name}"
    return blake2b(raw.encode(), digest_size=6).hexdigest()


class ScanCache:
    def __init__(self, folder: Path, enabled: bool = True) -> None:
        self.folder = folder
        self.enabled = enabled
        key = _key()
        self.results_file = folder / f"scan-results-{key}.json"
        self.index_file = folder / f"scan-index-{key}.marshal"

    def load_results(self) -> StoredScan | None:
        if not self.enabled:
            return None
        try:
            with open(self.results_file, "rb") as fh:
                return _decode_results(json.loads(fh.read()))
        except Exception:  # missing, truncated, from another version, wrong shape: just rebuild
            return None

    def load_index(self) -> IndexCache:
        empty = IndexCache({}, {})
        if not self.enabled:
            return empty
        try:
            with open(self.index_file, "rb") as fh:
                data = marshal.loads(fh.read())  # marshal.load(fh) reads in tiny pieces: 10x slower
            # Entries stay plain tuples: `resolve.Module` thaws an index only when it is read.
            files, ext = data["files"], data["ext"]
            if type(files) is not dict or type(ext) is not dict:
                return empty
            return IndexCache({k: CachedFile._make(v) for k, v in files.items() if _file_entry_ok(k, v)},
                              {k: CachedExternal._make(v) for k, v in ext.items() if _ext_entry_ok(k, v)})
        except Exception:  # missing, truncated, from another version: just rebuild
            return empty

    def _prepare(self) -> bool:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Created by distilgen: this cache never belongs in git.\n*\n", encoding="utf-8")
            tag = self.folder / "CACHEDIR.TAG"
            if not tag.exists():
                tag.write_text(CACHEDIR_TAG, encoding="utf-8")
            return True
        except OSError:
            return False

    def _store(self, path: Path, data: bytes) -> None:
        # replaced whole: a concurrent scan (pre-commit runs in parallel) never reads half a file
        from .._atomic import write_cache_file

        write_cache_file(path, data)

    def save(self, index: IndexCache | None, results: StoredScan) -> None:
        if not self.enabled or not self._prepare():
            return
        if index is not None:
            plain = {
                "files": {k: (m, s, d, freeze(i)) for k, (m, s, d, i) in index.files.items()},
                "ext": {k: (m, s, freeze(i) if i is not None else None) for k, (m, s, i) in index.ext.items()},
            }
            self._store(self.index_file, marshal.dumps(plain))
        self._store(self.results_file, json.dumps(_encode_results(results), separators=(",", ":")).encode())




def _index_ok(i: Any) -> bool:
    """A frozen FileIndex (10 fields, see `file_index.freeze`) or an ("error", reason) entry."""
    if type(i) is not tuple:
        return False
    if len(i) == 2:
        return i[0] == "error" and type(i[1]) is str
    return (len(i) == 10 and type(i[0]) is dict and type(i[1]) is tuple and type(i[2]) is tuple
            and type(i[4]) is dict and type(i[5]) is tuple and type(i[6]) is bool and type(i[7]) is int
            and type(i[8]) is dict and all(type(k) is str and type(v) is str for k, v in i[8].items())
            and type(i[9]) is dict)


def _file_entry_ok(k: Any, v: Any) -> bool:
    return (type(k) is str and type(v) is tuple and len(v) == 4 and type(v[0]) is int and type(v[1]) is int
            and type(v[2]) is bytes and _index_ok(v[3]))


def _ext_entry_ok(k: Any, v: Any) -> bool:
    return (type(k) is str and type(v) is tuple and len(v) == 3 and type(v[0]) is int and type(v[1]) is int
            and (v[2] is None or _index_ok(v[2])))


# --- the results entry as JSON -------------------------------------------------------------------

_RESULT_FIELDS = ("path", "qualname", "lineno", "col", "end_lineno", "model", "status", "reason",
                  "decorator", "is_async", "module", "kind", "decorator_lineno")


def _encode_result(r: ScanResult) -> list[Any]:
    d = r.decorator
    return [r.path, r.qualname, r.lineno, r.col, r.end_lineno, r.model, r.status, r.reason,
            None if d is None else [d.instance, d.mode, d.model, d.lineno],
            r.is_async, r.module, r.kind, r.decorator_lineno]


def _encode_results(entry: StoredScan) -> dict[str, Any]:
    results = list(entry.results)
    position = {id(r): i for i, r in enumerate(results)}
    return {
        "key": entry.key,
        "stats": [list(s) for s in entry.stats],
        "ext": {k: list(v) for k, v in entry.ext.items()},
        "results": [_encode_result(r) for r in results],
        "errors": [[e.path, e.reason] for e in entry.errors],
        # by_path holds the same result objects as results: store positions, not copies
        "by_path": {k: [position[id(r)] if id(r) in position else _encode_result(r) for r in rs]
                    for k, rs in entry.by_path.items()},
        "digests": {k: None if v is None else v.hex() for k, v in entry.digests.items()},
        "deps": {k: sorted(v) for k, v in entry.deps.items()},
    }


class _Bad(Exception):
    pass


def _check(ok: bool) -> None:
    if not ok:
        raise _Bad


def _str(v: Any) -> str:
    _check(type(v) is str)
    return v  # type: ignore[no-any-return]


def _opt_str(v: Any) -> str | None:
    _check(v is None or type(v) is str)
    return v  # type: ignore[no-any-return]


def _int(v: Any) -> int:
    _check(type(v) is int)
    return v  # type: ignore[no-any-return]


def _member(v: Any, choices: tuple[_V, ...]) -> _V:
    value = one_of(v, choices)
    if value is None:
        raise _Bad
    return value


def _decode_result(v: Any) -> ScanResult:
    _check(type(v) is list and len(v) == len(_RESULT_FIELDS))
    path, qualname, lineno, col, end_lineno, model, status, reason, dec, is_async, module, kind, dec_lineno = v
    decorator = None
    if dec is not None:
        _check(type(dec) is list and len(dec) == 4)
        decorator = DecoratorInfo(_str(dec[0]), _str(dec[1]), _opt_str(dec[2]), _int(dec[3]))
    _check(type(is_async) is bool)
    return ScanResult(_str(path), _str(qualname), _int(lineno), _int(col), _int(end_lineno), _opt_str(model),
                      _member(status, SCAN_STATUSES), _opt_str(reason), decorator, is_async, _opt_str(module),
                      _member(kind, DEF_KINDS), _int(dec_lineno))


def _decode_results(data: Any) -> StoredScan | None:
    """The stored JSON -> the entry `scan_project` reads, or None when any part has the wrong shape."""
    try:
        _check(type(data) is dict)
        stats = []
        for s in data["stats"]:
            _check(type(s) is list and len(s) == 4)
            stats.append(FileStat(_str(s[0]), _int(s[1]), _int(s[2]), _str(s[3])))
        ext = {}
        for k, v in data["ext"].items():
            _check(type(v) is list and len(v) == 2)
            ext[_str(k)] = (_int(v[0]), _int(v[1]))
        results = tuple(_decode_result(r) for r in data["results"])
        errors = []
        for e in data["errors"]:
            _check(type(e) is list and len(e) == 2)
            errors.append(FileError(_str(e[0]), _str(e[1])))
        by_path = {}
        for k, rs in data["by_path"].items():
            _check(type(rs) is list)
            by_path[_str(k)] = tuple(results[_int(r)] if type(r) is int else _decode_result(r) for r in rs)
        digests = {_str(k): None if v is None else bytes.fromhex(_str(v)) for k, v in data["digests"].items()}
        deps = {}
        for k, v in data["deps"].items():
            _check(type(v) is list)
            deps[_str(k)] = frozenset(_str(m) for m in v)
        return StoredScan(key=_str(data["key"]), stats=tuple(stats), ext=ext, results=results, errors=tuple(errors),
                          by_path=by_path, digests=digests, deps=deps)
    except (_Bad, KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None
