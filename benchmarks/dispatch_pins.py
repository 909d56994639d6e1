"""`apply --dispatch` against `apply` on generated projects of growing size (one model per function).

`apply --dispatch` pins each selected function's model in the lock. It used to read and write the
lock once per function (quadratic: 400 functions took 132 s against 4.7 s for `apply`, found by
the third held-out wave); it now writes once. Each size gets a fresh project (N functions
returning one 20-field model, 50 per module); both commands run as a user runs them (a fresh
`python -m distilgen` process, timed from outside). Prints seconds and the ratio `--dispatch` /
`apply` per size: a ratio that grows with N is the quadratic back.

    PYTHONPATH=. python benchmarks/dispatch_pins.py [--sizes 50,200,400]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def make_project(root: Path, n: int) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "pkg"\nversion = "0.1.0"\n')
    (root / "pkg" / "__init__.py").write_text("")
    fields = "\n".join(f"    field_{i}: str = ''" for i in range(20))
    (root / "pkg" / "models.py").write_text(f"from pydantic import BaseModel\n\n\nclass Record(BaseModel):\n{fields}\n")
    for m in range(n // 50 + 1):
        fns = "\n\n".join(f'def make_{m}_{i}(text: str) -> Record:\n    """Make record {m}/{i}."""\n'
                          f"    return Record(field_0=text)\n" for i in range(min(50, n - m * 50)))
        (root / "pkg" / f"mod_{m}.py").write_text(f"from pkg.models import Record\n\n\n{fns}")


def timed(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"distilgen {' '.join(args)} exited {done.returncode}: {done.stderr[-500:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="50,200,400")
    args = ap.parse_args()
    print(f"{'functions':>9} {'apply':>8} {'--dispatch':>11} {'ratio':>6}  load")
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="distilgen-dispatch-pins-") as tmp:
            root = Path(tmp) / "proj"
            make_project(root, n)
            apply_s = timed(["apply", "."], root)
            dispatch_s = timed(["apply", "--dispatch", "--model", "ft:gpt-4o-mini:org::abc", "."], root)
            pinned = (root / "distilgen.lock").read_text().count('"ft:gpt-4o-mini:org::abc"')
            if pinned != n:
                raise SystemExit(f"{n} functions: {pinned} pins in the lock")
            print(f"{n:>9} {apply_s:>7.1f}s {dispatch_s:>10.1f}s {dispatch_s / apply_s:>5.2f}x  {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
