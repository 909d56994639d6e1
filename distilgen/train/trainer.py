"""The LoRA training loop: deterministic on the CPU, interruptible, resumable.

A plain loop rather than transformers' Trainer: it keeps the loss on answer tokens only (the LM head
runs on those positions alone, which saves most of its cost and memory), makes every random choice
from the seed (batch order per epoch, LoRA init, dropout), and saves a checkpoint at a step
boundary when asked to stop, so `--resume` continues exactly where an uninterrupted run would be.
"""

from __future__ import annotations

import functools
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import DistilgenError
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
    """Stop training after this much wall time (the best adapter so far is kept)."""
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
) -> LoopResult:
    """Train `model` (a peft model on the CPU) in place and return its losses. After each epoch
    `score_epoch(epoch)` may measure exact match; the best epoch is then the one with the highest
    exact match (validation loss breaks ties), and reaching `settings.target` stops training.

    One call is one round on fixed data (fresh optimizer and schedule); `carry` continues the epoch
    and step counts, the wall time and the best adapter of earlier rounds (train/grow.py), and
    `extra_state()` is saved in the checkpoint beside the loop's own state."""
    import torch

    carry = carry or Carry()
    torch.manual_seed(settings.seed)
    causal_lm = model.get_base_model()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    steps_per_epoch = len(step_plan(len(train), settings, 0))
    total = steps_per_epoch * settings.epochs
    if settings.max_steps is not None:
        total = max(0, min(total, settings.max_steps - carry.steps))
    warmup = max(1, int(total * settings.warmup_fraction)) if total > 4 else 0

    def lr_factor(step: int) -> float:  # linear warm-up, then linear decay to a tenth
        if step < warmup:
            return (step + 1) / (warmup + 1)
        span = max(1, total - warmup)
        return max(0.1, 1.0 - 0.9 * (step - warmup) / span)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    step = 0
    step_losses: list[float] = []
    epoch_losses: list[float] = []
    val_losses: list[float] = []
    best = carry.best
    exacts: list[float | None] = []
    stop_reason = "epochs"
    bad_epochs = 0
    elapsed_before = carry.seconds
    resumed_from = None
    if resume_state is not None:
        _load_lora_state(model, resume_state["lora"])
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        torch.set_rng_state(resume_state["rng"])
        step = resumed_from = int(resume_state["step"])
        step_losses = list(resume_state["step_losses"])
        epoch_losses = list(resume_state["epoch_losses"])
        val_losses = list(resume_state["val_losses"])
        bad_epochs = int(resume_state["bad_epochs"])
        elapsed_before = float(resume_state["seconds"])
        exacts = list(resume_state.get("exacts", []))
        if resume_state.get("best") is not None:
            b = resume_state["best"]
            best = Best(b["loss"], b["epoch"], b["lora"], b.get("exact"))
        progress(Progress("info", step=step, total_steps=total, message=f"resumed from step {step}/{total}"))

    def save_checkpoint() -> None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "step": step, "lora": _lora_state(model), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(), "step_losses": step_losses,
            "epoch_losses": epoch_losses, "val_losses": val_losses, "bad_epochs": bad_epochs,
            "seconds": elapsed_before + (time.perf_counter() - started),
            "best": None if best is None else {"loss": best.key, "epoch": best.epoch, "lora": best.lora, "exact": best.exact},
            "exacts": exacts, **(extra_state() if extra_state is not None else {}),
        }
        tmp = checkpoint_dir / "state.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(checkpoint_dir / "state.pt")

    def val_loss() -> float:
        model.eval()
        total_loss, total_tokens = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(val), settings.batch_size):
                chunk = val[i:i + settings.batch_size]
                ids, labels, mask = _collate(torch, chunk, pad_id)
                loss, n = answer_loss_sum(torch, causal_lm, ids, labels, mask, shared_prefix_len(chunk))
                total_loss += float(loss)
                total_tokens += n
        model.train()
        return total_loss / max(1, total_tokens)

    started = time.perf_counter()
    step_times: list[float] = []
    stopped_early = False
    model.train()
    with _StopFlag() as flag:
        for epoch in range(step // steps_per_epoch if steps_per_epoch else 0, settings.epochs):
            plan = step_plan(len(train), settings, carry.epochs + epoch)
            first = step - epoch * steps_per_epoch
            epoch_n = 0
            for micro_batches in plan[first:]:
                if step >= total:
                    break
                if step_times and elapsed_before + time.perf_counter() - started >= settings.budget_seconds:
                    stop_reason = "budget"
                    break
                if flag.requested or (stop is not None and stop()):
                    save_checkpoint()
                    raise TrainingInterrupted(step, total, checkpoint_dir)
                t0 = time.perf_counter()
                optimizer.zero_grad(set_to_none=True)
                items = [[train[i] for i in mb] for mb in micro_batches]
                n_tokens = sum(sum(1 for t in e.labels[1:] if t != IGNORE) for mb in items for e in mb)
                step_loss = 0.0
                for mb in items:
                    ids, labels, mask = _collate(torch, mb, pad_id)
                    loss, _ = answer_loss_sum(torch, causal_lm, ids, labels, mask, shared_prefix_len(mb))
                    (loss / max(1, n_tokens)).backward()
                    step_loss += float(loss.detach())
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                step += 1
                mean = step_loss / max(1, n_tokens)
                step_losses.append(mean)
                epoch_n += 1
                dt = time.perf_counter() - t0
                step_times.append(dt)
                recent = step_times[-5:]
                per_step = sum(recent) / len(recent)
                n_examples = sum(len(mb) for mb in items)
                progress(Progress("step", step=step, total_steps=total, epoch=epoch + 1, epochs=settings.epochs,
                                  loss=mean, examples_per_second=n_examples / dt if dt else 0.0,
                                  eta_seconds=per_step * (total - step)))
            if epoch_n:  # over the whole epoch, also the steps before a resume
                done = step_losses[epoch * steps_per_epoch:step]
                epoch_losses.append(sum(done) / len(done))
            if val:
                v = val_loss()
                val_losses.append(v)
                exact = score_epoch(epoch + 1) if score_epoch is not None else None
                exacts.append(exact)
                # higher exact match wins; validation loss decides when exact match is not measured or ties
                key = v if exact is None else -exact + v * 1e-6
                higher = exact is not None and (best is None or best.exact is None or exact > best.exact + 1e-9)
                better = best is None or key < best.key - (1e-4 if exact is None else 1e-9)
                if better:
                    best = Best(key, carry.epochs + epoch + 1, _lora_state(model), exact)
                # a stall is counted on exact match alone when it is measured (a lower loss at the
                # same exact match keeps the better adapter but is no progress toward the target)
                bad_epochs = 0 if (higher if exact is not None else better) else bad_epochs + 1
                progress(Progress("epoch", step=step, total_steps=total, epoch=epoch + 1, epochs=settings.epochs,
                                  loss=epoch_losses[-1] if epoch_losses else None, val_loss=v,
                                  message="" if exact is None else f"exact match {exact:.1%}"))
                if exact is not None and exact >= settings.target:
                    stop_reason = "target"
                    break
                if stop_reason == "budget":
                    break
                if settings.patience and bad_epochs >= settings.patience and step < total:
                    stopped_early = True
                    stop_reason = "patience" if exact is None else "stall"
                    what = "validation loss" if exact is None else "exact match"
                    progress(Progress("info", step=step, total_steps=total,
                                      message=f"early stop: {what} has not improved for {bad_epochs} epochs"))
                    break
            if stop_reason == "budget":
                break
            if step >= total:
                if settings.max_steps is not None and total == settings.max_steps - carry.steps:
                    stop_reason = "max_steps"
                break
    if best is not None and val_losses and best.epoch != carry.epochs + len(val_losses):
        _load_lora_state(model, best.lora)
        why = "best exact match" if best.exact is not None else "best validation loss"
        progress(Progress("info", step=step, total_steps=total, message=f"kept the adapter of epoch {best.epoch} ({why})"))
    return LoopResult(tuple(step_losses), tuple(epoch_losses), tuple(val_losses), best.epoch if best else None,
                      stopped_early, step, elapsed_before + time.perf_counter() - started, resumed_from,
                      tuple(exacts), stop_reason, best)


def total_steps(n_train: int, settings: TrainSettings) -> int:
    per_epoch = math.ceil(math.ceil(n_train / settings.batch_size) / settings.grad_accum)
    total = per_epoch * settings.epochs
    return min(total, settings.max_steps) if settings.max_steps is not None else total

