"""What `apply` left alone, remembered so that `apply --diff` and `apply --check` agree with it.

`apply` (with the lock) asks the project's interpreter for each return model's schema and does not
decorate what it cannot describe (`apply.py`, `api._EarlySchemas`). `--diff` and `--check` import
nothing, so without this memory they would show those functions as pending for ever (litellm
without its dependencies: 836 of 850 candidates, `--check` exit 1 right after `apply`).

One file, `.distilgen_cache/left-alone-<key>.json` (`key`: distilgen version, this format, the
project root, the interpreter's path), JSON, never code:
`{"format", "interpreter": identity, "entries": {"path::qualname": {"why", "model", "closure"}}}`.
An entry holds while
- the interpreter is the same one in the same state: its path, version and the mtime of every
  `sys.path` folder, as the scan cache key has them (`analysis.project`): installing a package
  changes its site-packages folder, and then everything is forgotten;
- the function still returns the same annotation and its return model's *closure digest* is the
  same (`analysis.depends.StaticFacts`, what `check`'s static fingerprints hash): an edited model,
  a base class or field type three modules away, forgets it.
Anything else (another version, a wrong shape, unreadable) is ignored: the memory only ever makes
`--diff`/`--check` quieter about what `apply` would not do; a plain `apply` always asks again and
rewrites it.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .._version import __version__
from ..errors import DistilgenError

if TYPE_CHECKING:
    from pathlib import Path

    from ..analysis.depends import StaticFacts
    from ..analysis.scan import ScanReport, ScanResult
    from ..config import Config

__all__ = ["remember", "recall", "REMEMBERED"]

_FORMAT = 1
REMEMBERED = "(remembered from the last `distilgen apply`, which imports the models: run it again once that is fixed)"
"""Appended to a remembered verdict's line."""


def _file(config: Config, interpreter: str) -> Path:
    raw = json.dumps([__version__, _FORMAT, str(config.root), interpreter])
    return config.cache_path / f"left-alone-{hashlib.blake2b(raw.encode(), digest_size=6).hexdigest()}.json"


def _interpreter(config: Config) -> tuple[str, list[Any]] | None:
    """(path, identity) of the project's interpreter; None when there is none to name."""
    from ..analysis.interpreter import find_interpreter
    from ..analysis.project import _dir_stamp  # the scan cache key's stamp of a search-path folder

    try:
        interp = find_interpreter(config)
    except DistilgenError:
        return None
    return interp.path, [interp.path, interp.version, [[p, _dir_stamp(p)] for p in interp.sys_path]]


def _load(file: Path, identity: list[Any]) -> dict[str, dict[str, str]]:
    """The entries of `file` when it is this format and this interpreter's; else nothing."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("interpreter") != identity:
        return {}
    entries = data.get("entries")
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(k, str) and isinstance(v, dict)
            and all(isinstance(v.get(f), str) for f in ("why", "model", "closure")) and v["why"].isprintable()}


def _closure(facts: StaticFacts, r: ScanResult) -> str | None:
    """The closure digest of `r`'s return model; None when it cannot be read (then nothing is
    remembered or recalled for it: the function is simply pending, as without this memory)."""
    try:
        return facts.closure(r)
    except (RecursionError, MemoryError, SyntaxError, ValueError, OSError):
        return None


def _key(r: ScanResult) -> str:
    return f"{r.path}::{r.qualname}"


def remember(config: Config, rescan: Callable[[], ScanReport], verdicts: Mapping[tuple[str, str], str], *,
             facts: StaticFacts | None = None) -> None:
    """After `apply` wrote: the child's `verdicts` ((path, qualname) -> why) and `rescan`, which
    scans the project as it is now (called only when there is something to remember or forget).
    Candidates refused are remembered; every other function scanned is forgotten (decorated now,
    or no longer refused); entries of functions outside the scan (another --select) stay. `facts`:
    static facts of the project as it is now that the caller already has (the lock's: the files
    they parsed are not parsed again)."""
    from ..analysis.depends import StaticFacts

    found = _interpreter(config)
    if found is None:
        return
    path, identity = found
    file = _file(config, path)
    if not verdicts and not file.exists():
        return
    entries = _load(file, identity)
    before = dict(entries)
    report = rescan()
    results = report.results
    for r in results:
        entries.pop(_key(r), None)
    for r in results:
        why = verdicts.get((r.path, r.qualname))
        if why is None or r.status != "candidate" or not r.module:
            continue
        facts = facts or StaticFacts(config.root, config, modules=report.modules)
        closure = _closure(facts, r)
        if closure is not None:
            entries[_key(r)] = {"why": why, "model": r.model or "", "closure": closure}
    if facts is not None:
        facts.save()  # the closures `--check` asks for next
    if entries == before and (entries or not file.exists()):
        return
    _write(file, {"format": _FORMAT, "interpreter": identity, "entries": dict(sorted(entries.items()))})


def recall(config: Config, report: ScanReport, *,
           facts: StaticFacts | None = None) -> dict[tuple[str, str], str]:
    """(path, qualname) -> the line `apply` printed, for each candidate of `report` that the
    last `apply` left alone and whose verdict still holds (see the module docstring). `facts`: the
    caller's own (`check` saves it once, with the closures read here); else one is made and saved."""
    from ..analysis.depends import StaticFacts

    own = facts is None

    if not config.cache_path.is_dir():
        return {}
    found = _interpreter(config)
    if found is None:
        return {}
    path, identity = found
    entries = _load(_file(config, path), identity)
    if not entries:
        return {}
    out: dict[tuple[str, str], str] = {}
    for r in report.results:
        hit = entries.get(_key(r))
        if hit is None or r.status != "candidate" or (r.model or "") != hit["model"]:
            continue
        facts = facts or StaticFacts(config.root, config, modules=report.modules)
        if _closure(facts, r) == hit["closure"]:
            out[(r.path, r.qualname)] = f"{hit['why']} {REMEMBERED}"
    if own and facts is not None:
        facts.save()
    return out


def _write(file: Path, data: dict[str, Any]) -> None:
    folder = file.parent
    if not folder.is_dir():
        return  # the scan creates it (with its .gitignore and CACHEDIR.TAG); never litter a project
    from .._atomic import write_cache_file

    # a memory that cannot be written only makes `--check` list them again
    write_cache_file(file, json.dumps(data, separators=(",", ":")).encode("utf-8"))
