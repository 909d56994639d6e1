"""Globs over posix relative paths (`**` crosses folders, `*` and `?` do not), as one regex each.

Shared by the configuration (which refuses a glob that can never match, naming the key) and the
scan's discovery (include/exclude, .gitignore lines, --select paths).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["glob_regex", "glob_problem"]


def _translate(pattern: str, strict: bool) -> str:
    i, n, out = 0, len(pattern), []
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                if strict:
                    raise ValueError(f"'[' at position {i + 1} is never closed")
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out) + r"\Z"


@lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob -> a compiled regex over posix paths (a malformed bracket matches itself literally)."""
    try:
        return re.compile(_translate(pattern, strict=False))
    except re.error:
        return re.compile(re.escape(pattern) + r"\Z")


def glob_problem(pattern: str) -> str | None:
    """Why `pattern` can never match a file inside the project (None when it is a usable glob)."""
    if not pattern.strip():
        return "an empty glob matches nothing"
    if any(part == ".." for part in pattern.replace("\\", "/").split("/")):
        return "'..' cannot match: paths are relative to the project root"
    try:
        re.compile(_translate(pattern, strict=True))
    except re.error as exc:
        return "empty character class '[]'" if "\\Z" in exc.msg else f"invalid character class ({exc.msg})"
    except ValueError as exc:
        return str(exc)
    return None
