"""`distilgen._toml`: the one TOML parser, with a parse cache that can never serve a stale or wrong
document (keyed on the exact text, verified on read, skipped for values JSON cannot hold)."""

from __future__ import annotations

import datetime
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distilgen import _toml
from distilgen._toml import TomlSyntaxError, parse_toml


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user-cache"
    monkeypatch.setenv("DISTILGEN_CACHE", str(folder))
    return folder / "toml"


def test_a_cached_parse_is_the_parse(tmp_path: Path, cache: Path) -> None:
    f = tmp_path / "pyproject.toml"
    text = '[tool.distilgen]\nlock = "x.lock"\nn = 3\nf = 1.0\nb = true\nl = [1, "a", {k = -0.0}]\n[a."b c"]\nd = "\\u00e9"\n'
    f.write_text(text, encoding="utf-8")
    first = parse_toml(text, f)
    assert len(list(cache.iterdir())) == 1
    second = parse_toml(text, f)
    assert first == second == __import__("tomllib").loads(text)
    assert type(second["tool"]["distilgen"]["f"]) is float and type(second["tool"]["distilgen"]["n"]) is int
    assert math.copysign(1, second["tool"]["distilgen"]["l"][2]["k"]) == -1


def test_a_second_process_reads_the_cache_without_importing_tomllib(tmp_path: Path, cache: Path) -> None:
    f = tmp_path / "distilgen.lock"
    f.write_text('version = 1\n[functions."m:f"]\npath = "m.py"\n', encoding="utf-8")
    code = ("import sys, json\nfrom pathlib import Path\nfrom distilgen._toml import parse_toml\n"
            f"p = Path({str(f)!r})\nd = parse_toml(p.read_text(encoding='utf-8'), p)\n"
            "print(json.dumps([d, 'tomllib' in sys.modules]))")
    env = dict(os.environ, DISTILGEN_CACHE=str(cache.parent))
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                      check=True, timeout=60).stdout) for _ in range(2)]
    assert runs[0] == [{"version": 1, "functions": {"m:f": {"path": "m.py"}}}, True]
    assert runs[1] == [runs[0][0], False]


def test_an_edit_is_never_answered_from_the_cache(tmp_path: Path, cache: Path) -> None:
    f = tmp_path / "pyproject.toml"
    f.write_text("a = 1\n", encoding="utf-8")
    stamp = f.stat().st_mtime_ns
    assert parse_toml("a = 1\n", f) == {"a": 1}
    f.write_text("a = 2\n", encoding="utf-8")  # same size, same mtime: only the text tells
    os.utime(f, ns=(stamp, stamp))
    assert parse_toml(f.read_text(encoding="utf-8"), f) == {"a": 2}
    assert parse_toml("a = 1\n", f) == {"a": 1}


def test_dates_are_parsed_every_time_and_never_cached(tmp_path: Path, cache: Path) -> None:
    f = tmp_path / "x.toml"
    text = "when = 2026-11-30\nat = 07:00:00\n"
    for _ in range(2):
        assert parse_toml(text, f) == {"when": datetime.date(2026, 11, 30), "at": datetime.time(7)}
    assert not cache.exists() or not list(cache.iterdir())


def test_nan_is_never_served_from_json(tmp_path: Path, cache: Path) -> None:
    f = tmp_path / "x.toml"
    assert math.isnan(parse_toml("x = nan\n", f)["x"])
    assert not cache.exists() or not list(cache.iterdir())
    assert parse_toml("x = inf\n", f) == parse_toml("x = inf\n", f) == {"x": math.inf}


@pytest.mark.parametrize("garbage", [b"", b"{", b'{"format": 1, "digest": "x", "data": {}}', b"[]", b"\xff\xfe",
                                     b'{"format": 1, "data": []}'])
def test_a_damaged_cache_entry_is_ignored_and_replaced(tmp_path: Path, cache: Path, garbage: bytes) -> None:
    f = tmp_path / "x.toml"
    assert parse_toml("a = 1\n", f) == {"a": 1}
    (entry,) = cache.iterdir()
    entry.write_bytes(garbage)
    assert parse_toml("a = 1\n", f) == {"a": 1}
    assert json.loads(entry.read_bytes())["data"] == {"a": 1}


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("DISTILGEN_CACHE", str(blocker))
    assert parse_toml("a = 1\n", tmp_path / "x.toml") == {"a": 1}


def test_invalid_toml_says_where(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(TomlSyntaxError, match=r"\(at line 2, column \d+\)"):
        parse_toml("a = 1\nb = \n", tmp_path / "x.toml")
    with pytest.raises(TomlSyntaxError):
        parse_toml("a = [\n")  # no path: parsed, nothing cached
    assert issubclass(_toml.TomlSyntaxError, ValueError)


def test_two_files_have_their_own_entries(tmp_path: Path, cache: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    assert parse_toml("x = 1\n", a) == {"x": 1}
    assert parse_toml("x = 2\n", b) == {"x": 2}
    assert parse_toml("x = 1\n", a) == {"x": 1}
    assert len(list(cache.iterdir())) == 2


def test_the_cache_keeps_the_latest_entries_only(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_toml, "_KEEP", 8)
    for i in range(20):
        assert parse_toml(f"x = {i}\n", tmp_path / f"{i}.toml") == {"x": i}
        assert len(list(cache.iterdir())) <= 8
    assert parse_toml("x = 19\n", tmp_path / "19.toml") == {"x": 19}
    kept = {json.loads(p.read_bytes())["data"]["x"] for p in cache.iterdir()}
    assert 19 in kept and 0 not in kept
