"""`apply` plans its edits on worker processes (the scan's pool) when there is enough to edit: the
output must be the serial path's, byte for byte, and so must every error; small trees never start a
process; a killed run leaves every file whole."""

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
from click.testing import CliRunner

from distilgen import api
from distilgen.cli import main
from distilgen.codemods import apply as apply_mod
from distilgen.config import load_config
from test_apply import CORPUS, MODEL, snapshot

ROOT = Path(__file__).resolve().parent.parent


def generated_modules(dest: Path) -> None:
    """Files of every shape the byte fixtures cover (CRLF, BOM, latin-1 cookie, tabs, no final
    newline), class and nested functions, an overload left alone with a note, many targets."""
    gen = dest / "inbox" / "gen"
    gen.mkdir()
    (gen / "__init__.py").write_text("")
    plain = 'from inbox.models import Triage\n\n\ndef f{i}(text: str) -> Triage:\n    """Doc {i}."""\n    ...\n'
    files: dict[str, bytes] = {}
    for i in range(12):
        files[f"m{i:02}.py"] = plain.format(i=i).encode()
    files["crlf.py"] = plain.format(i="crlf").replace("\n", "\r\n").encode()
    files["bom.py"] = b"\xef\xbb\xbf# header\n" + plain.format(i="bom").encode()
    files["latin.py"] = ("# -*- coding: latin-1 -*-\n" + plain.format(i="latin").replace("Doc", "Café")).encode("latin-1")
    files["tabs.py"] = (b"from inbox.models import Triage\n\n\nclass C:\n\t@staticmethod\n\tdef f(x: int) -> Triage:\n"
                        b"\t\t...\n\n\t@classmethod\n\tdef g(cls,\n\t      x: int) -> Triage:  # note\n\t\t...\n")
    files["nonl.py"] = b"import os\nfrom inbox.models import Triage\ndef f(x: int) -> Triage: ..."
    files["nested.py"] = textwrap.dedent('''\
        from typing import overload

        from inbox.models import OrderMention, Triage


        def outer(instructions: str) -> int:
            def inner(a: int) -> Triage:
                ...
            return 1


        @overload
        def same(x: int) -> OrderMention: ...
        @overload
        def same(x: str) -> OrderMention: ...
        def same(x):
            ...
        ''').encode()
    files["many.py"] = ("from inbox.models import OrderMention\n\n\n" + "".join(
        f"def g{k}(text: str) -> OrderMention:\n    ...\n\n\n" for k in range(40))).encode()
    for name, data in files.items():
        (gen / name).write_bytes(data)


@pytest.fixture(params=["sample", "corpus"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "sample":
        dest = tmp_path / "sample_project"
        shutil.copytree(ROOT / "sample_project", dest, ignore=shutil.ignore_patterns("__pycache__", ".distilgen_cache"))
        generated_modules(dest)
        return dest
    if not CORPUS.is_dir():
        pytest.skip("tests/scan_corpus not present")
    dest = tmp_path / "scan_corpus"
    shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns("__pycache__", ".distilgen_cache"))
    return dest


def log_planners(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Two workers on offer whatever the machine's load; each process that plans a file writes its
    pid to `log` (the forked workers inherit the patched module)."""
    monkeypatch.setattr(apply_mod, "worker_count", lambda: 2)
    real = apply_mod._plan_file

    def plan_file(*args, **kwargs):
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(apply_mod, "_plan_file", plan_file)


def force(monkeypatch: pytest.MonkeyPatch, parallel: bool, log: Path) -> Path:
    """Plan on two workers (or in this process) whatever the amount of work."""
    monkeypatch.setattr(apply_mod, "_PARALLEL_MIN_FILES", 1 if parallel else 10**9)
    monkeypatch.setattr(apply_mod, "_PARALLEL_MIN_BYTES", 0)
    log_planners(monkeypatch, log)
    return log


def pids(log: Path) -> list[str]:
    try:
        return log.read_text().split()
    finally:
        log.unlink(missing_ok=True)


def check_planners(log: Path, parallel: bool) -> None:
    who = pids(log)
    if parallel:
        assert who and str(os.getpid()) not in who and 1 <= len(set(who)) <= 2, who
    else:
        assert who and set(who) == {str(os.getpid())}


def same_reports(a, b) -> None:
    assert a.edits == b.edits
    assert a.notes == b.notes
    assert a.bound == b.bound


def test_parallel_planning_gives_the_serial_output_byte_for_byte(project: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    original = snapshot(project)
    log = tmp_path / "pids.txt"
    diffs = []
    for parallel_run in (False, True):
        with monkeypatch.context() as m:
            force(m, parallel_run, log)
            diffs.append(api.apply([project], lock=False, write=False))
        check_planners(log, parallel_run)
    serial, parallel = diffs
    same_reports(serial, parallel)
    assert serial.diff == parallel.diff and len(serial.changed) >= 10 and not serial.errors
    assert snapshot(project) == original
    # written: the same bytes in every file, through decorate, dispatch and remove
    # the same folder name: the created instructions module is named after it
    (serial_copy, parallel_copy) = (tmp_path / "serial" / project.name, tmp_path / "parallel" / project.name)
    shutil.copytree(project, serial_copy)
    shutil.copytree(project, parallel_copy)
    for kwargs in ({"action": "decorate"}, {"action": "dispatch", "model": MODEL}, {"action": "remove"}):
        reports = []
        for copy, parallel_run in ((serial_copy, False), (parallel_copy, True)):
            with monkeypatch.context() as m:
                force(m, parallel_run, log)
                reports.append(api.apply([copy], lock=False, **kwargs))
            check_planners(log, parallel_run)
        same_reports(*reports)
        assert reports[0].changed, kwargs
        assert snapshot(serial_copy) == snapshot(parallel_copy), kwargs
    if project.name == "sample_project":
        gen = snapshot(parallel_copy)
        assert gen["inbox/gen/crlf.py"] == original["inbox/gen/crlf.py"]  # remove undid every byte
        assert gen["inbox/gen/latin.py"] == original["inbox/gen/latin.py"]


def test_notes_and_stale_files_are_the_same_errors_on_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file changed or deleted since the scan is that file's error, worded as on one process."""
    project = tmp_path / "sample_project"
    shutil.copytree(ROOT / "sample_project", project, ignore=shutil.ignore_patterns("__pycache__", ".distilgen_cache"))
    generated_modules(project)
    config = load_config(project)
    report = api.scan([project], config=config)
    gen = project / "inbox" / "gen"
    (gen / "m03.py").write_text((gen / "m03.py").read_text().replace("def f3(", "def renamed("))
    (gen / "m05.py").unlink()
    outcomes = []
    for parallel in (False, True):
        with monkeypatch.context() as m:
            force(m, parallel, tmp_path / "pids.txt")
            outcomes.append(apply_mod.apply_codemod(report, config, write=False))
        check_planners(tmp_path / "pids.txt", parallel)
    serial, on_workers = outcomes
    same_reports(serial, on_workers)
    errors = {e.path: e.reason for e in serial.errors}
    assert errors == {
        "inbox/gen/m03.py": "no function f3 here any more (changed since the scan?); not written",
        "inbox/gen/m05.py": "the file is gone since the scan",
    }
    assert any(n.startswith("inbox/gen/nested.py:") and "same: the definition has no return annotation" in n
               for n in serial.notes)


def test_a_bug_in_a_worker_is_the_serial_one_line_naming_the_file(sample_copy: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    generated_modules(sample_copy)
    real = apply_mod.edit_module

    def edit_module(data, targets, *args, module: str = "", **kwargs):
        if module == "inbox.gen.m07":
            raise KeyError("surprise")
        return real(data, targets, *args, module=module, **kwargs)

    monkeypatch.setattr(apply_mod, "edit_module", edit_module)
    before = snapshot(sample_copy)
    lines = []
    for parallel in (False, True):
        with monkeypatch.context() as m:
            log = force(m, parallel, tmp_path / "pids.txt")
            res = CliRunner().invoke(main, ["apply", "--no-lock", str(sample_copy)])
            assert res.exit_code == 2, res.output
            lines.append(res.stderr.strip().splitlines())
            debug = CliRunner().invoke(main, ["--debug", "apply", "--no-lock", str(sample_copy)])
            assert debug.exception is not None and "surprise" in str(debug.exception)
        pids(log)
    assert lines[0] == lines[1] == ["distilgen: internal error: inbox/gen/m07.py: while planning its edit: KeyError: "
                                    "'surprise' (run with --debug for the traceback)"]
    assert snapshot(sample_copy) == before  # planning failed: nothing was written


def test_a_small_tree_is_planned_in_this_process(sample_copy: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Below the measured break-even (docs/apply.md) no worker process is started, whatever the load."""
    log_planners(monkeypatch, tmp_path / "pids.txt")  # the real thresholds, two workers on offer
    report = api.apply([sample_copy], lock=False, write=False)
    assert len(report.changed) == 5
    check_planners(tmp_path / "pids.txt", parallel=False)


_KILLED = textwrap.dedent("""
    import sys
    from distilgen import api
    from distilgen.codemods import apply as apply_mod
    apply_mod._PARALLEL_MIN_FILES, apply_mod._PARALLEL_MIN_BYTES = 1, 0
    apply_mod.worker_count = lambda: 2
    print("go", flush=True)
    api.apply([sys.argv[1]], lock=False)
    print("done", flush=True)
""")


def test_a_killed_apply_leaves_every_file_whole_and_no_process_behind(tmp_path: Path) -> None:
    base = tmp_path / "base"
    shutil.copytree(ROOT / "sample_project", base, ignore=shutil.ignore_patterns("__pycache__", ".distilgen_cache"))
    generated_modules(base)
    original = snapshot(base)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start(copy: Path) -> tuple[subprocess.Popen[str], float]:
        proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(copy)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline() == "go\n"
        return proc, time.monotonic()

    # each copy in a folder of the same name: the created instructions module is named after it
    full = tmp_path / "full" / "proj"
    shutil.copytree(base, full)
    proc, t0 = start(full)
    out, err = proc.communicate(timeout=120)
    took = time.monotonic() - t0
    assert proc.returncode == 0 and out == "done\n", err
    final = snapshot(full)
    changed = {k for k in final if final.get(k) != original.get(k)}
    assert len(changed) >= 20
    for i, fraction in enumerate((0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)):  # planning, then writing
        copy = tmp_path / f"killed{i}" / "proj"
        shutil.copytree(base, copy)
        proc, t0 = start(copy)
        time.sleep(max(0.0, took * fraction - (time.monotonic() - t0)))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        now = snapshot(copy)
        for path, data in now.items():
            assert data in (original.get(path), final.get(path)), path  # the old bytes or the new, never half
        if any(b"from inbox.distil import instructions" in now[p] and now[p] != original.get(p) for p in now):
            assert "inbox/distil.py" in now  # never code importing a module that is not there
        # the workers follow their killed parent out (they would otherwise wait on their queue forever)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = subprocess.run(["pgrep", "-f", str(copy)], capture_output=True, text=True).stdout.split()
            if not left:
                break
            time.sleep(0.1)
        assert not left, left


@pytest.mark.parametrize("parallel", [False, True])
def test_notes_are_in_file_order_however_late_the_schema_child_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       parallel: bool) -> None:
    """Files planned before the child's verdict are planned again without what it refused, after
    the others: the notes still come out by file and line, as when the verdict was there first."""
    project = tmp_path / "sample_project"
    shutil.copytree(ROOT / "sample_project", project, ignore=shutil.ignore_patterns("__pycache__", ".distilgen_cache"))
    generated_modules(project)
    config = load_config(project)
    report = api.scan([project], config=config)
    refused = {(r.path, r.qualname): "left alone: its model does not import here"
               for r in report.by_status("candidate") if r.path.startswith("inbox/gen/m") and r.path[-4] in "13579"}
    refused[("inbox/gen/many.py", "g7")] = "left alone: its model does not import here"
    outcomes = []
    for late in (0, 3, 10**6):
        asked = [0]

        def vet(wait: bool = True):
            asked[0] += 1
            return refused if wait or asked[0] > late else None

        with monkeypatch.context() as m:
            force(m, parallel, tmp_path / "pids.txt")
            outcomes.append(apply_mod.apply_codemod(report, config, write=False, vet=vet))
        pids(tmp_path / "pids.txt")
    first = outcomes[0]
    assert [n.split(":")[0] for n in first.notes if "does not import" in n] == sorted(
        p for p, _ in refused)
    for other in outcomes[1:]:
        same_reports(first, other)
    assert "inbox/gen/m01.py" not in {e.path for e in first.edits}
    assert "g7" not in next(e for e in first.edits if e.path == "inbox/gen/many.py").functions


def _pid_and(x: int) -> tuple[int, int]:
    if x == 13:
        raise ValueError("thirteen")
    return os.getpid(), x * x


def test_work_moves_to_a_free_core_once_one_is_free() -> None:
    """mcp (held-out corpus): planning started while the schema child held the second core, which
    was free again after 0.9 s of 6 s; the rest ran on one core. `ordered_map` asks again as it
    goes and moves what is left to worker processes; results stay in order."""
    from distilgen.analysis.processes import ordered_map

    answers = iter([1, 1, 2])
    out = list(ordered_map(_pid_and, range(12), 1, ahead=4, recheck=lambda: next(answers), every=0.0))
    assert [sq for _, sq in out] == [x * x for x in range(12)]
    pids = [pid for pid, _ in out]
    assert pids[:3] == [os.getpid()] * 3  # here until the third answer said 2
    assert os.getpid() not in pids[3:] and len(set(pids[3:])) >= 1
    # never free: all of it here; done before the first recheck: no pool at all
    assert {pid for pid, _ in ordered_map(_pid_and, range(5), 1, ahead=4, recheck=lambda: 1, every=0.0)} == {os.getpid()}
    assert [pid for pid, _ in ordered_map(_pid_and, range(1), 1, ahead=4, recheck=lambda: 2, every=0.0)] == [os.getpid()]
    # an error is raised at its item whichever side ran it
    with pytest.raises(ValueError, match="thirteen"):
        list(ordered_map(_pid_and, range(20), 1, ahead=4, recheck=lambda: 2, every=0.0))
