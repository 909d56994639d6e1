"""`[tool.distilgen] env-file`: a `.env` file read into the child that imports the project.

Importing a project often builds a `Settings()` that needs environment variables the developer
keeps in `.env`. The format is the common dotenv subset: `KEY=value`, `export KEY=value`, values in
single quotes (literal), double quotes (`\\n`, `\\"`, `\\\\` escapes) or bare (a ` #` starts a
comment), blank lines and `#` comments. Anything else is an error naming the file and line:
a half-read `.env` would import the project with the wrong settings.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ConfigError

__all__ = ["read_env_file"]

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _double_quoted(raw: str) -> str | None:
    out, i = [], 1
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            out.append(_ESCAPES.get(raw[i + 1], "\\" + raw[i + 1]))
            i += 2
            continue
        if c == '"':
            rest = raw[i + 1:].strip()
            return "".join(out) if not rest or rest.startswith("#") else None
        out.append(c)
        i += 1
    return None


def read_env_file(path: Path, setting: str = "[tool.distilgen] env-file") -> dict[str, str]:
    """The variables of a `.env` file; a ConfigError naming the file, the line and the setting."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (named by {setting})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc}; named by {setting})") from None
    values: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        value: str | None = None
        if m:
            raw = m.group(2)
            if raw.startswith('"'):
                value = _double_quoted(raw)
            elif raw.startswith("'"):
                end = raw.find("'", 1)
                rest = raw[end + 1:].strip() if end > 0 else None
                value = raw[1:end] if end > 0 and (not rest or rest.startswith("#")) else None
            else:
                value = re.split(r"\s+#", raw, maxsplit=1)[0].rstrip()
        if value is None or m is None:
            raise ConfigError(f"{path}:{n}: not a KEY=value line: {line.strip()[:60]!r} (file named by {setting})")
        values[m.group(1)] = value
    return values
