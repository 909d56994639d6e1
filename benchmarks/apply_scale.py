"""Benchmark `distilgen apply` and `apply --diff` against a cold `distilgen scan` of the same tree.

Target (issue 13): `apply` and `apply --diff` each take at most 3x a cold scan of the tree
(one parse per edited file, one index, never per function).

Corpus: large real packages from PyPI, pinned, unpacked under ~/.cache/distilgen-corpus (never
committed). Fetch them once with

    python -m pip download --no-deps -d ~/.cache/distilgen-corpus/probe \
        prefect==3.9.1 langchain-core==1.8.4 litellm==1.110.2
    # then unzip each wheel into ~/.cache/distilgen-corpus/codemods-scale/<wheel name>/

and run

    PYTHONPATH=. /work/devenv/bin/python benchmarks/apply_scale.py [TREE ...] [--rounds N]

Each tree is copied to a temporary folder (apply writes). Every command runs as a user runs it: a
fresh `python -m distilgen` process, timed from outside, with the scan cache removed first (cold)
so `apply` pays its own scan. `apply` runs with the lock: the schema child imports the modules
that define the return models, under the project's interpreter. That interpreter is the venv
`benchmarks/real_world.py` keeps for the project (~/.cache/distilgen-corpus/venvs/NAME-VERSION,
made with `pip install NAME==VERSION`) when it has the project's dependencies, else the running
one; every command of a tree gets the same `--python`. Where the dependencies are missing, `apply`
leaves the functions whose models cannot be imported alone (it says so; counted as "left
alone"), as it would for the user. Prints seconds and the ratios to the cold scan, measured in the
same run; the machine's load average is printed with them because the machine is shared. Each tree
is measured `--rounds` times (default 3, each on a fresh copy) and the ratios are the medians of
each round's own ratios: a single round's cold scan can vary by 1.7x within minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path.home() / ".cache" / "distilgen-corpus" / "codemods-scale"
VENVS = CORPUS.parent / "venvs"
TARGET = 3.0


def project_python(tree: Path) -> tuple[str, str]:
    """(interpreter, what it is): the project's venv when it has the project's dependencies."""
    name, version = tree.name.split("-")[:2]
    home = VENVS / f"{name.replace('_', '-')}-{version}"
    try:
        mode = (home / "distilgen-mode").read_text().strip()
    except OSError:
        mode = "none"
    if mode == "venv" and (home / "bin" / "python").exists():
        return str(home / "bin" / "python"), f"venv {home.name}"
    return sys.executable, f"running interpreter (project venv: {mode.split(' ')[0]})"


LOADS: list[float] = []
"""The load average as each command started: the scan and apply use a second process only when a
core is free at that moment (`analysis/processes.worker_count`), so a figure means little without
it."""


def run(args: list[str], cwd: Path, timeout: float) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    LOADS.append(os.getloadavg()[0])
    t = time.perf_counter()
    # from a neutral folder: the tree itself must not be importable from the working directory
    done = subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return time.perf_counter() - t, done


def measure(tree: Path, timeout: float) -> dict[str, float | int | str]:
    python, about = project_python(tree)
    with tempfile.TemporaryDirectory(prefix="distilgen-apply-bench-") as tmp:
        work = Path(tmp) / tree.name
        shutil.copytree(tree, work, ignore=shutil.ignore_patterns("__pycache__", ".distilgen_cache", "*.lock"))
        cache = work / ".distilgen_cache"
        files = sum(1 for _ in work.rglob("*.py"))

        def cold(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
            shutil.rmtree(cache, ignore_errors=True)
            return run([*args, "--python", python, str(work)], Path(tmp), timeout)

        scan_s, scan = cold(["scan"])
        if "Traceback" in scan.stderr or not scan.stdout.strip():
            # e.g. issue 13 item 7a (nested namespace packages in the environment) before its fix
            return {"tree": tree.name, "error": "scan crashed: " + scan.stderr.strip().splitlines()[-1][:200]}
        diff_s, diff = cold(["apply", "--diff", "--no-lock"])
        edited = diff.stdout.count("\n+++ b/")
        apply_s, applied = cold(["apply"])
        changed = applied.stdout.strip().splitlines()[-1] if applied.stdout.strip() else applied.stderr[-200:]
        # warm, as a user runs it right after `apply`: what apply left alone is remembered (not imported)
        again_s, again = run(["apply", "--check", "--python", python, str(work)], Path(tmp), timeout)
        # --no-lock asks nothing and remembers nothing: every candidate apply left alone is planned again
        raw_s, raw = run(["apply", "--check", "--no-lock", "--python", python, str(work)], Path(tmp), timeout)
        return {
            "tree": tree.name, "files": files, "edited": edited, "scan": scan_s, "diff": diff_s, "apply": apply_s,
            "check_after": again_s, "summary": changed, "scan_summary": scan.stdout.strip().splitlines()[-1][:90],
            "python": about, "left_alone": sum(": left alone: " in ln or ": ineligible: " in ln for ln in applied.stderr.splitlines()),
            "exit": applied.returncode, "check_exit": again.returncode,
            "remembered": sum("(remembered from the last" in ln for ln in again.stderr.splitlines()),
            "check_no_lock": raw_s, "check_no_lock_exit": raw.returncode,
        }


def break_even(tree: Path, repeats: int = 3) -> None:
    """Where planning on 2 worker processes starts to beat planning in this process: the same
    files planned both ways (in process, after a real scan of the tree, so the forked parent is as
    big as `apply`'s), for growing sets of files. What `_PARALLEL_MIN_FILES/_BYTES` rest on."""
    import random

    from distilgen import api
    from distilgen.codemods import apply as ap
    from distilgen.config import load_config

    with tempfile.TemporaryDirectory(prefix="distilgen-apply-bench-") as tmp:
        work = Path(tmp) / tree.name
        shutil.copytree(tree, work, ignore=shutil.ignore_patterns("__pycache__", ".distilgen_cache", "*.lock"))
        cfg = load_config(work)
        report = api.scan([work], config=cfg)
        where = ap.placements(work, report.results, ap.instance_ref(cfg))
        by_path: dict[str, list] = {}
        for r in report.results:
            if ap.needs_edit(r, "decorate", None, str(where[r.path].instance)):
                by_path.setdefault(r.path, []).append(r)
        rels = sorted(by_path)
        random.Random(13).shuffle(rels)
        print(f"{tree.name}: {len(rels)} files to edit; load {os.getloadavg()[0]:.1f}")
        print("  files  KB      in process   2 workers   ratio")
        real_workers, real_min = ap.worker_count, ap._PARALLEL_MIN_FILES
        k = 1
        while True:
            some = sorted(rels[:k])
            size = sum((work / r).stat().st_size for r in some)
            times = {}
            for mode in ("serial", "parallel"):
                ap._PARALLEL_MIN_FILES, ap._PARALLEL_MIN_BYTES = (10**9, 0) if mode == "serial" else (1, 0)
                ap.worker_count = lambda: 2  # noqa: E731 - whatever the load: this measures both
                best = float("inf")
                for _ in range(repeats):
                    t = time.perf_counter()
                    ap._plan_files(work, some, by_path, where, "decorate", None)
                    best = min(best, time.perf_counter() - t)
                times[mode] = best
            ap.worker_count, ap._PARALLEL_MIN_FILES = real_workers, real_min
            print(f"  {k:5}  {size / 1000:6.0f}  {times['serial']:8.3f} s  {times['parallel']:8.3f} s  "
                  f"{times['parallel'] / times['serial']:.2f}  (load {os.getloadavg()[0]:.1f})")
            if k >= len(rels) or k >= 64:
                break
            k = min(len(rels), k * 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs="*", type=Path)
    parser.add_argument("--timeout", type=float, default=900.0, help="per command, seconds")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure each tree this many times (fresh copies); the figures are medians of "
                             "each round's own ratios (one round's cold scan varied 1.9-3.3 s at load 1)")
    parser.add_argument("--break-even", action="store_true",
                        help="instead: time planning in process vs on 2 workers for growing sets of files")
    args = parser.parse_args()
    trees = args.trees or sorted(p for p in CORPUS.glob("*") if p.is_dir())
    if not trees:
        sys.exit(f"no trees given and none under {CORPUS}: see this script's docstring to fetch them")
    if args.break_even:
        for tree in trees:
            break_even(tree)
        return
    print(f"target: apply and apply --diff <= {TARGET:.0f}x a cold scan of the same tree")
    worst = 0.0
    for tree in trees:
        LOADS.clear()
        rounds = [measure(tree, args.timeout) for _ in range(max(1, args.rounds))]
        r = rounds[-1]
        if "error" in r:
            print(f"{r['tree']}: {r['error']}")
            continue
        diffs = [float(x["diff"]) / float(x["scan"]) for x in rounds]
        applies = [float(x["apply"]) / float(x["scan"]) for x in rounds]
        diff_ratio, apply_ratio = statistics.median(diffs), statistics.median(applies)
        worst = max(worst, diff_ratio, apply_ratio)

        def secs(key: str) -> float:
            return statistics.median(float(x[key]) for x in rounds)

        print(f"{r['tree']}: {r['files']} files, {r['edited']} edited; {r['scan_summary']}")
        print(f"  medians of {len(rounds)} rounds: cold scan {secs('scan'):.1f} s | apply --diff {secs('diff'):.1f} s "
              f"({diff_ratio:.2f}x) | apply {secs('apply'):.1f} s ({apply_ratio:.2f}x) | load as commands started: "
              f"{min(LOADS):.2f}-{max(LOADS):.2f}")
        print(f"  per round: apply --diff {' '.join(f'{x:.2f}x' for x in diffs)}; apply {' '.join(f'{x:.2f}x' for x in applies)}")
        print(f"  after apply: apply --check {r['check_after']:.1f} s ({float(r['check_after']) / float(r['scan']):.2f}x, "
              f"exit {r['check_exit']}, {r['remembered']} remembered as left alone) | apply --check --no-lock "
              f"{r['check_no_lock']:.1f} s (exit {r['check_no_lock_exit']})")
        print(f"  apply said: {r['summary']} (exit {r['exit']}; {r['left_alone']} functions left alone); "
              f"project interpreter: {r['python']}")
    print(f"worst ratio {worst:.2f}x (target <= {TARGET:.0f}x): {'met' if worst <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
