"""Up-front memory and time estimate of a run, so one that cannot fit is refused before it starts.

Memory: the dequantised base in float32 (held twice while transformers converts the GGUF), the
LoRA weights with their gradients and AdamW moments, and the activations kept for backward, per
token and layer, for the longest padded batch. Time: ~6 FLOPs per parameter per token
(forward, and backward through the frozen base), over a float32 matmul rate measured here at the
run's thread count, with an efficiency factor for the rest of a transformer step.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Estimate", "MatmulRates", "estimate", "available_memory", "measure_flops", "measure_rates", "fmt_bytes",
           "fmt_seconds"]

_MODEL_EFFICIENCY = 0.9
"""Share of the measured matmul rate a whole training step reaches (attention, norms, copies)."""


@dataclass(frozen=True)
class MatmulRates:
    """Float32 matmul FLOP/s, two ways: per second of wall time (what the run gets at this moment,
    other work included), and per second of CPU time the probe actually ran (what the cores give
    when they run it). On a loaded machine the first drops with the share of the cores it gets
    (2-4 GFLOP/s read where the same machine gives 18-71); the second does not."""
    wall: float
    per_cpu_second: float

    @property
    def best(self) -> float:
        return max(self.wall, self.per_cpu_second)


@dataclass(frozen=True)
class Estimate:
    peak_bytes: int
    weights_bytes: int
    activation_bytes: int
    seconds: float
    steps: int
    tokens: int
    flops_per_second: float
    limit_bytes: int
    flops: float = 0.0
    """The whole run's floating-point work, which `seconds` divides by the rate."""

    def seconds_at(self, flops_per_second: float) -> float:
        """The run's time at another matmul rate (the same work)."""
        return self.flops / max(flops_per_second * _MODEL_EFFICIENCY, 1.0)

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.limit_bytes

    def describe(self) -> str:
        return (f"estimate: peak memory {fmt_bytes(self.peak_bytes)} (weights {fmt_bytes(self.weights_bytes)}, "
                f"activations {fmt_bytes(self.activation_bytes)}) of {fmt_bytes(self.limit_bytes)} allowed; "
                f"about {fmt_seconds(self.seconds)} for {self.steps} steps ({self.tokens} tokens at "
                f"{self.flops_per_second / 1e9:.1f} GFLOP/s measured)")


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def fmt_seconds(s: float) -> str:
    s = max(0.0, s)
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


def available_memory() -> int:
    """MemAvailable from /proc/meminfo (what can be allocated without swapping), else total RAM."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


def measure_rates(torch: Any, trials: int = 5) -> MatmulRates:
    """Float32 matmul FLOP/s on this machine at torch's current thread count (~0.25 s): the best of
    `trials` short readings, per second of wall time and per second of CPU time. One reading at
    load ~9 once read 2 GFLOP/s where the same machine gives 18-71, and refused a 15-minute budget
    as 'less than one epoch'; CPU time counts only while the probe runs, so a busy machine does not
    make the machine look slow (docs/local-training.md, "Memory and time estimate")."""
    a = torch.randn(256, 576)
    b = torch.randn(576, 1536)
    a @ b
    flops = 2.0 * 256 * 576 * 1536
    wall = cpu = 0.0
    for _ in range(trials):
        n = 0
        start, start_cpu = time.perf_counter(), time.process_time()
        while time.perf_counter() - start < 0.05:
            a @ b
            n += 1
        wall = max(wall, flops * n / (time.perf_counter() - start))
        cpu = max(cpu, flops * n / max(time.process_time() - start_cpu, 1e-6))
    return MatmulRates(wall, cpu)


def measure_flops(torch: Any, trials: int = 5) -> float:
    """The wall-clock rate of `measure_rates`: the best of `trials` readings."""
    return measure_rates(torch, trials).wall


def estimate(*, n_params: int, lora_params: int, hidden: int, intermediate: int, layers: int, heads: int,
             vocab: int, batch_size: int, max_len: int, answer_tokens_per_batch: int, total_tokens: int,
             steps: int, flops_per_second: float, limit_bytes: int, from_gguf: bool,
             backward_fraction: float = 1.0) -> Estimate:
    weights = n_params * 4 * (2 if from_gguf else 1)
    lora = lora_params * 4 * 4  # weight, gradient, two AdamW moments
    # per token and layer, what autograd keeps: attention and MLP inputs/outputs, norms, scores
    per_token_layer = 4 * (12 * hidden + 4 * intermediate + 2 * heads * max_len)
    activations = batch_size * max_len * layers * per_token_layer
    logits = answer_tokens_per_batch * vocab * 4 * 3
    overhead = 400 << 20  # interpreter, torch, tokenizer
    peak = int((weights + lora + activations + logits) * 1.2 + overhead)
    # forward 2 FLOPs per parameter and token; backward 4, but only down to the lowest adapted layer
    flops = (2.0 + 4.0 * backward_fraction) * n_params * total_tokens
    seconds = flops / max(flops_per_second * _MODEL_EFFICIENCY, 1.0)
    return Estimate(peak, weights, activations, seconds, steps, total_tokens, flops_per_second, limit_bytes, flops)
