"""The LoRA training loop: deterministic on the CPU, interruptible, resumable.

A plain loop rather than transformers' Trainer: it keeps the loss on answer tokens only (the LM head
runs on those positions alone, which saves most of its cost and memory), makes every random choice
from the seed (batch order per epoch, LoRA init, dropout), and saves a checkpoint at a step
boundary when asked to stop, so `--resume` continues exactly where an uninterrupted run would be.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import DistilgenError
from .budget import Budget
from .encode import IGNORE, Encoded

__all__ = ["TrainSettings", "Progress", "LoopResult", "Carry", "TrainingInterrupted", "train_loop", "step_plan",
           "DEFAULT_TARGETS", "total_steps", "shared_prefix_len", "answer_loss_sum"]

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 3
    learning_rate: float = 2e-3
    """2e-3 with r=16 on all layers took the keyword classifier to 95% in 96 steps (docs/performance.md)."""
    batch_size: int = 8
    grad_accum: int = 1
    seed: int = 0
    val_split: float = 0.1
    patience: int = 2
    """Stop after this many epochs without a better validation loss (0: never stop early). When exact
    match is measured, this many epochs without a higher exact match is a stall: the data grows (a
    teacher is known) or training stops."""
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    lora_layers: int | None = None
    """Adapt only the top N transformer layers (None: all). Backward then stops at the lowest adapted
    layer, so fewer layers train much faster on a CPU."""
    max_seq_len: int = 512
    max_steps: int | None = None
    """Stop after this many optimizer steps in all (None: run every epoch)."""
    threads: int = 2
    warmup_fraction: float = 0.06
    target: float = 0.95
    """Stop once exact match on the validation split (asked as the served model is) reaches this."""
    budget_seconds: float = 900.0
    """Wall time for the whole run, the close of every epoch included: no step starts whose epoch
    could not close within it (train/budget.py); the best adapter so far is kept."""
    grow_rounds: int = 3
    """How many times the training data may grow (train/grow.py) when exact match stalls below target."""

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs, "learning_rate": self.learning_rate, "batch_size": self.batch_size,
            "grad_accum": self.grad_accum, "seed": self.seed, "val_split": self.val_split,
            "patience": self.patience, "lora_r": self.lora_r, "lora_alpha": self.lora_alpha,
            "lora_dropout": self.lora_dropout, "target_modules": list(self.target_modules),
            "lora_layers": self.lora_layers,
            "max_seq_len": self.max_seq_len, "max_steps": self.max_steps, "warmup_fraction": self.warmup_fraction,
            "target": self.target, "budget_seconds": self.budget_seconds, "grow_rounds": self.grow_rounds,
        }


@dataclass(frozen=True)
class Progress:
    kind: str
    """`step` (after each optimizer step), `epoch` (after validation), `info` (a message)."""
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    epochs: int = 0
    loss: float | None = None
    val_loss: float | None = None
    examples_per_second: float = 0.0
    eta_seconds: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class LoopResult:
    step_losses: tuple[float, ...]
    epoch_losses: tuple[float, ...]
    val_losses: tuple[float, ...]
    best_epoch: int | None
    stopped_early: bool
    steps: int
    seconds: float
    resumed_from: int | None = None
    exact_matches: tuple[float | None, ...] = ()
    """Per epoch: exact match on the validation split through constrained decoding (None: not measured)."""
    stop_reason: str = "epochs"
    """`target` reached, `budget` spent, `stall` (no higher exact match for `patience` epochs), `patience`
    (no better validation loss, exact match not measured), `epochs` or `max_steps` done."""
    best: "Best | None" = None
    """The best adapter so far (this round's or an earlier round's): what the model now holds."""


@dataclass(frozen=True)
class Best:
    key: float
    """Lower is better: -exact match (+ validation loss * 1e-6 to break ties), or validation loss."""
    epoch: int
    """Counted over all rounds."""
    lora: dict[str, Any]
    exact: float | None


@dataclass(frozen=True)
class Carry:
    """What earlier growth rounds hand the next one: totals so far and the best adapter to beat."""
    epochs: int = 0
    steps: int = 0
    seconds: float = 0.0
    best: Best | None = None


class TrainingInterrupted(DistilgenError):
    """Ctrl-C (or SIGTERM) during training: a checkpoint was saved; `--resume` continues."""

    def __init__(self, step: int, total: int, checkpoint: Path) -> None:
        self.step = step
        self.checkpoint = checkpoint
        super().__init__(f"interrupted after step {step}/{total}: checkpoint saved in {checkpoint}; "
                         f"run the same command with --resume to continue")


def step_plan(n: int, settings: TrainSettings, epoch: int) -> list[list[list[int]]]:
    """Optimizer steps of one epoch, each a list of micro-batches of example indices (seeded order)."""
    import torch

    gen = torch.Generator().manual_seed(settings.seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=gen).tolist()
    micro = [order[i:i + settings.batch_size] for i in range(0, n, settings.batch_size)]
    return [micro[i:i + settings.grad_accum] for i in range(0, len(micro), settings.grad_accum)]


def _collate(torch: Any, items: Sequence[Encoded], pad_id: int) -> tuple[Any, Any, Any]:
    width = max(len(e) for e in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for i, e in enumerate(items):
        n = len(e)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return ids, labels, mask


MIN_SHARED_PREFIX = 16
"""Below this many shared leading tokens a batch runs whole: the saving would not pay for the cache."""


def shared_prefix_len(items: Sequence[Encoded]) -> int:
    """Leading tokens every example of the batch has in common, stopping at least one token short of
    the shortest prompt (the position before an answer's first token must be computed per example).
    One function's examples share the whole system prompt, most of each sequence."""
    if len(items) < 2:
        return 0
    limit = min(e.prompt_len for e in items) - 1
    first = items[0].input_ids
    n = 0
    while n < limit and all(e.input_ids[n] == first[n] for e in items):
        n += 1
    return n if n >= MIN_SHARED_PREFIX else 0


@functools.lru_cache(maxsize=None)
def _cache_keyword(model_class: Any) -> str:
    """transformers 5.2x renamed `past_key_values` (forward argument and output field) to `cache`."""
    import inspect

    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


def answer_loss_sum(torch: Any, causal_lm: Any, ids: Any, labels: Any, mask: Any, prefix: int = 0) -> tuple[Any, int]:
    """(sum of cross-entropy over answer tokens, their count). The LM head sees answer positions only.

    With `prefix` > 0 the batch's shared leading tokens run once (batch of one) and their key/value
    cache is repeated across the batch, with gradients flowing back through it: the same loss as
    running every row whole, at a fraction of the cost when the shared system prompt dominates."""
    if prefix:
        batch = ids.shape[0]
        keyword = _cache_keyword(causal_lm.model.__class__)
        head = causal_lm.model(input_ids=ids[:1, :prefix], use_cache=True)
        cache = getattr(head, keyword)
        cache.batch_repeat_interleave(batch)
        hidden = causal_lm.model(input_ids=ids[:, prefix:], attention_mask=mask, use_cache=True,
                                 **{keyword: cache}).last_hidden_state
        target = labels[:, prefix + 1:]
    else:
        hidden = causal_lm.model(input_ids=ids, attention_mask=mask).last_hidden_state
        target = labels[:, 1:]
    keep = target != IGNORE
    h = hidden[:, :-1][keep]
    logits = causal_lm.lm_head(h).float()
    loss = torch.nn.functional.cross_entropy(logits, target[keep], reduction="sum")
    return loss, int(keep.sum())


class _StopFlag:
    """First Ctrl-C/SIGTERM asks the loop to stop at the next step boundary; a second one is immediate."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _lora_state(model: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}


def _load_lora_state(model: Any, state: dict[str, Any]) -> None:
    params = dict(model.named_parameters())
    for k, v in state.items():
        params[k].data.copy_(v)


@dataclass(frozen=True)
class _Round:
    """What one call of `train_loop` holds fixed: the model, its optimizer and schedule, the data, the
    step budget and the caller's hooks. The steps below read it; only `_LoopState` changes."""
    model: Any
    causal_lm: Any
    params: list[Any]
    optimizer: Any
    scheduler: Any
    train: Sequence[Encoded]
    val: Sequence[Encoded]
    settings: TrainSettings
    pad_id: int
    checkpoint_dir: Path
    steps_per_epoch: int
    total: int
    carry: Carry
    progress: Callable[[Progress], None]
    stop: Callable[[], bool] | None
    score_epoch: Callable[[int], float | None] | None
    extra_state: Callable[[], dict[str, Any]] | None
    budget: Budget
    """The run's clock (shared by every round): the wall-time budget and what each part used."""


@dataclass(frozen=True)
class _LoopState:
    """Everything the loop learns as it runs (replaced, never changed, after each step and epoch);
    what a checkpoint saves beside the weights, the optimizer and the RNG."""
    step: int = 0
    step_losses: tuple[float, ...] = ()
    epoch_losses: tuple[float, ...] = ()
    val_losses: tuple[float, ...] = ()
    exacts: tuple[float | None, ...] = ()
    best: Best | None = None
    bad_epochs: int = 0
    resumed_from: int | None = None
    recent_step_seconds: tuple[float, ...] = ()
    """The last five steps' times in this process (the ETA); empty until a step ran here."""
    stop_reason: str = "epochs"
    stopped_early: bool = False
    finished: bool = False
    """No further epoch: the target, the budget, patience or the step count ended the round."""


def train_loop(
    model: Any,
    train: Sequence[Encoded],
    val: Sequence[Encoded],
    settings: TrainSettings,
    *,
    pad_id: int,
    checkpoint_dir: Path,
    resume_state: dict[str, Any] | None,
    progress: Callable[[Progress], None],
    stop: Callable[[], bool] | None = None,
    score_epoch: Callable[[int], float | None] | None = None,
    carry: Carry | None = None,
    extra_state: Callable[[], dict[str, Any]] | None = None,
    budget: Budget | None = None,
) -> LoopResult:
    """Train `model` (a peft model on the CPU) in place and return its losses. After each epoch
    `score_epoch(epoch)` may measure exact match; the best epoch is then the one with the highest
    exact match (validation loss breaks ties), and reaching `settings.target` stops training.

    One call is one round on fixed data (fresh optimizer and schedule); `carry` continues the epoch
    and step counts, the wall time and the best adapter of earlier rounds (train/grow.py), and
    `extra_state()` is saved in the checkpoint beside the loop's own state. `budget` is the run's
    clock (a fresh one from `settings.budget_seconds` and `carry.seconds` when not given)."""
    import torch

    carry = carry or Carry()
    budget = budget or Budget(settings.budget_seconds, spent_before=carry.seconds)
    r = _new_round(model, train, val, settings, pad_id, checkpoint_dir, progress, stop, score_epoch, carry, extra_state,
                   budget)
    state = _LoopState(best=carry.best)
    if resume_state is not None:
        state = _resume(r, resume_state, state)
    model.train()
    with _StopFlag() as flag:
        first_epoch = state.step // r.steps_per_epoch if r.steps_per_epoch else 0
        for epoch in range(first_epoch, settings.epochs):
            state, ran = _run_epoch_steps(r, state, epoch, flag, torch)
            state = _close_epoch(r, state, epoch, ran, torch)
            if state.finished:
                break
    _keep_best_adapter(r, state)
    return LoopResult(state.step_losses, state.epoch_losses, state.val_losses, state.best.epoch if state.best else None,
                      state.stopped_early, state.step, budget.elapsed(), state.resumed_from, state.exacts,
                      state.stop_reason, state.best)


def _new_round(model: Any, train: Sequence[Encoded], val: Sequence[Encoded], settings: TrainSettings, pad_id: int,
               checkpoint_dir: Path, progress: Callable[[Progress], None], stop: Callable[[], bool] | None,
               score_epoch: Callable[[int], float | None] | None, carry: Carry,
               extra_state: Callable[[], dict[str, Any]] | None, budget: Budget) -> _Round:
    """A fresh optimizer and learning-rate schedule for this round's data, seeded first so that the
    round draws the same random numbers every time it runs."""
    import torch

    torch.manual_seed(settings.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    steps_per_epoch = len(step_plan(len(train), settings, 0))
    total = steps_per_epoch * settings.epochs
    if settings.max_steps is not None:  # --max-steps counts over all rounds
        total = max(0, min(total, settings.max_steps - carry.steps))
    warmup = max(1, int(total * settings.warmup_fraction)) if total > 4 else 0
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(total, warmup))
    return _Round(model, model.get_base_model(), params, optimizer, scheduler, train, val, settings, pad_id,
                  checkpoint_dir, steps_per_epoch, total, carry, progress, stop, score_epoch, extra_state, budget)


def _lr_factor(total: int, warmup: int) -> Callable[[int], float]:
    """Linear warm-up, then linear decay to a tenth. A plain function, not a callable object: LambdaLR
    saves a callable object's attributes in its state dict (and so in the checkpoint)."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        span = max(1, total - warmup)
        return max(0.1, 1.0 - 0.9 * (step - warmup) / span)

    return factor


def _resume(r: _Round, saved: dict[str, Any], state: _LoopState) -> _LoopState:
    """Put the weights, optimizer, schedule and RNG back as the checkpoint left them, so the steps
    that follow are the ones an uninterrupted run would take."""
    import torch

    _load_lora_state(r.model, saved["lora"])
    r.optimizer.load_state_dict(saved["optimizer"])
    r.scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"])
    step = int(saved["step"])
    b = saved.get("best")
    r.budget.restore(saved.get("budget") or {"elapsed": saved.get("seconds", 0.0)})
    r.progress(Progress("info", step=step, total_steps=r.total, message=f"resumed from step {step}/{r.total}"))
    return dataclasses.replace(
        state, step=step, resumed_from=step, step_losses=tuple(saved["step_losses"]),
        epoch_losses=tuple(saved["epoch_losses"]), val_losses=tuple(saved["val_losses"]),
        bad_epochs=int(saved["bad_epochs"]),
        exacts=tuple(saved.get("exacts", [])),
        best=state.best if b is None else Best(b["loss"], b["epoch"], b["lora"], b.get("exact")))


def _run_epoch_steps(r: _Round, state: _LoopState, epoch: int, flag: _StopFlag, torch: Any) -> tuple[_LoopState, bool]:
    """The epoch's optimizer steps (from where a resumed run stopped), ending early at the step count
    or when the next step and the epoch's close would not fit in the budget; a stop request saves a
    checkpoint at this step boundary and raises. Also says whether any step ran."""
    plan = step_plan(len(r.train), r.settings, r.carry.epochs + epoch)
    ran = False
    val_batches = math.ceil(len(r.val) / r.settings.batch_size)
    for micro_batches in plan[state.step - epoch * r.steps_per_epoch:]:
        if state.step >= r.total:
            break
        if not r.budget.step_fits(val_batches, scored=r.score_epoch is not None and bool(r.val)):
            state = dataclasses.replace(state, stop_reason="budget")
            break
        if flag.requested or (r.stop is not None and r.stop()):
            _save_checkpoint(r, state, torch)
            raise TrainingInterrupted(state.step, r.total, r.checkpoint_dir)
        state = _optimizer_step(r, state, epoch, micro_batches, torch)
        ran = True
    if ran:  # over the whole epoch, also the steps before a resume
        done = state.step_losses[epoch * r.steps_per_epoch:state.step]
        state = dataclasses.replace(state, epoch_losses=state.epoch_losses + (sum(done) / len(done),))
    return state, ran


def _optimizer_step(r: _Round, state: _LoopState, epoch: int, micro_batches: list[list[int]], torch: Any) -> _LoopState:
    """One optimizer step over its micro-batches; the loss is the mean over the step's answer tokens."""
    t0 = time.perf_counter()
    r.optimizer.zero_grad(set_to_none=True)
    items = [[r.train[i] for i in mb] for mb in micro_batches]
    n_tokens = sum(sum(1 for t in e.labels[1:] if t != IGNORE) for mb in items for e in mb)
    step_loss = 0.0
    for mb in items:
        ids, labels, mask = _collate(torch, mb, r.pad_id)
        loss, _ = answer_loss_sum(torch, r.causal_lm, ids, labels, mask, shared_prefix_len(mb))
        (loss / max(1, n_tokens)).backward()
        step_loss += float(loss.detach())
    torch.nn.utils.clip_grad_norm_(r.params, 1.0)
    r.optimizer.step()
    r.scheduler.step()
    step = state.step + 1
    mean = step_loss / max(1, n_tokens)
    dt = time.perf_counter() - t0
    r.budget.step_done(dt)
    recent = (state.recent_step_seconds + (dt,))[-5:]
    per_step = sum(recent) / len(recent)
    n_examples = sum(len(mb) for mb in items)
    r.progress(Progress("step", step=step, total_steps=r.total, epoch=epoch + 1, epochs=r.settings.epochs,
                        loss=mean, examples_per_second=n_examples / dt if dt else 0.0,
                        eta_seconds=per_step * (r.total - step)))
    return dataclasses.replace(state, step=step, step_losses=state.step_losses + (mean,), recent_step_seconds=recent)


def _close_epoch(r: _Round, state: _LoopState, epoch: int, ran: bool, torch: Any) -> _LoopState:
    """After an epoch's steps: validate (when there is validation data) and decide whether the round
    ends here (target reached, budget spent, patience run out, or every step taken). An epoch the
    budget ended before its first step has nothing new to validate."""
    if state.stop_reason == "budget" and not ran:
        return dataclasses.replace(state, finished=True)
    if r.val:
        state = _validate(r, state, epoch, torch)
        state = _stop_after_validation(r, state)
        if state.finished:
            return state
    if state.stop_reason == "budget":
        return dataclasses.replace(state, finished=True)
    if state.step >= r.total:
        hit_max_steps = r.settings.max_steps is not None and r.total == r.settings.max_steps - r.carry.steps
        return dataclasses.replace(state, finished=True, stop_reason="max_steps" if hit_max_steps else state.stop_reason)
    return state


def _validate(r: _Round, state: _LoopState, epoch: int, torch: Any) -> _LoopState:
    """Validation loss and exact match of the epoch: keep the adapter when it is the best so far, and
    count the epochs without progress."""
    t0 = time.perf_counter()
    with r.budget.part("validation"):
        v = _val_loss(r, torch)
    t1 = time.perf_counter()
    with r.budget.part("scoring"):
        exact = r.score_epoch(epoch + 1) if r.score_epoch is not None else None
    r.budget.closed(t1 - t0, time.perf_counter() - t1)
    best = state.best
    # higher exact match wins; validation loss decides when exact match is not measured or ties
    key = v if exact is None else -exact + v * 1e-6
    higher = exact is not None and (best is None or best.exact is None or exact > best.exact + 1e-9)
    better = best is None or key < best.key - (1e-4 if exact is None else 1e-9)
    if better:
        best = Best(key, r.carry.epochs + epoch + 1, _lora_state(r.model), exact)
    # a stall is counted on exact match alone when it is measured (a lower loss at the
    # same exact match keeps the better adapter but is no progress toward the target)
    bad_epochs = 0 if (higher if exact is not None else better) else state.bad_epochs + 1
    r.progress(Progress("epoch", step=state.step, total_steps=r.total, epoch=epoch + 1, epochs=r.settings.epochs,
                        loss=state.epoch_losses[-1] if state.epoch_losses else None, val_loss=v,
                        message="" if exact is None else f"exact match {exact:.1%}"))
    return dataclasses.replace(state, val_losses=state.val_losses + (v,), exacts=state.exacts + (exact,), best=best,
                               bad_epochs=bad_epochs)


def _stop_after_validation(r: _Round, state: _LoopState) -> _LoopState:
    """The round ends at the target (even past the budget), at the budget, or after `patience`
    epochs without progress while steps remain (a stall when exact match is measured)."""
    exact = state.exacts[-1]
    if exact is not None and exact >= r.settings.target:
        return dataclasses.replace(state, stop_reason="target", finished=True)
    if state.stop_reason == "budget":
        return dataclasses.replace(state, finished=True)
    if r.settings.patience and state.bad_epochs >= r.settings.patience and state.step < r.total:
        what = "validation loss" if exact is None else "exact match"
        r.progress(Progress("info", step=state.step, total_steps=r.total,
                            message=f"early stop: {what} has not improved for {state.bad_epochs} epochs"))
        return dataclasses.replace(state, stopped_early=True, stop_reason="patience" if exact is None else "stall",
                                   finished=True)
    return state


def _val_loss(r: _Round, torch: Any) -> float:
    """Mean loss per answer token over the validation examples, without gradients."""
    r.model.eval()
    total_loss, total_tokens = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(r.val), r.settings.batch_size):
            chunk = r.val[i:i + r.settings.batch_size]
            ids, labels, mask = _collate(torch, chunk, r.pad_id)
            loss, n = answer_loss_sum(torch, r.causal_lm, ids, labels, mask, shared_prefix_len(chunk))
            total_loss += float(loss)
            total_tokens += n
    r.model.train()
    return total_loss / max(1, total_tokens)


def _save_checkpoint(r: _Round, state: _LoopState, torch: Any) -> None:
    """Write the state `--resume` needs (atomically: a second Ctrl-C never leaves half a file)."""
    r.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    best = state.best
    saved = {
        "step": state.step, "lora": _lora_state(r.model), "optimizer": r.optimizer.state_dict(),
        "scheduler": r.scheduler.state_dict(), "rng": torch.get_rng_state(), "step_losses": list(state.step_losses),
        "epoch_losses": list(state.epoch_losses), "val_losses": list(state.val_losses), "bad_epochs": state.bad_epochs,
        "seconds": r.budget.elapsed(), "budget": r.budget.state(),
        "best": None if best is None else {"loss": best.key, "epoch": best.epoch, "lora": best.lora, "exact": best.exact},
        "exacts": list(state.exacts), **(r.extra_state() if r.extra_state is not None else {}),
    }
    tmp = r.checkpoint_dir / "state.pt.tmp"
    torch.save(saved, tmp)
    tmp.replace(r.checkpoint_dir / "state.pt")


def _keep_best_adapter(r: _Round, state: _LoopState) -> None:
    """Leave the model holding the best epoch's adapter (this round's or an earlier round's), not the last."""
    best = state.best
    if best is not None and state.val_losses and best.epoch != r.carry.epochs + len(state.val_losses):
        _load_lora_state(r.model, best.lora)
        why = "best exact match" if best.exact is not None else "best validation loss"
        r.progress(Progress("info", step=state.step, total_steps=r.total,
                            message=f"kept the adapter of epoch {best.epoch} ({why})"))


def total_steps(n_train: int, settings: TrainSettings) -> int:
    per_epoch = math.ceil(math.ceil(n_train / settings.batch_size) / settings.grad_accum)
    total = per_epoch * settings.epochs
    return min(total, settings.max_steps) if settings.max_steps is not None else total

