"""Start-up cost of `import distilgen` and of the CLI, as ratios against a bare interpreter start.

Every command runs in a fresh interpreter (the same one, same environment), in interleaved rounds
whose order rotates, so load on a shared machine hits the baseline and the commands alike; each
figure is the median over the rounds, and the ratio is median / median of `python -c pass`.

    python benchmarks/startup.py [--rounds 21] [--python PATH] [--json FILE] [--compare TREE]

`--compare TREE` (another checkout, e.g. `git archive main | tar -x -C /tmp/before`) also times the
same distilgen commands from TREE in the same interleaved rounds: before and after under one load.

Targets (issue 16, item 5): `import distilgen` and `distilgen --help` <= 3x a bare start;
`distilgen check` on a copy of sample_project/ with a warm cache <= 5x. `from distilgen import
Instructions` (what an application really does), and `import pydantic` / `import click` / an empty
click group's `--help` / the stdlib modules a warm check imports (the floors under the decorator,
under any click CLI and under `check`) are printed for
context, without a target.
CPU time of each child is printed beside wall time: on a loaded machine it is the steadier figure.
Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# what an application must not pay for at `import distilgen`
HEAVY = ("openai", "httpx", "httpx2", "libcst", "pydantic", "click", "asyncio")


# the floor under any click CLI's --help: click imported, one group, its help formatted and printed
# the floor under a warm `check`: the standard library modules it imports (tests/test_cli_launch.py
# lists what it must not import)
CHECK_STDLIB = "import pathlib, dataclasses, typing, json, re, fnmatch, threading, gc"

EMPTY_GROUP_HELP = ("import click\n@click.group()\ndef main():\n    'A group.'\n"
                    "@main.command()\ndef sub():\n    'A command.'\nmain(['--help'])")


def cli(python: str, tree: Path) -> list[str]:
    """`distilgen` as its console script runs it (what pre-commit runs): the entry point that TREE's
    pyproject.toml names, called the way pip's generated script calls it. Reading the entry point
    from each tree lets `--compare` time a checkout whose entry point differs from the installed one."""
    import tomllib

    entry = tomllib.loads((tree / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]["distilgen"]
    module, _, attr = entry.partition(":")
    return [python, "-c", f"import sys\nfrom {module} import {attr}\nsys.argv[0] = 'distilgen'\nsys.exit({attr}())"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) for one run."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1 = findings for check; anything else is a broken run
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stderr.decode(errors='replace')}")
    return elapsed, _children_cpu() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--json", metavar="FILE", help="Also write the figures as JSON.")
    ap.add_argument("--compare", metavar="TREE", help="Another checkout whose distilgen commands are timed alongside.")
    opts = ap.parse_args()
    py = opts.python
    work = Path(tempfile.mkdtemp(prefix="distilgen-startup-"))

    def tree_env(tree: Path) -> dict[str, str]:
        env = dict(os.environ)
        # the distilgen of this checkout, whatever is installed
        env["PYTHONPATH"] = str(tree) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        # An installed package has its bytecode compiled (pip does it); a checkout run with
        # PYTHONDONTWRITEBYTECODE would recompile every module each start. Cache it outside the tree.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        return env

    env = tree_env(REPO)
    try:
        loaded = subprocess.run(
            [py, "-c", f"import sys, distilgen; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"],
            env=env, cwd=work, capture_output=True, text=True, check=True, timeout=60).stdout.split()
        trees = {"": REPO} | ({" (compared)": Path(opts.compare).resolve()} if opts.compare else {})
        projects: dict[str, Path] = {}
        for label, tree in trees.items():  # each tree checks its own copy: caches are per version
            project = projects[label] = work / f"sample_project{len(projects)}"
            shutil.copytree(REPO / "sample_project", project, ignore=shutil.ignore_patterns(".distilgen_cache"))
            run_once(cli(py, tree) + ["check", "."], project, tree_env(tree))  # warm the scan cache
            if not (project / ".distilgen_cache").is_dir():
                raise SystemExit("distilgen check wrote no .distilgen_cache/: the warm-cache figure would be a cold one")

        # name -> (argv, target, environment, folder it runs in)
        commands: dict[str, tuple[list[str], float | None, dict[str, str], Path]] = {
            "python -c pass": ([py, "-c", "pass"], None, env, projects[""]),
        }
        for label, tree in trees.items():
            e, p = tree_env(tree), projects[label]
            target = (lambda t: t) if not label else (lambda t: None)  # targets apply to this checkout
            commands |= {
                'python -c "import distilgen"' + label: ([py, "-c", "import distilgen"], target(3.0), e, p),
                "distilgen --help" + label: (cli(py, tree) + ["--help"], target(3.0), e, p),
                "distilgen check (warm cache)" + label: (cli(py, tree) + ["check", "."], target(5.0), e, p),
                "from distilgen import Instructions" + label: ([py, "-c", "from distilgen import Instructions"], None, e, p),
            }
        commands |= {
            'python -c "import pydantic"': ([py, "-c", "import pydantic"], None, env, projects[""]),
            'python -c "import click"': ([py, "-c", "import click"], None, env, projects[""]),
            "an empty click group's --help": ([py, "-c", EMPTY_GROUP_HELP], None, env, projects[""]),
            "the stdlib a warm check imports": ([py, "-c", CHECK_STDLIB], None, env, projects[""]),
        }
        names = list(commands)
        times: dict[str, list[float]] = {n: [] for n in names}
        cpu: dict[str, list[float]] = {n: [] for n in names}
        for argv, _, e, p in commands.values():  # one untimed pass: bytecode caches written, files in the page cache
            run_once(argv, p, e)
        for r in range(opts.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                argv, _, e, p = commands[n]
                wall, used = run_once(argv, p, e)
                times[n].append(wall)
                cpu[n].append(used)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = statistics.median(times["python -c pass"])
    base_cpu = statistics.median(cpu["python -c pass"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{opts.rounds} interleaved rounds, medians; Python {sys.version.split()[0]}; "
          f"{os.cpu_count()} cores; load average {load:.1f}")
    print(f"modules `import distilgen` loads among {', '.join(HEAVY)}: {', '.join(loaded) or 'none'}")
    print(f"{'command':49} {'wall ms':>8} {'x bare':>7} {'CPU ms':>8} {'x bare':>7}  target (wall)")
    ok = not loaded
    rows = []
    for n in names:
        med = statistics.median(times[n])
        ratio = med / base
        med_cpu = statistics.median(cpu[n])
        target = commands[n][1]
        verdict = ""
        if target is not None:
            passed = ratio <= target
            ok = ok and passed
            verdict = f"<= {target:g}x: {'PASS' if passed else 'FAIL'}"
        rows.append({"command": n, "median_ms": round(med * 1000, 2), "ratio": round(ratio, 2),
                     "cpu_ms": round(med_cpu * 1000, 2), "cpu_ratio": round(med_cpu / base_cpu, 2), "target": target})
        print(f"{n:49} {med * 1000:8.1f} {ratio:7.2f} {med_cpu * 1000:8.1f} {med_cpu / base_cpu:7.2f}  {verdict}")
    if opts.json:
        Path(opts.json).write_text(json.dumps({"rounds": opts.rounds, "load": load, "heavy_loaded": loaded,
                                               "rows": rows}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
