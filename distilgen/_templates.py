"""Text templates from `templates/` (a source checkout) or `distilgen/templates/` (an installed wheel)."""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["template_path", "load_template", "render_template"]

_HERE = Path(__file__).resolve().parent
_CANDIDATES = (_HERE / "templates", _HERE.parent / "templates")


def template_path(name: str) -> Path:
    for folder in _CANDIDATES:
        p = folder / name
        if p.is_file():
            return p
    raise FileNotFoundError(f"distilgen template {name!r} not found in {', '.join(map(str, _CANDIDATES))}")


@functools.lru_cache(maxsize=None)
def load_template(name: str) -> str:
    return template_path(name).read_text(encoding="utf-8")


def render_template(name: str, **values: str) -> str:
    """`$name` placeholders (string.Template), so braces in Python code need no escaping."""
    import string  # here: a warm `check` renders nothing and skips its import

    return string.Template(load_template(name)).substitute(values)
