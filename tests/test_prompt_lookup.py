"""Prompt-lookup drafting in the served decoder (`_llama_server.lookup_draft` and `_jump_forward`):
a span the answer copies from its call is drafted from the prompt and verified in one batch, and
what comes out is what decoding token by token gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilgen.train._llama_server import lookup_draft
from test_serve_speed import needs_serve


def test_the_draft_follows_the_last_place_the_answer_tail_stands_in_the_prompt() -> None:
    prompt = "Return ship('12 kg via DHL from Lyon, France') # Lyon is not Lyons. Fedex"
    assert lookup_draft('{"carrier":"DH', prompt) == "L"  # to the end of the call's word
    assert lookup_draft('{"carrier":"DHL', prompt) == ""  # found, and the word ends: the value most likely too
    assert lookup_draft('"Ly', prompt) == "ons"  # the last occurrence
    assert lookup_draft('"origin":"Lyon, Fr', prompt) == "ance"  # the longest tail that stands
    assert lookup_draft('"x":"Lyo', prompt) == "ns"  # a sentence's stop ends the word
    assert lookup_draft('"x":"Lyons', prompt) == ""  # at the very end: nothing follows it
    assert lookup_draft('"x":"Fed', prompt) == "ex"  # the prompt's end ends the word
    assert lookup_draft('"x":"Q', prompt) is None  # in no word of the call
    assert lookup_draft("", prompt) is None
    assert lookup_draft("DHL", "") is None
    assert lookup_draft("kg via DHL from Lyo", "kg via DHL from Lyonnais-et-Beaujolais region", chars=9) == "nnais-et-"


def test_a_value_s_first_character_is_looked_for_at_the_start_of_a_word() -> None:
    prompt = "Return ship('UPS: 36 kg, 12.5 cm, Lyon; e-mail ann.lee@ex.com')"
    assert lookup_draft('{"carrier":"U', prompt) == "PS"  # not `UPS:`: a colon before a space ends it
    assert lookup_draft('{"carrier":"UPS', prompt) == ""
    assert lookup_draft('"kg":3', prompt) == "6"  # a number's first digit, after the key's colon
    assert lookup_draft('"cm":1', prompt) == "2.5"  # a dot inside a number is not a stop
    assert lookup_draft('"to":"a', prompt) == "nn.lee@ex.com"  # nor inside an address (the quote ends it)
    assert lookup_draft('"city":"y', prompt) is None  # `y` starts no word (only inside `Lyon`)
    assert lookup_draft('"x":"L', prompt) == "yon"
    assert lookup_draft("Ly", prompt) == "on"
    assert lookup_draft("L", prompt) is None  # one character that does not start a JSON value
    assert lookup_draft('"carrier":"Ups', prompt) == ""  # regardless of case when the exact text is nowhere
    assert lookup_draft('"id":"B-', "order b-57931 is late") == "57931"
    assert lookup_draft('"x":"l', "Lyon or Paris") == "yon"  # a word's start too


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

    from distilgen.train._llama_server import LazyGrammarGreedy, lazy_grammar
    from distilgen.train.buffer_types import without_extra_buffer_types
    from distilgen.train.base import resolve_base

    without_extra_buffer_types()
    gguf = str(resolve_base(None).gguf)
    llms = {lookup: lazy_grammar(Llama(model_path=gguf, n_ctx=1024, n_threads=1, n_batch=256, verbose=False),
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


@pytest.fixture(scope="module")
def small_base() -> Any:
    """The default base with a small context: guesses are tokenized and checked, never evaluated."""
    from llama_cpp import Llama

    from distilgen.train.buffer_types import without_extra_buffer_types
    from distilgen.train.base import resolve_base

    without_extra_buffer_types()
    llm = Llama(model_path=str(resolve_base(None).gguf), n_ctx=256, n_threads=1, verbose=False)
    yield llm
    llm.close()


def _guess(llm: Any, schema: dict[str, Any], text: str, prompt: str) -> str:
    """`_guess_tokens` after the answer `text` (its tokens accepted by the schema's grammar)."""
    import llama_cpp
    from llama_cpp import LlamaGrammar

    from distilgen.train._llama_server import LazyGrammarGreedy, _guess_tokens

    sampler = LazyGrammarGreedy(llm, LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False))
    try:
        answer = [int(t) for t in llm.tokenize(text.encode(), add_bos=False, special=False)]
        for token in answer:
            llama_cpp.llama_sampler_accept(sampler._grammar, token)
        return str(llm.detokenize(_guess_tokens(llm, sampler, prompt, answer)).decode())
    finally:
        sampler.close()


_NESTED = {"type": "object", "properties": {
    "carrier": {"type": "string"},
    "origin": {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
               "required": ["city", "country"], "additionalProperties": False},
    "weight_kg": {"type": "number"}, "express": {"type": "boolean"}, "note": {"type": "integer"},
    "email": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    "required": ["carrier", "origin", "weight_kg", "express"], "additionalProperties": False}


@needs_serve
def test_the_guess_after_a_value_is_its_end_and_the_json_the_grammar_forces_after_it() -> None:
    """`structure_after`: what a verified guess appends after a drafted value. A string ends with its
    quote, a number with the one closer the grammar allows; when it allows two (`,` for an optional
    field, `}`), or the tokens are not the grammar's, nothing is guessed."""
    from llama_cpp import Llama, LlamaGrammar

    from distilgen.train._llama_server import LazyGrammarGreedy
    from distilgen.train.buffer_types import without_extra_buffer_types
    from distilgen.train.base import resolve_base

    without_extra_buffer_types()
    llm = Llama(model_path=str(resolve_base(None).gguf), n_ctx=256, n_threads=1, verbose=False)
    try:
        def after(text: str, value_ends: bool = True) -> str:
            sampler = LazyGrammarGreedy(llm, LlamaGrammar.from_json_schema(json.dumps(_NESTED), verbose=False))
            try:
                tokens = [int(t) for t in llm.tokenize(text.encode(), add_bos=False, special=False)]
                return sampler.structure_after(tokens, value_ends)
            finally:
                sampler.close()

        assert after("", value_ends=False) == '{"carrier":"'
        assert after('{"carrier":"DHL') == '","origin":{"city":"'
        assert after('{"carrier":"DHL","origin":{"city":"Lyon') == '","country":"'
        assert after('{"carrier":"DHL","origin":{"city":"Lyon","country":"France') == '"},"weight_kg":'
        assert after('{"carrier":"DHL","origin":{"city":"Lyon","country":"France"},"weight_kg":12.5') == ',"express":'
        # after `express` comes the optional `note` or the end: two closers, no guess
        assert after('{"carrier":"DHL","origin":{"city":"Lyon","country":"France"},"weight_kg":1,"express":true',
                     value_ends=False) == ""
        assert after('{"carrier":"DHL","origin":{"city":"Lyon","country":"France"},"weight_kg":1,"express":true') == ""
        assert after('{"carrier":12') == ""  # not the grammar's
        # a string or null: the string's opening quote is guessed (`":"` is one token before a string)
        assert after('{"carrier":"DHL","origin":{"city":"Lyon","country":"France"},"weight_kg":1,"express":true,'
                     '"note":7,"email', value_ends=False) == '":"'
        assert after('{"carrier":"DHL","origin":{"city":"Lyon","country":"France"},"weight_kg":1,"express":true,'
                     '"note":7,"email":"a@b.c') == '"}'
        assert after('{"carrier":"DHL","origin":{"city":"Lyon","country":"France"},"weight_kg":1,"express":true,'
                     '"note":7,"email":nul', value_ends=False) == 'l}'
        assert after('{"carrier":"DHL","origin":{"city":"Lyon","country":"France"},"weight_kg":1,"express":true,'
                     '"note":7') == ""  # `,` (the optional email) or `}`
    finally:
        llm.close()


_DATE = {"type": "object", "properties": {"year": {"type": "integer"}, "month": {"type": "integer"},
                                          "day": {"type": "integer"}, "note": {"type": "string"}},
         "required": ["year", "month", "day", "note"], "additionalProperties": False}


@needs_serve
def test_the_guess_drafts_copied_values_and_the_json_between_them(small_base: Any) -> None:
    """`_guess_tokens` (what is verified in the next batch) from a given answer so far: the value
    drafted from the call to its word's end, or to where the grammar rules out the call's next
    character (`/` after a month), then the JSON up to the next value."""
    prompt = "Return parse_date('27/2/1956, due Monday')"

    def guess(text: str) -> str:
        return _guess(small_base, _DATE, text, prompt)

    assert guess('{"year":19') == '56,"month":'  # to the word's end (the prompt's `'`), then on
    assert guess('{"year":1956,"month":2') == ',"day":'  # `/` cannot follow in an integer: it ends
    assert guess('{"year":1956,"month":2,"day":27,"note":"du') == 'e"}'
    assert guess('{"year":1956,"month":2,"day":27,"note":"Mon') == 'day"}'
    assert guess('{"year":1956,"month":2,"day":27,"note":"x') == ""  # in no word of the call
    assert guess('{"year":1956,"month":2,"day":27,"note') == '":"'  # the held-back `":"`


@given(answer=st.text(max_size=40), prompt=st.text(max_size=200))
@settings(max_examples=400, deadline=None)
def test_a_draft_is_always_a_piece_of_one_word_of_the_call(answer: str, prompt: str) -> None:
    """Whatever the answer and the call (any characters, case folding that changes lengths), the
    draft is None or text of the call that holds no word end, never longer than asked for."""
    from distilgen.train._llama_server import call_text, lookup_drafts

    got = lookup_draft(answer, prompt, chars=24)
    assert got is None or (got in prompt and len(got) <= 24)
    if got:
        assert not any(c.isspace() or c in "\"',;()[]{}" for c in got), got
    if len(answer) >= 2 and answer[-2:] in prompt:
        assert got is not None
    every = lookup_drafts(answer, prompt, chars=24)
    assert (every[0] if every else None) == got and len(set(every)) == len(every)
    assert all(d in prompt and len(d) <= 24 and not any(c.isspace() or c in "\"',;()[]{}" for c in d) for d in every)
    assert prompt.endswith(call_text(prompt))


def test_copied_values_are_looked_for_in_the_call_s_arguments_first() -> None:
    """The system prompt (docstring, source) and the call's own `Return fn` hold words no answer
    copies: an order id starting with `R` was drafted as `Return`."""
    from distilgen.train._llama_server import call_text

    prompt = ("Find the order number (like A-12345). Return it.\nuser\n"
              "Return extract_order('Order r-39260 arrived broken on 2023-10-19.')\nassistant\n")
    assert call_text(prompt).startswith("'Order r-39260")
    assert lookup_draft('{"order_id":"R', call_text(prompt)) == "-39260"
    assert lookup_draft('{"order_id":"R', prompt) == "eturn"  # what the whole prompt drafted
    assert call_text("no call here") == "no call here"
    # the last call: a call's arguments may quote another
    assert call_text("Return f('Return g(1)') and Return h(2)") == "2)"


def test_a_first_character_drafts_every_word_it_starts_the_last_first() -> None:
    from distilgen.train._llama_server import lookup_drafts

    call = "'Tracking for m-15138 has not moved since 2025-06-03.')"
    assert lookup_drafts('{"id":"M', call) == ["oved", "-15138"]  # regardless of case, the last first
    assert lookup_drafts('{"id":"m', call) == ["oved", "-15138"]
    assert lookup_drafts('{"id":"Mo', call) == ["ved"]  # a tail that stands: one
    assert lookup_drafts('{"id":"Q', call) == []


_ORDER = {"type": "object", "properties": {
    "order_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "date": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]}},
    "required": ["order_id", "date"], "additionalProperties": False}


@needs_serve
def test_a_value_only_one_word_of_the_call_fits_is_guessed_whole(small_base: Any) -> None:
    """`_guess_tokens` after the model's own first token of a value: the copied value, and then the
    next value too when only one word of the call fits its shape (a date), or null when none does;
    a free-text value (the order id: every word fits) is never guessed before its first character;
    a null is guessed where the model wrote `":` (a string always starts `":"` in training);
    of several words a character starts, the one the model's token agrees with."""
    def guess(text: str, call: str) -> str:
        return _guess(small_base, _ORDER, text, call)

    dated = "'Tracking for b-57931 has not moved since 2024-01-17.')"
    undated = "'Can you check h-74895? Thanks.')"
    assert guess('{"order_id":"B', dated) == '-57931","date":"2024-01-17"}'
    assert guess('{"order_id":"H', undated) == '-74895","date":null}'
    assert guess('{"order_id":', dated) == 'null,"date":"2024-01-17"}'
    assert guess('{"order_id', dated) == '":"'  # free text: nothing to go on before its first character
    two = "'b-57931 on 2024-01-17, not 2024-01-18')"
    assert guess('{"order_id":"B', two) == '-57931","date":"'  # two dates fit: neither is guessed
    # `Monday` (the exact case) would have been one token, not `M`: the id it is
    assert guess('{"order_id":"M', "'Is m-15138 here by Monday, 2025-06-03?')") == '-15138","date":"2025-06-03"}'
