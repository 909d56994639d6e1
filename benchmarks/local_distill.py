"""Local distillation end to end on this CPU: capture -> `distilgen train` -> `distilgen serve` -> dispatch.

For each function: synthesise inputs with a seeded generator (no copied data), capture up to 300
calls with the real capture runtime, train with the real CLI in a child process (its wall time and
peak RSS measured), serve the result and the untrained base with llama.cpp, and dispatch 100
held-out inputs through the real openai client (response_format json_schema) against each,
comparing every answer with the function's own. Prints, per function: exact match of base and
trained model, schema-valid rate, train wall and CPU time (the machine is shared: CPU time says
how much of the wall time the trainer actually ran), epochs and what stopped training, data size,
train peak RSS, and p50/p95 latency per dispatched call against calling the function, with the
load average beside it (llama.cpp spin-waits: a loaded machine makes every call slower).

Run (needs the train and serve extras):
    nice -n 10 python benchmarks/local_distill.py [--functions classify,extract,multiply] [--out DIR]
    nice -n 10 python benchmarks/local_distill.py --functions size,queue,contact,quantity,shipment --no-base
    nice -n 10 python benchmarks/local_distill.py --functions date --no-base --train-args "--grow-rounds 0"
        # parse_date raises on inputs drawn from its bare signature, so `train` refuses to grow its data
    nice -n 10 python benchmarks/local_distill.py --functions address,invoice --no-base   # benchmarks/lookup_teachers.py
    ... --include-code-body   # capture and dispatch with the function's body in the system prompt
    ... --out DIR --reuse     # serve and ask again the models an earlier run left in DIR (no training)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "sample_project"))
sys.path.insert(0, str(ROOT))

from benchmarks.local_teachers import TEACHERS  # noqa: E402
from benchmarks.lookup_teachers import TEACHERS as LOOKUP_TEACHERS  # noqa: E402
from inbox.extract import extract_order  # noqa: E402
from inbox.triage import classify_ticket  # noqa: E402


class Product(BaseModel):
    product: int


def multiply(a: int, b: int) -> Product:
    """Multiply two whole numbers."""
    return Product(product=a * b)


# -- deterministic input generators ----------------------------------------------------------------

_PRODUCTS = ["jacket", "blender", "lamp", "kettle", "backpack", "desk", "chair", "scarf", "monitor", "keyboard",
             "sofa", "mug", "tent", "helmet", "watch", "rug"]
_NAMES = ["Sam", "Alex", "Priya", "Jo", "Lee", "Maria", "Tom", "Noor", "Kim", "Ravi"]
_TEAM_SENTENCES = {
    "billing": ["I was charged twice for the {p}.", "The invoice for my {p} is wrong.", "I want a refund for the {p}.",
                "My payment for the {p} failed.", "The billing address on my account is old.",
                "The price of the {p} changed at checkout."],
    "shipping": ["The delivery of my {p} is late.", "The shipping cost for the {p} seems high.",
                 "The package with my {p} never arrived.", "My parcel was left at the wrong door.",
                 "The courier lost my {p}.", "The tracking number for my {p} does not work."],
    "technical": ["I get an error when I open my account.", "The website had a crash when I paid.",
                  "My login stopped working.", "I forgot my password.", "There is a bug on the checkout page.",
                  "The app freezes on start."],
    "general": ["I have a suggestion about the {p}.", "Do you sell the {p} in blue?", "Thanks for the great {p}.",
                "Is the {p} sold in stores too?", "My friend recommended your {p}.", "What colours does the {p} come in?"],
}
_URGENCY_SENTENCES = {
    "high": ["This is urgent.", "Please fix it asap.", "I need help immediately.", "Everything is broken now.",
             "I can't wait any longer.", "I cannot use it at all."],
    "low": ["Just a question.", "I was wondering about it.", "Reply whenever you can.", "I am curious."],
    "normal": ["", "Thank you.", "Have a nice day.", "Kind regards."],
}
_SUBJECTS = {
    "billing": ["Refund", "Invoice problem", "Payment issue", "Billing"],
    "shipping": ["Delivery", "Where is my parcel", "Shipping question", "Tracking"],
    "technical": ["Login trouble", "Error message", "App problem", "Password"],
    "general": ["Hello", "About the {p}", "Feedback", "Hi there"],
}


def gen_ticket(rng: random.Random) -> tuple[Any, ...]:
    team = rng.choice(list(_TEAM_SENTENCES))
    urgency = rng.choice(list(_URGENCY_SENTENCES))
    p = rng.choice(_PRODUCTS)
    subject_team = team if rng.random() < 0.5 else "general"
    subject = rng.choice(_SUBJECTS[subject_team]).format(p=p)
    parts = [rng.choice(["Hi,", "Hello team,", "Good morning,", ""]), rng.choice(_TEAM_SENTENCES[team]).format(p=p)]
    if rng.random() < 0.15:  # a second topic: the rule's priority order decides
        parts.append(rng.choice(_TEAM_SENTENCES[rng.choice(list(_TEAM_SENTENCES))]).format(p=rng.choice(_PRODUCTS)))
    parts.append(rng.choice(_URGENCY_SENTENCES[urgency]))
    parts.append(rng.choice(["", f"Regards, {rng.choice(_NAMES)}", f"Best, {rng.choice(_NAMES)}"]))
    return (subject, " ".join(x for x in parts if x))


def _order_id(rng: random.Random) -> str:
    letter = rng.choice("ABCDEFGHKLMNPRSTW")
    if rng.random() < 0.3:
        letter = letter.lower()
    sep = "-" if rng.random() < 0.75 else ""
    return f"{letter}{sep}{rng.randint(10000, 99999)}"


def _date(rng: random.Random) -> str:
    day = rng.randint(1, 31) if rng.random() < 0.15 else rng.randint(1, 28)  # some invalid dates
    return f"{rng.randint(2023, 2026)}-{rng.randint(1, 12):02d}-{day:02d}"


def gen_order_text(rng: random.Random) -> tuple[Any, ...]:
    has_id = rng.random() < 0.8
    has_date = rng.random() < 0.7
    oid, date, p = _order_id(rng), _date(rng), rng.choice(_PRODUCTS)
    if has_id and has_date:
        text = rng.choice([f"Order {oid} arrived broken on {date}.", f"I placed order {oid} on {date} but nothing came.",
                           f"On {date} I bought a {p}, order {oid}, and it is missing a part.",
                           f"Tracking for {oid} has not moved since {date}."])
    elif has_id:
        text = rng.choice([f"Can you check {oid}? Thanks.", f"My {p} from order {oid} is the wrong size.",
                           f"Order number {oid}: please cancel it."])
    elif has_date:
        text = rng.choice([f"Nothing has arrived since {date}.", f"I called you on {date} about my {p}.",
                           f"The {p} I got on {date} is scratched."])
    else:
        text = rng.choice([f"Just wondering whether the {p} runs small.", f"Do you ship the {p} abroad?",
                           "The app shows an error when I open settings."])
    return (text,)


def gen_multiply(rng: random.Random) -> tuple[Any, ...]:
    return (rng.randint(100, 999), rng.randint(100, 999))


@dataclass(frozen=True)
class Target:
    key: str
    fn: Callable[..., Any]
    gen: Callable[[random.Random], tuple[Any, ...]]
    train_args: tuple[str, ...]


# One recipe for every function (measured on the classifier: 95% exact in 8.4 min of training):
# LoRA r=16/alpha=32 on all projections of all 30 layers, lr 2e-3, batch 8. The trainer runs each
# batch's shared system prompt once, which made a step ~1.8x cheaper and left room for 4 epochs.
_RECIPE = ("--batch-size", "8", "--lr", "2e-3", "--lora-r", "16", "--lora-alpha", "32", "--val-split", "0.05",
           "--patience", "0")
TARGETS = {
    "classify": Target("classify", classify_ticket, gen_ticket, ("--epochs", "4", *_RECIPE)),
    # longer sequences and answers (~120 tokens, 27 of them answer): 3 epochs keep it under 10 minutes
    "extract": Target("extract", extract_order, gen_order_text, ("--epochs", "3", *_RECIPE)),
    "multiply": Target("multiply", multiply, gen_multiply, ("--epochs", "4", *_RECIPE)),
}
# functions the recipe was never tuned on (benchmarks/local_teachers.py): `distilgen train`'s defaults
TARGETS.update({key: Target(key, fn, gen, ()) for key, (fn, gen) in TEACHERS.items()})
# held out from the served decoder's guessing (benchmarks/lookup_teachers.py): the same defaults
TARGETS.update({key: Target(key, fn, gen, ()) for key, (fn, gen) in LOOKUP_TEACHERS.items()})


def run_measured(cmd: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float, float, float]:
    """Run a child; (result, wall seconds, its peak RSS in MB from /proc VmHWM, its CPU seconds)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1",  # train imports the function for its schema
                                 "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "sample_project")])})
    peak = 0.0
    import threading

    out: dict[str, str] = {}

    def drain(name: str, stream: Any) -> None:
        out[name] = stream.read()

    threads = [threading.Thread(target=drain, args=(n, s)) for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for t in threads:
        t.start()
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            pass
        time.sleep(0.5)
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the child was reaped by poll(): its time is in here
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return subprocess.CompletedProcess(cmd, proc.returncode, out.get("out", ""), out.get("err", "")), wall, peak, cpu


def inputs(gen: Callable[[random.Random], tuple[Any, ...]], n_train: int, n_test: int, seed: int) -> tuple[list[Any], list[Any]]:
    """Disjoint train and test inputs (a test input never appears in training)."""
    rng = random.Random(seed)
    train: list[Any] = []
    seen: set[Any] = set()
    while len(train) < n_train:
        a = gen(rng)
        if a not in seen:
            seen.add(a)
            train.append(a)
    test: list[Any] = []
    while len(test) < n_test:
        a = gen(rng)
        if a not in seen:
            seen.add(a)
            test.append(a)
    return train, test


def capture(fn: Callable[..., Any], args: list[Any], path: Path, include_code_body: bool = False) -> str:
    from distilgen.runtime.instructions import Instructions

    ins = Instructions(name="bench", dataset=path, finetune_format="tools", include_code_body=include_code_body)
    wrapped = ins.distil(fn)
    for a in args:
        wrapped(*a)
    stats = ins.stats()
    assert stats.captured == len(args), stats
    return str(wrapped.__distil__.function_id) if hasattr(wrapped, "__distil__") else f"{fn.__module__}:{fn.__qualname__}"


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def evaluate(fn: Callable[..., Any], folder: Path, test: list[Any], include_code_body: bool = False,
             threads: int = 1) -> dict[str, Any]:
    from distilgen.config import Config
    from distilgen.errors import DistilgenError
    from distilgen.runtime.instructions import Instructions
    from distilgen.train.serve import LocalServer

    with LocalServer(folder, threads=threads) as server:
        info = server.info
        assert info is not None
        cfg = Config(root=ROOT, local_base_url=info.base_url)
        ins = Instructions(name="bench-dispatch", config=cfg, max_retries=0, fallback="raise",
                           lock_file=folder / "no-lock.toml", include_code_body=include_code_body)
        # the same cap for base and trained model, several times the longest answer here: an untrained
        # base that rambles would otherwise spend 512 tokens (~20 s on this CPU) per call
        remote = ins.distil(mode="dispatch", model=f"local:{info.model_id}", response_format="json_schema",
                            max_tokens=128)(fn)
        exact = valid = 0
        lat: list[float] = []
        fields: dict[str, int] = {}
        for a in test:
            t0 = time.perf_counter()
            try:
                got = remote(*a)
                valid += 1
            except DistilgenError:
                got = None
            lat.append(time.perf_counter() - t0)
            want = fn(*a)
            if got is not None and got == want:
                exact += 1
            for name in type(want).model_fields:
                fields[name] = fields.get(name, 0) + (got is not None and getattr(got, name) == getattr(want, name))
        load = os.getloadavg()[0]
    fn_lat = []
    for a in test:
        t0 = time.perf_counter()
        fn(*a)
        fn_lat.append(time.perf_counter() - t0)
    return {"exact": exact / len(test), "valid": valid / len(test), "fields": {k: v / len(test) for k, v in fields.items()}, "p50": percentile(lat, 0.5),
            "p95": percentile(lat, 0.95), "fn_p50": percentile(fn_lat, 0.5), "fn_p95": percentile(fn_lat, 0.95),
            "load": load}


def base_folder(tmp: Path, fn: Callable[..., Any]) -> Path:
    """A model folder serving the untrained base (no adapter) for `fn`, for the baseline figures."""
    from distilgen.runtime.formats import tool_schema
    from distilgen.runtime.spec import resolve_return_model
    from distilgen.train.base import resolve_base

    base = resolve_base(None)
    model = resolve_return_model(fn)
    folder = tmp / f"base-{fn.__name__}"
    folder.mkdir(exist_ok=True)
    (folder / "model.json").write_text(json.dumps({
        "format": 1, "name": "base", "base": {"path": str(base.path), "kind": "gguf", "sha256": base.sha256},
        "tool_name": model.__name__, "schema": tool_schema(model),
        "serve": {"base_gguf": str(base.gguf), "adapter_gguf": None}}), encoding="utf-8")
    return folder


def reevaluate(t: Target, out: Path, test_in: list[Any], opts: argparse.Namespace) -> dict[str, Any]:
    """--reuse: a model trained by an earlier run, served and asked again (serving changed, not it)."""
    if not (out / "model.json").is_file():
        raise SystemExit(f"--reuse: {out} holds no trained model (no model.json)")
    trained = evaluate(t.fn, out, test_in, opts.include_code_body, opts.serve_threads)
    print(f"[{t.key}] exact {trained['exact']:.0%}; latency (load {trained['load']:.1f}) p50/p95 "
          f"{trained['p50'] * 1000:.0f}/{trained['p95'] * 1000:.0f} ms", flush=True)
    return {"function": f"{t.fn.__module__}:{t.fn.__qualname__}", "trained": trained}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--functions", default="classify,extract,multiply")
    ap.add_argument("--train", type=int, default=200, help="captured calls to train on (<= 300)")
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None, help="keep datasets and models here")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    ap.add_argument("--train-args", default=None, help="replace the target's `distilgen train` options (one string)")
    ap.add_argument("--serve-threads", type=int, default=1, help="llama.cpp threads of the evaluated server")
    ap.add_argument("--no-base", action="store_true", help="skip the untrained base's figures (saves ~100 calls each)")
    ap.add_argument("--include-code-body", action="store_true",
                    help="capture and dispatch with the function's body in the system prompt (issue 14, item 2)")
    ap.add_argument("--reuse", action="store_true",
                    help="evaluate the models already in --out (same seed, so the same unseen inputs) without training")
    opts = ap.parse_args()
    if opts.reuse and not opts.out:
        ap.error("--reuse needs --out (the folder of an earlier run)")
    warnings.simplefilter("ignore")
    tmp = opts.out or Path(tempfile.mkdtemp(prefix="distil-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    results = {}
    for key in opts.functions.split(","):
        t = TARGETS[key]
        train_in, test_in = inputs(t.gen, min(opts.train, 300), opts.test, opts.seed)
        data = tmp / f"{key}.jsonl"
        out = tmp / f"model-{key}"
        if opts.reuse:
            results[key] = reevaluate(t, out, test_in, opts)
            continue
        data.unlink(missing_ok=True)
        capture(t.fn, train_in, data, opts.include_code_body)
        cmd = [sys.executable, "-m", "distilgen", "train", str(data), "--out", str(out), "--name", key,
               "--threads", "2", "--lock", str(tmp / "none.lock"), "--function", f"{t.fn.__module__}:{t.fn.__qualname__}",
               *(opts.train_args.split() if opts.train_args else t.train_args)]
        print(f"[{key}] training: {' '.join(cmd[3:])}", flush=True)
        load_before = os.getloadavg()[0]
        proc, wall, rss, cpu = run_measured(cmd, tmp)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, sep="\n")
            return 1
        print(proc.stdout.strip(), flush=True)
        print(f"[{key}] evaluating base and trained model on {len(test_in)} held-out inputs", flush=True)
        load_train = (load_before + os.getloadavg()[0]) / 2
        none = {"exact": float("nan"), "valid": float("nan")}
        base = none if opts.no_base else evaluate(t.fn, base_folder(tmp, t.fn), test_in, opts.include_code_body, opts.serve_threads)
        trained = evaluate(t.fn, out, test_in, opts.include_code_body, opts.serve_threads)
        info = json.loads((out / "model.json").read_text(encoding="utf-8"))
        curve = info.get("curve") or []
        results[key] = {"function": f"{t.fn.__module__}:{t.fn.__qualname__}", "train_examples": info["examples"]["train"],
                        "validation_examples": info["examples"]["validation"], "steps": info["steps"],
                        "epochs": len(curve), "stopped": info.get("stopped"), "curve": curve,
                        "include_code_body": opts.include_code_body, "train_wall_s": wall, "train_cpu_s": cpu,
                        "train_loop_s": info["train_seconds"], "train_load": load_train,
                        "peak_rss_mb": rss, "base": base, "trained": trained}
        r = results[key]
        if opts.json:  # after every function, so a run cut short keeps what it measured
            opts.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(f"[{key}] exact match base {base['exact']:.0%} -> trained {trained['exact']:.0%}; schema-valid "
              f"base {base['valid']:.0%}, trained {trained['valid']:.0%}; train {wall / 60:.1f} min wall, "
              f"{cpu / 60:.1f} min CPU (load {load_train:.1f}; {r['epochs']} epochs, {r['steps']} steps, stopped: "
              f"{r['stopped']}, {r['train_examples']} + {r['validation_examples']} examples), curve "
              + " ".join(f"{c.get('exact_match') or 0:.0%}" for c in curve)
              + f", peak RSS {r['peak_rss_mb']:.0f} MB; latency (load {trained['load']:.1f}) "
              f"p50/p95 {trained['p50'] * 1000:.0f}/{trained['p95'] * 1000:.0f} ms vs function "
              f"{trained['fn_p50'] * 1e6:.1f}/{trained['fn_p95'] * 1e6:.1f} us "
              f"({trained['p50'] / max(trained['fn_p50'], 1e-9):,.0f}x slower at p50); per field, trained: "
              + ", ".join(f"{k} {v:.0%}" for k, v in trained["fields"].items()), flush=True)
    if opts.reuse:
        print("\n| function | exact (unseen) | per field | p50 / p95 dispatch (load) |\n| --- | --- | --- | --- |")
        for r in results.values():
            tr = r["trained"]
            print(f"| {r['function']} | {tr['exact']:.0%} | " + ", ".join(f"{k} {v:.0%}" for k, v in tr["fields"].items())
                  + f" | {tr['p50'] * 1000:.0f} / {tr['p95'] * 1000:.0f} ms ({tr['load']:.1f}) |")
        if opts.json:
            opts.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
        return 0
    print("\n| function | base exact | trained exact | schema-valid (trained) | train wall / CPU (load) | epochs, stopped | "
          "data (train + val) | peak RSS | p50 / p95 dispatch (load) | p50 function |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for key, r in results.items():
        b, tr = r["base"], r["trained"]
        print(f"| {r['function']} | {b['exact']:.0%} | {tr['exact']:.0%} | {tr['valid']:.0%} | "
              f"{r['train_wall_s'] / 60:.1f} / {r['train_cpu_s'] / 60:.1f} min ({r['train_load']:.1f}) | "
              f"{r['epochs']}, {r['stopped']} | {r['train_examples']} + {r['validation_examples']} | "
              f"{r['peak_rss_mb']:.0f} MB | {tr['p50'] * 1000:.0f} / {tr['p95'] * 1000:.0f} ms ({tr['load']:.1f}) | "
              f"{tr['fn_p50'] * 1e6:.1f} us |")
    if opts.json:
        opts.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
