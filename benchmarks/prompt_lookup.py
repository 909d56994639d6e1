"""Does prompt-lookup drafting change answers, and what does it save? (issue 14, items 4 and 5)

For each trained model folder: its recorded calls (validation lines first, then training lines, the
answers the function gave), asked through llama-cpp-python two ways, call by call in alternating
order so both see the same machine, both loaded as `distilgen serve` loads them (compact grammar,
jump-forward over the tokens the grammar forces):

- `jump`: free tokens generated one forward pass each (the served path before prompt lookup);
- `lookup`: free tokens also drafted from the prompt (`_llama_server.lookup_draft`) and verified in
  the same batch, kept while each is the token greedy decoding under the grammar picks.

Per model it prints: answers identical between the two, exact match of each against the recorded
answer, forward passes (llama_decode calls) per call, this process's CPU ms per call (median; the
steady figure on a shared machine) with the ratio lookup / jump, and wall ms per call (median).

    python benchmarks/prompt_lookup.py MODEL_DIR [MODEL_DIR...] [--calls 40]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jump_forward import ROOT, _parsed, ask, recorded_calls  # noqa: E402  (this folder's sibling script)

sys.path.insert(0, str(ROOT))


def load(folder: Path, base: str, lookup: bool, threads: int) -> Any:
    import llama_cpp

    from distilgen.train._llama_server import attach_adapter, lazy_grammar

    llm = llama_cpp.Llama(model_path=base, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=256,
                          verbose=False)
    attach_adapter(llm, str(folder / "adapter.gguf"))
    llm = lazy_grammar(llm, lookup=lookup)
    passes = [0]
    ctx, stock = llm._ctx, llm._ctx.decode

    def counted(batch: Any) -> None:
        passes[0] += 1
        stock(batch)

    ctx.decode = counted
    llm.passes = passes
    return llm


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    opts = ap.parse_args()
    from distilgen.train.serve import llama_thread_env

    os.environ.update(llama_thread_env(os.environ))  # before llama_cpp loads libgomp
    from distilgen.runtime.formats import decoding_schema
    from distilgen.train._llama_server import without_extra_buffer_types

    without_extra_buffer_types()
    print(f"load average {os.getloadavg()[0]:.1f}; {opts.threads} threads; GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}")
    print(f"{'model':<28} {'calls':>5} {'identical':>9} {'exact jump':>10} {'exact lookup':>12} {'passes jump':>11} "
          f"{'passes lookup':>13} {'cpu ms jump':>11} {'cpu ms lookup':>13} {'ratio':>5} {'wall ms jump':>12} {'wall ms lookup':>14}")
    for folder in opts.models:
        info = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        schema = decoding_schema(info["schema"])
        base = info["serve"]["base_gguf"]
        calls = recorded_calls(folder, opts.calls)
        ways = {"jump": load(folder, base, False, opts.threads), "lookup": load(folder, base, True, opts.threads)}
        got: dict[str, list[tuple[str, float, int, float]]] = {k: [] for k in ways}
        for i, call in enumerate(calls):
            for name in (list(ways) if i % 2 == 0 else list(reversed(ways))):
                got[name].append(ask(ways[name], call, schema))
        for llm in ways.values():
            llm.close()

        def exact(name: str) -> int:
            return sum(_parsed(r[0]) == c[2] for r, c in zip(got[name], calls))

        def med(name: str, k: int) -> float:
            return statistics.median(r[k] for r in got[name])

        same = sum(a[0] == b[0] for a, b in zip(got["jump"], got["lookup"]))
        print(f"{info['name'][:28]:<28} {len(calls):>5} {same:>9} {exact('jump'):>10} {exact('lookup'):>12} "
              f"{med('jump', 2):>11.1f} {med('lookup', 2):>13.1f} {med('jump', 1):>11.0f} {med('lookup', 1):>13.0f} "
              f"{med('lookup', 1) / med('jump', 1):>5.2f} {med('jump', 3):>12.0f} {med('lookup', 3):>14.0f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
