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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jump_forward import ROOT, exact, interleaved, load, med, recorded_calls  # noqa: E402  (a sibling script)

sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    opts = ap.parse_args()
    from distilgen.train.serve import llama_thread_env

    os.environ.update(llama_thread_env(os.environ))  # before llama_cpp loads libgomp
    from distilgen.runtime.formats import decoding_schema
    from distilgen.train.buffer_types import without_extra_buffer_types
    from distilgen.train.base import served_base

    without_extra_buffer_types()
    print(f"load average {os.getloadavg()[0]:.1f}; {opts.threads} threads; GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}")
    print(f"{'model':<28} {'calls':>5} {'identical':>9} {'exact jump':>10} {'exact lookup':>12} {'passes jump':>11} "
          f"{'passes lookup':>13} {'cpu ms jump':>11} {'cpu ms lookup':>13} {'ratio':>5} {'wall ms jump':>12} {'wall ms lookup':>14}")
    for folder in opts.models:
        info = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        schema = decoding_schema(info["schema"])
        base = str(served_base(folder, info))
        calls = recorded_calls(folder, opts.calls)
        ways = {"jump": load(folder, base, True, opts.threads, lookup=False),
                "lookup": load(folder, base, True, opts.threads, lookup=True)}
        rows = interleaved(ways, calls, schema)
        jump, look = rows["jump"], rows["lookup"]
        same = sum(a[0] == b[0] for a, b in zip(jump, look))
        print(f"{info['name'][:28]:<28} {len(calls):>5} {same:>9} {exact(jump, calls):>10} {exact(look, calls):>12} "
              f"{med(jump, 2):>11.1f} {med(look, 2):>13.1f} {med(jump, 1):>11.0f} {med(look, 1):>13.0f} "
              f"{med(look, 1) / med(jump, 1):>5.2f} {med(jump, 3):>12.0f} {med(look, 3):>14.0f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
