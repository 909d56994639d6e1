"""Dispatch overhead per call: distilgen dispatch vs the bare `client.chat.completions.create` it wraps.

Both send the same request (system prompt, `Return fn(...)`, forced tool) to the loopback fake
server, which runs in a child process so its CPU does not count against the client. Blocks of
calls are interleaved (bare, distilgen, bare, ...) so machine noise hits both alike; the figure
per side is the median block. Async: 100 concurrent calls with asyncio.gather, sequential vs
concurrent, for both sides; the scaling ratio compares distilgen's speed-up with the bare client's.

    python benchmarks/dispatch_overhead.py [--calls 200] [--rounds 7] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import openai
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distilgen import Instructions  # noqa: E402
from distilgen.config import Config  # noqa: E402
from distilgen.runtime import formats  # noqa: E402
from distilgen.testing import spawn  # noqa: E402

MODEL = "ft:gpt-4o-mini:org::bench"


class Multiply(BaseModel):
    a: int
    b: int
    result: int


def build(base_url: str):
    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)
    aclient_box: dict[str, openai.AsyncOpenAI] = {}
    ins = Instructions(openai_client=client, config=Config(root=Path.cwd()))

    @ins.distil(mode="dispatch", model=MODEL)
    def fn(a: int, b: int) -> Multiply:
        """Multiply two integers."""
        return Multiply(a=a, b=b, result=a * b)

    @ins.distil(mode="dispatch", model=MODEL)
    async def afn(a: int, b: int) -> Multiply:
        """Multiply two integers."""
        return Multiply(a=a, b=b, result=a * b)

    spec = fn.__distil__.spec  # built before the first call (see tests/test_dispatch.py `ready`)
    afn.__distil__.spec
    # The bare request: exactly what dispatch sends.
    base = {
        "model": MODEL,
        "tools": formats.request_tools(spec),
        "tool_choice": {"type": "function", "function": {"name": spec.tool_name}},
        "parallel_tool_calls": False,
        "temperature": 0.0,
    }
    system = {"role": "system", "content": spec.prompt}

    def bare(a: int, b: int):
        return client.chat.completions.create(
            messages=[system, {"role": "user", "content": f"Return fn({a}, {b})"}], **base)

    async def abare(aclient: openai.AsyncOpenAI, a: int, b: int):
        return await aclient.chat.completions.create(
            messages=[system, {"role": "user", "content": f"Return afn({a}, {b})"}], **base)

    return client, fn, afn, bare, abare, aclient_box


def time_block(f, n: int) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) per call. The server is another process, so the
    CPU figure is the client side alone and stays steady on a loaded machine, where wall time does not."""
    c0, t0 = time.process_time(), time.perf_counter()
    for i in range(n):
        f(i, 7)
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200, help="calls per block")
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--concurrency", type=int, default=100)
    args = ap.parse_args()

    with spawn() as server:
        client, fn, afn, bare, abare, _ = build(server.base_url)
        for f in (bare, fn):  # warm up: imports, connection pool, lazily built pieces
            time_block(f, 20)
        bare_s, dist_s = [], []
        for r in range(args.rounds):
            # alternate which side goes first; pair the two blocks of each round
            if r % 2:
                dist_s.append(time_block(fn, args.calls))
                bare_s.append(time_block(bare, args.calls))
            else:
                bare_s.append(time_block(bare, args.calls))
                dist_s.append(time_block(fn, args.calls))
        b, d = statistics.median(x[0] for x in bare_s), statistics.median(x[0] for x in dist_s)
        bc, dc = statistics.median(x[1] for x in bare_s), statistics.median(x[1] for x in dist_s)
        # paired: the median of per-round differences cancels load that drifts between rounds
        added_sync = statistics.median(y[1] - x[1] for x, y in zip(bare_s, dist_s)) * 1e6
        print(f"dispatch overhead, fake server in a child process ({args.rounds} rounds x {args.calls} calls, medians)")
        print(f"  sync   wall: bare create {b * 1e6:7.0f} us/call   distilgen {d * 1e6:7.0f} us/call   "
              f"added {(d - b) * 1e6:+6.0f} us/call   ratio {d / b:.3f}")
        print(f"  sync   client CPU: bare  {bc * 1e6:7.0f} us/call   distilgen {dc * 1e6:7.0f} us/call   "
              f"added {added_sync:+6.0f} us/call   ratio {dc / bc:.3f}")

        # distilgen's own work per call, no HTTP: build the messages, check and validate an answer
        dispatcher = fn.__distil__.runner()
        answer = bare(3, 7)
        reps = 5000
        c0 = time.perf_counter()
        for i in range(reps):
            dispatcher._messages((i, 7), {})
            dispatcher._check(answer)
        own = (time.perf_counter() - c0) / reps * 1e6
        print(f"  distilgen's own work per call (request + check + validate, no HTTP): {own:6.1f} us")

        n = args.concurrency

        async def run_async():
            aclient = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)
            # warm up both sides
            await asyncio.gather(*[abare(aclient, i, 7) for i in range(10)])
            await asyncio.gather(*[afn(i, 7) for i in range(10)])
            res: dict[str, list[float]] = {k: [] for k in (
                "bare_seq", "dist_seq", "bare_conc", "dist_conc", "bare_cpu", "dist_cpu")}
            async def seq(side: str) -> None:
                t0 = time.perf_counter()
                for i in range(n):
                    await (abare(aclient, i, 7) if side == "bare" else afn(i, 7))
                res[f"{side}_seq"].append(time.perf_counter() - t0)

            async def conc(side: str) -> None:
                t0, c0 = time.perf_counter(), time.process_time()
                out = await asyncio.gather(*[abare(aclient, i, 7) if side == "bare" else afn(i, 7) for i in range(n)])
                res[f"{side}_conc"].append(time.perf_counter() - t0)
                res[f"{side}_cpu"].append(time.process_time() - c0)
                assert len(out) == n

            for r in range(args.rounds):
                order = ("bare", "dist") if r % 2 == 0 else ("dist", "bare")
                for side in order:
                    await seq(side)
                for side in order:
                    await conc(side)
            res["cpu_diff"] = [d - b for b, d in zip(res["bare_cpu"], res["dist_cpu"])]
            await aclient.close()
            return {k: statistics.median(v) for k, v in res.items()}

        r = asyncio.run(run_async())
        seq_added = (r["dist_seq"] - r["bare_seq"]) / n * 1e6
        conc_added = (r["dist_conc"] - r["bare_conc"]) / n * 1e6
        cpu_added = r["cpu_diff"] / n * 1e6  # paired per round, as for sync
        bare_scale = r["bare_seq"] / r["bare_conc"]
        dist_scale = r["dist_seq"] / r["dist_conc"]
        print(f"  async  sequential wall: bare {r['bare_seq'] / n * 1e6:7.0f} us/call   distilgen {r['dist_seq'] / n * 1e6:7.0f} us/call   "
              f"added {seq_added:+6.0f} us/call")
        print(f"  async  {n} concurrent wall: bare {r['bare_conc'] * 1e3:7.1f} ms   distilgen {r['dist_conc'] * 1e3:7.1f} ms   "
              f"added {conc_added:+6.0f} us/call")
        print(f"  async  {n} concurrent client CPU: bare {r['bare_cpu'] / n * 1e6:7.0f} us/call   "
              f"distilgen {r['dist_cpu'] / n * 1e6:7.0f} us/call   added {cpu_added:+6.0f} us/call")
        print(f"  concurrency scaling (sequential / concurrent wall): bare {bare_scale:.2f}x   distilgen {dist_scale:.2f}x   "
              f"ratio {dist_scale / bare_scale:.2f}")
        worst = max(added_sync, cpu_added)
        print(f"  target <= 300 us client CPU added per call: {'met' if worst <= 300 else 'NOT met'} (worst {worst:+.0f} us)")
        client.close()


if __name__ == "__main__":
    main()
