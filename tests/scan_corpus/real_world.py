"""Precision and recall of `distilgen scan` on real packages, against the runtime ground truth.

    /work/venv/bin/python tests/scan_corpus/real_world.py [PACKAGE ...]   (default: openai pydantic libcst)

Copies the installed packages' .py files to a temporary folder, runs ground_truth.py over them
(importing every module; modules that cannot be imported, e.g. for a missing optional dependency,
are left out of both sides) and `distilgen.api.scan`, then compares (function, model) pairs for
direct returns and (function, status) for all results. Prints the figures docs/scan-accuracy.md
quotes and every disagreement.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def main(packages: list[str]) -> None:
    from distilgen import api
    from distilgen.config import Config

    with tempfile.TemporaryDirectory(prefix="distilgen-accuracy-") as tmp:
        root = Path(tmp)
        for name in packages:
            spec = importlib.util.find_spec(name)
            assert spec and spec.submodule_search_locations, name
            shutil.copytree(list(spec.submodule_search_locations)[0], root / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        out = subprocess.run([sys.executable, str(HERE / "ground_truth.py"), str(root), *packages],
                             capture_output=True, text=True, check=True, timeout=600)
        truth = json.loads(out.stdout)
        report = api.scan([root / p for p in packages], config=Config(root=root), use_cache=False)
    skip = set(truth["unimportable"])
    # Functions nested in functions exist at run time only once their outer function ran, which
    # importing a library does not do: the runtime cannot see them, so they are left out here
    # (the corpus covers them: it keeps its nested functions alive).
    t_all = {t["function_id"]: t for t in truth["results"] if t["status"] != "unresolved"}
    # Test suites are left out on both sides (ground_truth.py does not import them).
    s_all = {r.function_id: r for r in report.results if r.module not in skip and "<locals>" not in r.qualname
             and ".tests." not in f".{r.module}."}
    direct_t = {(k, t["model"]) for k, t in t_all.items() if t["status"] != "wrapped"}
    direct_s = {(k, r.model) for k, r in s_all.items() if r.status not in ("wrapped", "unresolved")}
    tp = len(direct_t & direct_s)
    precision = tp / len(direct_s) if direct_s else 1.0
    recall = tp / len(direct_t) if direct_t else 1.0
    same_status = sum(1 for k, t in t_all.items() if k in s_all and s_all[k].status == t["status"])
    print(f"packages: {', '.join(packages)}; modules imported: {truth['imported']}, with model-returning "
          f"functions: {len({k.split(':')[0] for k in t_all})} (unimportable, left out: {len(skip)})")
    print(f"direct returns: runtime {len(direct_t)}, scan {len(direct_s)}, agree {tp}")
    print(f"precision {precision:.4f}  recall {recall:.4f}")
    print(f"same status on {same_status}/{len(t_all)} functions the runtime resolves")
    for k in sorted(direct_s - direct_t):
        print("  scan only:   ", k, s_all[k[0]].status)
    for k in sorted(direct_t - direct_s):
        r = s_all.get(k[0])
        print("  runtime only:", k, r and (r.status, r.model, r.reason))
    for k, t in sorted(t_all.items()):
        if k in s_all and s_all[k].status != t["status"]:
            print("  status:", k, "runtime", t["status"], "scan", s_all[k].status, s_all[k].reason)


if __name__ == "__main__":
    main(sys.argv[1:] or ["openai", "pydantic", "libcst"])
