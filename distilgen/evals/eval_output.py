"""Eval reports: a terminal table, JSON, and one self-contained HTML page with inline SVG charts.

The HTML page loads nothing at view time (no scripts, fonts or images from elsewhere): it is one
file that can be attached to a pull request or opened from an artifact store offline.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any, Sequence

from .evaluate import EvalReport, ModelScore

__all__ = ["format_table", "to_json", "to_html"]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 1 else f"{x:.1f}"


def _money(x: float | None) -> str:
    return "-" if x is None else f"${x:.4f}"


def _rows(r: EvalReport) -> list[tuple[str, list[str]]]:
    ms = r.models
    rows: list[tuple[str, list[str]]] = [
        ("exact match", [f"{_pct(m.exact_rate)} ({m.exact}/{m.calls})" for m in ms]),
    ]
    for i, f in enumerate(ms[0].fields):
        rows.append((f"  {f.field}", [_pct(m.fields[i].rate) for m in ms]))
    rows += [
        ("schema valid", [f"{_pct(m.schema_valid_rate)} (first try {_pct(m.valid_first / m.calls if m.calls else 0)})"
                          for m in ms]),
        ("re-asks / HTTP retries", [f"{m.re_asks} / {m.http_retries}" for m in ms]),
        ("fallbacks (no valid answer)", [str(m.fallbacks) for m in ms]),
        ("endpoint errors", [", ".join(f"{k} x{v}" for k, v in m.errors) or "-" for m in ms]),
        ("latency p50 / p95 ms", [f"{_ms(m.latency.p50)} / {_ms(m.latency.p95)}" for m in ms]),
        ("tokens per call", [f"{m.tokens_per_call:.1f}" for m in ms]),
        ("cost per 1,000 calls", [_money(m.cost_per_1000) for m in ms]),
    ]
    return rows


def format_table(r: EvalReport, *, worst: int = 5) -> str:
    """The terminal view: one column per model, the function's own latency, the gate's verdict."""
    headers = ["", *(m.model + (" (baseline)" if i else "") for i, m in enumerate(r.models))]
    rows = _rows(r)
    widths = [max(len(headers[0]), *(len(name) for name, _ in rows))]
    for j in range(len(r.models)):
        widths.append(max(len(headers[j + 1]), *(len(vals[j]) for _, vals in rows)))
    out = [f"{r.function_id}: {r.inputs} inputs from {r.source}"]
    if r.function_errors:
        out.append("  skipped (the function raised): " + ", ".join(f"{k} x{v}" for k, v in r.function_errors))
    out.append("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for name, vals in rows:
        out.append("  ".join(v.ljust(w) for v, w in zip([name, *vals], widths)).rstrip())
    fl = r.function_latency
    out.append(f"function latency p50 / p95 ms: {_ms(fl.p50)} / {_ms(fl.p95)}")
    if r.float_tolerance:
        out.append(f"floats compared within +/- {r.float_tolerance:g}")
    primary = r.primary
    if primary.disagreements and worst:
        out.append(f"worst disagreements ({primary.model}):")
        for d in primary.disagreements[:worst]:
            if d.got is None:
                out.append(f"  {d.call}\n    expected {_compact(d.expected)}\n    got      {d.error}")
            else:
                out.append(f"  {d.call}\n    expected {_compact(d.expected)}\n    got      {_compact(d.got)}"
                           f"  (wrong: {', '.join(d.wrong_fields)})")
    if r.min_accuracy is not None:
        verdict = "PASS" if r.passed else "FAIL"
        out.append(f"min accuracy {_pct(r.min_accuracy)}: {verdict} (exact match {_pct(primary.exact_rate)})")
    return "\n".join(out)


def _compact(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))


def to_json(reports: Sequence[EvalReport]) -> str:
    return json.dumps([r.as_dict() for r in reports], indent=2, ensure_ascii=False)


# --- HTML -----------------------------------------------------------------------------------

_COLOURS = ("#2563eb", "#f59e0b", "#10b981", "#ef4444")
_FUNCTION_COLOUR = "#6b7280"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#111827;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}.muted{color:#6b7280}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #e5e7eb;padding:4px 10px;text-align:left;vertical-align:top}th{background:#f9fafb}
td.num{text-align:right;font-variant-numeric:tabular-nums}.pass{color:#047857;font-weight:600}.fail{color:#b91c1c;font-weight:600}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}pre{margin:0;white-space:pre-wrap;word-break:break-word}
.wrong{background:#fee2e2}.charts{display:flex;flex-wrap:wrap;gap:24px}.legend span{margin-right:14px}
table.dis{width:100%}table.dis td:first-child{width:50%}.sw{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _accuracy_svg(r: EvalReport) -> str:
    """Grouped horizontal bars: exact match and each field, one bar per model."""
    labels = ["exact match", *(f.field for f in r.models[0].fields)]
    values = [[m.exact_rate, *(f.rate for f in m.fields)] for m in r.models]
    bar, gap, left, width = 14, 10, 150, 360
    group = bar * len(r.models) + gap
    height = group * len(labels) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 70}" height="{height}" '
             f'role="img" aria-label="per-field accuracy">']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = left + width * tick
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 20}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="11" text-anchor="middle" fill="#6b7280">'
                     f'{int(tick * 100)}%</text>')
    for i, label in enumerate(labels):
        y0 = i * group + 4
        parts.append(f'<text x="{left - 8}" y="{y0 + bar * len(r.models) / 2 + 4:.1f}" font-size="12" '
                     f'text-anchor="end">{_e(label)}</text>')
        for j, vals in enumerate(values):
            w = width * vals[i]
            y = y0 + j * bar
            parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" fill="{_COLOURS[j % 4]}">'
                         f'<title>{_e(r.models[j].model)}: {_pct(vals[i])}</title></rect>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y + bar - 4}" font-size="11">{_pct(vals[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _latency_svg(r: EvalReport) -> str:
    """One strip per series (each model, the function) on a log-scale ms axis, p50 and p95 marked."""
    series = [(m.model, m.latency.samples_ms, _COLOURS[i % 4]) for i, m in enumerate(r.models)]
    series.append(("function", r.function_latency.samples_ms, _FUNCTION_COLOUR))
    samples = [x for _, xs, _ in series for x in xs if x > 0]
    if not samples:
        return '<p class="muted">no latency samples</p>'
    lo = 10 ** math.floor(math.log10(min(samples)))
    hi = 10 ** math.ceil(math.log10(max(samples)))
    if hi <= lo:
        hi = lo * 10
    left, width, row = 150, 520, 44
    height = row * len(series) + 34

    def x(v: float) -> float:
        v = max(v, lo)
        return left + width * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{height}" '
             f'role="img" aria-label="latency distribution">']
    decade = lo
    while decade <= hi * 1.0001:
        parts.append(f'<line x1="{x(decade):.1f}" y1="0" x2="{x(decade):.1f}" y2="{height - 22}" stroke="#e5e7eb"/>')
        label = f"{decade / 1000:g} s" if decade >= 1000 else f"{decade:g} ms"
        parts.append(f'<text x="{x(decade):.1f}" y="{height - 8}" font-size="11" text-anchor="middle" '
                     f'fill="#6b7280">{label}</text>')
        decade *= 10
    from .evaluate import percentile

    for i, (name, xs, colour) in enumerate(series):
        cy = i * row + row / 2
        parts.append(f'<text x="{left - 8}" y="{cy + 4:.1f}" font-size="12" text-anchor="end">{_e(name)}</text>')
        for k, v in enumerate(xs):
            jitter = ((k * 7919) % 17 - 8) * 1.2  # deterministic spread so equal values stay visible
            parts.append(f'<circle cx="{x(v):.1f}" cy="{cy + jitter:.1f}" r="2.2" fill="{colour}" fill-opacity="0.45"/>')
        for q, dash in ((50, ""), (95, ' stroke-dasharray="3,2"')):
            p = percentile(xs, q)
            if p is not None:
                parts.append(f'<line x1="{x(p):.1f}" y1="{cy - 15:.1f}" x2="{x(p):.1f}" y2="{cy + 15:.1f}" '
                             f'stroke="#111827" stroke-width="1.5"{dash}><title>{_e(name)} p{q}: {_ms(p)} ms</title></line>')
    parts.append("</svg>")
    return "".join(parts)


def _summary_table(r: EvalReport) -> str:
    head = "".join(f"<th>{_e(m.model)}{' (baseline)' if i else ''}</th>" for i, m in enumerate(r.models))
    body = "".join(f"<tr><td>{_e(name.strip())}</td>" + "".join(f'<td class="num">{_e(v)}</td>' for v in vals) + "</tr>"
                   for name, vals in _rows(r))
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def _value_cell(d: dict[str, Any] | None, wrong: Sequence[str], error: str | None) -> str:
    if d is None:
        return f'<td class="wrong"><pre>{_e(error or "no answer")}</pre></td>'
    lines = []
    for k, v in d.items():
        text = _e(f"{k}: {json.dumps(v, ensure_ascii=False)}")
        lines.append(f'<span class="wrong">{text}</span>' if k in wrong else text)
    return "<td><pre>" + "\n".join(lines) + "</pre></td>"


def _disagreements(m: ModelScore) -> str:
    if not m.disagreements:
        return f"<p>{_e(m.model)}: no disagreements.</p>"
    rows = []
    for d in m.disagreements:
        rows.append(f"<tr><td><pre>{_e(d.call)}</pre></td>{_value_cell(d.expected, (), None)}"
                    f"{_value_cell(d.got, d.wrong_fields, d.error)}</tr>")
    return (f"<h3>Worst disagreements: {_e(m.model)}</h3><table class=\"dis\"><tr><th>input</th><th>expected (function)</th>"
            f"<th>got (model)</th></tr>{''.join(rows)}</table>")


def to_html(reports: Sequence[EvalReport], *, title: str = "distilgen eval", note: str | None = None) -> str:
    """One self-contained page for one or more functions' reports."""
    sections = []
    for r in reports:
        legend = "".join(f'<span><i class="sw" style="background:{_COLOURS[i % 4]}"></i>{_e(m.model)}</span>'
                         for i, m in enumerate(r.models))
        verdict = ""
        if r.min_accuracy is not None:
            cls = "pass" if r.passed else "fail"
            verdict = (f'<p class="{cls}">min accuracy {_pct(r.min_accuracy)}: {"PASS" if r.passed else "FAIL"} '
                       f"(exact match {_pct(r.primary.exact_rate)})</p>")
        fl = r.function_latency
        skipped = ""
        if r.function_errors:
            skipped = ("<p class=\"muted\">skipped (the function raised): "
                       + _e(", ".join(f"{k} x{v}" for k, v in r.function_errors)) + "</p>")
        sections.append(
            f"<h2><code>{_e(r.function_id)}</code></h2>"
            f'<p class="muted">{r.inputs} inputs from {_e(r.source)}; ground truth: the original function '
            f"(latency p50 {_ms(fl.p50)} ms, p95 {_ms(fl.p95)} ms)"
            + (f"; floats within ±{r.float_tolerance:g}" if r.float_tolerance else "") + "</p>"
            + skipped + verdict + _summary_table(r)
            + f'<p class="legend">{legend}<span><i class="sw" style="background:{_FUNCTION_COLOUR}"></i>function</span></p>'
            + '<div class="charts"><div><h3>Accuracy per field</h3>' + _accuracy_svg(r) + "</div>"
            + '<div><h3>Latency per call (log scale; solid p50, dashed p95)</h3>' + _latency_svg(r) + "</div></div>"
            + "".join(_disagreements(m) for m in r.models)
        )
    note_html = f'<p class="muted">{_e(note)}</p>' if note else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>'
            f"<body><h1>{_e(title)}</h1>{note_html}{''.join(sections)}</body></html>\n")
