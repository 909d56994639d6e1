"""Plain-text summary of a `generate` run (the CLI prints it; the walkthrough too)."""

from __future__ import annotations

from .generate import GenerateResult

__all__ = ["format_generate"]


def format_generate(r: GenerateResult) -> str:
    lines = [f"{r.function_id}: {r.written} examples written to {r.out} ({r.finetune_format} format, "
             f"seed {r.seed}, {r.seconds:.1f}s)"]
    detail = [f"{r.planned} distinct calls planned of {r.requested} requested"]
    if r.from_inputs:
        detail.append(f"{r.from_inputs} from --inputs as given")
    if r.duplicates:
        detail.append(f"{r.duplicates} duplicate calls skipped")
    lines.append("  " + ", ".join(detail))
    if r.planned < r.requested:
        lines.append(f"  note: only {r.planned} distinct argument sets could be drawn")
    if r.errors:
        failed = sum(c for _, c in r.errors)
        lines.append(f"  {failed} calls raised and were skipped: " + ", ".join(f"{name} x{c}" for name, c in r.errors))
    v = r.variety
    lines.append(f"  output variety: {v.distinct} distinct answers of {v.outputs}")
    for fv in v.fields:
        counts = ", ".join(f"{label} {c}" for label, c in fv.counts)
        unseen = [label for label in fv.labels if label not in dict(fv.counts)]
        tail = f" (never: {', '.join(unseen)})" if unseen and v.outputs else ""
        lines.append(f"    {fv.field}: {counts or '-'}{tail}")
    for flag in v.flags:
        lines.append(f"  warning: {flag}")
    return "\n".join(lines)
