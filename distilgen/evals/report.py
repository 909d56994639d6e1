"""The old import path of `eval_output` (docs/eval.md showed `from distilgen.evals.report import ...`)."""

from __future__ import annotations

from .eval_output import format_table, to_html, to_json

__all__ = ["format_table", "to_json", "to_html"]
