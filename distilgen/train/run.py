"""`distilgen train`: dataset files in, a served-ready model folder out, the lock told about it.

Order matters for the user: everything cheap that can be wrong (options, base path, dataset lines,
the lock, sequence lengths, the memory estimate) is checked before the weights are loaded.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..errors import DistilgenError, UsageError
from ..runtime.formats import order_like
from .base import BaseRef, offline_env, resolve_base, torch_folder
from .budget import Budget, one_epoch_refusal
from .data import MIN_EXAMPLES, DataFile, Example, load_examples, split_validation, validation_floor
from .estimate import Estimate, MatmulRates, available_memory, estimate, fmt_bytes, measure_rates
from .extras import require_train
from .encode import Encoded, encode, prompt_text
from .trainer import Best, Carry, LoopResult, Progress, TrainSettings, shared_prefix_len, train_loop

if TYPE_CHECKING:
    from ..prompts.lock_format import LockedPrompt
    from .grow import Teacher

__all__ = ["TrainResult", "RunTooLarge", "train_model", "MODEL_JSON", "ADAPTER_DIR", "ADAPTER_GGUF", "TOKENIZER_DIR",
           "CHECKPOINT_DIR", "load_model_json"]

MODEL_JSON = "model.json"
ADAPTER_DIR = "adapter"
ADAPTER_GGUF = "adapter.gguf"
TOKENIZER_DIR = "tokenizer"
CHECKPOINT_DIR = "checkpoint"
FORMAT_VERSION = 1


class RunTooLarge(DistilgenError):
    """The memory estimate says this run cannot fit; the message carries the numbers."""


@dataclass(frozen=True)
class TrainResult:
    out: Path
    name: str
    model_id: str
    """`local:NAME`: what `--model` and dispatch use."""
    function_id: str | None
    train_examples: int
    validation_examples: int
    skipped: tuple[tuple[str, int], ...]
    steps: int
    first_loss: float
    last_loss: float
    val_losses: tuple[float, ...]
    seconds: float
    estimate: str
    lock_note: str
    stopped_early: bool
    curve: tuple[dict[str, Any], ...] = ()
    """Per epoch: data size, steps, validation loss, exact match and per-field accuracy (when measured)."""
    stop_reason: str = "epochs"
    target: float = 0.95
    growth: tuple[dict[str, Any], ...] = ()
    """Per growth round: examples added, from mistakes / strategies, duplicates left out, teacher errors."""
    growth_note: str | None = None
    """Why the data could not grow (no teacher, growth off, exact match not measured), said once."""
    budget: dict[str, Any] | None = None
    """The wall-time budget, the time spent and each part's share (`Budget.as_dict`)."""

    def shortfall(self) -> str | None:
        """Below target: which fields fail, and the next lever to pull; None when the target was met."""
        measured = [c for c in self.curve if c.get("exact_match") is not None]
        if not measured:
            return None
        # the kept adapter's epoch: the highest exact match, the lower validation loss on a tie
        best = max(measured, key=lambda c: (c["exact_match"], -(c.get("validation_loss") or 0.0)))
        if best["exact_match"] >= self.target:
            return None
        failing = ", ".join(f"{k} {v:.0%}" for k, v in sorted(best["fields"].items(), key=lambda kv: kv[1]) if v < 1)
        lever = {"budget": "a larger --budget", "epochs": "more epochs (--epochs)", "max_steps": "more --max-steps",
                 "rounds": "more growth rounds (--grow-rounds) and --budget",
                 "exhausted": "strategies that draw more varied calls ([tool.distilgen] strategies)",
                 "teacher": "a teacher that answers the calls drawn from its signature",
                 }.get(self.stop_reason, "more varied data" + (" (pass --function to let it grow)" if self.growth_note
                                                                 and "no teacher" in self.growth_note else ""))
        return (f"below target: best exact match {best['exact_match']:.1%} (epoch {best['epoch']}) < {self.target:.0%}; "
                f"failing fields: {failing or 'none alone (combinations)'}; next: {lever}, more captured calls, "
                f"a larger --base, or include_code_body=True (the function's body in the prompt)")


def load_model_json(folder: Path) -> dict[str, Any]:
    path = folder / MODEL_JSON
    if not path.is_file():
        raise UsageError(f"{folder}: not a model folder written by `distilgen train` (no {MODEL_JSON})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        raise UsageError(f"{path}: unknown model.json format {data.get('format') if isinstance(data, dict) else data!r}")
    return data


def _check_settings(s: TrainSettings) -> None:
    checks = [
        (s.epochs >= 1, "--epochs must be at least 1"),
        (s.learning_rate > 0, "--lr must be positive"),
        (s.batch_size >= 1, "--batch-size must be at least 1"),
        (s.grad_accum >= 1, "--grad-accum must be at least 1"),
        (0 <= s.val_split < 0.5, "--val-split must be in [0, 0.5)"),
        (s.patience >= 0, "--patience must be 0 or more"),
        (s.lora_r >= 1, "--lora-r must be at least 1"),
        (s.lora_alpha > 0, "--lora-alpha must be positive"),
        (0 <= s.lora_dropout < 1, "--lora-dropout must be in [0, 1)"),
        (bool(s.target_modules), "--target-modules must name at least one module"),
        (s.max_seq_len >= 16, "--max-seq-len must be at least 16"),
        (s.max_steps is None or s.max_steps >= 1, "--max-steps must be at least 1"),
        (s.threads >= 1, "--threads must be at least 1"),
        (s.lora_layers is None or s.lora_layers >= 1, "--lora-layers must be at least 1"),
        (0 < s.target <= 1, f"--target {s.target:g}: must be in (0, 1] (a share of exact answers, e.g. 0.95)"),
        (s.budget_seconds > 0, "--budget must be positive (e.g. 15m)"),
        (s.grow_rounds >= 0, "--grow-rounds must be 0 or more"),
    ]
    for ok, msg in checks:
        if not ok:
            raise UsageError(msg)


def _load_tokenizer(folder: Path, base: BaseRef) -> Any:
    offline_env()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    if not getattr(tok, "chat_template", None):
        raise UsageError(f"--base {base.path}: the model has no chat template; use an instruct/chat model")
    return tok


def _load_model(folder: Path, torch: Any) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)


def _stale_filter(examples: list[Example], function_id: str | None, lock_path: Path | None,
                  drop_stale: bool) -> tuple[list[Example], int, Any]:
    """Examples whose system prompt is not the lock's current prompt of the function."""
    if function_id is None or lock_path is None:
        return examples, 0, None
    from ..ops.dataset import known_prompts_from_lock
    from ..prompts.lock import locked_prompt

    known = known_prompts_from_lock(lock_path, function_id)  # THE stale-prompt check: ops/dataset.py
    if known is None:
        return examples, 0, None
    entry = locked_prompt(function_id, lock_path)
    stale = [e for e in examples if known.is_stale(e.system)]
    if stale and not drop_stale:
        shown = ", ".join(e.where for e in stale[:3]) + (", ..." if len(stale) > 3 else "")
        raise UsageError(
            f"{len(stale)} of {len(examples)} examples of {function_id} were captured with a prompt that is "
            f"not the current one in {lock_path} ({shown}); recapture them, or pass --drop-stale to train without them"
        )
    keep = [e for e in examples if not known.is_stale(e.system)]
    return keep, len(stale), entry


def _run_key(files: list[DataFile], base: BaseRef, settings: TrainSettings, function: str | None) -> dict[str, Any]:
    """What must match for `--resume` to continue a checkpoint."""
    return {"files": [[f.path, f.sha256] for f in files], "base": base.sha256, "function": function,
            "settings": settings.hyperparameters()}


@dataclass(frozen=True)
class _Request:
    """What the caller asked, checked before anything is read: where the run writes and how it trains."""
    out: Path
    name: str
    checkpoint_dir: Path
    settings: TrainSettings
    function: str | None
    """As given (None: the data's one function); what `--resume` must match."""
    resume: bool
    memory_limit: int | None
    report: Callable[[Progress], None]
    stop: Callable[[], bool] | None
    budget: Budget
    """The run's clock, started before anything is read: every part of the run counts."""


@dataclass(frozen=True)
class _Data:
    """The function's examples as read, before tokenizing: stale prompts left out, and the schema
    `serve` will constrain answers with."""
    files: list[DataFile]
    train_ex: list[Example]
    val_ex: list[Example]
    """From a validation file; empty when the split is still to be made."""
    function_id: str | None
    lock: Path | None
    entry: LockedPrompt | None
    schema: dict[str, Any]
    skipped: dict[str, int]
    """Examples left out so far, by reason, in the order the report names them."""


@dataclass(frozen=True)
class _BaseFiles:
    """The base model's torch folder and tokenizer: what encoding needs (the weights load later)."""
    ref: BaseRef
    folder: Path
    tokenizer: Any
    pad_id: int


@dataclass(frozen=True)
class _TrainingSet:
    """The examples the loop trains and validates on, after the validation split and the length limit."""
    train_ex: list[Example]
    val_ex: list[Example]
    train_enc: list[Encoded]
    val_enc: list[Encoded]


@dataclass(frozen=True)
class _ModelShape:
    """The base's dimensions, read from its config alone: the estimate comes before the weights load."""
    hidden: int
    layers: int
    intermediate: int
    heads: int
    vocab: int
    kv_width: int
    """Key/value heads times the head size (smaller than `hidden` with grouped-query attention)."""

    def n_params(self) -> int:
        per_layer = self.hidden * self.hidden * 2 + self.hidden * self.kv_width * 2 + 3 * self.hidden * self.intermediate
        return self.layers * per_layer + self.vocab * self.hidden

    def adapted_layers(self, settings: TrainSettings) -> int:
        return min(self.layers, settings.lora_layers or self.layers)

    def lora_params(self, settings: TrainSettings) -> int:
        h, kv, inter = self.hidden, self.kv_width, self.intermediate
        dims = {"q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h), "gate_proj": (h, inter),
                "up_proj": (h, inter), "down_proj": (inter, h)}
        return self.adapted_layers(settings) * sum(settings.lora_r * (i + o) for m, (i, o) in dims.items()
                                                   if m in settings.target_modules)


@dataclass(frozen=True)
class _Plan:
    """The run's size as the estimate saw it; the LoRA config needs the layer counts."""
    estimate: Estimate
    rates: MatmulRates
    steps_per_epoch: int
    total_steps: int
    layers: int
    adapted_layers: int


@dataclass(frozen=True)
class _Growth:
    """The function that labels grown data, or why there is none (said once in the report)."""
    teacher: Teacher | None
    note: str | None


@dataclass(frozen=True)
class _Trained:
    """Every round done: the data as grown, the rounds' losses merged, why training stopped."""
    grown: _Grown
    loop: LoopResult
    stop_reason: str
    skipped: dict[str, int]
    """Left out over the whole run (growth rounds may add examples longer than --max-seq-len)."""
    wall: float


class _Encoder:
    """Examples as token ids for the loop, leaving out those longer than --max-seq-len. It also encodes
    what each growth round adds, so its count of what was left out covers the whole run."""

    def __init__(self, tokenizer: Any, max_seq_len: int, skipped: dict[str, int]) -> None:
        self.tokenizer = tokenizer
        self.max_seq_len = max_seq_len
        self.skipped = dict(skipped)
        self.longest = 0
        """The longest example left out, in tokens (0: none)."""

    def __call__(self, examples: list[Example]) -> list[Encoded]:
        kept = []
        for e in examples:
            enc = encode(self.tokenizer, e.system, e.user, e.answer)
            if len(enc) > self.max_seq_len:
                self.skipped["longer than --max-seq-len"] = self.skipped.get("longer than --max-seq-len", 0) + 1
                self.longest = max(self.longest, len(enc))
                continue
            kept.append(enc)
        return kept


def train_model(
    datasets: Iterable[str | Path],
    out: str | Path,
    *,
    function: str | None = None,
    base: str | Path | None = None,
    name: str | None = None,
    settings: TrainSettings | None = None,
    drop_stale: bool = False,
    lock_path: str | Path | None = None,
    memory_limit: int | None = None,
    resume: bool = False,
    progress: Callable[[Progress], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Fine-tune a LoRA adapter on the examples of one function; see docs/local-training.md.

    The steps run in the order the module docstring gives: everything cheap that can be wrong is
    checked before the weights are loaded."""
    req = _request(out, name, function, settings, resume, memory_limit, progress, stop)
    made = _missing_folders(req.checkpoint_dir)
    try:
        return _train(req, datasets, base, drop_stale, lock_path)
    except BaseException:
        _tidy(req, made)
        raise


def _missing_folders(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist yet, deepest first."""
    missing: list[Path] = []
    path = Path(os.path.abspath(folder))
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _tidy(req: _Request, made: list[Path]) -> None:
    """A run that stops with an error leaves no folder it made behind: a refusal (budget, memory,
    data) after `--out` was created left an empty folder, or one holding only the checkpoint's
    bookkeeping. Folders are removed only when empty (a model written before the error stays); a
    checkpoint an interrupted run saved (state.pt, for --resume) is kept, with everything in it."""
    if (req.checkpoint_dir / "state.pt").exists():
        return
    if Path(os.path.abspath(req.checkpoint_dir)) in made:
        shutil.rmtree(req.checkpoint_dir, ignore_errors=True)
    for folder in made:
        try:
            if folder.exists():  # the run may have stopped before making it
                folder.rmdir()  # only when empty: nothing anyone else put there goes
        except OSError:
            return


def _train(req: _Request, datasets: Iterable[str | Path], base: str | Path | None, drop_stale: bool,
           lock_path: str | Path | None) -> TrainResult:
    _threads_wait_well_at_barriers()
    base_ref = resolve_base(base, lambda m: req.report(Progress("info", message=m)))
    data = _read_data(datasets, req, lock_path, drop_stale)
    base_files = _open_base(base_ref, req)
    encoder = _Encoder(base_files.tokenizer, req.settings.max_seq_len, data.skipped)
    examples = _encode_examples(data, encoder, req.settings)
    growth = _teacher(req.settings, base_ref, data.schema, examples.val_ex, data.function_id,
                      examples.train_ex + examples.val_ex, data.lock)
    if growth.teacher is not None:
        from .grow import PROBE_CALLS

        t0 = time.perf_counter()
        growth.teacher.probe(req.settings.seed)  # a function that raises on most calls is refused before training
        req.budget.growth_per_call = (time.perf_counter() - t0) / PROBE_CALLS
    plan = _plan_run(base_files.folder, examples, req)
    _check_fits(plan, examples, req)
    resume_state = _open_checkpoint(req, data.files, base_ref)
    started = time.perf_counter()
    model = _load_peft_model(base_files, plan, req)
    req.budget.used["setup"] = req.budget.elapsed()
    scorer = _epoch_scorer(model, base_files.ref, req.settings, data.schema, examples.val_ex, req.out, req.report,
                           req.budget)
    if scorer is not None and resume_state is None:
        _check_budget_with_a_close(plan, req, _time_one_scoring_call(scorer, examples.val_ex, req.budget))
    trained = _train_rounds(model, req, base_files, data, examples, plan, growth, encoder, resume_state, started,
                            scorer)
    _write_artifacts(req, model, base_files, data, examples, plan, growth, trained)
    lock_note = _record_in_lock(data.lock, data.function_id, f"local:{req.name}",
                                data.entry.fingerprint if data.entry else None, examples.train_ex)
    shutil.rmtree(req.checkpoint_dir, ignore_errors=True)
    req.report(Progress("info", message=req.budget.describe()))
    return _result(req, data, examples, plan, growth, trained, lock_note)


def _threads_wait_well_at_barriers() -> None:
    """torch and llama.cpp (the per-epoch scorer) share this process's one libgomp, which reads its
    wait policy once, when torch loads it: set it before that, as `serve` does for its server
    (serve.llama_thread_env: spin briefly, then sleep; a value the user set wins). With libgomp's
    default unbounded spinning, on a 2-core machine at load ~4, 6 optimizer steps took 30-32 s
    instead of 8-10 s, and one scoring call 12.3 s instead of 2.0 s (docs/local-training.md,
    "Threads wait well at barriers")."""
    import os

    from .serve import llama_thread_env

    os.environ.update(llama_thread_env(os.environ))


def _request(out: str | Path, name: str | None, function: str | None, settings: TrainSettings | None, resume: bool,
             memory_limit: int | None, progress: Callable[[Progress], None] | None,
             stop: Callable[[], bool] | None) -> _Request:
    """Check the options, the train extra, the model name and the checkpoint folder: all before any
    file is read, so a typo costs nothing."""
    settings = settings or TrainSettings()
    budget = Budget(settings.budget_seconds)
    _check_settings(settings)
    require_train()
    out = Path(out)
    name = name or out.resolve().name
    if not name or any(c in name for c in " /:"):
        raise UsageError(f"--name {name!r}: a model name is one word (letters, digits, - _ .)")
    checkpoint_dir = out / CHECKPOINT_DIR
    if resume and not (checkpoint_dir / "state.pt").is_file():
        raise UsageError(f"--resume: {checkpoint_dir} holds no checkpoint to continue")
    if not resume and (checkpoint_dir / "state.pt").is_file():
        raise UsageError(f"{checkpoint_dir} holds an interrupted run: pass --resume to continue it, or delete it")
    return _Request(out, name, checkpoint_dir, settings, function, resume, memory_limit,
                    progress or (lambda p: None), stop, budget)


def _read_data(datasets: Iterable[str | Path], req: _Request, lock_path: str | Path | None,
               drop_stale: bool) -> _Data:
    """The function's examples, with stale prompts refused (or dropped) and the output schema found:
    a dataset that cannot train is refused before torch loads."""
    files, train_ex, val_ex, others = load_examples(datasets, req.function)
    ids = {e.function_id for e in train_ex + val_ex if e.function_id}
    function_id = req.function or (ids.pop() if len(ids) == 1 else None)
    lock = Path(lock_path) if lock_path is not None else None
    train_ex, stale_train, entry = _stale_filter(train_ex, function_id, lock, drop_stale)
    val_ex, stale_val, _ = _stale_filter(val_ex, function_id, lock, drop_stale)
    schema = served_schema(entry, train_ex + val_ex, function_id, lock)
    _refuse_one_answer(files, train_ex + val_ex, function_id)
    skipped: dict[str, int] = {}
    if others:
        skipped["other functions"] = others
    if stale_train + stale_val:
        skipped["stale prompt"] = stale_train + stale_val
    return _Data(files, train_ex, val_ex, function_id, lock, entry, schema, skipped)


def _refuse_one_answer(files: list[DataFile], examples: list[Example], function_id: str | None) -> None:
    """Examples that all give the same answer teach nothing: say so instead of training a constant."""
    answers = {e.answer for e in examples}
    if len(answers) == 1 and len(examples) > 1:
        names = ", ".join(f.path for f in files)
        raise UsageError(f"{names}: all {len(examples)} examples of {function_id or examples[0].group} answer "
                         f"{answers.pop()[:120]}: there is nothing to learn (a constant needs no model); capture calls "
                         f"with inputs that give different answers")


def _open_base(base_ref: BaseRef, req: _Request) -> _BaseFiles:
    """torch with the run's threads, the base as a torch folder (converted once from a GGUF) and its
    tokenizer: enough to encode the examples and estimate the run."""
    import torch

    torch.set_num_threads(req.settings.threads)
    folder = torch_folder(base_ref, lambda m: req.report(Progress("info", message=m)))
    tokenizer = _load_tokenizer(folder, base_ref)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return _BaseFiles(base_ref, folder, tokenizer, pad_id)


def _encode_examples(data: _Data, encoder: _Encoder, settings: TrainSettings) -> _TrainingSet:
    """Hold out the validation split (unless a validation file gave one) and encode both sides;
    too few training examples left is refused, with what was skipped and why."""
    train_ex, val_ex = data.train_ex, data.val_ex
    if not val_ex:
        train_ex, val_ex = split_validation(train_ex, settings.val_split, settings.seed, validation_floor(settings.target))
    train_enc = encoder(train_ex)
    val_enc = encoder(val_ex)
    if len(train_enc) < MIN_EXAMPLES:
        why = ""
        if encoder.skipped:
            why = " after skipping " + ", ".join(f"{n} ({reason})" for reason, n in encoder.skipped.items())
            if encoder.longest:
                why += f"; the longest example is {encoder.longest} tokens"
        raise UsageError(f"too few training examples: {len(train_enc)}{why}; at least {MIN_EXAMPLES} are needed")
    return _TrainingSet(train_ex, val_ex, train_enc, val_enc)


def _model_shape(folder: Path) -> _ModelShape:
    """The base's dimensions from its config.json (no weights loaded)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", heads) or heads
    return _ModelShape(config.hidden_size, config.num_hidden_layers, config.intermediate_size, heads,
                       config.vocab_size, kv * (config.hidden_size // heads))


def _plan_run(folder: Path, examples: _TrainingSet, req: _Request) -> _Plan:
    """Steps, memory and time of the run, estimated before the weights load (estimate.py)."""
    import torch

    settings, train_enc = req.settings, examples.train_enc
    shape = _model_shape(folder)
    steps_per_epoch = math.ceil(math.ceil(len(train_enc) / settings.batch_size) / settings.grad_accum)
    total = steps_per_epoch * settings.epochs
    if settings.max_steps is not None:
        total = min(total, settings.max_steps)
    fraction = total / max(1, steps_per_epoch * settings.epochs)
    rates = measure_rates(torch)
    est = estimate(
        n_params=shape.n_params(), lora_params=shape.lora_params(settings), hidden=shape.hidden,
        intermediate=shape.intermediate, layers=shape.layers, heads=shape.heads, vocab=shape.vocab,
        batch_size=settings.batch_size, max_len=max(len(e) for e in train_enc),
        answer_tokens_per_batch=settings.batch_size * max(len(e) - e.prompt_len for e in train_enc),
        total_tokens=int(_tokens_per_epoch(examples, settings) * settings.epochs * fraction * 1.1), steps=total,
        flops_per_second=rates.wall, limit_bytes=req.memory_limit or available_memory(),
        from_gguf=False, backward_fraction=shape.adapted_layers(settings) / shape.layers,
    )
    return _Plan(est, rates, steps_per_epoch, total, shape.layers, shape.adapted_layers(settings))


def _tokens_per_epoch(examples: _TrainingSet, settings: TrainSettings) -> int:
    """Tokens one epoch runs, training and validation: a batch runs its shared system prompt once
    (trainer.shared_prefix_len), so that is counted once per batch."""
    train_enc, val_enc = examples.train_enc, examples.val_enc
    shared = shared_prefix_len(train_enc) if len(train_enc) > 1 else 0
    n_batches = math.ceil(len(train_enc) / settings.batch_size) + math.ceil(len(val_enc) / settings.batch_size)
    return sum(len(e) - shared for e in train_enc) + sum(len(e) - shared for e in val_enc) + shared * n_batches


def _check_fits(plan: _Plan, examples: _TrainingSet, req: _Request) -> None:
    """Show the estimate; refuse a budget shorter than one epoch even at the machine's best measured
    rate (budget.one_epoch_refusal), or a run that needs more memory than there is, each with the
    lever to pull."""
    est = plan.estimate
    req.report(Progress("info", message=est.describe()))
    refusal = _epoch_refusal(plan, req)
    if refusal is not None:
        raise UsageError(refusal)
    if not est.fits:
        raise RunTooLarge(
            f"refusing to start: the run needs about {fmt_bytes(est.peak_bytes)} but {fmt_bytes(est.limit_bytes)} "
            f"is available; lower --batch-size (use --grad-accum to keep the effective batch) or --max-seq-len "
            f"(the longest example is {max(len(e) for e in examples.train_enc)} tokens)"
        )


def _epoch_refusal(plan: _Plan, req: _Request, close_seconds: float = 0.0) -> str | None:
    """budget.one_epoch_refusal for this run: one epoch's share of the estimate at a given rate."""
    est = plan.estimate
    return one_epoch_refusal(
        epoch_seconds_at=lambda rate: est.seconds_at(rate) / max(1, plan.total_steps) * plan.steps_per_epoch,
        rates=plan.rates, steps=plan.steps_per_epoch, budget_seconds=req.settings.budget_seconds,
        spent_seconds=req.budget.elapsed(), close_seconds=close_seconds)


def _check_budget_with_a_close(plan: _Plan, req: _Request, one_call: float) -> None:
    """Once one scoring call is timed, the same refusal with the epoch's close in it at its least
    (one call, which a close's llama.cpp load and calls cost at least): still before any step. The
    checkpoint folder this run just made goes again."""
    refusal = _epoch_refusal(plan, req, close_seconds=one_call)
    if refusal is not None:
        shutil.rmtree(req.checkpoint_dir, ignore_errors=True)
        raise UsageError(refusal)


def _open_checkpoint(req: _Request, files: list[DataFile], base_ref: BaseRef) -> dict[str, Any] | None:
    """With --resume, the saved state, if the checkpoint was written by the same data and options;
    otherwise record what a later --resume must match."""
    run_key = _run_key(files, base_ref, req.settings, req.function)
    if not req.resume:
        req.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        (req.checkpoint_dir / "run.json").write_text(json.dumps(run_key, indent=1), encoding="utf-8")
        return None
    saved = json.loads((req.checkpoint_dir / "run.json").read_text(encoding="utf-8"))
    if saved != run_key:
        diff = sorted(k for k in run_key if saved.get(k) != run_key[k])
        raise UsageError(f"--resume: {req.checkpoint_dir} was written by a run with different {', '.join(diff)}; "
                         f"resume with the same data and options, or delete it to start over")
    return load_checkpoint(req.checkpoint_dir / "state.pt")


def _load_peft_model(base_files: _BaseFiles, plan: _Plan, req: _Request) -> Any:
    """The base's weights with fresh LoRA layers on the top `--lora-layers`, seeded and with
    deterministic kernels, so one seed gives one adapter."""
    import torch
    from peft import LoraConfig, get_peft_model

    settings = req.settings
    req.report(Progress("info", message=f"loading {base_files.ref.name} ({base_files.ref.path})"))
    torch.manual_seed(settings.seed)
    torch.use_deterministic_algorithms(True)
    model = _load_model(base_files.folder, torch)
    torch.manual_seed(settings.seed)
    layers, adapted = plan.layers, plan.adapted_layers
    return get_peft_model(model, LoraConfig(
        r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
        target_modules=list(settings.target_modules), bias="none", task_type="CAUSAL_LM",
        layers_to_transform=list(range(layers - adapted, layers)) if adapted < layers else None,
    ))


def _train_rounds(model: Any, req: _Request, base_files: _BaseFiles, data: _Data, examples: _TrainingSet,
                  plan: _Plan, growth: _Growth, encoder: _Encoder, resume_state: dict[str, Any] | None,
                  started: float, scorer: Callable[[list[Example] | None], Any] | None) -> _Trained:
    """Train round after round (trainer.train_loop); between rounds the teacher grows the data while
    exact match stalls below target. A resumed run continues inside the round it stopped in."""
    settings, report = req.settings, req.report
    report(Progress("info", message=f"training {len(examples.train_enc)} examples ({len(examples.val_enc)} for "
                                    f"validation), {plan.total_steps} steps"))
    scores: dict[int, Any] = {}
    grown = _Grown(examples.train_ex, examples.train_enc, examples.val_ex)
    if resume_state is not None and resume_state.get("growth"):
        grown.restore(resume_state["growth"], encoder)
    while True:  # one round of training per pass; the data grows between rounds
        carry = grown.carry()
        loop = train_loop(model, grown.encoded, examples.val_enc, settings, pad_id=base_files.pad_id,
                          checkpoint_dir=req.checkpoint_dir, resume_state=resume_state, progress=report, stop=req.stop,
                          carry=carry, extra_state=lambda: {"growth": grown.state()}, budget=req.budget,
                          score_epoch=None if scorer is None else _scoring(scores, carry.epochs, lambda: scorer(None)))
        resume_state = None
        grown.finish_round(loop, carry, scores, settings)
        stop_reason = _grow_or_stop(loop, grown, growth, scores, encoder, req)
        if stop_reason is not None:
            wall = time.perf_counter() - started
            return _Trained(grown, grown.merged(stop_reason), stop_reason, encoder.skipped, wall)


def _grow_or_stop(loop: LoopResult, grown: _Grown, growth: _Growth, scores: dict[int, Any], encoder: _Encoder,
                  req: _Request) -> str | None:
    """After a round: why training stops (the target met, no teacher, rounds or budget spent, nothing
    new to add), or None once the data has grown for another round."""
    settings, best = req.settings, loop.best
    if growth.teacher is None or loop.stop_reason not in ("stall", "epochs") or best is None or best.exact is None \
            or best.exact >= settings.target:
        return loop.stop_reason
    if grown.round >= settings.grow_rounds:
        return "rounds"
    # growing only pays if a step and an epoch's close still fit after it
    budget, val_batches = req.budget, math.ceil(len(grown.val_ex) / settings.batch_size)
    calls = grown.growth_size()
    after = (budget.step_estimate() or 0.0) + budget.close_estimate(val_batches, scored=True)
    if not budget.fits(budget.growth_per_call * calls + after):
        return "budget"
    before = budget.used["growth"]
    with budget.part("growth"):
        stop = grown.grow(growth.teacher, scores.get(best.epoch), settings, encoder, req.report)
    budget.growth_per_call = (budget.used["growth"] - before) / max(1, calls)
    return stop


def _result(req: _Request, data: _Data, examples: _TrainingSet, plan: _Plan, growth: _Growth, trained: _Trained,
            lock_note: str) -> TrainResult:
    """What the caller gets back (and `format_train` reports)."""
    loop = trained.loop
    return TrainResult(
        out=req.out, name=req.name, model_id=f"local:{req.name}", function_id=data.function_id,
        train_examples=len(trained.grown.encoded), validation_examples=len(examples.val_enc),
        skipped=tuple(sorted(trained.skipped.items())), steps=loop.steps,
        first_loss=loop.step_losses[0] if loop.step_losses else float("nan"),
        last_loss=loop.step_losses[-1] if loop.step_losses else float("nan"), val_losses=loop.val_losses,
        seconds=loop.seconds, estimate=plan.estimate.describe(), lock_note=lock_note, stopped_early=loop.stopped_early,
        curve=tuple(trained.grown.curve), stop_reason=trained.stop_reason, target=req.settings.target,
        growth=tuple(trained.grown.log), growth_note=growth.note, budget=req.budget.as_dict())


def _teacher(settings: TrainSettings, base: BaseRef, schema: dict[str, Any], val_ex: list[Example],
             function_id: str | None, examples: list[Example], lock: Path | None) -> _Growth:
    """The function that labels grown data, or why there is none (said once in the report)."""
    from . import measure
    from .grow import teacher_for

    if settings.grow_rounds == 0:
        return _Growth(None, "growth off (--grow-rounds 0)")
    if base.gguf is None or not val_ex or not schema or not measure.available():
        return _Growth(None, "data not grown: exact match is not measured, so a stall cannot be seen")
    teacher, why = teacher_for(function_id, examples, lock.parent if lock is not None else None)
    return _Growth(teacher, None if teacher is not None else f"data not grown: {why}")


class _Grown:
    """The training data across growth rounds, and the curve, losses and growth log of all rounds."""

    def __init__(self, train_ex: list[Example], train_enc: list[Encoded], val_ex: list[Example]) -> None:
        self.captured = list(train_ex)
        self.examples = list(train_ex)
        self.encoded = list(train_enc)
        self.added: list[Example] = []
        self.seen = {e.user for e in train_ex + val_ex}
        self.val_ex = val_ex
        self.round = 0
        self.curve: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []
        self.loops: list[LoopResult] = []
        self.epochs = self.steps = 0
        self.seconds = 0.0
        self.best: Best | None = None

    def carry(self) -> Carry:
        return Carry(self.epochs, self.steps, self.seconds, self.best)

    def state(self) -> dict[str, Any]:
        """What a checkpoint needs to resume inside a later round (the grown examples as text)."""
        return {"round": self.round, "added": [[e.where, e.system, e.user, e.answer] for e in self.added],
                "curve": self.curve, "log": self.log, "epochs": self.epochs, "steps": self.steps,
                "losses": [[list(lp.step_losses), list(lp.epoch_losses), list(lp.val_losses)] for lp in self.loops]}

    def restore(self, saved: dict[str, Any], encode_all: Callable[[list[Example]], list[Encoded]]) -> None:
        like = self.examples[0]
        added = [Example(w, like.function_id, like.call_name, like.tool_name, sy, u, a, like.schema_json)
                 for w, sy, u, a in saved["added"]]
        self._add(added, encode_all)
        self.round, self.curve, self.log = int(saved["round"]), list(saved["curve"]), list(saved["log"])
        self.epochs, self.steps = int(saved["epochs"]), int(saved["steps"])
        self.loops = [LoopResult(tuple(a), tuple(b), tuple(c), None, False, 0, 0.0) for a, b, c in saved["losses"]]

    def _add(self, new: list[Example], encode_all: Callable[[list[Example]], list[Encoded]]) -> None:
        self.added.extend(new)
        self.examples.extend(new)
        self.encoded.extend(encode_all(new))
        self.seen.update(e.user for e in new)

    def finish_round(self, loop: LoopResult, carry: Carry, scores: dict[int, Any], settings: TrainSettings) -> None:
        spe = math.ceil(math.ceil(len(self.encoded) / settings.batch_size) / settings.grad_accum)
        for e in range(len(loop.val_losses)):
            epoch = carry.epochs + e + 1
            score = scores.get(epoch)
            self.curve.append({"round": self.round, "epoch": epoch, "data_size": len(self.encoded),
                               "steps": carry.steps + min(loop.steps, spe * (e + 1)),
                               "validation_loss": loop.val_losses[e],
                               "exact_match": score.exact if score is not None else None,
                               "fields": score.fields if score is not None else None})
        self.loops.append(loop)
        self.epochs = carry.epochs + len(loop.val_losses)
        self.steps = carry.steps + loop.steps
        self.seconds = loop.seconds
        self.best = loop.best

    def growth_size(self) -> int:
        """How many examples the next growth asks for: as many as the data holds, at least MIN_GROWTH."""
        from .grow import MIN_GROWTH

        return max(MIN_GROWTH, len(self.encoded))

    def grow(self, teacher: Any, score: Any, settings: TrainSettings,
             encode_all: Callable[[list[Example]], list[Encoded]], report: Callable[[Progress], None]) -> str | None:
        """Add a round of teacher-labelled examples; a stop reason when nothing could be added."""
        mistakes = [self.val_ex[i] for i in (score.wrong if score is not None else ())]
        self.round += 1
        new, record = teacher.grow(self.growth_size(), mistakes, self.seen, settings.seed, self.round,
                                   around=self.captured)
        if record.teacher_failed:  # labels of a function that mostly raises are not trusted
            error = (f"{teacher.target.function_id} raised on {record.teacher_errors} of {record.calls} new calls "
                     f"(first: {record.first_error}); the data was not grown")
            self.log.append({**record.as_dict(), "added": 0, "error": error})
            report(Progress("info", message=f"round {self.round}: {error}"))
            return "teacher"
        before = len(self.encoded)
        self._add(new, encode_all)
        self.log.append({**record.as_dict(), "data_size": len(self.encoded)})
        report(Progress("info", message=(
            f"round {self.round}: best exact match {score.exact if score is not None else 0:.1%} is below "
            f"{settings.target:.0%}; grew the data {before} -> "
            f"{len(self.encoded)} ({record.from_mistakes} mutations of missed validation calls, {record.from_strategies} "
            f"drawn from the signature, labelled by {teacher.target.function_id}; {record.duplicates} already in the "
            f"data, {record.teacher_errors} calls raised)")))
        return None if len(self.encoded) > before else "exhausted"

    def merged(self, stop_reason: str) -> LoopResult:
        """The loop results of all rounds as one (losses concatenated, totals, best epoch, what stopped it)."""
        last = self.loops[-1]
        return LoopResult(
            tuple(x for lp in self.loops for x in lp.step_losses), tuple(x for lp in self.loops for x in lp.epoch_losses),
            tuple(x for lp in self.loops for x in lp.val_losses), last.best_epoch, any(lp.stopped_early for lp in self.loops),
            self.steps, last.seconds, next((lp.resumed_from for lp in self.loops if lp.resumed_from is not None), None),
            tuple(c["exact_match"] for c in self.curve), stop_reason, last.best)


def trained_schema(entry: Any, examples: list[Example]) -> dict[str, Any] | None:
    """The schema `serve` constrains answers with: the lock's (tools lines may omit it), else the
    lines', with properties in the order of the training answers (a lock written before field
    order was kept stores them key-sorted, and llama.cpp's grammar follows the schema's order)."""
    schema = entry.schema if entry is not None else next((e.schema for e in examples if e.schema), None)
    if not schema:
        return None
    return order_like(schema, json.loads(examples[0].answer)) if examples else schema


def served_schema(entry: Any, examples: list[Example], function_id: str | None, lock: Path | None) -> dict[str, Any]:
    """The output schema `serve` will constrain answers with, found before any training: the lock's,
    the lines', or the function's own return model (imported). A model without one could not be
    served (llama.cpp builds the answer's grammar from it), so that is refused here, at once."""
    schema = trained_schema(entry, examples)
    if schema is not None or not examples:  # no examples: the count check says so next
        return schema or {}
    tools = sorted({e.tool_name for e in examples})
    why = (f"{examples[0].where.rpartition(':')[0]}: the examples carry no output schema (compact `tools` lines) "
           f"and {lock or 'no lock file'} has no entry for {function_id or 'the function'}")
    how = ("; record it with `distilgen prompts` (or capture with tool_schema=\"full\"), "
           "or pass --function module:qualname of an importable function")
    if function_id is None:
        raise UsageError(why + how)
    from ..evals.target import resolve_target
    from ..runtime.formats import tool_schema

    try:
        target = resolve_target(function_id, lock.parent if lock is not None else None)
    except UsageError as exc:
        raise UsageError(f"{why}, and the function cannot be imported to read it ({exc})" + how) from None
    if tools != [target.return_model.__name__]:
        raise UsageError(f"{why}; {function_id} returns {target.return_model.__name__}, but the examples answer with "
                         f"{', '.join(tools)}: pass the --function these examples were captured from")
    return order_like(tool_schema(target.return_model), json.loads(examples[0].answer))


def _scoring(scores: dict[int, Any], epochs_before: int, scorer: Callable[[], Any]) -> Callable[[int], float | None]:
    """The per-epoch hook of one round: scores recorded under the epoch counted over all rounds."""
    return lambda epoch: _record(scores, epochs_before + epoch, scorer())


def _record(scores: dict[int, Any], epoch: int, score: Any) -> float | None:
    if score is None:
        return None
    scores[epoch] = score
    return float(score.exact)


def _epoch_scorer(model: Any, base: BaseRef, settings: TrainSettings, schema: dict[str, Any], val_ex: list[Example],
                  out: Path, report: Callable[[Progress], None],
                  budget: Budget) -> Callable[[list[Example] | None], Any] | None:
    """A callable measuring exact match of the adapter as it is now, on the validation examples (or
    those given), through llama.cpp (see measure.py); None when that cannot be done (no GGUF base,
    no serve extra, no validation examples): training then stops on validation loss as before.
    Writing the adapter's GGUF is timed: the final write (twice that: GGUF and safetensors) is
    reserved in the budget."""
    from . import measure

    if base.gguf is None or not val_ex or not schema or not measure.available():
        why = ("no validation examples" if not val_ex else "the base has no GGUF" if base.gguf is None
               else "the serve extra (llama-cpp-python) is not installed")
        report(Progress("info", message=f"exact match per epoch not measured ({why}); keeping the best validation loss"))
        return None
    from peft import get_peft_model_state_dict

    from .lora_gguf import write_lora_gguf

    gguf = base.gguf
    scorer = measure.ExactMatch(gguf, schema, threads=settings.threads)
    path = out / "checkpoint" / "epoch-adapter.gguf"

    def score(some: list[Example] | None) -> Any:
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        write_lora_gguf(get_peft_model_state_dict(model), settings.lora_alpha, gguf, path)
        budget.writing_guess = 2 * (time.perf_counter() - t0)
        return scorer.score(path, [(e.system, e.user, e.answer) for e in (val_ex if some is None else some)])

    return score


def _time_one_scoring_call(scorer: Callable[[list[Example] | None], Any], val_ex: list[Example],
                           budget: Budget) -> float:
    """Before the first epoch, what its close's scoring will cost: one validation call, asked of the
    untrained adapter, times the validation calls. It over-reserves (the call also loads llama.cpp
    and writes the adapter, which a close does once, and an untrained adapter answers at the length
    cap) rather than under-reserve; from the first close on, the measured close is used instead."""
    t0 = time.perf_counter()
    with budget.part("scoring"):
        scorer(val_ex[:1])
    seconds = time.perf_counter() - t0
    budget.scoring_guess = seconds * len(val_ex)
    return seconds


def _record_in_lock(lock: Path | None, function_id: str | None, model_id: str, locked_fp: str | None,
                    examples: list[Example]) -> str:
    if lock is None:
        return "not recorded: no lock file given"
    if function_id is None:
        return "not recorded: pass --function module:qualname to record the model in the lock"
    from ..prompts.lock import LockError, record_model
    from ..prompts.render import fingerprint

    if not locked_fp and not examples[0].schema:
        return f"not recorded: {lock} has no entry for {function_id}; run `distilgen prompts` first"
    fp = locked_fp or fingerprint(examples[0].system, examples[0].schema)
    try:
        record_model(lock, function_id, model_id, fp)
    except LockError as exc:
        return f"not recorded: {exc}"
    return f"recorded {model_id} for {function_id} ({fp}) in {lock}"


def _write_artifacts(req: _Request, model: Any, base_files: _BaseFiles, data: _Data, examples: _TrainingSet,
                     plan: _Plan, growth: _Growth, trained: _Trained) -> None:
    """The adapter (safetensors, and GGUF for llama.cpp), the tokenizer, then model.json last and
    atomically: a folder with a model.json is complete."""
    req.out.mkdir(parents=True, exist_ok=True)
    with req.budget.part("writing"):
        adapter_gguf = _save_weights(req, model, base_files)
    info = _model_info(req, base_files, data, examples, plan, growth, trained, adapter_gguf)
    tmp = req.out / (MODEL_JSON + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(req.out / MODEL_JSON)


def _save_weights(req: _Request, model: Any, base_files: _BaseFiles) -> str | None:
    """Save the adapter and tokenizer; the adapter's GGUF name when the base has a GGUF to serve it on."""
    from peft import get_peft_model_state_dict

    from .lora_gguf import write_lora_gguf

    model.save_pretrained(str(req.out / ADAPTER_DIR), safe_serialization=True)
    base_files.tokenizer.save_pretrained(str(req.out / TOKENIZER_DIR))
    if base_files.ref.gguf is None:
        return None
    write_lora_gguf(get_peft_model_state_dict(model), req.settings.lora_alpha, base_files.ref.gguf, req.out / ADAPTER_GGUF)
    return ADAPTER_GGUF


def _model_info(req: _Request, base_files: _BaseFiles, data: _Data, examples: _TrainingSet, plan: _Plan,
                growth: _Growth, trained: _Trained, adapter_gguf: str | None) -> dict[str, Any]:
    """model.json: what `serve` needs to run the model, and what the run was (data, settings, losses)."""
    import peft
    import torch
    import transformers

    from ..prompts.render import fingerprint

    base, tokenizer, loop, grown = base_files.ref, base_files.tokenizer, trained.loop, trained.grown
    sample = grown.examples[0]
    if data.entry is not None:  # the lock knows the full schema (tools lines may omit it)
        prints = [(data.entry.tool, data.entry.fingerprint)]
    else:
        prints = sorted({(e.tool_name, fingerprint(e.system, e.schema)) for e in grown.examples if e.schema})
    return {
        "format": FORMAT_VERSION,
        "name": req.name,
        "model_id": f"local:{req.name}",
        "function_id": data.function_id,
        "tool_name": sample.tool_name,
        "schema": data.schema,
        "base": {"name": base.name, "path": str(base.path), "kind": base.kind, "sha256": base.sha256,
                 "gguf": str(base.gguf) if base.gguf else None,
                 "made_from": {"path": str(base.made_from.path), "sha256": base.made_from.sha256,
                               "type": base.made_from.type} if base.made_from else None},
        "serve": {"engine": "llama.cpp", "base_gguf": str(base.gguf) if base.gguf else None,
                  "adapter_gguf": adapter_gguf, "response_format": "json_schema"},
        "adapter": ADAPTER_DIR,
        "tokenizer": TOKENIZER_DIR,
        "chat_template": tokenizer.chat_template,
        "prompt_example": prompt_text(tokenizer, sample.system, sample.user),
        "datasets": [{"path": f.path, "sha256": f.sha256, "lines": f.lines, "role": f.role} for f in data.files],
        "fingerprints": [{"tool": t, "fingerprint": fp} for t, fp in prints],
        "examples": {"train": len(grown.encoded), "validation": len(examples.val_enc), "skipped": trained.skipped,
                     "grown": sum(g.get("added", 0) for g in grown.log)},
        "hyperparameters": req.settings.hyperparameters(),
        "losses": {"train_steps": list(loop.step_losses), "train_epochs": list(loop.epoch_losses),
                   "validation_epochs": list(loop.val_losses), "best_epoch": loop.best_epoch,
                   "stopped_early": loop.stopped_early},
        "steps": loop.steps,
        "curve": grown.curve,
        "stopped": loop.stop_reason,
        "growth": {"rounds": grown.log, "note": growth.note},
        "resumed_from_step": loop.resumed_from,
        "wall_seconds": round(trained.wall, 3),
        "train_seconds": round(loop.seconds, 3),
        "budget": req.budget.as_dict(),
        "estimate": plan.estimate.describe(),
        "threads": req.settings.threads,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
                     "python": platform.python_version()},
    }


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's state, read with torch's weights-only loader: tensors and plain values, never code.

    The checkpoint sits in the output folder, which a repository or another user could have
    written; a full pickle load would run whatever it names."""
    import pickle

    import torch

    try:
        state = torch.load(path, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--resume: {path} is not a checkpoint distilgen wrote ({first[:160]}); "
                         "delete the folder to start over") from None
    if not isinstance(state, dict):
        raise UsageError(f"--resume: {path} is not a checkpoint distilgen wrote; delete the folder to start over")
    return state
