"""First calls of many decorated functions from a thread pool at once (the runtime builds each
function's spec on its first call, parsing its source). CPython 3.11 can fail two concurrent AST
conversions with `SystemError: AST constructor recursion depth mismatch`; a CI run hit it when two
dispatched functions were first called from a pool. `distilgen._ast_parse` serializes the parses.
The race is rare, so this test raises the odds (many functions, a tiny switch interval) rather
than reproducing it every time."""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import sys
from pathlib import Path

from distilgen import Instructions

N = 24


def _module(tmp_path: Path):  # type: ignore[no-untyped-def]
    body = ["from pydantic import BaseModel\n\n\nclass Out(BaseModel):\n    n: int\n    tag: str\n"]
    for i in range(N):
        nested = " + ".join(f"(({j} * x) - ({j} // 2))" for j in range(30))
        body.append(f'\ndef f{i}(x: int) -> Out:\n    """Function {i}."""\n    y = {nested}\n'
                    f'    return Out(n=x + {i} + 0 * y, tag=[s for s in ("a", "b") if s][0])\n')
    path = tmp_path / "threaded_funcs.py"
    path.write_text("".join(body))
    spec = importlib.util.spec_from_file_location("threaded_funcs", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["threaded_funcs"] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_first_calls_from_many_threads_build_every_spec(tmp_path: Path) -> None:
    mod = _module(tmp_path)
    data = tmp_path / "calls.jsonl"
    ins = Instructions(name="threads", dataset=data)
    fns = [ins.distil(getattr(mod, f"f{i}")) for i in range(N)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda p: p[1](p[0]), enumerate(fns)))
    finally:
        sys.setswitchinterval(old)
        sys.modules.pop("threaded_funcs", None)
    assert [r.n for r in results] == [2 * i for i in range(N)]
    lines = [json.loads(line) for line in data.read_text().splitlines()]
    assert len(lines) == N
    assert ins.stats().captured == N and ins.stats().skipped == 0
