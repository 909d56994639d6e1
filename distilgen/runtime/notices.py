"""Warnings from the capture path that can never become the caller's exception.

Capture is a side channel: a decorated function must behave exactly as the undecorated one. A
project whose tests run with `filterwarnings = error` (FastAPI's, pydantic-settings', many others)
turns every warning into an exception raised where it was issued, i.e. out of the user's
function. So a notice is warned as usual, and when the filters make that raise, it is logged on
the `distilgen` logger instead.
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["notify"]

log = logging.getLogger("distilgen")


def notify(message: str, category: type[Warning], stacklevel: int = 2) -> None:
    """`warnings.warn(message, category)` as seen from `stacklevel` frames above the caller, never raising."""
    try:
        warnings.warn(message, category, stacklevel=stacklevel + 1)
    except Exception:  # noqa: BLE001 - an "error" filter (or a hook that raises): the caller must not see it
        log.warning("%s (%s, logged: the warning filters would have raised it)", message, category.__name__)
