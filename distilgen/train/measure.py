"""Exact match of an adapter on held-out examples, asked the way the served model is asked.

Loss is not the target: a model can fit its data and still answer wrongly once decoding is
constrained. After each epoch the trainer writes the adapter GGUF and this module asks llama.cpp
(llama-cpp-python, the engine `distilgen serve` runs) with the same two messages dispatch sends,
the base's chat template, temperature 0, no repetition penalty, and the grammar of the served
schema (`formats.decoding_schema`: field order, every field required), then compares the parsed
answer with the real one. Needs the `serve` extra; without it training falls back to loss.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..runtime.formats import decoding_schema
from .encode import request_messages

__all__ = ["Score", "ExactMatch", "available"]


def available() -> bool:
    from .extras import SERVE_MODULES, missing

    return missing(SERVE_MODULES) is None


@dataclass(frozen=True)
class Score:
    exact: float
    fields: dict[str, float]
    """Top-level field -> share of examples whose value was right."""
    n: int
    wrong: tuple[int, ...] = ()
    """Indexes of the examples answered wrongly."""


class ExactMatch:
    """Scores adapters on fixed examples ((system, user, answer JSON) triples) with one base."""

    def __init__(self, base_gguf: str | Path, schema: dict[str, Any], threads: int = 2, max_tokens: int = 256) -> None:
        self.base = str(base_gguf)
        self.schema = decoding_schema(schema)
        self.threads = threads
        self.max_tokens = max_tokens

    def score(self, adapter_gguf: str | Path, examples: Sequence[tuple[str, str, str]]) -> Score:
        import os

        from .serve import llama_thread_env

        # llama.cpp's OpenMP threads wait at barriers as the server's do (see llama_thread_env);
        # libgomp reads this once, when first loaded (in `train`, by torch: run.py sets it earlier)
        os.environ.update(llama_thread_env(os.environ))
        from llama_cpp import Llama

        from ._llama_server import attach_adapter, lazy_grammar
        from .buffer_types import extra_buffer_verdict, use_extra_buffer_types

        # the kernels the server will use for this base, so the exact match is the served one
        use_extra_buffer_types(extra_buffer_verdict(self.base).extra)
        longest = max(len(s) + len(u) for s, u, _ in examples) // 2 + self.max_tokens + 64
        llm = Llama(model_path=self.base, n_ctx=min(4096, max(512, longest)), n_threads=self.threads,
                    n_threads_batch=self.threads, n_batch=256, verbose=False)
        try:
            # decoded as the server decodes (greedy under the grammar, forced tokens drafted), so
            # the exact match training reports is the one dispatch gets
            lazy_grammar(attach_adapter(llm, str(adapter_gguf)))
            exact = 0
            fields: dict[str, int] = {}
            wrong = []
            for i, (system, user, answer) in enumerate(examples):
                want = json.loads(answer)
                # A token is at least one character, so the right answer (compact, as trained) always
                # fits in len(answer) tokens; an undertrained adapter that pads with whitespace the
                # grammar allows would otherwise spend max_tokens on every call (minutes an epoch).
                budget = min(self.max_tokens, len(answer) + 16)
                r: Any = llm.create_chat_completion(messages=request_messages(system, user), temperature=0.0,
                                               repeat_penalty=1.0, max_tokens=budget,
                                               response_format={"type": "json_object", "schema": self.schema})
                try:
                    got = json.loads(r["choices"][0]["message"]["content"] or "")
                except ValueError:
                    got = None
                exact += got == want
                if got != want:
                    wrong.append(i)
                for k, v in want.items() if isinstance(want, dict) else ():
                    fields[k] = fields.get(k, 0) + (isinstance(got, dict) and got.get(k) == v)
        finally:
            llm.close()
        n = max(1, len(examples))
        return Score(exact / n, {k: v / n for k, v in fields.items()}, len(examples), tuple(wrong))
