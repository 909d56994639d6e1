"""Capture never writes a credential, in a dataset line or in a log line.

The scan refuses parameters and fields named like credentials (`distilgen._credentials`), but a
dict says its keys only at run time: datachain's `save(destination, client_config={...})` wrote
`'aws_secret_access_key': '...'` into every example (wave 12). A call or an answer holding text
under a key that names a credential is skipped and counted, as a `SecretStr` argument is; and the
JSON a skipped example's warning quotes shows `***` for such values (sqlmesh's subclass answer
printed its `password`).

Cheap when there is nothing to find: an argument's name costs a suffix test; the deep walk runs
only when the call's text has a quoted key or a keyword ending like a credential; an answer is
looked at only when its schema can hold such a key (a dict, `Any`, extra fields, or a field by
such a name: `formats._may_hold_credential`), decided once per writer.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from .._credentials import CREDENTIAL_ENDS, is_credential_name
from ..errors import DistilgenError

__all__ = ["CredentialValue", "credential_in_call", "credential_in_answer", "masked"]


class CredentialValue(DistilgenError, ValueError):
    """A call or an answer holds text under a name that says credential (`password`, `api_key`,
    `aws_secret_access_key`...): the example is skipped and counted, never written."""


# a quoted key (`'password': `, `"api_key":`) or a keyword (`password=`) ending like a credential,
# or holding `secret`: made from the rule's own endings, so a name added there is looked for here
_KEYISH = re.compile(r"(?:secret\w*|" + "|".join(map(re.escape, CREDENTIAL_ENDS)) + r")(?:['\"]\s*:|\s*=)",
                     re.IGNORECASE)
_WALK_LIMIT = 10_000  # values looked at per call at most: a pathological argument costs a bound
# values no name can make a credential (an int is no password), and text, judged by its name alone
_SCALARS = frozenset({int, float, bool, type(None), complex})
_TEXT = frozenset({str, bytes})
# a parameter's or keyword's name -> whether it names a credential; bounded, since a `**kwargs`
# function's keywords are the caller's data (`f(**row)`), not the code's few names
_NAMES: dict[str, bool] = {}
_NAMES_MAX = 4096


def _holds_text(value: Any) -> bool:
    return isinstance(value, (str, bytes)) and len(value) > 0


def _named_credential(name: str) -> bool:
    known = _NAMES.get(name)
    if known is None:
        known = is_credential_name(name)
        if len(_NAMES) < _NAMES_MAX:
            _NAMES[name] = known
    return known


def credential_in_call(call: str, args: tuple[Any, ...], kwargs: dict[str, Any], params: Sequence[str],
                       owner: Any = None) -> str | None:
    """Why the call `call` (rendered from `args`, `kwargs` and, for a model's method, the instance
    `owner`; `params` the positional parameters' names) may not be written, or None.

    Numbers cost a type test and text a cached name test (~0.5 us a call for `multiply(133,
    b=539)`); only a container, a model or a dataclass argument makes it look at the call's text,
    and only a credential's word there makes it walk the values."""
    deep = owner is not None
    for i, value in enumerate(args):
        kind = type(value)
        if kind in _SCALARS:
            continue
        if kind in _TEXT:
            if value and i < len(params) and _named_credential(params[i]):
                return f"argument {params[i]} carries a credential (every example would hold it in clear)"
        else:
            deep = True
    for key, value in kwargs.items():
        kind = type(value)
        if kind in _SCALARS:
            continue
        if kind in _TEXT:
            if value and _named_credential(key):
                return f"argument {key} carries a credential (every example would hold it in clear)"
        else:
            deep = True
    if not deep:
        return None
    low = call.lower()
    if not any(word in low for word in CREDENTIAL_ENDS) or _KEYISH.search(call) is None:
        return None
    budget = [_WALK_LIMIT]
    named = [(params[i] if i < len(params) else f"args[{i}]", a) for i, a in enumerate(args)]
    if owner is not None:
        named.insert(0, ("self", owner))
    for name, value in [*named, *kwargs.items()]:
        found = _find(value, budget)
        if found is not None:
            return (f"argument {name}{found} holds a credential (every example would hold it in clear; "
                    "pass it another way, or leave this call out)")
    return None


def _find(value: Any, budget: list[int], depth: int = 0) -> str | None:
    """The path (`['aws_secret_access_key']`, `.config['password']`) to the first text under a
    credential's name inside `value`, or None."""
    budget[0] -= 1
    if budget[0] < 0 or depth > 20:
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and _holds_text(v) and is_credential_name(k):
                return f"[{k!r}]"
        children: Iterable[tuple[str, Any]] = ((f"[{k!r}]", v) for k, v in value.items())
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        if isinstance(value, BaseModel):
            fields = {**value.__dict__, **(value.__pydantic_extra__ or {})}
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
        else:
            return None
        for k, v in fields.items():
            if _holds_text(v) and is_credential_name(k, bare_token=False):
                return f".{k}"
        children = ((f".{k}", v) for k, v in fields.items())
    for step, child in children:
        inner = _find(child, budget, depth + 1)
        if inner is not None:
            return step + inner
    return None


def credential_in_answer(answer: str) -> str | None:
    """Why the answer JSON `answer` may not be written, or None (for answers whose schema may hold
    such a key: `formats._may_hold_credential`)."""
    data = _keyed_json(answer)
    if data is None:
        return None
    found = _find_json(data, [_WALK_LIMIT])
    if found is None:
        return None
    return f"the answer holds a credential at {found or 'its top'} (every example would hold it in clear)"


def _find_json(value: Any, budget: list[int], depth: int = 0) -> str | None:
    budget[0] -= 1
    if budget[0] < 0 or depth > 40:
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if _holds_text(v) and is_credential_name(k, bare_token=False):
                return f".{k}"
        for k, v in value.items():
            inner = _find_json(v, budget, depth + 1)
            if inner is not None:
                return f".{k}{inner}"
    elif isinstance(value, list):
        for i, v in enumerate(value):
            inner = _find_json(v, budget, depth + 1)
            if inner is not None:
                return f"[{i}]{inner}"
    return None


def masked(text: str) -> str:
    """`text` (JSON, as a warning quotes an answer) with every value under a credential's name
    shown as "***"; text that is not JSON, or holds no such key, unchanged."""
    data = _keyed_json(text)
    return text if data is None else json.dumps(_mask(data), separators=(",", ":"), ensure_ascii=False)


def _keyed_json(text: str) -> Any:
    """`text` parsed, when it may hold a key named like a credential and is JSON; else None."""
    if _KEYISH.search(text) is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if isinstance(v, str) and is_credential_name(k) else _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value
