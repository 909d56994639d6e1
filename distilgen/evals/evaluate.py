"""`distilgen eval`: the original function (ground truth) against the dispatched model, same inputs.

The model is called exactly as production calls it: the function wrapped by
`Instructions(...).distil(mode="dispatch", model=M)`, with `fallback="raise"` so that an answer
still invalid after the re-asks is counted (as the fallback production would have taken) instead
of silently replaced by the function's own answer. The openai client is metered (see metered.py).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from pydantic import BaseModel, ValidationError

from ..errors import DistilDispatchError, UsageError
from .calling import timed_call
from .metered import metered_async_client, metered_client
from .target import Target

__all__ = [
    "FieldScore", "Disagreement", "Latency", "ModelScore", "EvalReport", "Pricing",
    "percentile", "fields_equal", "evaluate_models", "score_pairs", "evaluate_shadow",
]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FieldScore:
    field: str
    correct: int
    total: int

    @property
    def rate(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass(frozen=True)
class Disagreement:
    call: str
    """The call as the model saw it: `classify_ticket('Help', '...')`."""
    expected: dict[str, Any]
    got: dict[str, Any] | None
    """None when the model gave no valid answer (see `error`)."""
    wrong_fields: tuple[str, ...]
    error: str | None = None


@dataclass(frozen=True)
class Latency:
    samples_ms: tuple[float, ...]

    @property
    def p50(self) -> float | None:
        return percentile(self.samples_ms, 50)

    @property
    def p95(self) -> float | None:
        return percentile(self.samples_ms, 95)


@dataclass(frozen=True)
class Pricing:
    input_per_million: float
    output_per_million: float


@dataclass(frozen=True)
class ModelScore:
    model: str
    calls: int
    exact: int
    fields: tuple[FieldScore, ...]
    valid_first: int
    """Answers valid on the first try."""
    valid: int
    """Answers valid after the re-asks (the rest would have taken the fallback)."""
    re_asks: int
    """Requests sent again because an answer was invalid."""
    http_retries: int
    """Requests the client retried (429/5xx/timeouts)."""
    fallbacks: int
    """Calls with no valid answer after every re-ask: production's fallback policy decides these."""
    errors: tuple[tuple[str, int], ...]
    """API-level failures (auth, 404 model, connection), by exception type."""
    latency: Latency
    prompt_tokens: int
    completion_tokens: int
    cost_per_1000: float | None
    disagreements: tuple[Disagreement, ...]

    @property
    def exact_rate(self) -> float:
        return self.exact / self.calls if self.calls else 0.0

    @property
    def schema_valid_rate(self) -> float:
        return self.valid / self.calls if self.calls else 0.0

    @property
    def tokens_per_call(self) -> float:
        return (self.prompt_tokens + self.completion_tokens) / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class EvalReport:
    function_id: str
    source: str
    """Where the inputs came from: `dataset FILE (split val)`, `inputs FILE`, `generated (seed N)`, `shadow FILE`."""
    inputs: int
    function_errors: tuple[tuple[str, int], ...]
    """Inputs dropped because the function itself raised on them."""
    function_latency: Latency
    models: tuple[ModelScore, ...]
    float_tolerance: float
    min_accuracy: float | None = None

    @property
    def primary(self) -> ModelScore:
        return self.models[0]

    @property
    def passed(self) -> bool:
        return self.min_accuracy is None or self.primary.exact_rate >= self.min_accuracy

    def as_dict(self) -> dict[str, Any]:
        def model(m: ModelScore) -> dict[str, Any]:
            return {
                "model": m.model, "calls": m.calls, "exact_match": m.exact, "exact_match_rate": m.exact_rate,
                "fields": {f.field: {"correct": f.correct, "total": f.total, "accuracy": f.rate} for f in m.fields},
                "schema_valid_first_try": m.valid_first, "schema_valid": m.valid,
                "schema_valid_rate": m.schema_valid_rate, "re_asks": m.re_asks, "http_retries": m.http_retries,
                "fallbacks": m.fallbacks, "errors": dict(m.errors),
                "latency_ms": {"p50": m.latency.p50, "p95": m.latency.p95, "samples": list(m.latency.samples_ms)},
                "tokens": {"prompt": m.prompt_tokens, "completion": m.completion_tokens, "per_call": m.tokens_per_call},
                "cost_per_1000_calls": m.cost_per_1000,
                "disagreements": [
                    {"call": d.call, "expected": d.expected, "got": d.got, "wrong_fields": list(d.wrong_fields),
                     "error": d.error} for d in m.disagreements
                ],
            }

        return {
            "function_id": self.function_id, "source": self.source, "inputs": self.inputs,
            "function_errors": dict(self.function_errors),
            "function_latency_ms": {"p50": self.function_latency.p50, "p95": self.function_latency.p95,
                                    "samples": list(self.function_latency.samples_ms)},
            "float_tolerance": self.float_tolerance, "min_accuracy": self.min_accuracy, "passed": self.passed,
            "models": [model(m) for m in self.models],
        }


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def fields_equal(a: Any, b: Any, tolerance: float) -> bool:
    """Exact for strings, enums, ints and bools; floats within `tolerance` (absolute); recursive."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a == b or abs(a - b) <= tolerance
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(fields_equal(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(fields_equal(x, y, tolerance) for x, y in zip(a, b))
    return bool(a == b)


@dataclass(frozen=True)
class _Answer:
    """One model answer to one call, before scoring."""

    got: BaseModel | None
    error: BaseException | None
    ms: float
    ok_responses: int = 1
    failed_responses: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def score_pairs(
    model: str,
    return_model: type[BaseModel],
    pairs: Sequence[tuple[str, BaseModel, _Answer]],
    *,
    tolerance: float = 0.0,
    pricing: Pricing | None = None,
    worst: int = 10,
) -> ModelScore:
    """Score (call, expected, answer) triples: the figures of one model."""
    names = list(return_model.model_fields)
    correct = Counter[str]()
    exact = valid = valid_first = re_asks = retries = fallbacks = 0
    prompt = completion = 0
    errors = Counter[str]()
    latencies: list[float] = []
    bad: list[Disagreement] = []
    for call, expected, ans in pairs:
        exp = expected.model_dump(mode="json")
        prompt += ans.prompt_tokens
        completion += ans.completion_tokens
        retries += ans.failed_responses
        if ans.got is None:
            if isinstance(ans.error, (DistilDispatchError, ValidationError)) or ans.error is None:
                fallbacks += 1
                re_asks += max(ans.ok_responses - 1, 0)
            else:
                errors[type(ans.error).__name__] += 1
            bad.append(Disagreement(call, exp, None, tuple(names), f"{type(ans.error).__name__}: {ans.error}"
                                    if ans.error else "no answer"))
            continue
        latencies.append(ans.ms)
        valid += 1
        re_asks += max(ans.ok_responses - 1, 0)
        if ans.ok_responses <= 1:
            valid_first += 1
        got = ans.got.model_dump(mode="json")
        wrong = tuple(n for n in names if not fields_equal(exp.get(n), got.get(n), tolerance))
        for n in names:
            if n not in wrong:
                correct[n] += 1
        if not wrong:
            exact += 1
        else:
            bad.append(Disagreement(call, exp, got, wrong))
    n = len(pairs)
    cost = None
    if pricing is not None and n:
        cost = (prompt * pricing.input_per_million + completion * pricing.output_per_million) / 1e6 / n * 1000
    bad.sort(key=lambda d: (d.got is not None, -len(d.wrong_fields)))
    return ModelScore(
        model=model, calls=n, exact=exact,
        fields=tuple(FieldScore(name, correct[name], n) for name in names),
        valid_first=valid_first, valid=valid, re_asks=re_asks, http_retries=retries, fallbacks=fallbacks,
        errors=tuple(errors.most_common()), latency=Latency(tuple(latencies)),
        prompt_tokens=prompt, completion_tokens=completion, cost_per_1000=cost,
        disagreements=tuple(bad[:worst]),
    )


def _dispatching(target: Target, model: str, client: Any, async_client: Any, max_retries: int,
                 response_format: str | None) -> Callable[..., Any]:
    from ..runtime.instructions import Instructions

    instructions = Instructions(name="distilgen-eval", openai_client=client, async_openai_client=async_client,
                                max_retries=max_retries, fallback="raise", response_format=response_format)
    return instructions.distil(mode="dispatch", model=model)(target.original)  # type: ignore[no-any-return]


def _ask_model(target: Target, model: str, base_url: str | None, calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]],
               *, max_retries: int, timeout: float, response_format: str | None,
               progress: Callable[[], None] | None) -> list[_Answer]:
    client, meter = metered_client(base_url, timeout=timeout)
    out: list[_Answer] = []
    fn = None if target.is_async else _dispatching(target, model, client, None, max_retries, response_format)
    try:
        for args, kwargs in calls:
            meter.reset()
            if target.is_async:  # a fresh async client per event loop (asyncio.run closes its loop)
                fn = _dispatching(target, model, None, metered_async_client(base_url, meter, timeout=timeout),
                                  max_retries, response_format)
            assert fn is not None
            o = timed_call(fn, args, kwargs)
            got = o.value if isinstance(o.value, target.return_model) else None
            error = o.error if got is None else None
            out.append(_Answer(got, error, o.seconds * 1000, meter.ok, meter.failed,
                               meter.prompt_tokens, meter.completion_tokens))
            if progress is not None:
                progress()
    finally:
        client.close()
    return out


def evaluate_models(
    target: Target,
    inputs: Sequence[dict[str, Any]],
    models: Sequence[str],
    *,
    source: str,
    base_urls: Sequence[str | None],
    tolerance: float = 0.0,
    pricing: Pricing | None = None,
    max_retries: int = 2,
    timeout: float = 120.0,
    response_format: str | None = None,
    min_accuracy: float | None = None,
    worst: int = 10,
    progress: Progress | None = None,
) -> EvalReport:
    """Run the function and each model on every input and score the models."""
    from ..runtime.calls import render_call

    if not inputs:
        raise UsageError(f"{target.function_id}: no inputs to evaluate on ({source})")
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    expected: list[BaseModel] = []
    fn_ms: list[float] = []
    fn_errors = Counter[str]()
    for values in inputs:
        args, kwargs = target.split(values)
        o = timed_call(target.original, args, kwargs)
        if o.error is not None or not isinstance(o.value, target.return_model):
            fn_errors[type(o.error).__name__ if o.error else "WrongReturnType"] += 1
            continue
        calls.append((args, kwargs))
        expected.append(o.value)
        fn_ms.append(o.seconds * 1000)
    if not calls:
        raise UsageError(f"{target.function_id}: the function raised on every input ({dict(fn_errors)})")
    total = len(calls) * len(models)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    rendered = []
    for args, kwargs in calls:
        try:
            rendered.append(render_call(target.name, args, kwargs))
        except Exception:
            rendered.append(f"{target.name}(<{len(args) + len(kwargs)} arguments>)")
    scores = []
    for model, base_url in zip(models, base_urls):
        answers = _ask_model(target, model, base_url, calls, max_retries=max_retries, timeout=timeout,
                             response_format=response_format, progress=tick)
        scores.append(score_pairs(model, target.return_model, list(zip(rendered, expected, answers)),
                                  tolerance=tolerance, pricing=pricing, worst=worst))
    return EvalReport(
        function_id=target.function_id, source=source, inputs=len(calls), function_errors=tuple(fn_errors.most_common()),
        function_latency=Latency(tuple(fn_ms)), models=tuple(scores), float_tolerance=tolerance, min_accuracy=min_accuracy,
    )


def evaluate_shadow(path: Path, *, function_id: str | None = None, tolerance: float = 0.0,
                    min_accuracy: float | None = None, worst: int = 10) -> list[EvalReport]:
    """Score shadow-mode records (one JSON object per line, see docs/dispatch.md), one report per function."""
    from .shadow_records import read_shadow

    reports = []
    for fid, model, records in read_shadow(path, function_id):
        pairs = [(r.call, r.expected, _Answer(r.got, r.error, r.model_ms or 0.0, 1, 0, r.prompt_tokens,
                                               r.completion_tokens)) for r in records]
        return_model = records[0].return_model
        score = score_pairs(model, return_model, pairs, tolerance=tolerance, worst=worst)
        fn_ms = tuple(r.function_ms for r in records if r.function_ms is not None)
        reports.append(EvalReport(fid, f"shadow {path}", len(records), (), Latency(fn_ms), (score,), tolerance,
                                  min_accuracy))
    if not reports:
        raise UsageError(f"{path}: no shadow records" + (f" for {function_id}" if function_id else ""))
    return reports
