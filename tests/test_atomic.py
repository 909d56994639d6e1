"""Atomic writes: a writer killed with -9 leaves a temp file that git ignores and the next run removes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from distilgen import _atomic
from distilgen._atomic import TEMP_GLOB, remove_stale_temps, replace_atomically
from distilgen.analysis.discovery import discover

HERE = str(Path(_atomic.__file__).resolve().parent.parent)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=30).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_kill_9_leftover_is_ignored_by_git_and_removed_by_the_next_write(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "app.py").write_text("x = 1\n")
    writer = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from distilgen._atomic import replace_atomically
        def hang():
            print("ready", flush=True)
            time.sleep(60)
        replace_atomically(Path(sys.argv[1]), b"x = 2\\n", check=hang)
    """)
    proc = subprocess.Popen([sys.executable, "-c", writer, str(repo / "app.py")], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": HERE})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    leftovers = [p.name for p in repo.iterdir() if p.name.startswith(".app.py.distilgen-")]
    assert len(leftovers) == 1 and leftovers[0].endswith(".tmp")
    assert (repo / "app.py").read_text() == "x = 1\n"  # the original is untouched
    assert _git(repo, "status", "--porcelain", "--untracked-files=all").split() == ["??", "app.py"]
    assert TEMP_GLOB in (repo / ".git/info/exclude").read_text().splitlines()
    # the scan never reads it
    entries, _ = discover([repo], repo, ("**/*",), ())
    assert [e.rel for e in entries] == ["app.py"]
    # the next run (a new process) writing into that folder removes it, and nothing else
    (repo / ".notes.tmp").write_text("mine")
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from distilgen._atomic import "
                    "replace_atomically; replace_atomically(Path(sys.argv[1]), b'y = 1\\n')", str(repo / "other.py")],
                   check=True, timeout=60, env={**os.environ, "PYTHONPATH": HERE})
    assert sorted(p.name for p in repo.iterdir()) == [".git", ".notes.tmp", "app.py", "other.py"]
    # the exclude line is written once
    replace_atomically(repo / "third.py", b"")
    assert (repo / ".git/info/exclude").read_text().count(TEMP_GLOB) == 1


def test_only_stale_temps_of_our_pattern_are_removed(tmp_path):
    live = tmp_path / f".a.py.distilgen-{os.getpid()}-abcd1234.tmp"
    old = tmp_path / f".b.py.distilgen-{os.getpid()}-abcd1234.tmp"
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, timeout=30, check=True).stdout.strip()
    dead = tmp_path / f".c.py.distilgen-{dead_pid}-abcd1234.tmp"
    other = tmp_path / ".c.py.tmpXYZ"
    for p in (live, old, dead, other):
        p.write_text("")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    assert sorted(remove_stale_temps(tmp_path)) == sorted([old.name, dead.name])
    assert live.exists() and other.exists()
