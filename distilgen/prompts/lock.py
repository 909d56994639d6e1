"""`distilgen.lock`: the system prompts distilled models are trained on, recorded from source.

Why TOML: it reads with the standard library (`tomllib`), its tables need no separators between
them (adding an entry never touches its neighbours, unlike JSON's commas), and a prompt can be a
multi-line literal string, so a changed docstring shows up as a changed line in a diff.

Layout (entries sorted by function id, models by id, pinned prompts by fingerprint)::

    version = 1

    [functions."inbox.triage:classify_ticket"]
    path = "inbox/triage.py"
    qualname = "classify_ticket"
    lines = [15, 29]
    tool = "Triage"
    include-body = false
    renderer = "1"
    fingerprint = "sha256:..."
    schema = "{...compact JSON...}"
    prompt = '''
    Predict the result ...'''

    [functions."inbox.triage:classify_ticket".models]
    "ft:gpt-4o-mini:acme::abc" = "sha256:..."

    [functions."inbox.triage:classify_ticket".pinned."sha256:old"]
    schema = "..."
    prompt = '''...'''

`pinned` keeps the prompt of every older fingerprint a bound model still references, so dispatch
can send a model exactly what it was trained on after the source moved on.

The code is split by concern: `lock_format.py` (records, TOML text both ways), `lock_store.py`
(cached reads, flock, atomic writes, merging) and `lock_select.py` (the prompt dispatch sends).
This module is their public face: import lock names from here.
"""

from __future__ import annotations

from .lock_format import (
    LOCK_VERSION,
    Lock,
    LockedPrompt,
    LockError,
    PinnedPrompt,
    PromptRecord,
    canonical_schema,
    dump_lock,
)
from .lock_select import PromptGoneError, locked_prompt, prompt_for_dispatch
from .lock_store import RecordResult, load_lock, record_model, record_models, record_prompts

__all__ = [
    "LOCK_VERSION",
    "LockError",
    "PromptGoneError",
    "PinnedPrompt",
    "LockedPrompt",
    "Lock",
    "PromptRecord",
    "RecordResult",
    "canonical_schema",
    "load_lock",
    "locked_prompt",
    "prompt_for_dispatch",
    "record_model",
    "record_models",
    "record_prompts",
    "dump_lock",
]
