"""Prompt-lookup drafting in the served decoder (`_llama_server.lookup_draft` and `_jump_forward`):
a span the answer copies from its call is drafted from the prompt and verified in one batch, and
what comes out is what decoding token by token gives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from distilgen.train._llama_server import lookup_draft
from test_serve_speed import needs_serve


def test_the_draft_follows_the_last_place_the_answer_tail_stands_in_the_prompt() -> None:
    prompt = "Return ship('12 kg via DHL from Lyon, France') # Lyon is not Lyons"
    assert lookup_draft('{"carrier":"DH', prompt) == "L"  # to the end of the call's word
    assert lookup_draft('{"carrier":"DHL', prompt) == " from"  # or of the next one, for values of several words
    assert lookup_draft('"Ly', prompt) == "ons"  # the last occurrence
    assert lookup_draft('"origin":"Lyon, Fr', prompt) == "ance"  # the longest tail that stands
    assert lookup_draft('"x":"Lyons', prompt) == ""  # only at the very end: nothing follows it
    assert lookup_draft('"x":"Q', prompt) == ""  # one character is not a match
    assert lookup_draft("", prompt) == ""
    assert lookup_draft("DHL", "") == ""
    assert lookup_draft("kg via DHL from Lyo", "kg via DHL from Lyonnais-et-Beaujolais region", chars=9) == "nnais-et-"


_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "city": {"type": "string"},
                                            "amount": {"type": "integer"}},
           "required": ["name", "city", "amount"], "additionalProperties": False}
_ASKS = ["Return parse_order('Order of 1250 units for Margaret Thompson-Whitfield, shipping to Philadelphia')",
         "Return parse_order('Bartholomew Fitzgerald ordered 73 boxes, deliver to San Francisco')",
         "Return parse_order('3 crates. Customer: Zoë Kowalczyk. City: Kraków')",
         "What is the weather like?"]


@needs_serve
@pytest.mark.slow
def test_lookup_gives_the_token_by_token_answer_in_fewer_passes() -> None:
    """The same greedy answers with and without lookup, fewer llama_decode calls with it, and a
    second request after a lookup (the KV cache trimmed of rejected drafts, its prefix reused)
    answers exactly as the first did. (A near-tie can round the other way in a batch, as with
    jump-forward: these asks have none; benchmarks/prompt_lookup.py counts them on trained models.)"""
    from llama_cpp import Llama

    from distilgen.train._llama_server import LazyGrammarGreedy, lazy_grammar, without_extra_buffer_types
    from distilgen.train.base import resolve_base

    without_extra_buffer_types()
    gguf = str(resolve_base(None).gguf)
    llms = {lookup: lazy_grammar(Llama(model_path=gguf, n_ctx=1024, n_threads=2, n_batch=256, verbose=False),
                                 lookup=lookup)
            for lookup in (False, True)}
    passes = {False: 0, True: 0}
    for lookup, llm in llms.items():
        stock = llm._ctx.decode

        def counted(batch: Any, lookup: bool = lookup, stock: Any = stock) -> None:
            passes[lookup] += 1
            stock(batch)

        llm._ctx.decode = counted

    def answer(llm: Any, ask: str) -> str:
        r: Any = llm.create_chat_completion(
            messages=[{"role": "system", "content": "Copy the fields of the order from the call."},
                      {"role": "user", "content": ask}],
            temperature=0.0, repeat_penalty=1.0, max_tokens=60,
            response_format={"type": "json_object", "schema": _SCHEMA})
        assert isinstance(llm._sampler, LazyGrammarGreedy)
        return str(r["choices"][0]["message"]["content"])

    try:
        got = {lookup: [answer(llm, ask) for ask in _ASKS] for lookup, llm in llms.items()}
        first = dict(passes)
        again = [answer(llms[True], ask) for ask in reversed(_ASKS)][::-1]
    finally:
        for llm in llms.values():
            llm.close()
    assert got[True] == got[False]
    assert again == got[True]
    copied = [_parsed(a) for a in got[True][:3]]
    assert any(c.get("name") and c["name"] in ask for c, ask in zip(copied, _ASKS)), got  # the base does copy here
    assert first[True] < first[False], first


def _parsed(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:  # cut at max_tokens
        return {}
    return value if isinstance(value, dict) else {}
