"""Growing the training data when exact match stalls below target: new calls labelled by the real function.

The function a dataset was captured from is the teacher: it is importable (`--function`, resolved
by `evals.target`), deterministic in the common case, and always right. When a round of training
stalls below target (see `train/run.py`), the data grows by as many examples as it holds (at least
MIN_GROWTH): half mutations of the validation calls the model answered wrongly, the rest drawn
from the function's signature, both planned by `evals.generate.plan_inputs` (hypothesis, seeded:
the same seed draws the same calls). Every new call is rendered exactly as capture renders it,
answered by the teacher, and kept only if it is in neither the training nor the validation data.
Validation stays real calls: the target is measured on them.
"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import BaseModel

from ..errors import UsageError
from ..ops.shapes import USER_PREFIX
from ..runtime.calls import render_call, render_value
from ..runtime.formats import (SerializedAnswer, SubclassAnswer, UnwritableAnswer, ZonedAnswer, answer_json,
                               check_zones, dumps, nested_models, own_serializer, read_back, validated_as, whole_answer)
from .data import Example

__all__ = ["Teacher", "Growth", "MIN_GROWTH", "PROBE_CALLS", "CALL_TIMEOUT", "teacher_for"]

MIN_GROWTH = 16
"""A round adds at least this many examples (else as many as the training data already holds)."""
PROBE_CALLS = 20
"""Calls drawn from the signature before any training, to refuse a teacher that raises on most inputs."""
CALL_TIMEOUT = 10.0
"""Seconds one teacher call may take; a slower call counts as a failure."""


@dataclass(frozen=True)
class Growth:
    """One round of growth, as model.json and the report record it."""
    round: int
    added: int
    from_mistakes: int
    """Mutations of validation calls the model answered wrongly."""
    from_strategies: int
    """Calls drawn from the function's signature (and the project's strategies)."""
    duplicates: int
    """Drawn calls left out because the training or validation data already held them."""
    calls: int
    """Calls the teacher was asked to answer."""
    teacher_errors: int
    first_error: str | None

    @property
    def teacher_failed(self) -> bool:
        """The teacher raised on most of the calls: its labels cannot be trusted to grow the data."""
        return self.teacher_errors * 2 > self.calls > 0

    def as_dict(self) -> dict[str, Any]:
        return {"round": self.round, "added": self.added, "from_mistakes": self.from_mistakes,
                "from_strategies": self.from_strategies, "duplicates": self.duplicates, "calls": self.calls,
                "teacher_errors": self.teacher_errors, "first_error": self.first_error}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


class Teacher:
    """Labels calls of one function with the function itself, as training examples of `like`."""

    def __init__(self, target: Any, like: Example, user_strategies: Mapping[str, Any] | None = None) -> None:
        self.target = target
        self.like = like
        self.user_strategies = dict(user_strategies or {})
        first = next(iter(target.params.values()), None)
        # a model method's receiver renders in front of the name, as capture writes it (`spec.callee`)
        self.method = (inspect.isclass(first) and issubclass(first, BaseModel)
                       and target.qualname.startswith(first.__qualname__ + "."))

    def render(self, values: dict[str, Any]) -> str:
        args, kwargs = self.target.split(values)
        if self.method and args:
            return USER_PREFIX + render_call(f"{render_value(args[0])}.{self.target.name}", args[1:], kwargs,
                                             tuple(self.target.params)[1:])
        return USER_PREFIX + render_call(self.target.name, args, kwargs, tuple(self.target.params))

    def label(self, values: dict[str, Any], where: str) -> tuple[Example | None, str | None]:
        """(the example, None) or (None, the error's first line)."""
        from ..evals.calling import timed_call

        args, kwargs = self.target.split(values)
        outcome = timed_call(self.target.original, args, kwargs, CALL_TIMEOUT)
        if outcome.error is not None:
            return None, _first_line(outcome.error)
        value = outcome.value
        if not isinstance(value, self.target.return_model):
            return None, f"TypeError: returned {type(value).__name__}, not {self.target.return_model.__name__}"
        try:  # only answers capture would write
            if type(value) is not self.target.return_model:  # a subclass: only as the declared class
                value, _ = validated_as(self.target.return_model, value)
            elif own_serializer(type(value)):  # its own serializers: an answer that reads back as itself
                value, _ = read_back(type(value), value)
            elif any(c.__subclasses__() for c in nested_models(type(value))):  # a subclass held in a field
                whole_answer(value, answer_json(value))
            written = answer_json(value)  # a placeholder JSON cannot write: UnwritableAnswer
            check_zones(value, written)  # a zone with daylight saving, written as a fixed offset
        except (SubclassAnswer, SerializedAnswer, UnwritableAnswer, ZonedAnswer) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        # keyed as the tool schema keys it (by alias), as capture writes it
        answer = dumps(json.loads(written))
        e = self.like
        return Example(where, self.target.function_id, e.call_name, e.tool_name, e.system, self.render(values),
                       answer, e.schema_json), None

    def _plan(self, n: int, seed: int, bases: Sequence[dict[str, Any]] = (), close: bool = False) -> list[dict[str, Any]]:
        from ..evals.generate import plan_inputs

        if n <= 0:
            return []
        planned, _, from_bases = plan_inputs(self.target, len(bases) + n, seed=seed, inputs=list(bases),
                                             user_strategies=self.user_strategies, mutate=True, close=close)
        return planned[from_bases:]  # the bases themselves are already in the data

    def probe(self, seed: int) -> None:
        """Refuse, before any training, a teacher that raises on most calls drawn from its signature."""
        calls = self._plan(PROBE_CALLS, seed)
        errors = [err for values in calls for err in [self.label(values, "probe")[1]] if err is not None]
        if calls and len(errors) * 2 > len(calls):
            raise UsageError(
                f"--function {self.target.function_id}: the function raised on {len(errors)} of {len(calls)} calls "
                f"drawn from its signature (first: {errors[0]}); growing the data needs a teacher that answers: give "
                f"strategies that draw valid inputs ([tool.distilgen] strategies), or pass --grow-rounds 0")

    def inputs_of(self, examples: Sequence[Example]) -> list[dict[str, Any]]:
        """The argument dicts of examples (their rendered calls read back without eval); unreadable ones left out."""
        from ..evals.inputs import parse_rendered_call

        out = []
        for e in examples:
            try:
                values = parse_rendered_call(e.user, self.target, e.where)
            except UsageError:
                continue
            if values is not None:
                out.append(values)
        return out

    def grow(self, n: int, mistakes: Sequence[Example], seen: set[str], seed: int, round_no: int,
             around: Sequence[Example] = ()) -> tuple[list[Example], Growth]:
        """Up to `n` new examples, none of whose calls is in `seen` (which is updated): half edits of the
        texts of `mistakes` (the calls the model answered wrongly), the rest drawn by `generate`'s
        strategies around the captured calls `around` (mutations or fresh draws from the signature).
        `Growth.teacher_failed` says whether the teacher raised on most calls."""
        bases = self.inputs_of(mistakes)
        want_mut = n // 2 if bases else 0
        # plan twice what is needed: some drawn calls are already in the data
        mutated = self._plan(2 * want_mut, seed * 7919 + 2 * round_no, bases, close=True)
        fresh = self._plan(2 * n, seed * 7919 + 2 * round_no + 1, self.inputs_of(around))
        where = f"grown in round {round_no}"
        new: list[Example] = []
        counts = {"mutation": 0, "strategy": 0}
        duplicates = 0
        errors: list[str] = []
        calls = 0
        for source, pool, quota in (("mutation", mutated, want_mut), ("strategy", fresh, n)):
            for values in pool:
                if len(new) >= n or counts[source] >= quota:
                    break
                user = self.render(values)
                if user in seen:
                    duplicates += 1
                    continue
                calls += 1
                example, error = self.label(values, where)
                if example is None:
                    errors.append(error or "")
                    continue
                seen.add(user)
                new.append(example)
                counts[source] += 1
        return new, Growth(round_no, len(new), counts["mutation"], counts["strategy"], duplicates, calls,
                           len(errors), errors[0] if errors else None)


def teacher_for(function_id: str | None, examples: Sequence[Example], root: Path | None) -> tuple[Teacher | None, str | None]:
    """(the teacher, None) or (None, why the data cannot grow), for the report."""
    if function_id is None:
        return None, ("no teacher: pass --function module:qualname of an importable function to grow the data "
                      "when exact match stalls below target")
    from ..errors import MissingExtraError
    from ..evals.strategies import load_user_strategies, require_hypothesis
    from ..evals.target import resolve_target

    try:
        require_hypothesis()
    except MissingExtraError as exc:
        return None, f"drawing new calls needs the '{exc.extra}' extra ({exc.package}): pip install 'distilgen[{exc.extra}]'"
    try:
        target = resolve_target(function_id, root)
    except UsageError as exc:
        return None, f"the teacher cannot be imported ({exc})"
    user: Mapping[str, Any] = {}
    if root is not None:
        from ..config import load_config

        config = load_config(root)
        if config.strategies:
            user = load_user_strategies(config.strategies, config.root)
    common = Counter(e.system for e in examples).most_common(1)[0][0]  # the prompt (nearly) all share
    return Teacher(target, next(e for e in examples if e.system == common), user), None
