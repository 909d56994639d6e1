"""The wall-time budget of a run (`--budget`): one clock from the start of `train` to its weights on
disk, what each part of the run used, and whether the next piece of work still fits.

The budget is checked before work starts, not after it ran: before each optimizer step the step's
own time and the cost of closing the epoch (validation loss, then exact match through llama.cpp)
must fit, so an epoch never closes past the budget. The close's cost is the last close's measured
one; before the first close it is the validation loss at one step per validation batch (a forward
pass costs less than a step) plus one scoring call timed before training times the validation
calls. Only the run's very first step is taken unchecked (nothing is known about its cost yet).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from .estimate import MatmulRates, fmt_seconds

__all__ = ["Budget", "PARTS", "MatmulRates", "one_epoch_refusal"]

PARTS = ("setup", "steps", "validation", "scoring", "growth", "writing")
"""Where a run's wall time goes, in order; `setup` is everything before the first step (checks,
the base, encoding, the teacher's probe, loading the weights)."""

_RECENT = 5
"""Steps whose times predict the next one (the slowest of them: the machine is shared)."""


class Budget:
    """The run's clock: elapsed wall time (an interrupted run's time included after --resume), the
    time of each part, and the estimates that decide whether the next step still fits."""

    def __init__(self, seconds: float, *, spent_before: float = 0.0, clock: Callable[[], float] = time.perf_counter):
        self.seconds = seconds
        self._clock = clock
        self._start = clock()
        self.before = spent_before
        """Wall seconds of earlier processes of the same run (--resume)."""
        self.used = dict.fromkeys(PARTS, 0.0)
        self.recent_steps: tuple[float, ...] = ()
        self.last_validation: float | None = None
        self.last_scoring: float | None = None
        self.scoring_guess = 0.0
        """The first close's scoring cost, before any close was measured (set from a timed call)."""
        self.writing_guess = 0.0
        """Writing the weights at the end (reserved from the first step on)."""
        self.growth_per_call = 0.0
        """Seconds per teacher-labelled call (timed on the teacher's probe, then on each growth)."""

    def elapsed(self) -> float:
        return self.before + self._clock() - self._start

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        t0 = self._clock()
        try:
            yield
        finally:
            self.used[name] += self._clock() - t0

    def step_done(self, seconds: float) -> None:
        self.used["steps"] += seconds
        self.recent_steps = (self.recent_steps + (seconds,))[-_RECENT:]

    def closed(self, validation: float, scoring: float) -> None:
        self.last_validation, self.last_scoring = validation, scoring

    def step_estimate(self) -> float | None:
        return max(self.recent_steps) if self.recent_steps else None

    def close_estimate(self, val_batches: int, scored: bool) -> float:
        """What closing an epoch will cost: the last close's measured time, else the first-close estimate."""
        step = self.step_estimate() or 0.0
        validation = self.last_validation if self.last_validation is not None else step * val_batches
        scoring = (self.last_scoring if self.last_scoring is not None else self.scoring_guess) if scored else 0.0
        return validation + scoring

    def fits(self, seconds: float) -> bool:
        """Would work of `seconds`, and then writing the weights, end within the budget?"""
        return self.elapsed() + seconds + self.writing_guess <= self.seconds

    def step_fits(self, val_batches: int, scored: bool) -> bool:
        """Another optimizer step and the epoch's close fit (always true before any step was timed)."""
        step = self.step_estimate()
        return step is None or self.fits(step + self.close_estimate(val_batches, scored))

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps, so a resumed run counts the time already spent."""
        return {"elapsed": self.elapsed(), "used": dict(self.used), "recent_steps": list(self.recent_steps),
                "last_validation": self.last_validation, "last_scoring": self.last_scoring,
                "guesses": [self.scoring_guess, self.writing_guess, self.growth_per_call]}

    def restore(self, saved: dict[str, Any]) -> None:
        """Add an interrupted run's time (its parts count on; this process's setup stays its own)."""
        self.before += float(saved.get("elapsed", 0.0))
        for k, v in saved.get("used", {}).items():
            if k in self.used:
                self.used[k] += float(v)
        self.recent_steps = tuple(saved.get("recent_steps", ())) or self.recent_steps
        self.last_validation = saved.get("last_validation", self.last_validation)
        self.last_scoring = saved.get("last_scoring", self.last_scoring)
        if "guesses" in saved:
            self.scoring_guess, self.writing_guess, self.growth_per_call = map(float, saved["guesses"])

    def as_dict(self) -> dict[str, Any]:
        """model.json's `budget`: the budget, the wall time spent, and each part's share of it."""
        spent = self.elapsed()
        return {"seconds": self.seconds, "spent": round(spent, 3),
                "parts": {k: round(v, 3) for k, v in self.used.items()},
                "other": round(max(0.0, spent - sum(self.used.values())), 3)}

    def describe(self) -> str:
        parts = ", ".join(f"{k} {fmt_seconds(v)}" for k, v in self.used.items() if v >= 0.5)
        return f"budget {fmt_seconds(self.seconds)}: used {fmt_seconds(self.elapsed())} ({parts})"


def one_epoch_refusal(*, epoch_seconds_at: Callable[[float], float], rates: MatmulRates, steps: int,
                      budget_seconds: float, spent_seconds: float, close_seconds: float = 0.0) -> str | None:
    """Refuse a budget shorter than one epoch only when even the optimistic estimate (the best rate
    measured) says so: a run that might fit starts, and the in-loop budget stops it if it does not.
    `epoch_seconds_at(rate)` is one epoch's steps at `rate` FLOP/s; `close_seconds` the least its
    close (exact-match scoring) costs, once one scoring call was timed."""
    optimistic = epoch_seconds_at(rates.best) + close_seconds
    if spent_seconds + optimistic <= budget_seconds:
        return None
    now = epoch_seconds_at(rates.wall) + close_seconds
    close = f" and at least {fmt_seconds(close_seconds)} to score it" if close_seconds else ""
    spent = f"; {fmt_seconds(spent_seconds)} of it already went to setup" if spent_seconds >= 1 else ""
    return (f"--budget {fmt_seconds(budget_seconds)} is less than one epoch (about {fmt_seconds(optimistic)} for "
            f"{steps} steps{close} on this machine at its best measured rate, {rates.best / 1e9:.1f} GFLOP/s; "
            f"{fmt_seconds(now)} at this moment's {rates.wall / 1e9:.1f}{spent}); raise --budget, or train on fewer "
            f"examples")
