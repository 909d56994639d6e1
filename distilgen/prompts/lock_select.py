"""Which prompt to send a model: the one it was trained on (`prompt_for_dispatch`)."""

from __future__ import annotations

from pathlib import Path

from ..errors import DistilgenError
from .lock_format import LockedPrompt
from .lock_store import load_lock

__all__ = ["PromptGoneError", "locked_prompt", "prompt_for_dispatch"]


class PromptGoneError(DistilgenError):
    """The prompt a bound model was trained on is no longer in the lock."""

    def __init__(self, function_id: str, model: str, trained: str, current: str, lock_path: Path) -> None:
        self.function_id = function_id
        self.model = model
        self.trained_fingerprint = trained
        self.current_fingerprint = current
        super().__init__(
            f"{function_id}: model {model} was trained on prompt {trained}, which is no longer in "
            f"{lock_path} (the current prompt is {current}); retrain the model on the current prompt, "
            f"or pass use_current_prompt=True to send the current prompt anyway"
        )


def locked_prompt(function_id: str, lock_path: Path | str | None) -> LockedPrompt | None:
    """The lock entry of `function_id`, or None when there is no lock file or no entry."""
    if lock_path is None:
        return None
    return load_lock(lock_path).get(function_id)


def prompt_for_dispatch(
    function_id: str,
    model: str,
    current_prompt: str,
    current_fingerprint: str,
    *,
    lock_path: Path | str | None,
    use_current: bool = False,
) -> str:
    """The system prompt to send `model` for `function_id`: the one it was trained on.

    Without a lock, an entry, or a recorded training for `model`, that is the current prompt.
    When the recorded fingerprint is neither current nor pinned, raise PromptGoneError naming the
    function, the model and both fingerprints, unless `use_current`.
    """
    entry = locked_prompt(function_id, lock_path)
    if entry is None:
        return current_prompt
    trained = entry.model_fingerprint(model)
    if trained is None or trained == current_fingerprint:
        return current_prompt
    prompt = entry.prompt_for(trained)
    if prompt is not None:
        return prompt
    if use_current:
        return current_prompt
    raise PromptGoneError(function_id, model, trained, current_fingerprint, Path(lock_path or ""))
