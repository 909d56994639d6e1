"""Read shadow-mode records (written by `runtime/shadow.py`, format in docs/dispatch.md) for `eval`.

Each line holds one observed call: the function id, the model, the call as sent, the function's
answer (ground truth) and the model's answer or why there was none, with latencies and tokens
when recorded. Key names are read leniently (`expected`/`function_output`, `got`/`model_output`)
so records from older versions still score; a line missing the essentials is an error naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

__all__ = ["ShadowRecord", "ShadowEndpointError", "read_shadow"]


class ShadowEndpointError(Exception):
    """A shadow sample whose request failed at the endpoint (`status: "error"`), not an invalid answer."""

_EXPECTED = ("expected", "function_output", "function_result", "result", "output")
_GOT = ("got", "model_output", "model_result", "model_answer")
_CALL = ("call", "user", "user_message", "input")


@dataclass(frozen=True)
class ShadowRecord:
    function_id: str
    model: str
    call: str
    expected: dict[str, Any]
    got: dict[str, Any] | None
    error: str | None
    status: str
    """`ok`, `invalid` (the answer did not validate) or `error` (the endpoint failed)."""
    function_ms: float | None
    model_ms: float | None
    prompt_tokens: int
    completion_tokens: int


def _first(d: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in d:
            return d[k]
    return None


def _ms(d: dict[str, Any], *names: str) -> float | None:
    for n in names:
        v = d.get(n)
        if isinstance(v, (int, float)):
            return float(v) * (1000.0 if n.endswith("_s") else 1.0)
    return None


def read_shadow(path: Path, function_id: str | None = None) -> dict[tuple[str, str], list[ShadowRecord]]:
    """Records grouped by (function id, model), in file order; `function_id` keeps one function."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    out: dict[tuple[str, str], list[ShadowRecord]] = {}
    for i, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        where = f"{path}:{i}"
        try:
            d = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: invalid JSON: {exc.msg}") from None
        if not isinstance(d, dict):
            raise UsageError(f"{where}: expected a JSON object")
        fid = d.get("function_id") or d.get("function")
        model = d.get("model")
        expected = _first(d, _EXPECTED)
        if not isinstance(fid, str) or not isinstance(model, str) or not isinstance(expected, dict):
            raise UsageError(f"{where}: not a shadow record (needs function_id, model and the function's answer)")
        if function_id is not None and fid != function_id and not fid.endswith(":" + function_id):
            continue
        got = _first(d, _GOT)
        usage = d.get("usage") or {}
        out.setdefault((fid, model), []).append(ShadowRecord(
            function_id=fid,
            model=model,
            call=str(_first(d, _CALL) or "").removeprefix("Return "),
            expected=expected,
            got=got if isinstance(got, dict) else None,
            error=d.get("error") if got is None or not isinstance(got, dict) else None,
            status=str(d.get("status") or ("ok" if isinstance(got, dict) else "invalid")),
            function_ms=_ms(d, "function_ms", "function_latency_ms", "function_s"),
            model_ms=_ms(d, "model_ms", "model_latency_ms", "latency_ms", "model_s"),
            prompt_tokens=int(usage.get("prompt_tokens") or d.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or d.get("completion_tokens") or 0),
        ))
    return out
