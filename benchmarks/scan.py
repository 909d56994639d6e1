"""Benchmark `distilgen scan` against the floor: `ast.parse` of every file, in the same run.

Corpus: the installed site-packages of pydantic, openai and libcst (copied, .py files only, to a
temporary folder so the cache and the one-file touch never write into the venv).

    /work/venv/bin/python benchmarks/scan.py [--repeat 3]

Prints lines/s of the floor and of distilgen's cold scan (no cache; by default a second worker
process is used only when a core is free at that moment, so it is also timed forced onto one
and onto two processes), a rescan with nothing changed,
and a rescan after one file's content changed; the ratios against the targets (cold >= 50% of the
floor's throughput; warm <= 5% of cold); and peak memory. Each scan runs in a fresh interpreter
(no in-process caches carried over) and times only the `api.scan` call; best of --repeat.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGES = ("pydantic", "openai", "libcst")

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from distilgen import api
from distilgen.config import Config
root = Path(sys.argv[1])
import distilgen.analysis.project as project
import distilgen.analysis.processes as processes  # `_index_many` imports worker_count when it runs
if sys.argv[2] == "serial":  # the same cold scan forced onto one process, or onto two: do 2 cores help?
    project._PARALLEL_MIN_FILES = 10**9
elif sys.argv[2] == "parallel":
    processes.worker_count = lambda: 2
auto_workers = processes.worker_count()
config = Config(root=root, cache_dir=str(root / ".distilgen_cache"))
t = time.perf_counter()
report = api.scan([root / p for p in sys.argv[3:]], config=config)
elapsed = time.perf_counter() - t
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": elapsed, "auto_workers": auto_workers, "results": len(report.results), "errors": len(report.errors),
                  "files": report.files_scanned, "rss_kb": own, "worker_rss_kb": kids}))
"""


def copy_corpus(dest: Path) -> list[Path]:
    files = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.submodule_search_locations, f"{name} is not installed"
        src = Path(list(spec.submodule_search_locations)[0])
        for f in src.rglob("*.py"):
            if "__pycache__" in f.parts:
                continue
            target = dest / name / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
            files.append(target)
    return files


def floor(files: list[Path]) -> float:
    t = time.perf_counter()
    for f in files:
        data = f.read_bytes()
        try:
            ast.parse(data, str(f))
        except SyntaxError:
            pass
    return time.perf_counter() - t


def run_scan(root: Path, mode: str = "default") -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(root), mode, *PACKAGES], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="distilgen-bench-") as tmp:
        root = Path(tmp)
        files = copy_corpus(root)
        lines = sum(f.read_bytes().count(b"\n") + 1 for f in files)
        cache = root / ".distilgen_cache"
        floors, colds, serials, parallels, warms, touched = [], [], [], [], [], []
        first: dict = {}
        for _ in range(args.repeat):
            floors.append(floor(files))
            shutil.rmtree(cache, ignore_errors=True)
            serials.append(run_scan(root, "serial"))
            shutil.rmtree(cache, ignore_errors=True)
            parallels.append(run_scan(root, "parallel"))
            shutil.rmtree(cache, ignore_errors=True)
            first = run_scan(root)
            colds.append(first)
            warms.append(run_scan(root))
            victim = files[len(files) // 2]
            with open(victim, "a", encoding="utf-8") as fh:
                fh.write("\n# touched by benchmarks/scan.py\n")
            touched.append(run_scan(root))
        f_s = min(floors)
        c = min(colds, key=lambda r: r["seconds"])
        c1 = min(serials, key=lambda r: r["seconds"])
        c2 = min(parallels, key=lambda r: r["seconds"])
        w = min(warms, key=lambda r: r["seconds"])
        t1 = min(touched, key=lambda r: r["seconds"])
        print(f"corpus: {len(files)} files, {lines} lines ({', '.join(PACKAGES)} site-packages); "
              f"{os.cpu_count()} cores; Python {sys.version.split()[0]}; best of {args.repeat}")
        print(f"scan found {first['results']} functions returning a model, {first['errors']} unreadable files")
        print(f"{'':28}{'seconds':>9}{'lines/s':>12}")
        print(f"{'floor (ast.parse, 1 core)':28}{f_s:9.3f}{lines / f_s:12,.0f}")
        for label, r in (("distilgen cold", c), ("  forced onto 1 process", c1), ("  forced onto 2 processes", c2),
                         ("distilgen warm (no change)", w), ("distilgen one file touched", t1)):
            print(f"{label:28}{r['seconds']:9.3f}{lines / r['seconds']:12,.0f}")
        cold_ratio = (lines / c["seconds"]) / (lines / f_s)
        warm_ratio = w["seconds"] / c["seconds"]
        touch_ratio = t1["seconds"] / c["seconds"]
        print(f"cold throughput / floor throughput = {cold_ratio:.2f}  (target >= 0.50: {'PASS' if cold_ratio >= 0.5 else 'FAIL'})")
        print(f"warm / cold = {warm_ratio:.3f}  (target <= 0.05: {'PASS' if warm_ratio <= 0.05 else 'FAIL'})")
        print(f"one file touched / cold = {touch_ratio:.3f}")
        print(f"cold forced onto 2 processes / 1 process = {c2['seconds'] / c1['seconds']:.2f}; the default chose "
              f"{', '.join(sorted({str(r['auto_workers']) for r in colds}))} process(es) (load average {os.getloadavg()[0]:.1f})")
        print(f"peak memory: main process {c['rss_kb'] / 1024:.0f} MB, largest worker {c2['worker_rss_kb'] / 1024:.0f} MB (cold on 2 processes); "
              f"{w['rss_kb'] / 1024:.0f} MB warm")


if __name__ == "__main__":
    main()
