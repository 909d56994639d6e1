"""`distilgen generate`: draw arguments from the type hints, call the real function with capture on.

Inputs are planned first (deterministic for a seed: hypothesis with a fixed seed, no database),
deduplicated by their canonical JSON, then called one at a time under the capture runtime, so the
training lines are written by exactly the code production capture uses. A call that raises is
skipped and counted by exception type; the run never aborts on the function's own errors.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..contracts import FinetuneFormat
from ..errors import UsageError
from .calling import timed_call
from .inputs import call_key
from .strategies import args_strategy, require_hypothesis, strategies_for_function, strategy_for
from .target import Target
from .variety import Variety, measure_variety

__all__ = ["GenerateResult", "generate", "plan_inputs", "run_generate", "capturing"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerateResult:
    function_id: str
    requested: int
    planned: int
    """Distinct argument sets found (fewer than requested when the input space is small)."""
    called: int
    written: int
    """Lines the capture runtime added to the dataset file."""
    duplicates: int
    """Drawn argument sets skipped because an identical call was already planned."""
    errors: tuple[tuple[str, int], ...]
    """(exception type, count) of calls that raised (timeouts count as CallTimeout)."""
    out: str
    finetune_format: FinetuneFormat
    seed: int
    from_inputs: int
    """Argument sets taken from --inputs as they were (the rest were mutated from them or drawn)."""
    variety: Variety
    seconds: float


def _text_mutations(pool: Sequence[str]) -> Any:
    """Small edits of real texts: drop, repeat or swap words, change case, splice in another text's words."""
    st = require_hypothesis()

    def apply(op_i_other: tuple[str, int, str], text: str) -> str:
        op, i, other = op_i_other
        words = text.split()
        if not words:
            return other
        i %= len(words)
        if op == "drop" and len(words) > 1:
            del words[i]
        elif op == "repeat":
            words.insert(i, words[i])
        elif op == "swap" and len(words) > 1:
            j = (i + 1) % len(words)
            words[i], words[j] = words[j], words[i]
        elif op == "case":
            words[i] = words[i].upper() if not words[i].isupper() else words[i].lower()
        elif op == "splice":
            extra = other.split()
            words = words[: i + 1] + extra[len(extra) // 2:]
        return " ".join(words)

    ops = st.tuples(st.sampled_from(["drop", "repeat", "swap", "case", "splice"]), st.integers(0, 10_000),
                    st.sampled_from(list(pool) or [""]))
    return lambda text: ops.map(lambda o: apply(o, text))


def _mutation_strategy(target: Target, bases: Sequence[dict[str, Any]], per_param: Mapping[str, Any],
                       close: bool = False) -> Any:
    """Calls near `bases`; `close` edits their texts only (no fresh draw replaces a text parameter)."""
    st = require_hypothesis()
    pools = {name: [b[name] for b in bases if isinstance(b.get(name), str)] for name in target.params}

    def mutate(base: dict[str, Any]) -> Any:
        fields = {}
        for name in target.params:
            if close and isinstance(base.get(name), str):
                fields[name] = _text_mutations(pools[name])(base[name])
                continue
            choices = []
            if name in base:
                choices.append(st.just(base[name]))
                if isinstance(base[name], str):
                    choices.append(_text_mutations(pools[name])(base[name]))
            choices.append(per_param[name])
            fields[name] = st.one_of(*choices)
        return st.fixed_dictionaries(fields)

    return st.sampled_from(list(bases)).flatmap(mutate)


def _draw(strategy: Any, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` examples of `strategy`, the same ones for the same seed (hypothesis, no database)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    out: list[dict[str, Any]] = []

    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck), derandomize=False)
    @hseed(seed)
    @given(strategy)
    def collect(values: dict[str, Any]) -> None:
        out.append(values)

    from hypothesis.errors import HypothesisException

    try:
        collect()
    except HypothesisException as exc:
        raise UsageError(f"cannot draw arguments: {type(exc).__name__}: {exc}") from None
    return out


def plan_inputs(
    target: Target,
    n: int,
    *,
    seed: int = 0,
    inputs: Sequence[dict[str, Any]] = (),
    user_strategies: Mapping[str, Any] | None = None,
    mutate: bool = True,
    close: bool = False,
) -> tuple[list[dict[str, Any]], int, int]:
    """Up to `n` distinct argument dicts: the inputs first, then mutations of them or fresh draws
    (`close`: text parameters are only edited, never drawn afresh).

    Returns (argument sets, duplicates skipped, how many came from `inputs` unchanged).
    """
    if n < 1:
        raise UsageError(f"-n must be at least 1, got {n}")
    seen: set[str] = set()
    planned: list[dict[str, Any]] = []
    duplicates = 0

    def add(values: dict[str, Any]) -> None:
        nonlocal duplicates
        key = call_key(values)
        if key in seen:
            duplicates += 1
            return
        seen.add(key)
        planned.append(values)

    for values in inputs:
        if len(planned) >= n:
            break
        add(values)
    from_inputs = len(planned)
    if len(planned) >= n:
        return planned, duplicates, from_inputs
    require_hypothesis()
    whole, per_param = strategies_for_function(user_strategies or {}, target.qualname, target.name, target.params)
    for name, why in target.unresolved.items():
        if name not in per_param and whole is None:
            raise UsageError(f"{target.function_id}: the type hint of parameter {name!r} cannot be resolved ({why}; "
                             f"imported only under TYPE_CHECKING?); give a strategy for it with --strategies")
    per = {name: per_param[name] if name in per_param else strategy_for(tp) for name, tp in target.params.items()}
    if inputs and mutate:
        strategy = _mutation_strategy(target, list(inputs), per, close)
    elif whole is not None:
        st = require_hypothesis()
        order = list(target.params)

        def merge(pair: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
            if not isinstance(pair[0], dict) or set(pair[0]) - set(order):
                raise UsageError(f"--strategies: the strategy for {target.qualname} must give a dict of its "
                                 f"parameters ({', '.join(order)}), got {pair[0]!r:.120}")
            merged = {**pair[1], **pair[0]}  # the whole-call strategy wins where it gives a value
            return {k: merged[k] for k in sorted(merged, key=lambda k: order.index(k) if k in order else len(order))}

        strategy = st.tuples(whole, args_strategy(target.params, per)).map(merge)
    else:
        strategy = args_strategy(target.params, per)
    rng = random.Random(seed)
    stale_rounds = 0
    while len(planned) < n and stale_rounds < 3:
        before = len(planned)
        for values in _draw(strategy, max(10, (n - len(planned)) * 2), rng.randrange(2**32)):
            if len(planned) >= n:
                break
            add(values)
        stale_rounds = stale_rounds + 1 if len(planned) == before else 0
    return planned, duplicates, from_inputs


def capturing(target: Target, out: Path, finetune_format: FinetuneFormat, name: str | None) -> Callable[..., Any]:
    """The real function under the capture runtime, writing `finetune_format` lines to `out`.

    The runtime finds the project's lock file from the function's source folder, so the examples
    carry the locked prompt exactly as production capture would write them.
    """
    from ..runtime.instructions import Instructions

    instructions = Instructions(name=name or target.module.split(".")[0], finetune_format=finetune_format,
                                dataset=str(out))
    return instructions.distil(target.original)


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    except FileNotFoundError:
        return 0


def run_generate(
    target: Target,
    planned: Sequence[dict[str, Any]],
    *,
    out: Path,
    finetune_format: FinetuneFormat,
    name: str | None = None,
    timeout: float | None = None,
    requested: int | None = None,
    duplicates: int = 0,
    from_inputs: int = 0,
    seed: int = 0,
    progress: Progress | None = None,
) -> GenerateResult:
    start = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    fn = capturing(target, out, finetune_format, name)
    before = _count_lines(out)
    errors: Counter[str] = Counter()
    outputs = []
    for i, values in enumerate(planned, 1):
        args, kwargs = target.split(values)
        outcome = timed_call(fn, args, kwargs, timeout)
        if outcome.error is not None:
            errors[type(outcome.error).__name__] += 1
        elif isinstance(outcome.value, target.return_model):
            outputs.append(outcome.value)
        if progress is not None:
            progress(i, len(planned))
    written = _count_lines(out) - before
    return GenerateResult(
        function_id=target.function_id,
        requested=requested if requested is not None else len(planned),
        planned=len(planned),
        called=len(planned),
        written=written,
        duplicates=duplicates,
        errors=tuple(errors.most_common()),
        out=str(out),
        finetune_format=finetune_format,
        seed=seed,
        from_inputs=from_inputs,
        variety=measure_variety(target.return_model, outputs),
        seconds=time.perf_counter() - start,
    )


def generate(
    target: str,
    n: int = 100,
    *,
    out: str | Path | None = None,
    finetune_format: str | None = None,
    seed: int = 0,
    inputs: str | Path | None = None,
    strategies: str | None = None,
    timeout: float | None = None,
    mutate: bool = True,
    root: str | Path | None = None,
    progress: Progress | None = None,
) -> GenerateResult:
    """Resolve TARGET, plan `n` distinct argument sets and capture the real function's answers."""
    from ..config import load_config
    from ..contracts import FORMATS, one_of
    from .inputs import read_inputs
    from .strategies import load_user_strategies
    from .target import resolve_target

    require_hypothesis()
    start = Path(root) if root is not None else Path.cwd()
    path_part = target.rpartition(":")[0]
    if path_part.endswith(".py") and root is None:
        start = Path(path_part).resolve().parent
    config = load_config(start)
    fmt = one_of(finetune_format or config.finetune_format, FORMATS)
    if fmt is None:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {finetune_format!r}")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout must be positive, got {timeout}")
    resolved = resolve_target(target, config.root)
    given_inputs = read_inputs(Path(inputs), resolved) if inputs is not None else []
    spec = strategies or config.strategies
    user = load_user_strategies(spec, config.root) if spec else {}
    planned, duplicates, from_inputs = plan_inputs(resolved, n, seed=seed, inputs=given_inputs,
                                                   user_strategies=user, mutate=mutate)
    out_path = Path(out) if out is not None else config.path(config.dataset)
    return run_generate(resolved, planned, out=out_path, finetune_format=fmt, name=config.name,
                        timeout=timeout, requested=n, duplicates=duplicates, from_inputs=from_inputs,
                        seed=seed, progress=progress)
