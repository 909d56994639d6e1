"""Where distilgen keeps per-user caches (converted base models, hypothesis's files): never the user's project."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root"]


def cache_root() -> Path:
    """`$DISTILGEN_CACHE`, else `$XDG_CACHE_HOME/distilgen`, else `~/.cache/distilgen`."""
    if os.environ.get("DISTILGEN_CACHE"):
        return Path(os.environ["DISTILGEN_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "distilgen"
