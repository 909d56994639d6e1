"""THE rendering of an example into tokens: the prompt is exactly what the served model is sent.

Dispatch (response_format="json_schema") sends `request_messages(system, user)`; llama.cpp's server
applies the base model's chat template (stored in the GGUF) with the generation prompt, then
generates the arguments JSON under the return model's schema grammar and stops at end-of-turn.
Training renders the same two messages with the same template (the tokenizer carries it from the
same GGUF), tokenises the prompt on its own (as the server does), and appends the answer tokens
plus the end-of-turn token. Only the answer and end-of-turn are in the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["request_messages", "prompt_text", "Encoded", "encode", "IGNORE"]

IGNORE = -100
"""Label of a position that is not in the loss (torch's cross_entropy ignore_index)."""


def request_messages(system: str, user: str) -> list[dict[str, str]]:
    """The chat messages of one dispatched call (and of one training example)."""
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def prompt_text(tokenizer: Any, system: str, user: str) -> str:
    """The chat template applied to the request, up to where the assistant's answer begins."""
    return tokenizer.apply_chat_template(request_messages(system, user), tokenize=False, add_generation_prompt=True)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Encoded:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    prompt_len: int

    def __len__(self) -> int:
        return len(self.input_ids)


def end_of_turn_id(tokenizer: Any) -> int:
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the base model's tokenizer has no end-of-sequence token")
    return int(eos)


def encode(tokenizer: Any, system: str, user: str, answer: str) -> Encoded:
    prompt_ids = tokenizer(prompt_text(tokenizer, system, user), add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [end_of_turn_id(tokenizer)]
    ids = tuple(prompt_ids) + tuple(answer_ids)
    labels = (IGNORE,) * len(prompt_ids) + tuple(answer_ids)
    return Encoded(ids, labels, len(prompt_ids))
