"""`distilgen check` warm vs a warm `distilgen scan` on the same tree (issue 13: target <= 2x).

Trees: sample_project/ and real packages from PyPI (`pip download --no-deps`, pinned by version
and sha256, cached under ~/.cache/distilgen-corpus/env-check, never committed). Each tree is
copied, every candidate is decorated (`apply`, no lock), and the lock is recorded statically
(prompt and static fingerprint from source; the schema left empty: these packages' own
dependencies are not installed, and `check` never reads a schema but to verify the entry's
fingerprint). Then, after one run of each to warm the caches, the median of several runs of:

- scan warm: `api.scan` with nothing changed (the stored report)
- check warm: `api.check` with nothing changed (scan + lock + cached static facts, no parse)
- check after an edit: one return-model file touched with a new comment (that file re-parsed)

and the same two through the CLI (a process each; the interpreter start is in both). Prints
the ratios, and the `ast.parse` calls a warm check makes (target 0) and an edited one makes.

    PYTHONPATH=. python benchmarks/check.py [--runs 5] [--only sample]
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DISTILGEN_CORPUS", Path.home() / ".cache" / "distilgen-corpus")) / "env-check"
PACKAGES = {  # name -> (pip requirement, wheel file, sha256, top-level package)
    "langchain-core": ("langchain-core==1.8.4", "langchain_core-1.8.4-py3-none-any.whl",
                       "5755dee8f8b0c709cd22436dea3689c74a3f6e9dc4251590797dcd66bcd1ef67", "langchain_core"),
    "llama-index-core": ("llama-index-core==0.12.5", "llama_index_core-0.12.5-py3-none-any.whl",
                         "1fe6dd39b2dc5a945b4702d780a2f5962a553e187524a255429461dc92a664db", "llama_index"),
    "anthropic": ("anthropic==0.40.0", "anthropic-0.40.0-py3-none-any.whl",
                  "442028ae8790ff9e3b6f8912043918755af1230d193904ae2ef78cc22995280c", "anthropic"),
}
# litellm 1.110.2 was tried too: its scan stops on a KeyError from PathFinder on a nested namespace
# package (issue 13 item 7a, the analysis work), so it is not in the table until that lands.


def fetch(name: str) -> Path:
    req, wheel, sha, _ = PACKAGES[name]
    path = CORPUS / wheel
    if not path.exists():
        CORPUS.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", req, "-d", str(CORPUS)], check=True)
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != sha:
        raise SystemExit(f"{path}: sha256 {got}, expected {sha}")
    return path


def prepare(name: str, work: Path) -> Path:
    root = work / name
    if name == "sample":
        shutil.copytree(HERE / "sample_project", root, ignore=shutil.ignore_patterns(".distilgen_cache", "__pycache__",
                                                                                     "distilgen.lock"))
        return root
    _, _, _, top = PACKAGES[name]
    top = top.split("/")[0]
    with zipfile.ZipFile(fetch(name)) as z:
        members = [m for m in z.namelist() if m.startswith(top + "/") and m.endswith(".py")]
        z.extractall(root, members)
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n\n[tool.distilgen]\n'
                                         f'instructions = "{top}.distil:instructions"\n')
    return root


def decorate_and_record(root: Path) -> int:
    from distilgen import api
    from distilgen.analysis.depends import StaticFacts
    from distilgen.config import load_config
    from distilgen.prompts.lock import PromptRecord, record_prompts
    from distilgen.prompts.render import static_fingerprint

    cfg = load_config(root)
    api.apply([root], config=cfg, lock=False)
    report = api.scan([root], config=cfg)
    decorated = report.by_status("decorated")
    facts = StaticFacts(root, cfg, modules=report.modules)
    records = []
    for r in decorated:
        tool = (r.model or "?").rsplit(".", 1)[-1]
        prompt = facts.prompt(r, tool, False)
        closure = facts.closure(r)
        if prompt is None or closure is None:
            continue
        records.append(PromptRecord(r.function_id, r.path, r.qualname, r.decorator_lineno, r.end_lineno, tool, False,
                                    prompt, {}, static_fingerprint(prompt, closure)))
    record_prompts(cfg.lock_path, records)
    return len(records)


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def count_parses(fn) -> int:
    calls = 0
    real = ast.parse

    def counting(*a, **k):
        nonlocal calls
        calls += 1
        return real(*a, **k)

    ast.parse = counting
    try:
        fn()
    finally:
        ast.parse = real
    return calls


def cli_time(root: Path, args: list[str], runs: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(HERE))
    cmd = [sys.executable, "-m", "distilgen", *args]
    subprocess.run(cmd, cwd=root, env=env, capture_output=True, timeout=600)  # warm
    return median_time(lambda: subprocess.run(cmd, cwd=root, env=env, capture_output=True, timeout=600), runs)


def drift_caught(root: Path, cfg, report) -> str:
    """Add a field to the return model of one decorated function, in its own file (often another
    module than the function's): `check` must report DG011 for that function, nothing imported."""
    from distilgen import api

    for r in report.by_status("decorated"):
        module, _, name = (r.model or "").rpartition(".")
        hit = next((x for x in api.scan([root], config=cfg).results if x.module == module), None)
        path = root / (hit.path if hit else module.replace(".", "/") + ".py")
        if not path.is_file() or f"class {name}(" not in path.read_text():
            continue
        before = path.read_text()
        path.write_text(before.replace(f"class {name}(", f"class {name}(", 1).replace(
            f"class {name}(", f"class _Bench{name}Marker:\n    pass\n\n\nclass {name}(", 1))
        # the marker class above is not a dependency: no finding yet
        quiet = [f for f in api.check([root], config=cfg)[0].findings if f.code == "DG011"]
        text = path.read_text()
        head = text.index(f"class {name}(")
        colon = text.index(":\n", head) + 2
        path.write_text(text[:colon] + "    bench_added_field: int = 0\n" + text[colon:])
        found = [f for f in api.check([root], config=cfg)[0].findings if f.code == "DG011"]
        path.write_text(before)
        ok = not quiet and any(f.function_id == r.function_id for f in found)
        return f"{'yes' if ok else 'NO'} ({r.qualname} -> {module}.{name}: {len(found)} DG011)"
    return "n/a (no model class found)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", choices=["sample", *PACKAGES], action="append")
    args = ap.parse_args()
    from distilgen import api
    from distilgen.config import load_config

    names = args.only or ["sample", *PACKAGES]
    with tempfile.TemporaryDirectory(prefix="distilgen-bench-check-") as tmp:
        print(f"{'tree':<16}{'files':>7}{'entries':>9}  {'scan warm':>10}{'check warm':>11}{'ratio':>7}  "
              f"{'check edited':>13}{'parses warm/edited':>20}  {'CLI scan':>9}{'CLI check':>10}{'ratio':>7}  model drift caught")
        for name in names:
            root = prepare(name, Path(tmp))
            entries = decorate_and_record(root)
            cfg = load_config(root)
            report = api.scan([root], config=cfg)
            findings = api.check([root], config=cfg)[0].findings
            if findings:
                print(f"  {name}: {len(findings)} findings on a freshly recorded tree, e.g. {findings[0]}")
            scan_warm = median_time(lambda: api.scan([root], config=cfg), args.runs)
            check_warm = median_time(lambda: api.check([root], config=cfg), args.runs)
            parses_warm = count_parses(lambda: api.check([root], config=cfg))
            # one return-model file edited (a comment: no finding, but the file is read again)
            model_file = next((r for r in report.by_status("decorated")), None)
            edited_times, parses_edited = [], 0
            if model_file is not None:
                target = root / model_file.path
                for i in range(args.runs):
                    target.write_text(target.read_text() + f"\n# edit {i}\n")
                    t = time.perf_counter()
                    if i == 0:
                        parses_edited = count_parses(lambda: api.check([root], config=cfg))
                    else:
                        api.check([root], config=cfg)
                    edited_times.append(time.perf_counter() - t)
            caught = drift_caught(root, cfg, report)
            cli_scan = cli_time(root, ["scan"], args.runs)
            cli_check = cli_time(root, ["check"], args.runs)
            edited = statistics.median(edited_times) if edited_times else float("nan")
            print(f"{name:<16}{report.files_scanned:>7}{entries:>9}  {scan_warm * 1000:>8.1f}ms{check_warm * 1000:>9.1f}ms"
                  f"{check_warm / scan_warm:>6.2f}x  {edited * 1000:>11.1f}ms{parses_warm:>10}/{parses_edited:<9}"
                  f"  {cli_scan * 1000:>7.0f}ms{cli_check * 1000:>8.0f}ms{cli_check / cli_scan:>6.2f}x  {caught}")


if __name__ == "__main__":
    main()
