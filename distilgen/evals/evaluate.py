"""`distilgen eval`: the original function (ground truth) against the dispatched model, same inputs.

The model is called exactly as production calls it: the function wrapped by
`Instructions(...).distil(mode="dispatch", model=M)`, with `fallback="raise"` so that an answer
still invalid after the re-asks is counted (as the fallback production would have taken) instead
of silently replaced by the function's own answer. The openai client is metered (see metered.py).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from pydantic import BaseModel, ValidationError

from ..contracts import ResponseFormat
from ..errors import DistilDispatchError, DistilgenError, UsageError
from .calling import timed_call
from .metered import MeteredAsyncClients, metered_client
from .target import Target

__all__ = [
    "FieldScore", "Disagreement", "Latency", "ModelScore", "EvalReport", "Pricing",
    "percentile", "fields_equal", "evaluate", "evaluate_models", "score_pairs", "evaluate_shadow", "dataset_inputs",
]

Progress = Callable[[int, int], None]
# endpoint failures that the next call would hit too (wrong URL, key or model id)
_HOPELESS = {"EndpointConnectionError", "EndpointAuthError", "ModelNotFoundError"}


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
        return type(a) is type(b) and a == b
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

    got: Any
    """The validated model (or its JSON dict, for shadow records); None when there was no valid answer."""
    error: BaseException | None
    ms: float
    attempts: int = 1
    failed_responses: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _dump(v: Any) -> dict[str, Any]:
    return v.model_dump(mode="json") if isinstance(v, BaseModel) else dict(v)


def score_pairs(
    model: str,
    field_names: Sequence[str],
    pairs: Sequence[tuple[str, Any, _Answer]],
    *,
    tolerance: float = 0.0,
    pricing: Pricing | None = None,
    worst: int = 10,
) -> ModelScore:
    """Score (call, expected, answer) triples: the figures of one model. Values: models or JSON dicts."""
    names = list(field_names)
    correct = Counter[str]()
    exact = valid = valid_first = re_asks = retries = fallbacks = 0
    prompt = completion = 0
    errors = Counter[str]()
    latencies: list[float] = []
    bad: list[Disagreement] = []
    for call, expected, ans in pairs:
        exp = _dump(expected)
        prompt += ans.prompt_tokens
        completion += ans.completion_tokens
        retries += ans.failed_responses
        if ans.got is None:
            if isinstance(ans.error, (DistilDispatchError, ValidationError)) or ans.error is None:
                fallbacks += 1
                re_asks += max(ans.attempts - 1, 0)
            else:
                errors[type(ans.error).__name__] += 1
            bad.append(Disagreement(call, exp, None, tuple(names), f"{type(ans.error).__name__}: {ans.error}"
                                    if ans.error else "no answer"))
            continue
        latencies.append(ans.ms)
        valid += 1
        re_asks += max(ans.attempts - 1, 0)
        if ans.attempts <= 1:
            valid_first += 1
        got = _dump(ans.got)
        wrong = tuple(f for f in names if not fields_equal(exp.get(f), got.get(f), tolerance))
        for f in names:
            if f not in wrong:
                correct[f] += 1
        if not wrong:
            exact += 1
        else:
            bad.append(Disagreement(call, exp, got, wrong))
    calls = len(pairs)
    cost = None
    if pricing is not None and calls:
        cost = (prompt * pricing.input_per_million + completion * pricing.output_per_million) / 1e6 / calls * 1000
    bad.sort(key=lambda d: (d.got is not None, -len(d.wrong_fields)))
    return ModelScore(
        model=model, calls=calls, exact=exact,
        fields=tuple(FieldScore(name, correct[name], calls) for name in names),
        valid_first=valid_first, valid=valid, re_asks=re_asks, http_retries=retries, fallbacks=fallbacks,
        errors=tuple(errors.most_common()), latency=Latency(tuple(latencies)),
        prompt_tokens=prompt, completion_tokens=completion, cost_per_1000=cost,
        disagreements=tuple(bad[:worst]),
    )


def _dispatcher(target: Target, model: str, provider: Any, max_retries: int, response_format: ResponseFormat) -> Any:
    """The dispatch helper's Dispatcher for the real function, raising instead of falling back."""
    from ..runtime.dispatch import DispatchSettings, Dispatcher
    from ..runtime.instructions import Instructions

    # an Instructions with no sinks builds the same FunctionSpec production uses (prompt, lock, tools)
    spec = getattr(Instructions(name="distilgen-eval").distil(target.original), "__distil__").spec
    settings = DispatchSettings(model=model, max_retries=max_retries, fallback="raise", response_format=response_format)
    return Dispatcher(spec, settings, provider)


def _provider(base_url: str | None, meter: Any, timeout: float, config: Any) -> Any:
    """A ClientProvider handing out metered clients for every model id (local: ones included)."""
    from ..runtime.clients import ClientProvider

    sync_client, _ = metered_client(base_url, timeout=timeout, meter=meter)
    async_clients = MeteredAsyncClients(base_url, meter, timeout=timeout)

    class _Metered(ClientProvider):
        def sync(self, model: str = "") -> Any:
            return sync_client

        def async_(self, model: str = "", loop: Any = None) -> Any:
            # one AsyncOpenAI per event loop: each evaluated async call runs in its own loop
            return async_clients.get(loop)

        async def aclose(self) -> None:
            await async_clients.aclose()

    return _Metered(client=sync_client, config=config)


async def _arun_closing(dispatcher: Any, provider: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """One async dispatch in its own event loop; the loop's client is closed before the loop ends."""
    try:
        return await dispatcher.arun(args, kwargs)
    finally:
        await provider.aclose()


def _ask_model(target: Target, model: str, base_url: str | None, calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]],
               *, max_retries: int, timeout: float, response_format: ResponseFormat, config: Any,
               progress: Callable[[], None] | None) -> list[_Answer]:
    import asyncio

    from .metered import CallMeter

    meter = CallMeter()
    provider = _provider(base_url, meter, timeout, config)
    dispatcher = _dispatcher(target, model, provider, max_retries, response_format)
    out: list[_Answer] = []
    try:
        for args, kwargs in calls:
            meter.reset()
            start = time.perf_counter()
            try:
                if target.is_async:
                    outcome = asyncio.run(_arun_closing(dispatcher, provider, args, kwargs))
                else:
                    outcome = dispatcher.run(args, kwargs)
            except Exception as exc:  # endpoint errors: counted by type, the run goes on
                if not any(a.got is not None for a in out) and type(exc).__name__ in _HOPELESS:
                    # nothing answered yet and this will not get better: stop now, with the reason
                    raise DistilgenError(f"every call to {model} failed; first: {type(exc).__name__}: {exc}") from None
                out.append(_Answer(None, exc, (time.perf_counter() - start) * 1000, meter.ok, meter.failed,
                                   meter.prompt_tokens, meter.completion_tokens))
            else:
                ms = (time.perf_counter() - start) * 1000
                error = None if outcome.ok else DistilDispatchError(
                    f"no valid answer in {outcome.attempts} attempt(s); last: "
                    f"{outcome.errors[-1] if outcome.errors else '?'}", function_id=target.function_id, model=model,
                    raw_output=outcome.raw_output, errors=list(outcome.errors))
                out.append(_Answer(outcome.value if outcome.ok else None, error, ms, outcome.attempts, meter.failed,
                                   outcome.prompt_tokens, outcome.completion_tokens))
            if progress is not None:
                progress()
    finally:
        provider.sync().close()
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
    response_format: ResponseFormat = "tools",
    config: Any = None,
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
                             response_format=response_format, config=config, progress=tick)
        score = score_pairs(model, list(target.return_model.model_fields), list(zip(rendered, expected, answers)),
                            tolerance=tolerance, pricing=pricing, worst=worst)
        if sum(c for _, c in score.errors) == score.calls:
            first = next((a.error for a in answers if a.error is not None), None)
            raise DistilgenError(f"every call to {model} failed; first: {type(first).__name__}: {first}")
        scores.append(score)
    return EvalReport(
        function_id=target.function_id, source=source, inputs=len(calls), function_errors=tuple(fn_errors.most_common()),
        function_latency=Latency(tuple(fn_ms)), models=tuple(scores), float_tolerance=tolerance, min_accuracy=min_accuracy,
    )


def evaluate_shadow(path: Path, *, function_id: str | None = None, tolerance: float = 0.0,
                    min_accuracy: float | None = None, worst: int = 10) -> list[EvalReport]:
    """Score shadow-mode records (one JSON object per line, see docs/dispatch.md), one report per function and model."""
    from .shadow_records import ShadowEndpointError, read_shadow

    reports = []
    for (fid, model), records in read_shadow(path, function_id).items():
        names: list[str] = []
        for r in records:
            names.extend(k for k in r.expected if k not in names)
        def failure(r: Any) -> BaseException | None:
            if r.got is not None:
                return None
            if r.status == "error":
                return ShadowEndpointError(r.error or "endpoint failure")
            return DistilDispatchError(r.error or "no valid answer", function_id=fid, model=model)

        pairs = [(r.call, r.expected, _Answer(r.got, failure(r), r.model_ms or 0.0, 1, 0, r.prompt_tokens,
                                               r.completion_tokens)) for r in records]
        score = score_pairs(model, names, pairs, tolerance=tolerance, worst=worst)
        fn_ms = tuple(r.function_ms for r in records if r.function_ms is not None)
        reports.append(EvalReport(fid, f"shadow records {path}", len(records), (), Latency(fn_ms), (score,), tolerance,
                                  min_accuracy))
    if not reports:
        raise UsageError(f"{path}: no shadow records" + (f" for {function_id}" if function_id else ""))
    return reports


def dataset_inputs(dataset: Path, split: str | None) -> Path:
    """`--dataset FILE [--split val]`: the file itself, or the split `distilgen dataset split` wrote."""
    if split is None:
        if dataset.is_dir():
            raise UsageError(f"--dataset {dataset}: a folder; say which part with --split train|val")
        return dataset
    if split not in ("train", "val"):
        raise UsageError(f"--split must be 'train' or 'val', got {split!r}")
    if dataset.is_dir():
        path = dataset / f"{split}.jsonl"
    else:
        stem = dataset.name[:-6] if dataset.name.endswith(".jsonl") else dataset.name
        path = dataset.with_name(f"{stem}_split") / f"{split}.jsonl"
    if not path.is_file():
        raise UsageError(f"--dataset {dataset} --split {split}: no {path}; run `distilgen dataset split {dataset}` first")
    return path


def evaluate(
    target: str,
    model: str,
    *,
    baseline: str | None = None,
    dataset: str | Path | None = None,
    split: str | None = None,
    inputs: str | Path | None = None,
    n: int = 50,
    seed: int = 0,
    strategies: str | None = None,
    base_url: str | None = None,
    baseline_base_url: str | None = None,
    tolerance: float = 0.0,
    price_per_million: float | None = None,
    price_per_million_output: float | None = None,
    max_retries: int = 2,
    timeout: float = 120.0,
    response_format: ResponseFormat | None = None,
    min_accuracy: float | None = None,
    worst: int = 10,
    root: str | Path | None = None,
    progress: Progress | None = None,
) -> EvalReport:
    """Inputs from a dataset (split), an inputs file or fresh draws; then `evaluate_models`."""
    from ..config import load_config
    from .inputs import read_inputs
    from .target import resolve_target

    if dataset is not None and inputs is not None:
        raise UsageError("give --dataset or --inputs, not both")
    if min_accuracy is not None and not 0 <= min_accuracy <= 1:
        raise UsageError(f"--min-accuracy is a fraction between 0 and 1, got {min_accuracy}")
    if tolerance < 0:
        raise UsageError(f"--float-tolerance must be >= 0, got {tolerance}")
    start = Path(root) if root is not None else Path.cwd()
    config = load_config(start)
    resolved = resolve_target(target, config.root)
    if dataset is not None:
        path = dataset_inputs(Path(dataset), split)
        values = [v for v, _ in read_inputs(path, resolved, with_outputs=True)]
        source = f"dataset {path}"
    elif inputs is not None:
        values = read_inputs(Path(inputs), resolved)
        source = f"inputs {inputs}"
    else:
        from .generate import plan_inputs
        from .strategies import load_user_strategies

        spec = strategies or config.strategies
        user = load_user_strategies(spec, config.root) if spec else {}
        values, _, _ = plan_inputs(resolved, n, seed=seed, user_strategies=user)
        source = f"generated (seed {seed})"
    pricing = None
    if price_per_million is not None:
        pricing = Pricing(price_per_million, price_per_million_output if price_per_million_output is not None
                          else price_per_million)
    from .metered import resolve_base_url

    models = [model] + ([baseline] if baseline else [])
    urls = [resolve_base_url(model, base_url, config)]
    if baseline:
        urls.append(resolve_base_url(baseline, baseline_base_url or base_url, config))
    fmt = response_format or ("messages" if config.finetune_format == "messages" else "tools")
    return evaluate_models(resolved, values, models, source=source, base_urls=urls, tolerance=tolerance,
                           pricing=pricing, max_retries=max_retries, timeout=timeout, response_format=fmt,
                           config=config, min_accuracy=min_accuracy, worst=worst, progress=progress)
