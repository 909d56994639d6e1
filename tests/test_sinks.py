"""The JSONL sink: whole lines under many threads and processes; a killed writer leaves no torn line."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from distilgen.runtime.sinks import JsonlSink

WRITER = textwrap.dedent('''
    import sys
    from distilgen.runtime.sinks import JsonlSink
    sink = JsonlSink(sys.argv[1])
    tag = sys.argv[2]
    n = int(sys.argv[3])
    pad = "x" * int(sys.argv[4])
    for i in range(n):
        sink.write('{"w":"%s","i":%d,"pad":"%s"}' % (tag, i, pad))
''')


def test_threads_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = JsonlSink(path)
    pad = "y" * 5000  # larger than PIPE_BUF: atomicity must not rely on small writes

    def work(t: int) -> None:
        for i in range(200):
            sink.write(json.dumps({"t": t, "i": i, "pad": pad}))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    rows = [json.loads(l) for l in path.read_text().splitlines()]
    assert len(rows) == 1600
    assert {(r["t"], r["i"]) for r in rows} == {(t, i) for t in range(8) for i in range(200)}


def test_processes_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    script = tmp_path / "w.py"
    script.write_text(WRITER)
    procs = [subprocess.Popen([sys.executable, str(script), str(path), f"p{p}", "300", "9000"]) for p in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    rows = [json.loads(l) for l in path.read_text().splitlines()]
    assert len(rows) == 1200
    for p in range(4):
        assert sorted(r["i"] for r in rows if r["w"] == f"p{p}") == list(range(300))


def test_killed_writer_leaves_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    script = tmp_path / "w.py"
    script.write_text(WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(path), "k", "100000000", "20000"])
    deadline = time.monotonic() + 30
    while (not path.exists() or path.stat().st_size < 2_000_000) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = path.read_bytes()
    # the kernel may cut a SIGKILLed write between pages; the next writer repairs the tail
    JsonlSink(path).write('{"w":"next","i":-1}')
    data = path.read_bytes()
    rows = [json.loads(l) for l in data.splitlines()]
    assert rows[-1] == {"w": "next", "i": -1}
    assert [r["i"] for r in rows[:-1]] == list(range(len(rows) - 1)) and len(rows) > 10
    torn = path.with_name(path.name + ".torn")
    if not before.endswith(b"\n"):
        # nothing the writer produced is lost: the torn fragment is kept aside
        assert torn.read_bytes().rstrip(b"\n") == before[before.rfind(b"\n") + 1:]
    else:
        assert not torn.exists()


def test_whole_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "hand.jsonl"
    path.write_text('{"a":1}\n{"a":2}')  # edited by hand, no final newline
    JsonlSink(path).write('{"a":3}')
    assert [json.loads(l)["a"] for l in path.read_text().splitlines()] == [1, 2, 3]
    assert not (tmp_path / "hand.jsonl.torn").exists()


def test_sink_after_fork_reopens(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = JsonlSink(path)
    sink.write('{"who":"parent"}')
    pid = os.fork()
    if pid == 0:  # child: write through the inherited sink object, then leave at once
        try:
            sink.write('{"who":"child"}')
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    sink.write('{"who":"parent2"}')
    assert sorted(json.loads(l)["who"] for l in path.read_text().splitlines()) == ["child", "parent", "parent2"]
