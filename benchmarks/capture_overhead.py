"""Capture overhead per call: plain function vs distilgen vs instructor, in one process.

Both wrap the seed's three-digit multiply and write JSONL through a logging.FileHandler, every
line as it happens. Rounds are interleaved so machine noise hits all three alike; the figures
are medians. Run in an environment that also has instructor installed:

    python -m venv .venv-bench && .venv-bench/bin/pip install -e . -r benchmarks/requirements.txt
    .venv-bench/bin/python benchmarks/capture_overhead.py
"""

# no `from __future__ import annotations`: instructor cannot resolve string return annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel


class Multiply(BaseModel):
    a: int
    b: int
    result: int


def plain(a: int, b: int) -> Multiply:
    resp = a * b
    return Multiply(a=a, b=b, result=resp)


def per_call_us(fn, pairs) -> float:
    t0 = time.perf_counter()
    for a, b in pairs:
        fn(a, b)
    return (time.perf_counter() - t0) / len(pairs) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=7)
    opts = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    rng = random.Random(0)
    pairs = [(rng.randint(100, 999), rng.randint(100, 999)) for _ in range(opts.calls)]

    from distilgen import Instructions as DistilInstructions

    dg = DistilInstructions(name="bench_distilgen", finetune_format="messages",
                            log_handlers=[logging.FileHandler(tmp / "distilgen.jsonl")])
    contenders = {"plain": plain, "distilgen": dg.distil(plain)}
    try:
        os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-no-requests-are-made")
        from instructor import Instructions as InstructorInstructions  # type: ignore[import-not-found]

        ins = InstructorInstructions(name="bench_instructor", finetune_format="messages",
                                     log_handlers=[logging.FileHandler(tmp / "instructor.jsonl")])
        # instructor's logger follows the root level (WARNING by default) and would drop every line
        logging.getLogger("bench_instructor").setLevel(logging.INFO)
        contenders["instructor"] = ins.distil(plain)
    except ImportError:
        print("instructor is not installed here: only distilgen's absolute overhead is measured", file=sys.stderr)

    for fn in contenders.values():  # warm up: imports, prompt rendering, file opening
        per_call_us(fn, pairs[:50])
    samples: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(opts.rounds):
        for name, fn in contenders.items():
            samples[name].append(per_call_us(fn, pairs))
    med = {k: statistics.median(v) for k, v in samples.items()}
    lines = {p.stem: len(p.read_text().splitlines()) for p in tmp.glob("*.jsonl")}
    expected = (opts.rounds * opts.calls) + 50
    if any(n != expected for n in lines.values()):
        print(f"not every call wrote its line: {lines}, expected {expected} each", file=sys.stderr)
        return 1
    print(f"calls per round: {opts.calls}, rounds: {opts.rounds}, lines written: {lines}")
    print(f"plain function:        {med['plain']:8.2f} us/call")
    dg_over = med["distilgen"] - med["plain"]
    print(f"distilgen overhead:    {dg_over:8.2f} us/call")
    if "instructor" in med:
        in_over = med["instructor"] - med["plain"]
        print(f"instructor overhead:   {in_over:8.2f} us/call")
        print(f"ratio distilgen/instructor: {dg_over / in_over:.4f}  (target <= 0.01)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
