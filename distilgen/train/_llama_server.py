"""llama-cpp-python's server, plus OpenAI's `json_schema` response_format.

llama-cpp-python's request model only knows `{"type": "json_object", "schema": ...}`; OpenAI's
`{"type": "json_schema", "json_schema": {"schema": ...}}` (what dispatch sends with
response_format="json_schema") is rewritten into it before the server sees the request, so both
give the same grammar-constrained answer. Run as `python -m distilgen.train._llama_server ARGS`
with llama_cpp.server's own arguments.

Capture's compact `tools` declarations (OpenAI's advice for fine-tuning) omit `parameters`, which
llama-cpp-python requires (it builds the answer's grammar from them). `distilgen serve` passes the
trained function's schema in DISTILGEN_TOOL_SCHEMAS (`{tool name: schema}`), and a declaration
without parameters gets it here, so dispatch's default forced tool call is constrained the same way.
Every schema is passed on as `formats.decoding_schema`: properties in field order, all required,
which is the shape of every training answer (llama.cpp's grammar follows the schema's order and
puts required properties before optional ones).
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from typing import Any, Awaitable, Callable

from distilgen.ops.shapes import USER_PREFIX
from distilgen.runtime.formats import decoding_schema

from .buffer_types import without_extra_buffer_types

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def rewrite_request(body: bytes, tool_schemas: dict[str, Any]) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    # llama_cpp.server's default repeat_penalty is 1.1: it pushes the model off tokens it just saw,
    # the very tokens an extraction must copy from the prompt; training had no penalty
    changed = "repeat_penalty" not in data
    data.setdefault("repeat_penalty", 1.0)
    rf = data.get("response_format")
    if isinstance(rf, dict) and rf.get("type") in ("json_schema", "json_object"):
        schema = (rf.get("json_schema") or {}).get("schema", {}) if rf["type"] == "json_schema" else rf.get("schema")
        if isinstance(schema, dict):
            data["response_format"] = {"type": "json_object", "schema": decoding_schema(schema)}
            changed = True
    for tool in data.get("tools") or []:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict):
            continue
        params = fn.get("parameters")
        if params is None and fn.get("name") in tool_schemas:
            params = tool_schemas[fn["name"]]
        if isinstance(params, dict):
            fn["parameters"] = decoding_schema(params)
            changed = True
    return json.dumps(data).encode("utf-8") if changed else body


def _model_of(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, str) else None


async def _not_found(send: Send, model: str | None, served: list[str]) -> None:
    body = json.dumps({"error": {"message": f"model {model!r} is not served here (served: {', '.join(served)})",
                                 "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}).encode()
    await send({"type": "http.response.start", "status": 404,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class JsonSchemaShim:
    """ASGI middleware: buffer a chat completion request's body and rewrite its response_format.
    `tool_schemas` is {model id: {tool name: schema}}: each served model fills in its own."""

    def __init__(self, app: Any, tool_schemas: dict[str, Any] | None = None) -> None:
        self.app = app
        self.tool_schemas = tool_schemas or {}

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST" or not str(scope.get("path", "")).endswith("/chat/completions"):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        model = _model_of(raw)
        if len(self.tool_schemas) > 1 and model not in self.tool_schemas:
            # several models: a wrong id must not silently get another function's model
            await _not_found(send, model, list(self.tool_schemas))
            return
        body = rewrite_request(raw, self.tool_schemas.get(model or "", {}))
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        await self.app(dict(scope, headers=headers), replay, send)


def watch_parent(parent: int, interval: float = 1.0, grace: float = 10.0) -> threading.Thread:
    """Exit when `parent` is gone. The server runs in its own session (so Ctrl-C in a terminal reaches
    distilgen first, which stops it in order); a parent killed with SIGKILL can stop nothing, and the
    server would otherwise live on, holding its port and two cores. Orphans are re-parented, so a
    changed getppid() means the parent died: SIGTERM ourselves (uvicorn shuts down), then exit hard."""

    def run() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(1)

    thread = threading.Thread(target=run, name="distilgen-parent-watch", daemon=True)
    thread.start()
    return thread


class _LlamaThread:
    """The one thread that runs every llama.cpp call of this process.

    libgomp keeps a team of worker threads per thread that starts a parallel region. The server
    answers requests on a pool of threads, so over time several teams exist, and once the process
    has more OpenMP threads than CPUs libgomp cuts spinning to almost nothing: every barrier then
    costs a wake-up. Measured here (2 threads, 2 cores, GOMP_SPINCOUNT=1000): 11 ms per generated
    token while one thread ever decoded, 32 ms once a second thread had; a served classifier call
    took 141 ms or 239 ms depending on whether the pool had used one thread or two."""

    def __init__(self) -> None:
        import concurrent.futures

        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="llama")
        self._ident: int | None = None

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == self._ident:  # a call from inside a call (chat -> completion)
            return fn(*args, **kwargs)
        result = self._pool.submit(self._mark, fn, args, kwargs).result()
        if hasattr(result, "__next__") and hasattr(result, "send"):  # a stream: each chunk here too
            return self._stream(result)
        return result

    def _mark(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        self._ident = threading.get_ident()
        return fn(*args, **kwargs)

    def _stream(self, chunks: Any) -> Any:
        done = object()
        while True:
            chunk = self._pool.submit(next, chunks, done).result()
            if chunk is done:
                return
            yield chunk


_LLAMA_THREAD = _LlamaThread()


def run_on_llama_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) on the process's one llama thread (loading a model included: _LlamaThread)."""
    return _LLAMA_THREAD.run(fn, *args, **kwargs)


def on_llama_thread(llm: Any) -> Any:
    """Make the model's compute entry points run on the process's one llama thread."""
    import functools

    for name in ("create_chat_completion", "create_completion", "create_embedding", "embed"):
        fn = getattr(llm, name, None)
        if fn is not None:
            setattr(llm, name, functools.partial(_LLAMA_THREAD.run, fn))
    return llm


def load_with_adapter(settings: Any, load: Callable[[Any], Any]) -> Any:
    """Load a model with its LoRA adapter GGUF, keeping the base mmapped. llama-cpp-python turns mmap
    off whenever `lora_path` is set (a leftover from when llama.cpp merged adapters into the
    weights), which copies the whole base into each process, and into each model of a multi-model
    server. llama.cpp applies an adapter at compute time, so here the base loads mmapped, without
    `lora_path`, and the adapter is attached to the context the way llama-cpp-python itself does.

    Loaded on the llama thread too: repacking weights into llama.cpp's AMX buffers runs OpenMP
    regions, and a team started by the loading thread stays beside the llama thread's (see
    _LlamaThread): with AMX on, 70 ms per generated token instead of 8."""
    return _LLAMA_THREAD.run(_load_with_adapter, settings, load)


def _load_with_adapter(settings: Any, load: Callable[[Any], Any]) -> Any:
    path = getattr(settings, "lora_path", None)
    if not path:
        return on_llama_thread(lazy_grammar(load(settings)))
    llm = load(settings.model_copy(update={"lora_path": None}))
    return on_llama_thread(lazy_grammar(attach_adapter(llm, str(path), float(getattr(settings, "lora_scale", 1.0) or 1.0))))


def compact_json_grammar(gbnf: str) -> str:
    """The grammar with no optional space. llama-cpp-python's JSON-schema grammar allows a space
    after every `:`, `,` and brace (`space ::= " "?`); every training answer is compact JSON, so a
    trained model never takes it, and without it the separators between fields are forced, which
    is what lets LazyGrammarGreedy.draft skip their forward passes. Only that exact optional rule
    is emptied, so no grammar ever loses text it requires."""
    return re.sub(r'(?m)^space ::= " "\?$', 'space ::= ""', gbnf)


def single_char_tokens(llm: Any) -> tuple[Any, list[str]]:
    """(ids, characters) of the vocabulary's one-character printable ASCII tokens, once per model:
    the probes that find which character a grammar forces next."""
    cached = getattr(llm, "_distilgen_char_tokens", None)
    if cached is None:
        import numpy as np

        found: dict[str, int] = {}
        for token in range(int(llm._n_vocab)):
            piece = llm.detokenize([token])
            if len(piece) == 1 and 0x20 <= piece[0] < 0x7F:
                found.setdefault(chr(piece[0]), token)
        chars = sorted(found)
        cached = (np.array([found[c] for c in chars], dtype=np.int32), chars)
        llm._distilgen_char_tokens = cached
    return cached


_VALUE_FIRST = set('"-0123456789[{ntf')  # the characters a JSON value starts with (not inside a string)


def _char_ids(llm: Any) -> dict[str, int]:
    """single_char_tokens as a map from the character to its token."""
    cached = getattr(llm, "_distilgen_char_ids", None)
    if cached is None:
        ids, chars = single_char_tokens(llm)
        cached = llm._distilgen_char_ids = {c: int(i) for c, i in zip(chars, ids)}
    return cached


def _char_class(c: str) -> str:
    """The pre-tokenizer's classes (GPT-2 style byte-level BPE: letters, digits, other, space)."""
    return "L" if c.isalpha() else "N" if c.isdigit() else "S" if c.isspace() else "P"


def _mergeless(forced: str, after: set[str]) -> str:
    """The forced text without a last run that may continue into the free text after it. The
    tokenizer first splits text into runs of one character class and BPE merges only inside a run,
    so a forced `":"` followed by an empty string's `"` is tokenized `":""` in the answers the model
    was trained on: drafting `":"` on its own would show the model a split it never saw. Such a run
    is left for the model to write itself. (A forced run that continues the model's own last token,
    `tech` + `nical`, is drafted: the model has already left the tokenizer's split there.)"""
    end = len(forced)
    if forced and _char_class(forced[-1]) in after:
        while end and _char_class(forced[end - 1]) == _char_class(forced[-1]):
            end -= 1
    return forced[:end]


class LazyGrammarGreedy:
    """Greedy decoding under a grammar that asks the grammar about the model's own choice first.

    llama-cpp-python's sampler chain applies the grammar to every candidate of the vocabulary (49,152
    tokens for SmolLM2) before taking the best one, for every generated token. Greedy decoding only
    needs the best token the grammar allows: if the model's top token is allowed (nearly always, for
    a model trained on answers of this shape), it is that token, and one check settles it; only
    otherwise is the whole vocabulary filtered, as before. The result is the same token every time
    (the argmax of a subset that holds the overall argmax is the overall argmax); llama.cpp's own
    sampler (common/sampling.cpp) checks the grammar this way too."""

    def __init__(self, llm: Any, grammar: Any, compact: bool = True) -> None:
        import ctypes

        import llama_cpp
        import numpy as np

        self._llama_cpp, self._np, self._ctypes = llama_cpp, np, ctypes
        self._n_vocab = int(llm._n_vocab)
        self._grammar = llama_cpp.llama_sampler_init_grammar(
            llm._model.vocab, (compact_json_grammar(grammar._grammar) if compact else grammar._grammar).encode("utf-8"),
            grammar._root.encode("utf-8"))
        if not self._grammar:
            raise RuntimeError("llama.cpp could not build the answer's grammar")
        self._one = (llama_cpp.llama_token_data * 1)()
        # llama_token_data is {int32 id; float logit; float p}: one numpy record each, no padding
        self._all = np.zeros(self._n_vocab, dtype=np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)]))
        self._all["id"] = np.arange(self._n_vocab, dtype=np.int32)
        self.tokens = self.fallbacks = 0  # how often the whole vocabulary had to be filtered
        self.complete = False  # after the last draft, the grammar allows nothing but the end
        self.forced = 0  # tokens taken from the grammar alone, without a forward pass of their own
        self._llm = llm
        self._pending: list[int] = []

    def _allowed(self, token: int, logit: float, grammar: Any = None) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = token, logit, 0.0
        arr = self._llama_cpp.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)
        self._llama_cpp.llama_sampler_apply(grammar or self._grammar, self._ctypes.byref(arr))
        return bool(self._one[0].logit != float("-inf"))

    def sample(self, ctx: Any, idx: int = -1) -> int:
        llama_cpp, np = self._llama_cpp, self._np
        if self._pending:  # a drafted token the grammar forces: its logits were never computed
            token = self._pending.pop(0)
            self.forced += 1
            llama_cpp.llama_sampler_accept(self._grammar, token)
            return token
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx.ctx, idx), shape=(self._n_vocab,))
        token = int(np.argmax(logits))
        self.tokens += 1
        if not self._allowed(token, float(logits[token])):
            self.fallbacks += 1
            self._all["logit"] = logits
            arr = llama_cpp.llama_token_data_array(
                data=self._all.ctypes.data_as(llama_cpp.llama_token_data_p), size=self._n_vocab, selected=-1, sorted=False)
            llama_cpp.llama_sampler_apply(self._grammar, self._ctypes.byref(arr))
            token = int(np.argmax(self._all["logit"]))
        llama_cpp.llama_sampler_accept(self._grammar, token)
        return token

    def draft(self) -> list[int]:
        """The tokens the grammar forces next, whatever the model would say (`","team":"` between two
        fields, the rest of an enum value once its first token is out), to be evaluated in one batch
        with the token just sampled instead of one forward pass each. The forced text is found
        character by character on a copy of the grammar, then tokenized as training tokenized the
        answers (one string); nothing is drafted unless the grammar accepts every one of its tokens."""
        self.complete = False
        if self._pending:
            return []
        text = self._forced_text()
        if not text:
            return []
        tokens = [int(t) for t in self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)]
        if (self._llm.detokenize(tokens).decode("utf-8", "replace") != text
                or len(self.admissible(tokens)) < len(tokens)):
            self.complete = False
            return []
        self._pending = list(tokens)
        return tokens

    def admissible(self, tokens: list[int]) -> list[int]:
        """The longest head of `tokens` the grammar allows from its present state: a draft from the
        prompt is cut where the answer's shape rules it out (an enum value, a digit expected), so
        it costs no batch rows that could never be kept."""
        check = self._llama_cpp.llama_sampler_clone(self._grammar)
        try:
            return tokens[:self._accept(check, tokens)]
        finally:
            self._llama_cpp.llama_sampler_free(check)

    def _accept(self, grammar: Any, tokens: list[int]) -> int:
        """Accept `tokens` into `grammar` while it allows them; how many it took."""
        for n, token in enumerate(tokens):
            if not self._allowed(token, 0.0, grammar):
                return n
            self._llama_cpp.llama_sampler_accept(grammar, token)
        return len(tokens)

    def _forced_text(self, limit: int = 64) -> str:
        """Characters the grammar allows one at a time and only one, from its present state, without
        a last run that may merge with the free text after it (`_mergeless`)."""
        grammar = self._llama_cpp.llama_sampler_clone(self._grammar)
        try:
            text, after, self.complete = self._forced_run(grammar, limit)
        finally:
            self._llama_cpp.llama_sampler_free(grammar)
        kept = _mergeless(text, {_char_class(c) for c in after})
        self.complete = self.complete and kept == text
        return kept

    def _forced_run(self, grammar: Any, limit: int = 64) -> tuple[str, list[str], bool]:
        """(the characters `grammar` allows one at a time and only one, accepting them into it; the
        characters it allows after them; whether it allows nothing but the end there)."""
        llama_cpp = self._llama_cpp
        out: list[str] = []
        while True:
            allowed, end = self._allowed_chars(grammar)
            if len(allowed) != 1 or end or len(out) >= limit:
                return "".join(out), allowed, end and not allowed
            llama_cpp.llama_sampler_accept(grammar, _char_ids(self._llm)[allowed[0]])
            out.append(allowed[0])

    def _allowed_chars(self, grammar: Any) -> tuple[list[str], bool]:
        """(the one-character tokens `grammar` allows now, as characters; whether it allows the end)."""
        llama_cpp, np = self._llama_cpp, self._np
        ids, chars = single_char_tokens(self._llm)
        probe = np.zeros(len(ids) + 1, dtype=self._all.dtype)
        probe["id"][:-1] = ids
        probe["id"][-1] = self._llm.token_eos()  # an answer that may end here is not forced on
        arr = llama_cpp.llama_token_data_array(
            data=probe.ctypes.data_as(llama_cpp.llama_token_data_p), size=len(probe), selected=-1, sorted=False)
        llama_cpp.llama_sampler_apply(grammar, self._ctypes.byref(arr))
        allowed = np.flatnonzero(probe["logit"] != -np.inf)
        return [chars[i] for i in allowed if i < len(ids)], bool(len(allowed)) and allowed[-1] == len(ids)

    def structure_after(self, tokens: list[int], value_ends: bool) -> str:
        """The JSON the grammar forces after `tokens` (which it must allow from its present state):
        with `value_ends`, the value being written is taken to end there first (a string's closing
        quote, or a number's `,` or `}` when the grammar allows one of them only) and what the
        grammar forces after that follows. The text of a guess, to be verified: "" when the grammar
        does not allow `tokens` or the value's end is not one character it allows."""
        llama_cpp = self._llama_cpp
        grammar = llama_cpp.llama_sampler_clone(self._grammar)
        try:
            if self._accept(grammar, tokens) < len(tokens):
                return ""
            end = ""
            if value_ends:
                allowed, _ = self._allowed_chars(grammar)
                closers = [c for c in allowed if c in ',}]']
                end = '"' if '"' in allowed else closers[0] if len(closers) == 1 else ""
                if not end:
                    return ""
                llama_cpp.llama_sampler_accept(grammar, _char_ids(self._llm)[end])
            run, allowed, _ = self._forced_run(grammar)
            if run and '"' in allowed and set(allowed) <= _VALUE_FIRST and _char_class(run[-1]) == "P":
                # a value that may be a string or null (`"email":"` or `"email":null`): the model
                # writes `":"` as one token before a string; a string is guessed, a field's usual case
                run += '"'
            return end + run
        finally:
            llama_cpp.llama_sampler_free(grammar)

    def chars_after(self, tokens: list[int]) -> set[str]:
        """The characters the grammar allows after `tokens` (which it must allow): empty when it
        does not allow them."""
        grammar = self._llama_cpp.llama_sampler_clone(self._grammar)
        try:
            if self._accept(grammar, tokens) < len(tokens):
                return set()
            return set(self._allowed_chars(grammar)[0])
        finally:
            self._llama_cpp.llama_sampler_free(grammar)

    def null_may_start(self, tokens: list[int] | None = None) -> bool:
        """Whether a value that is a string or null starts after `tokens` (none: here): `"` and `n`
        allowed, nothing else."""
        return self.chars_after(tokens or []) == {'"', "n"}

    def close(self) -> None:
        if self._grammar:
            self._llama_cpp.llama_sampler_free(self._grammar)
            self._grammar = None

    def __del__(self) -> None:
        self.close()


def lazy_grammar(llm: Any, compact: bool = True, draft: bool | None = None, lookup: bool | None = None) -> Any:
    """Use LazyGrammarGreedy for the requests it gives the same answer for: temperature 0, a
    grammar, no logits processor and no repetition penalties (what dispatch and the shim send);
    anything else keeps llama-cpp-python's own sampler chain. `compact` (the default) drops the
    grammar's optional spaces (compact_json_grammar); `draft` (the default with it, unless
    DISTILGEN_LLAMA_STEPWISE=1, to measure) evaluates the tokens the grammar forces in one batch with
    the token before them (`_jump_forward`) instead of one forward pass each; `lookup` (the default
    with `draft`, unless DISTILGEN_LLAMA_LOOKUP=0) also drafts free tokens from the prompt."""
    import types

    draft = compact and (os.environ.get("DISTILGEN_LLAMA_STEPWISE") != "1" if draft is None else draft)
    lookup = draft and (os.environ.get("DISTILGEN_LLAMA_LOOKUP") != "0" if lookup is None else lookup)
    original = llm._init_sampler

    def init_sampler(self: Any, *args: Any, **kwargs: Any) -> Any:
        neutral = (kwargs.get("temp", 0.8) == 0.0 and kwargs.get("grammar") is not None
                   and kwargs.get("logits_processor") is None and kwargs.get("repeat_penalty", 1.0) == 1.0
                   and kwargs.get("frequency_penalty", 0.0) == 0.0 and kwargs.get("presence_penalty", 0.0) == 0.0
                   and kwargs.get("mirostat_mode", 0) == 0 and not args)
        if not neutral or os.environ.get("DISTILGEN_LLAMA_FULL_GRAMMAR") == "1":
            return original(*args, **kwargs)
        return LazyGrammarGreedy(self, kwargs["grammar"], compact=compact)

    llm._init_sampler = types.MethodType(init_sampler, llm)
    if draft:
        single_char_tokens(llm)  # ~0.3 s over the vocabulary: at load, not in the first request
        stock = llm.generate

        def generate(self: Any, tokens: Any, reset: bool = True, stopping_criteria: Any = None, **kwargs: Any) -> Any:
            if reset and self.draft_model is None:
                sampler = self._init_sampler(**kwargs)
                if isinstance(sampler, LazyGrammarGreedy):
                    self._sampler = sampler
                    return _jump_forward(self, sampler, list(tokens), stopping_criteria, lookup=lookup)
            return stock(tokens, reset=reset, stopping_criteria=stopping_criteria, **kwargs)

        llm.generate = types.MethodType(generate, llm)
    return llm


LOOKUP_TOKENS = 10  # llama-cpp-python's LlamaPromptLookupDecoding default, not tuned here
LOOKUP_CHARS = (2, 16)  # the shortest and longest tail of the answer looked for in the prompt


def lookup_draft(answer: str, prompt: str, shortest: int = LOOKUP_CHARS[0], longest: int = LOOKUP_CHARS[1],
                 chars: int = 4 * LOOKUP_TOKENS) -> str | None:
    """Prompt lookup, on text: what follows, in the prompt, the last place where the longest tail
    of the answer so far also stands, to the end of the call's word (None when no tail stands in
    the prompt; "" when one does and the call's word ends right there). An answer that copies a
    span of its call (a name, a city, an item) is then drafted from the call itself. On text, not
    tokens, because the same word is tokenized differently in the call (` Lyon`, after a space) and
    in the answer (`Lyon`, after a quote). A value whose first character alone is out (`"F`, `:2`)
    is looked for as the start of one of the call's words (`FedEx`, `26`): one character anywhere
    would match almost anything. Case is ignored when the exact text stands nowhere."""
    found = lookup_drafts(answer, prompt, shortest, longest, chars)
    return found[0] if found else None


def lookup_drafts(answer: str, prompt: str, shortest: int = LOOKUP_CHARS[0], longest: int = LOOKUP_CHARS[1],
                  chars: int = 4 * LOOKUP_TOKENS) -> list[str]:
    """`lookup_draft`'s candidates, the likeliest first: one for a tail that stands in the prompt;
    for a value's first character, every word of the call it starts (the last first, the exact
    case before any other), for the caller to choose the one the model's own token agrees with
    (a model that wrote `M` did not start `Monday`, one token, but may start `m-15138`)."""
    found: list[str] = []
    # the exact text first; then regardless of case (`B-57931` in the answer, `b-57931` in the call)
    for ask, hay in ((answer, prompt), (answer.lower(), prompt.lower())):
        if len(hay) != len(prompt):  # lowering changed the length: positions would not carry over
            break
        for n in range(min(longest, len(ask)), shortest - 1, -1):
            at = hay.rfind(ask[-n:])
            if at != -1:
                return found or [_to_word_end(prompt[at + n:at + n + chars])]
        first = _VALUE_START.search(ask)
        if first:
            starts = [m.end() for m in re.finditer(r"(?<!\w)" + re.escape(first.group(1)), hay)]
            found.extend(d for d in (_to_word_end(prompt[at:at + chars]) for at in reversed(starts)) if d not in found)
    return found


# a distilgen prompt's call: `Return fn(` and its arguments (dispatch writes it as capture did)
_CALL_START = re.compile(re.escape(USER_PREFIX) + r"[A-Za-z_][\w.]*\(")


def call_text(prompt: str) -> str:
    """Where copied values are looked for first: the arguments of the prompt's last `Return fn(...)`
    (the whole prompt when it holds none). The system prompt (docstring, source) and the call's own
    `Return fn` hold words an answer does not copy: `Return` was drafted for an order id starting
    with `R` where the call wrote `r-39260`."""
    last = None
    for last in _CALL_START.finditer(prompt):
        pass
    return prompt[last.end():] if last else prompt


def _to_word_end(more: str) -> str:
    # past the call's word the answer most likely closes its value (a quote the call does not
    # have), and every drafted token past the first rejected one is a wasted row
    end = _WORD_END.search(more)
    return more[:end.start()] if end else more


# a space, a quote, a bracket, a comma or semicolon, or a stop, colon or mark that ends a sentence
# (`Lyon.`, `Note:`; not the dot of `12.5` or of an e-mail address)
_WORD_END = re.compile(r"""[\s"',;()\[\]{}]|[.:!?](?=[\s"')\]]|$)""")
_VALUE_START = re.compile(r"[\"\[:,]([^\W_])$")  # a JSON value's first character, just written


def _guess_tokens(llm: Any, sampler: LazyGrammarGreedy, prompt: str, answer: list[int],
                  call: str | None = None) -> list[int]:
    """What the answer will most likely go on with, as tokens to verify in the next batch:
    - the forced JSON that `draft` held back because its last run may merge with what follows
      (`":"` before a value: the model writes it as one token in the answers it learned);
    - the free text the prompt drafts (`lookup_draft`), cut where the grammar rules it out;
    - after a drafted value (to the call's word end, or to where the grammar rules out the call's
      next character), the value's end (`"`, or the `,` after a number) and the JSON the grammar
      forces after it, up to the next value (`","origin":{"city":"`).
    Tokenized as one string with the answer so far, as training tokenized answers (a trained model
    gives out those tokens); where that string splits the answer so far otherwise than the tokens
    given out (an untrained model's own splits), the continuation is tokenized on its own. Each
    guessed token is kept only if it is the token greedy decoding picks, so a wrong guess costs its
    batch rows, never the answer.
    A guess that ends where a value starts goes on (`_word_guess`) with the one word of the call
    that fits the value's shape whole (the date where the call has one date), or with null for a
    string-or-null value no word fits; where the model wrote `":` instead of `":"`, null is guessed."""
    text = llm.detokenize(answer).decode("utf-8", "replace")
    call = call_text(prompt) if call is None else call  # `_jump_forward` finds it once a request
    guessed = _value_guess(llm, sampler, prompt, call, answer, text)
    for _ in range(_WORD_GUESSES):
        more = _word_guess(llm, sampler, call, answer, text, guessed)
        if not more:
            break
        guessed = more
    return guessed


_WORD_GUESSES = 4  # values guessed whole from the call, one after another, in one batch
_WORD_CHECKS = 32  # words of the call checked against a value's shape (~0.1 ms each), at most


def _value_guess(llm: Any, sampler: "LazyGrammarGreedy", prompt: str, call: str, answer: list[int],
                 text: str) -> list[int]:
    held = sampler.structure_after([], value_ends=False)
    held_tokens = _tokens_after(llm, answer, text, held)
    # the call's arguments first (`Return`, the docstring: words no answer copies), then the rest
    # of the prompt (a table in the function's body, with include_code_body)
    drafted = _agreeing(llm, answer, text + held, lookup_drafts(text + held, call) or lookup_drafts(text + held, prompt))
    if drafted is None:
        if not held_tokens and sampler.null_may_start():
            # the model wrote `":` where a string starts `":"` in every answer it learned: null
            return _then_null(llm, sampler, answer, text)
        return sampler.admissible(held_tokens)
    tokens = _tokens_after(llm, answer, text, held + drafted)
    capped = tokens[:len(held_tokens) + LOOKUP_TOKENS]
    head = sampler.admissible(capped)
    if len(head) < len(held_tokens) or (head == capped != tokens):
        return head  # the held JSON is not the grammar's, or the draft ran past the cap
    # the draft ends where the call's word ends, or where the grammar rules the call's text out
    # (`2` of `27/2/1956` as a month, a `/` next): the value most likely ends there
    continued = llm.detokenize(answer + head).decode("utf-8", "replace")[len(text):]
    after = sampler.structure_after(head, value_ends=True) if "\ufffd" not in continued else ""
    return sampler.admissible(_tokens_after(llm, answer, text, continued + after)) if after else head


def _word_guess(llm: Any, sampler: "LazyGrammarGreedy", call: str, answer: list[int], text: str,
                guessed: list[int]) -> list[int]:
    """`guessed` and, where it ends at the start of a value whose shape only one word of the call
    fits whole (a date where the call has one date-like word), that word, the value's end and the
    JSON the grammar forces after it; else []. A value whose first character is not written yet
    cannot be looked up (`lookup_draft`), so it costs a pass of its own; a value that any word
    fits (free text) is not guessed."""
    if not guessed or len(guessed) > 4 * LOOKUP_TOKENS:
        return []
    so_far = llm.detokenize(answer + guessed).decode("utf-8", "replace")
    if not so_far.endswith('"'):
        # a string value opens here, or the guess stops: a number is often computed (a month from
        # `Jul`, cents from `12.50`), and the one number left in the call was no evidence
        # (`address`'s house number guessed as its postcode, again at every pass)
        return []
    starts = sampler.chars_after(guessed)
    if not starts or "\ufffd" in so_far:
        return []
    seen = so_far.lower()
    fits: list[tuple[list[int], str]] = []
    words = [w for w in dict.fromkeys(m.group(0) for m in _CALL_WORD.finditer(call))
             if w[0] in starts and w.lower() not in seen]
    if len(words) > _WORD_CHECKS:
        return []  # a long call: checking every word would cost more than the pass it may save
    for word in words:
        tokens = _tokens_after(llm, answer, text, so_far[len(text):] + word)
        if tokens[:len(guessed)] != guessed:
            continue  # the word merges with the JSON before it: not as training tokenized it
        after = sampler.structure_after(tokens, value_ends=True)
        if after:
            fits.append((tokens, after))
            if len(fits) > 1:
                return []  # two words fit: the value's shape does not tell which
    if not fits:
        return _null_instead(llm, sampler, answer, text, guessed, so_far)
    tokens, after = fits[0]
    more = sampler.admissible(_tokens_after(llm, answer, text, llm.detokenize(tokens).decode("utf-8", "replace") + after))
    return more if len(more) > len(guessed) and more[:len(guessed)] == guessed else []


def _null_instead(llm: Any, sampler: "LazyGrammarGreedy", answer: list[int], text: str, guessed: list[int],
                  so_far: str) -> list[int]:
    """`guessed` with the string it opens last (`"date":"`, a string or null) guessed null instead,
    when no word of the call fits that string (`_word_guess`): a date field where the call has no
    date. [] when the guess does not end by opening such a string."""
    if not so_far.endswith('"') or len(so_far) - 1 <= len(text):
        return []
    before = so_far[len(text):-1]
    head = _tokens_after(llm, answer, text, before)
    if not sampler.null_may_start(head):  # (also when the grammar does not allow `head`)
        return []
    more = _then_null(llm, sampler, answer, text, before)
    return more if len(more) > len(head) else []


def _then_null(llm: Any, sampler: "LazyGrammarGreedy", answer: list[int], text: str, before: str = "") -> list[int]:
    """The guess `before`, `null`, and the JSON the grammar forces after it, as far as it allows."""
    null = before + "null"
    after = sampler.structure_after(_tokens_after(llm, answer, text, null), value_ends=False)
    return sampler.admissible(_tokens_after(llm, answer, text, null + after))


# a word of the call as `_WORD_END` ends it (`2024-01-17.` at a sentence's end is `2024-01-17`)
_CALL_WORD = re.compile(r"""[^\s"',;()\[\]{}]+?(?=[\s"',;()\[\]{}]|[.:!?](?=[\s"')\]]|$)|$)""")


def _agreeing(llm: Any, answer: list[int], text: str, drafts: list[str]) -> str | None:
    """The first draft whose text, tokenized with the answer's, keeps the tokens the model gave
    out (`M` then `-15138`, not `M` then `onday`: `Monday` is one token); the first draft when none
    does (an untrained model's own splits)."""
    if len(drafts) > 1:
        for draft in drafts:
            tokens = llm.tokenize((text + draft).encode("utf-8"), add_bos=False, special=False)
            if [int(t) for t in tokens[:len(answer)]] == answer:
                return draft
    return drafts[0] if drafts else None


def _tokens_after(llm: Any, answer: list[int], text: str, more: str) -> list[int]:
    if not more:
        return []
    tokens = [int(t) for t in llm.tokenize((text + more).encode("utf-8"), add_bos=False, special=False)]
    if tokens[:len(answer)] == answer:
        return tokens[len(answer):]
    return [int(t) for t in llm.tokenize(more.encode("utf-8"), add_bos=False, special=False)]


def _decode(llm: Any, batch: list[int], first_logits: int) -> None:
    """`Llama.eval` for one batch, asking logits for every position from `first_logits` on (eval
    asks them for the last position only, or for all of them with logits_all)."""
    n_past = llm.n_tokens
    llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
    b = llm._batch.batch
    b.n_tokens = len(batch)
    for i, token in enumerate(batch):
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, n_past + i, 1, i >= first_logits
        b.seq_id[i][0] = 0
    llm._ctx.decode(llm._batch)
    llm.input_ids[n_past:n_past + len(batch)] = batch
    llm.n_tokens = n_past + len(batch)


def _jump_forward(llm: Any, sampler: LazyGrammarGreedy, tokens: list[int], stop: Any = None,
                  lookup: bool = True) -> Any:
    """`Llama.generate` for greedy decoding under a grammar, with the tokens the grammar forces
    drafted instead of generated one forward pass each: the answer's forced opening (`{"urgency":"`)
    is evaluated with the prompt, the separators between fields with the value before them, and
    once the grammar allows nothing but the end, the rest is emitted with no pass at all. For the
    sample classifier that is 2 forward passes instead of 11.

    With `lookup`, the free tokens are drafted too, from the prompt (`lookup_draft`), and verified
    in the same batch: each drafted token is kept while it is the token greedy decoding under the
    grammar picks from the logits before it, so the answer is the one decoding token by token would
    give, and a span the answer copies from its call costs one pass instead of one per token. The
    tokens after the first mismatch leave the KV cache.

    The KV cache of the longest common prefix with the previous request is kept, as `Llama.generate`
    keeps it. The chat template's stopping criteria (`Llama.generate`'s `stopping_criteria`: the
    evaluated tokens so far and the last logits row) are asked before each sampled token is given
    out, as there."""
    import llama_cpp

    prompt_text = llm.detokenize(tokens).decode("utf-8", "replace") if lookup else ""
    call = call_text(prompt_text)
    prefix = 0
    for a, b in zip(llm._input_ids, tokens):
        if a != b:
            break
        prefix += 1
    prefix = min(prefix, len(tokens) - 1)  # at least one token is evaluated, for its logits
    if prefix > 0 and llm._ctx.kv_cache_seq_rm(-1, prefix, -1):
        llm.n_tokens = prefix
        tokens = tokens[prefix:]
    else:
        llm.reset()
    answer: list[int] = []
    step = tokens + sampler.draft()
    while True:
        for _ in range(len(step) - len(tokens)):
            answer.append(sampler.sample(llm._ctx, -1))  # drafted: from the draft, not from logits
            yield answer[-1]
        if sampler.complete:
            yield llm.token_eos()
            return
        guess = _guess_tokens(llm, sampler, prompt_text, answer, call) if lookup else []
        if len(step) + len(guess) > llm.n_batch:
            guess = []
        start = llm.n_tokens
        if guess:
            _decode(llm, step + guess, len(step) - 1)
        else:
            llm.eval(step)
        for j in range(len(guess) + 1):
            llm.n_tokens = start + len(step) + j  # what is evaluated up to the row sampled from
            token = sampler.sample(llm._ctx, len(step) - 1 + j if guess else -1)
            if stop is not None and stop(llm._input_ids, llm._scores[-1, :]):
                return
            answer.append(token)
            yield token
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                return
            if j == len(guess) or token != guess[j]:
                break
        if guess:  # the drafted tokens after the first mismatch were never the answer
            llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
        tokens = [answer[-1]]
        step = tokens + sampler.draft()


def attach_adapter(llm: Any, path: str, scale: float = 1.0) -> Any:
    """Apply a LoRA adapter GGUF to a loaded `Llama` (base mmapped), as llama-cpp-python does."""
    import ctypes

    import llama_cpp

    adapter = llama_cpp.llama_adapter_lora_init(llm._model.model, path.encode("utf-8"))
    if adapter is None:
        raise RuntimeError(f"failed to load the LoRA adapter {path}")
    llm._lora_adapter = adapter
    llm._stack.callback(lambda: llama_cpp.llama_adapter_lora_free(adapter))  # freed before the model (LIFO)
    adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
    scales = (ctypes.c_float * 1)(scale)
    if llama_cpp.llama_set_adapters_lora(llm._ctx.ctx, adapters, 1, scales):
        raise RuntimeError(f"failed to apply the LoRA adapter {path}")
    llm.lora_path = path
    return llm


class _SharedModel:
    """One loaded llama.cpp model, lent to several `Llama`s (each keeps its own context and adapter).

    llama.cpp applies a LoRA adapter per context, so every `local:NAME` on the same base can share
    the base's weights. With plain CPU buffers the base is mmapped and its pages are shared anyway;
    weights repacked into AMX buffers are a private copy per loaded model (221 MB per extra function
    instead of 70 MB, test_memory_per_extra_model). Closed when the last `Llama` using it closes."""

    def __init__(self, model: Any, release: Callable[[], None]) -> None:
        self._shared = model
        self._release: Callable[[], None] | None = release

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shared, name)

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


def share_loaded_models() -> None:
    """Make `Llama` reuse an already loaded model of the same file and load settings (_SharedModel)."""
    import llama_cpp._internals as internals

    real = internals.LlamaModel
    if getattr(real, "_distilgen_shared", False):
        return
    loaded: dict[tuple[Any, ...], list[Any]] = {}  # key -> [model, number of users]

    def shared_model(*, path_model: str, params: Any, verbose: bool = True) -> Any:
        # what decides the loaded weights (the field set differs between llama.cpp versions)
        key = (os.path.realpath(path_model),) + tuple(
            getattr(params, f, None) for f in ("n_gpu_layers", "split_mode", "main_gpu", "load_mode", "use_mmap",
                                               "use_mlock", "vocab_only", "check_tensors", "use_extra_bufts", "no_host"))
        if key not in loaded:
            loaded[key] = [real(path_model=path_model, params=params, verbose=verbose), 0]
        loaded[key][1] += 1

        def release() -> None:
            entry = loaded[key]
            entry[1] -= 1
            if entry[1] == 0:
                del loaded[key]
                entry[0].close()

        return _SharedModel(loaded[key][0], release)

    shared_model._distilgen_shared = True  # type: ignore[attr-defined]
    internals.LlamaModel = shared_model


def keep_every_model_loaded() -> None:
    """llama_cpp.server's LlamaProxy holds one model at a time and reloads on every switch (and an
    unknown id silently gets the first model). Here every configured model is loaded at start and
    stays: one Llama per `local:NAME`, each with its own adapter and context (so each keeps the KV
    cache of its own system prompt between requests), all on the same base GGUF, which llama.cpp
    mmaps: the base's pages are shared, not copied per model. An unknown id is a 404."""
    import llama_cpp.server.app as server_app
    from fastapi import HTTPException

    base = server_app.LlamaProxy
    share_loaded_models()

    class AllLoaded(base):  # type: ignore[misc, valid-type]  # subclassing llama_cpp's class, untyped here
        @staticmethod
        def load_llama_from_model_settings(settings: Any) -> Any:
            return load_with_adapter(settings, base.load_llama_from_model_settings)

        def __init__(self, models: list[Any]) -> None:
            self._loaded: dict[str, Any] = {}
            super().__init__(models)
            for alias, settings in self._model_settings_dict.items():
                if alias == self._current_model_alias:
                    self._loaded[alias] = self._current_model
                else:
                    self._loaded[alias] = self.load_llama_from_model_settings(settings)

        def __call__(self, model: str | None = None) -> Any:
            if model is None or (model not in self._loaded and len(self._loaded) == 1):
                return self._loaded[self._default_model_alias]
            if model not in self._loaded:
                raise HTTPException(status_code=404, detail=f"model {model!r} is not served here "
                                                            f"(served: {', '.join(self._loaded)})")
            return self._loaded[model]

        def free(self) -> None:
            for llm in self._loaded.values():
                llm.close()
            self._loaded.clear()

    server_app.LlamaProxy = AllLoaded


def main() -> None:
    import llama_cpp.server.__main__ as server_main

    without_extra_buffer_types()
    keep_every_model_loaded()

    # Whatever the parent's dispositions (a background job ignores SIGINT), SIGTERM and SIGINT stop
    # this server while the model loads; uvicorn installs its own handlers once it runs.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    parent = os.environ.get("DISTILGEN_PARENT_PID")
    if parent and parent.isdigit():
        watch_parent(int(parent))

    schemas = json.loads(os.environ.get("DISTILGEN_TOOL_SCHEMAS") or "{}")

    create_app = server_main.create_app

    def create_shimmed_app(*args: Any, **kwargs: Any) -> Any:
        return JsonSchemaShim(create_app(*args, **kwargs), schemas)

    server_main.create_app = create_shimmed_app
    server_main.main()


if __name__ == "__main__":
    main()
