"""The scan cache holds plain data only: a committed or damaged cache never runs code nor breaks a scan."""

from __future__ import annotations

import json
import marshal
import os
import pickle
from pathlib import Path

from click.testing import CliRunner

from distilgen import api
from distilgen.analysis.cache import ScanCache
from distilgen.cli import main

MODELS = "from pydantic import BaseModel\n\n\nclass Answer(BaseModel):\n    text: str\n"


def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "demo").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n\n[tool.distilgen]\n")
    (root / "demo" / "__init__.py").write_text("")
    (root / "demo" / "models.py").write_text(MODELS)
    (root / "demo" / "ask.py").write_text("from demo.models import Answer\n\n\ndef ask(q: str) -> Answer:\n    return Answer(text=q)\n")
    return root


class _Touch:
    """Unpickling this creates the canary file: what a hostile committed cache would do."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.path, "w"))


def cache_files(root: Path) -> ScanCache:
    return ScanCache(root / ".distilgen_cache")


def expected(root: Path) -> list[tuple[str, str]]:
    return [(r.qualname, r.status) for r in api.scan([root], use_cache=False).results]


def test_a_committed_pickle_at_the_predictable_names_is_never_loaded(tmp_path: Path) -> None:
    root = project(tmp_path)
    cache = cache_files(root)
    canary = tmp_path / "pwned"
    payload = pickle.dumps(_Touch(canary))
    cache.folder.mkdir()
    old_name = cache.results_file.with_name(cache.results_file.name.replace(".json", ".pickle"))
    for path in (old_name, cache.results_file, cache.index_file):
        path.write_bytes(payload)
    want = expected(root)
    for args in (["scan", str(root)], ["check", str(root)], ["scan", str(root), "--check"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code in (0, 1) and "Traceback" not in r.output, r.output
    assert [(r.qualname, r.status) for r in api.scan([root]).results] == want
    assert not canary.exists()
    assert old_name.read_bytes() == payload  # left alone, never read
    assert json.loads(cache.results_file.read_text())["results"]  # rewritten as plain JSON


def scanned(tmp_path: Path) -> tuple[Path, list[tuple[str, str]], ScanCache]:
    """A project scanned once (its cache written), what a scan must find, and its cache files."""
    root = project(tmp_path)
    want = expected(root)
    api.scan([root])
    return root, want, cache_files(root)


def test_well_formed_but_wrong_results_entries_are_ignored(tmp_path: Path) -> None:
    root, want, cache = scanned(tmp_path)
    good = json.loads(cache.results_file.read_text())
    bad_entries = [
        [1, 2, 3], "x", None, {"key": good["key"]},
        {**good, "stats": "abc"},
        {**good, "results": [["only", "three", "fields"]]},
        {**good, "results": [dict(zip("abc", "xyz"))]},
        {**good, "by_path": {"demo/ask.py": [99]}},
        {**good, "digests": {"demo/ask.py": "not hex"}},
        {**good, "deps": {"demo/ask.py": [1, 2]}},
        {**good, "ext": {"/x": ["a", 1]}},
        # a status or kind outside the contract (contracts.ScanStatus / DefKind) is a damaged entry
        {**good, "results": [[*good["results"][0][:6], "bogus", *good["results"][0][7:]]]},
        {**good, "results": [[*good["results"][0][:11], "bogus", *good["results"][0][12:]]]},
    ]
    for entry in bad_entries:
        cache.results_file.write_text(json.dumps(entry))
        assert [(r.qualname, r.status) for r in api.scan([root]).results] == want, entry
        assert cache.load_results() is not None  # and the scan wrote a good one back


def test_wrong_index_entries_are_ignored_or_the_scan_is_redone(tmp_path: Path) -> None:
    root, want, cache = scanned(tmp_path)
    real = marshal.loads(cache.index_file.read_bytes())
    key = next(k for k in real["files"] if k.endswith("ask.py"))
    m, s, d, idx = real["files"][key]
    junk_funcs = idx[:5] + ((("not", "a", "FuncRec"),),) + idx[6:]
    code = compile("open('x', 'w')", "<x>", "exec")
    variants = [
        {"files": [], "ext": {}},
        {"files": {key: "nope"}, "ext": {}},
        {"files": {key: (m, s, d, code)}, "ext": {}},  # marshal can hold code objects: never used
        {"files": {key: (m, s, d, ("x",) * 8)}, "ext": {}},
        {"files": {key: (m, s, d, junk_funcs)}, "ext": {}},  # right outline, wrong contents
        {"files": real["files"], "ext": {"/nowhere.py": ("a", "b", None)}},
    ]
    for variant in variants:
        for f in cache.folder.glob("scan-results-*"):
            f.unlink()  # so the index is read
        cache.index_file.write_bytes(marshal.dumps(variant))
        assert [(r.qualname, r.status) for r in api.scan([root]).results] == want, variant
    os.utime(root / "demo" / "ask.py")
    assert [(r.qualname, r.status) for r in api.scan([root]).results] == want
