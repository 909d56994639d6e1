"""The scan's on-disk cache under `.distilgen_cache/` (git-ignored, CACHEDIR.TAG'd).

Two files, so a rescan with nothing changed reads only the small one:
- `scan-results-<key>.pickle`: the last report, with the (path, mtime, size, digest) of every file
  it was built from and of every third-party file it read. Reused as a whole when all match.
- `scan-index-<key>.marshal`: each file's index keyed on mtime+size, then on content digest (a
  touched but unchanged file costs one read and one hash, never a parse). Stored with `marshal`
  as plain tuples: several times faster to load and save than pickle, which a one-file rescan pays.

`key` covers the distilgen version, the index format and the Python version; the results entry is
also keyed on the effective configuration. A cache that cannot be read is ignored, never an error.
"""

from __future__ import annotations

import hashlib
import os
import marshal
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

from .._version import __version__
from .index import INDEX_VERSION, freeze

__all__ = ["ScanCache", "digest", "CACHEDIR_TAG"]

CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by distilgen.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _key() -> str:
    raw = f"{__version__}|{INDEX_VERSION}|{sys.version_info[:2]}|{sys.implementation.name}"
    return hashlib.blake2b(raw.encode(), digest_size=6).hexdigest()


class ScanCache:
    def __init__(self, folder: Path, enabled: bool = True) -> None:
        self.folder = folder
        self.enabled = enabled
        key = _key()
        self.results_file = folder / f"scan-results-{key}.pickle"
        self.index_file = folder / f"scan-index-{key}.marshal"

    def _load(self, path: Path) -> Any:
        if not self.enabled:
            return None
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except Exception:  # missing, truncated, from another version: just rebuild
            return None

    def load_results(self) -> Any:
        return self._load(self.results_file)

    def load_index(self) -> dict[str, Any]:
        empty: dict[str, Any] = {"files": {}, "ext": {}}
        if not self.enabled:
            return empty
        try:
            with open(self.index_file, "rb") as fh:
                data = marshal.loads(fh.read())  # marshal.load(fh) reads in tiny pieces: 10x slower
            # Entries stay plain tuples: `resolve.Module` thaws an index only when it is read.
            return {"files": data["files"], "ext": data["ext"]}
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

    def _store(self, path: Path, value: Any, dump: Any = None) -> None:
        # Write then rename: a concurrent scan (pre-commit runs in parallel) never reads half a file.
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                if dump is not None:
                    fh.write(dump(value))
                else:
                    pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def save(self, index: dict[str, Any] | None, results: Any) -> None:
        if not self.enabled or not self._prepare():
            return
        if index is not None:
            plain = {
                "files": {k: (m, s, d, freeze(i)) for k, (m, s, d, i) in index["files"].items()},
                "ext": {k: (m, s, freeze(i) if i is not None else None) for k, (m, s, i) in index["ext"].items()},
            }
            self._store(self.index_file, plain, marshal.dumps)
        self._store(self.results_file, results)

