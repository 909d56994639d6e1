"""Where the time of one dispatched call to a local model goes (issue 14, item 4).

Loads a trained model folder exactly as `distilgen serve` does (base GGUF mmapped, adapter attached,
same context settings) in this process, and sends the sample classifier's dispatch requests (the
forced tool call dispatch sends by default, rewritten by the serve shim) through llama-cpp-python's
chat handler. Per call it reads llama.cpp's own counters: prompt tokens evaluated (after any reused
KV prefix), prompt-eval ms, generated tokens, generation ms; the rest of the wall time is sampling
(grammar + penalties) and Python. Configurations, each measured in this run, interleaved:

- `baseline`: what `distilgen serve` did before issue 14: KV cache cleared before each call (as a
  server alternating between functions did), llama_cpp.server's default repeat_penalty 1.1.
- `prefix`: the KV cache of the shared system prompt kept between calls (one context per model).
- `prefix+nopenalty`: and repeat_penalty 1.0, which the serve shim now sends (training had none).
- `lazy grammar`: and the grammar asked only about the model's own token first (LazyGrammarGreedy in
  train/_llama_server.py; the configurations above filter the whole vocabulary at every token).
- `served now`: and jump-forward: the compact grammar's forced tokens drafted and evaluated in one
  batch with the token before them (`_jump_forward`; a second copy of the model, loaded as
  `distilgen serve` loads it). The last column is exact match against the function itself.

Then, end to end: `distilgen serve` + dispatch through the real openai client (HTTP included).

Every figure comes with the load average beside it: llama.cpp's threads wait for each other at
every layer, so on a machine whose cores are busy with other work wall times grow far more than
the CPU share lost. `cpu ms` is this process's CPU time per call (all its threads): what the call
costs the machine, and about what its wall time is on an otherwise idle core with 1 thread.
llama.cpp's OpenMP threads spin briefly at barriers, then sleep (GOMP_SPINCOUNT=1000, what
`distilgen serve` sets); `--spin` keeps libgomp's default spin-waiting, to measure what that costs.

    python benchmarks/local_latency.py --model DIR [--calls 40] [--rounds 3] [--threads 2] [--spin]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "sample_project"))
sys.path.insert(0, str(ROOT))

from benchmarks.local_distill import gen_ticket  # noqa: E402
from inbox.triage import classify_ticket  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def load(folder: Path, threads: int, stepwise: bool = False) -> Any:
    """The model as `distilgen serve` loads it; with `stepwise`, decoded as before jump-forward
    (the grammar as llama.cpp builds it, one forward pass per generated token)."""
    from llama_cpp.server.model import LlamaProxy
    from llama_cpp.server.settings import ModelSettings

    from distilgen.train._llama_server import (attach_adapter, lazy_grammar, load_with_adapter, on_llama_thread,
                                               run_on_llama_thread)
    from distilgen.train.buffer_types import extra_buffer_verdict, use_extra_buffer_types
    from distilgen.train.serve import _server_config

    config, schemas = _server_config([folder], "127.0.0.1", 0, threads, 2048)
    # the weight buffers `distilgen serve` would choose for this base (train/buffer_types.py)
    use_extra_buffer_types(extra_buffer_verdict(config["models"][0]["model"]).extra)
    settings = ModelSettings(**config["models"][0])
    schema = schemas[config["models"][0]["model_alias"]]
    if not stepwise:
        return load_with_adapter(settings, LlamaProxy.load_llama_from_model_settings), schema
    # loaded and run on the same one llama thread as the served copy: a second OpenMP team would slow
    # both (_LlamaThread), and loading into AMX buffers starts one
    def stepwise_model() -> Any:
        llm = LlamaProxy.load_llama_from_model_settings(settings.model_copy(update={"lora_path": None}))
        return lazy_grammar(attach_adapter(llm, str(settings.lora_path)), compact=False)

    return on_llama_thread(run_on_llama_thread(stepwise_model)), schema


def requests(n: int, seed: int) -> list[dict[str, Any]]:
    from distilgen import Instructions
    from distilgen.config import Config
    from distilgen.runtime import formats

    ins = Instructions(name="latency", config=Config(root=ROOT))
    fn = ins.distil(mode="dispatch", model="local:x")(classify_ticket)
    spec, runner = fn.__distil__.spec, fn.__distil__.runner()
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        args = gen_ticket(rng)
        out.append({"expected": classify_ticket(*args).model_dump(mode="json"),
                    "messages": [{"role": "system", "content": spec.prompt},
                                 {"role": "user", "content": runner.user_message(args, {})}],
                    "tools": formats.request_tools(spec),
                    "tool_choice": {"type": "function", "function": {"name": spec.tool_name}},
                    "temperature": 0.0, "max_tokens": 512})
    return out


def cpu_ms() -> float:
    return time.process_time() * 1000


def run_one(llm: Any, body: dict[str, Any], schemas: dict[str, Any], *, keep_prefix: bool, penalty: float,
            lazy: bool = True) -> dict[str, float]:
    import llama_cpp

    from distilgen.train._llama_server import rewrite_request

    req = json.loads(rewrite_request(json.dumps({k: v for k, v in body.items() if k != "expected"}).encode(), schemas))
    if not keep_prefix:
        llm.reset()
        llm._ctx.kv_cache_clear() if hasattr(llm._ctx, "kv_cache_clear") else None
    os.environ["DISTILGEN_LLAMA_FULL_GRAMMAR"] = "0" if lazy else "1"
    llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
    c0, t0 = cpu_ms(), time.perf_counter()
    r = llm.create_chat_completion(messages=req["messages"], tools=req["tools"], tool_choice=req["tool_choice"],
                                   temperature=0.0, max_tokens=req["max_tokens"], repeat_penalty=penalty)
    wall, cpu = (time.perf_counter() - t0) * 1000, cpu_ms() - c0
    perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
    args = r["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    return {"right": float(json.loads(args) == body["expected"]), "wall": wall, "cpu": cpu, "prompt_tokens": r["usage"]["prompt_tokens"], "evaluated": perf.n_p_eval,
            "p_eval_ms": perf.t_p_eval_ms, "gen_tokens": r["usage"]["completion_tokens"], "eval_ms": perf.t_eval_ms,
            "rest_ms": wall - perf.t_p_eval_ms - perf.t_eval_ms, "answer": args}


def proc_cpu_ms(pid: int) -> float:
    """CPU time of a process (all its threads) so far, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def twin(folder: Path, tmp: Path) -> Path:
    """The same model under another name (a second `local:NAME` for the multi-model server)."""
    out = tmp / "twin"
    out.mkdir()
    for f in folder.iterdir():
        if f.name != "model.json":
            (out / f.name).symlink_to(f.resolve())
    info = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    (out / "model.json").write_text(json.dumps({**info, "name": f"{info['name']}-twin"}), encoding="utf-8")
    return out


def end_to_end(folder: Path, bodies: list[dict[str, Any]], threads: int, interleave: bool = False) -> tuple[list[float], list[float]]:
    """(wall ms per call, the server's CPU ms per call). With `interleave`, one server holds the model
    and a twin of it, and requests alternate between the two ids: each must keep its own prefix."""
    import tempfile

    import openai

    from distilgen.train.serve import LocalServer

    with tempfile.TemporaryDirectory() as tmp, \
            LocalServer([folder, twin(folder, Path(tmp))] if interleave else folder, threads=threads) as server:
        assert server.info is not None
        client = openai.OpenAI(base_url=server.info.base_url, api_key="local", max_retries=0, timeout=120)
        lat, cpu = [], []
        ids = server.info.model_ids if interleave else (server.info.model_id,)
        for i, b in enumerate(bodies):
            c0, t0 = proc_cpu_ms(server.info.pid), time.perf_counter()
            client.chat.completions.create(model=ids[i % len(ids)], **{k: v for k, v in b.items() if k != "expected"})
            lat.append((time.perf_counter() - t0) * 1000)
            cpu.append(proc_cpu_ms(server.info.pid) - c0)
    return lat, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="a `distilgen train` output folder")
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--no-http", action="store_true", help="skip the end-to-end run through distilgen serve")
    ap.add_argument("--spin", action="store_true", help="leave libgomp's default (spin-waiting threads)")
    opts = ap.parse_args()
    from distilgen.train.serve import llama_thread_env

    if opts.spin:
        os.environ["OMP_WAIT_POLICY"] = "ACTIVE"  # read when llama_cpp loads libgomp, below
    else:
        os.environ.update(llama_thread_env(os.environ))
    bodies = requests(opts.calls, opts.seed)
    stepwise, schemas = load(opts.model, opts.threads, stepwise=True)
    served, _ = load(opts.model, opts.threads)
    # name: (model, keep the prefix's KV, repeat penalty, lazy grammar check)
    configs = {"baseline": (stepwise, False, 1.1, False), "prefix": (stepwise, True, 1.1, False),
               "prefix+nopenalty": (stepwise, True, 1.0, False), "lazy grammar": (stepwise, True, 1.0, True),
               "served now": (served, True, 1.0, True)}
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in configs}
    load0 = os.getloadavg()[0]
    for llm in (stepwise, served):
        run_one(llm, bodies[0], schemas, keep_prefix=False, penalty=1.0)  # warm-up
    for rnd in range(opts.rounds):
        order = list(configs) if rnd % 2 == 0 else list(reversed(configs))
        for name in order:
            llm, keep, penalty, lazy = configs[name]
            for b in bodies:
                results[name].append(run_one(llm, b, schemas, keep_prefix=keep, penalty=penalty, lazy=lazy))
    load1 = os.getloadavg()[0]
    print(f"{opts.calls} calls x {opts.rounds} rounds per configuration, {opts.threads} threads, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', '(default)')}, GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT', '(default)')}, "
          f"load average {load0:.1f} before, {load1:.1f} after")
    print("medians per call; `rest` is wall minus prompt eval and generation: sampling (grammar), templating, Python")
    print(f"{'configuration':<18} {'p50 ms':>7} {'p95 ms':>7} {'cpu ms':>7} {'prompt tok':>10} {'evaluated':>9} {'p-eval ms':>9} "
          f"{'gen tok':>7} {'gen ms':>7} {'ms/tok':>6} {'rest ms':>7} {'exact':>6}")
    p50 = {}
    for name, rows in results.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k not in ("answer", "right")}
        p50[name] = pct([r["wall"] for r in rows], 0.5)
        print(f"{name:<18} {p50[name]:>7.0f} {pct([r['wall'] for r in rows], 0.95):>7.0f} {med['cpu']:>7.0f} {med['prompt_tokens']:>10.0f} "
              f"{med['evaluated']:>9.0f} {med['p_eval_ms']:>9.1f} {med['gen_tokens']:>7.0f} {med['eval_ms']:>7.1f} "
              f"{med['eval_ms'] / max(med['gen_tokens'], 1):>6.1f} {med['rest_ms']:>7.1f} "
              f"{100 * statistics.mean(r['right'] for r in rows):>5.0f}%")
    same = sum(a["answer"] == b["answer"] for a, b in zip(results["baseline"], results["prefix"]))
    print(f"prefix / baseline p50 = {p50['prefix'] / p50['baseline']:.2f}; prefix+nopenalty / baseline = "
          f"{p50['prefix+nopenalty'] / p50['baseline']:.2f}; served now / baseline = {p50['served now'] / p50['baseline']:.2f}; "
          f"answers identical with and without the reused prefix: {same}/{len(results['prefix'])}, with the lazy and "
          f"the full grammar: {sum(a['answer'] == b['answer'] for a, b in zip(results['prefix+nopenalty'], results['lazy grammar']))}"
          f"/{len(results['lazy grammar'])}; served now / lazy grammar p50 = {p50['served now'] / p50['lazy grammar']:.2f}, "
          f"answers identical with and without jump-forward: "
          f"{sum(a['answer'] == b['answer'] for a, b in zip(results['lazy grammar'], results['served now']))}"
          f"/{len(results['served now'])} (exact match vs the function: see the last column)")
    print("example answer:", results["served now"][0]["answer"])
    stepwise.close()
    served.close()
    if not opts.no_http:
        os.environ.pop("DISTILGEN_LLAMA_FULL_GRAMMAR", None)  # the server as `distilgen serve` runs it
        load0 = os.getloadavg()[0]
        lat, cpu = end_to_end(opts.model, bodies, opts.threads)
        print(f"end to end through distilgen serve + openai client: p50 {pct(lat, 0.5):.0f} ms, p95 {pct(lat, 0.95):.0f} ms, "
              f"server CPU {statistics.median(cpu):.0f} ms per call (median) "
              f"({len(lat)} calls, {opts.threads} threads; target <= 150 ms p50; load average {load0:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after)")
        load0 = os.getloadavg()[0]
        lat, cpu = end_to_end(opts.model, bodies, opts.threads, interleave=True)
        print(f"the same, two models in one server, requests alternating between them: p50 {pct(lat, 0.5):.0f} ms, "
              f"p95 {pct(lat, 0.95):.0f} ms, server CPU {statistics.median(cpu):.0f} ms per call (median) "
              f"(load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
