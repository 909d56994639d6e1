"""Does jump-forward decoding change answers, and what does it save? (issue 14, item 4)

For each trained model folder: its recorded calls (validation lines first, then training lines,
the answers the function gave), asked through llama-cpp-python two ways, call by call in
alternating order so both see the same machine:

- `stepwise`: the served path before jump-forward: LazyGrammarGreedy under the grammar as llama.cpp
  builds it, one forward pass per generated token;
- `jump`: the served path now (`distilgen serve`'s loader): the compact grammar, and the tokens it
  forces drafted and evaluated in one batch with the token before them (with prompt lookup, as
  served; `benchmarks/prompt_lookup.py` compares with and without it).

Per model it prints: answers identical between the two, exact match of each against the recorded
answer, forward passes per call, and this process's CPU ms per call (median; the CPU is the
steady figure on a shared machine) with the ratio jump / stepwise.

`--requantize q8_0 f16` also asks copies of the model's base of those types (made with llama.cpp's
quantizer, `train/base.base_copy`) with the same adapter, jump-forward on, with the ratio of their CPU
per call to the model's own base: how the default base's type was chosen (docs/performance.md,
local latency). Answers may differ from the model's own base, since the adapter was not trained on
the copy's weights; only CPU per call is the figure.

    python benchmarks/jump_forward.py MODEL_DIR [MODEL_DIR...] [--calls 60] [--requantize q8_0 f16]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def recorded_calls(folder: Path, n: int) -> list[tuple[str, str, Any]]:
    """(system, user, answer) of the model's own dataset lines, validation first."""
    info = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    out: list[tuple[str, str, Any]] = []
    for d in sorted(info.get("datasets") or [], key=lambda d: d.get("role") != "validation"):
        path = Path(d["path"])
        if d.get("role") not in ("validation", "train") or not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            m = json.loads(line)["messages"]
            a = m[2]
            raw = a.get("content") or ((a.get("tool_calls") or [{}])[0].get("function") or {}).get("arguments") \
                or (a.get("function_call") or {}).get("arguments")
            out.append((m[0]["content"], m[1]["content"], json.loads(raw) if isinstance(raw, str) else raw))
    return out[:n]


def load(folder: Path, base: str, draft: bool, threads: int, lookup: bool | None = None) -> Any:
    """The model as `distilgen serve` loads it (`draft`: jump-forward; `lookup`: prompt lookup, by
    default as served), counting forward passes (llama_decode calls, whichever path makes them)."""
    import llama_cpp

    from distilgen.train._llama_server import attach_adapter, lazy_grammar

    llm = llama_cpp.Llama(model_path=base, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=256,
                          verbose=False)
    attach_adapter(llm, str(folder / "adapter.gguf"))
    llm = lazy_grammar(llm, compact=draft, draft=draft, lookup=lookup)
    passes = [0]
    ctx, stock = llm._ctx, llm._ctx.decode

    def counted(batch: Any) -> None:
        passes[0] += 1
        stock(batch)

    ctx.decode = counted
    llm.passes = passes
    return llm


def interleaved(ways: dict[str, Any], calls: list[tuple[str, str, Any]],
                schema: dict[str, Any]) -> dict[str, list[tuple[str, float, int, float]]]:
    """Every call asked of every way, the order reversed every other call so both see the same
    machine; the models are closed after."""
    got: dict[str, list[tuple[str, float, int, float]]] = {k: [] for k in ways}
    for i, call in enumerate(calls):
        for name in (list(ways) if i % 2 == 0 else list(reversed(ways))):
            got[name].append(ask(ways[name], call, schema))
    for llm in ways.values():
        llm.close()
    return got


def exact(rows: list[tuple[str, float, int, float]], calls: list[tuple[str, str, Any]]) -> int:
    return sum(_parsed(r[0]) == c[2] for r, c in zip(rows, calls))


def med(rows: list[tuple[str, float, int, float]], k: int) -> float:
    return statistics.median(r[k] for r in rows)


def ask(llm: Any, call: tuple[str, str, Any], schema: dict[str, Any]) -> tuple[str, float, int, float]:
    before, c0, w0 = llm.passes[0], time.process_time(), time.perf_counter()
    r = llm.create_chat_completion(messages=[{"role": "system", "content": call[0]}, {"role": "user", "content": call[1]}],
                                   temperature=0.0, repeat_penalty=1.0, max_tokens=256,
                                   response_format={"type": "json_object", "schema": schema})
    return (r["choices"][0]["message"]["content"] or "", (time.process_time() - c0) * 1000, llm.passes[0] - before,
            (time.perf_counter() - w0) * 1000)


def requantized(base: str, kind: str) -> str:
    """`base` requantised to `kind`: train/base.py's base_copy (llama.cpp's quantizer, cached in the
    user cache as the default base's copy is)."""
    from distilgen.train.base import base_copy

    return str(base_copy(Path(base), kind))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--requantize", nargs="+", choices=["q8_0", "f16", "q4_0"], default=[],
                    help="also ask copies of the base of these types (same adapter, jump-forward on)")
    opts = ap.parse_args()
    from distilgen.train.serve import llama_thread_env

    os.environ.update(llama_thread_env(os.environ))  # before llama_cpp loads libgomp
    from distilgen.runtime.formats import decoding_schema
    from distilgen.train.buffer_types import without_extra_buffer_types

    without_extra_buffer_types()
    print(f"load average {os.getloadavg()[0]:.1f}; {opts.threads} threads; GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}")
    print(f"{'model':<28} {'calls':>5} {'identical':>9} {'exact step':>10} {'exact jump':>10} {'passes step':>11} "
          f"{'passes jump':>11} {'cpu ms step':>11} {'cpu ms jump':>11} {'ratio':>5}" + "".join(f"  {k}: identical, exact, cpu ms, ratio, wall ms jump / {k}" for k in opts.requantize))
    from distilgen.train.base import served_base

    for folder in opts.models:
        info = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        schema = decoding_schema(info["schema"])
        base = str(served_base(folder, info))
        calls = recorded_calls(folder, opts.calls)
        ways = {"step": load(folder, base, False, opts.threads), "jump": load(folder, base, True, opts.threads)}
        for kind in opts.requantize:
            ways[kind] = load(folder, requantized(base, kind), True, opts.threads)
        rows = interleaved(ways, calls, schema)

        def exact_of(name: str) -> int:
            return exact(rows[name], calls)

        def med_of(name: str, k: int) -> float:
            return med(rows[name], k)

        same = sum(a[0] == b[0] for a, b in zip(rows["step"], rows["jump"]))
        line = (f"{info['name'][:28]:<28} {len(calls):>5} {same:>9} {exact_of('step'):>10} {exact_of('jump'):>10} "
                f"{med_of('step', 2):>11.1f} {med_of('jump', 2):>11.1f} {med_of('step', 1):>11.0f} {med_of('jump', 1):>11.0f} "
                f"{med_of('jump', 1) / med_of('step', 1):>5.2f}")
        for kind in opts.requantize:
            rsame = sum(a[0] == b[0] for a, b in zip(rows["jump"], rows[kind]))
            line += (f"  {rsame}/{len(calls)}, {exact_of(kind)}, {med_of(kind, 1):.0f}, {med_of(kind, 1) / med_of('jump', 1):.2f}, "
                 f"{med_of('jump', 3):.0f} / {med_of(kind, 3):.0f}")
        print(line, flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} after")
    return 0


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


if __name__ == "__main__":
    sys.exit(main())
