"""`[tool.distilgen]` in the nearest pyproject.toml, as one frozen record.

Keys are written kebab-case in TOML (`model-bases`) and read into snake_case fields. An unknown key
is an error naming the file and the key: a typo must never silently change what a command does.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ._globs import glob_problem
from .contracts import FORMATS, FinetuneFormat
from ._toml import TomlSyntaxError, parse_toml
from .errors import ConfigError

__all__ = ["Config", "load_config", "find_pyproject", "FORMATS"]


@dataclass(frozen=True)
class Config:
    """`[tool.distilgen]` with defaults filled in and command-line overrides applied."""

    root: Path
    """The project root: the folder of the pyproject.toml read, or the start folder."""
    pyproject: Path | None = None
    include: tuple[str, ...] = ("**/*.py",)
    exclude: tuple[str, ...] = ()
    model_bases: tuple[str, ...] = ()
    """Dotted names of third-party classes to treat as BaseModel subclasses."""
    instructions: str = "distil:instructions"
    """`module:attribute` of the project's `Instructions` instance."""
    name: str | None = None
    """The name given to the Instructions instance a template creates (default: the root's name)."""
    dataset: str = "distil_dataset.jsonl"
    finetune_format: FinetuneFormat = "tools"
    lock_file: str = "distilgen.lock"
    require_decorated: bool = False
    """`check` fails when a candidate is not decorated."""
    include_generated: bool = False
    cache_dir: str = ".distilgen_cache"
    base_url: str | None = None
    """OpenAI-compatible endpoint for dispatch and jobs (OPENAI_BASE_URL wins when set)."""
    local_base_url: str = "http://127.0.0.1:8080/v1"
    """Where `local:NAME` models are served (`distilgen serve`)."""
    strategies: str | None = None
    """`module:object` mapping parameter names to hypothesis strategies for `generate`."""
    models: Mapping[str, str] = field(default_factory=dict)
    """Model aliases: `name = "ft:..."`."""
    source_roots: tuple[str, ...] = ()
    """Folders (relative to the root) modules are imported from, besides `src/` and the root."""
    python: str | None = None
    """The project's interpreter (a path, relative to the root); default: VIRTUAL_ENV, .venv/, venv/."""
    env_file: str | None = None
    """A `.env` file loaded into the child that imports the project (`distilgen prompts`)."""

    def path(self, relative: str) -> Path:
        """A configured path, resolved against the project root."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    @property
    def lock_path(self) -> Path:
        return self.path(self.lock_file)

    @property
    def cache_path(self) -> Path:
        return self.path(self.cache_dir)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Path):
                v = str(v)
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, Mapping):
                v = dict(v)
            out[f.name.replace("_", "-")] = v
        return out


_FIELDS = {f.name: f for f in dataclasses.fields(Config) if f.name not in ("root", "pyproject")}


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` (a file or a folder)."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for d in (folder, *folder.parents):
        candidate = d / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _coerce(path: Path, key: str, value: Any, default: Any) -> Any:
    where = f"{path}: [tool.distilgen] {key}"
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        if key in ("include", "exclude"):
            for pattern in value:
                problem = glob_problem(pattern)
                if problem:
                    raise ConfigError(f"{where}: invalid glob {pattern!r}: {problem}")
        if key == "source-roots":
            for folder in value:
                _check_inside(path.parent, folder, where)
        return tuple(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if key == "models":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where}: expected a table of name = \"model id\"")
        return dict(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if key == "finetune-format" and value not in FORMATS:
        raise ConfigError(f"{where}: expected one of {', '.join(FORMATS)}, got {value!r}")
    if key == "instructions" and value.count(":") != 1:
        raise ConfigError(f"{where}: expected 'module:attribute', got {value!r}")
    if key in _INSIDE_ROOT:
        _check_inside(path.parent, value, where)
    return value


# Files distilgen writes: a pyproject (perhaps from someone else's repository) may not point them
# outside its project; an absolute path given on the command line is the user's own choice.
_INSIDE_ROOT = ("lock-file", "cache-dir")


def _check_inside(root: Path, value: str, where: str) -> None:
    if not value.strip():
        raise ConfigError(f"{where}: expected a path, got an empty string")
    p = Path(value)
    if p.is_absolute():
        raise ConfigError(f"{where}: {value!r} is absolute; it must be a path inside the project "
                          f"(give an absolute path on the command line instead)")
    target = os.path.normpath(root / p)
    real_root = os.path.realpath(root)
    inside = target == str(root) or target.startswith(str(root).rstrip(os.sep) + os.sep)
    real = os.path.realpath(target)
    if not inside or not (real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)):
        raise ConfigError(f"{where}: {value!r} points outside the project root {root} "
                          f"(give an absolute path on the command line instead)")


def load_config(start: Path | str | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Read `[tool.distilgen]` from the nearest pyproject.toml at or above `start` (default: cwd)."""
    start_path = Path(start) if start is not None else Path.cwd()
    pyproject = find_pyproject(start_path)
    values: dict[str, Any] = {}
    if pyproject is not None:
        try:
            data = parse_toml(pyproject.read_text(encoding="utf-8"), pyproject)
        except TomlSyntaxError as exc:
            raise ConfigError(f"{pyproject}: invalid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{pyproject}: cannot read: {exc}") from None
        tool = data.get("tool", {})
        if not isinstance(tool, dict):  # `tool = 3`: PEP 518 reserves `tool` for a table
            raise ConfigError(f"{pyproject}: `tool` must be a table ([tool.distilgen]), not {type(tool).__name__}")
        table = tool.get("distilgen", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{pyproject}: [tool.distilgen] must be a table")
        for key, value in table.items():
            name = key.replace("-", "_")
            if "_" in key and name in _FIELDS:  # one spelling, as documented: a second one invites two values
                raise ConfigError(f"{pyproject}: [tool.distilgen] key {key!r} is written {key.replace('_', '-')!r}")
            if name not in _FIELDS:
                known = ", ".join(sorted(k.replace("_", "-") for k in _FIELDS))
                raise ConfigError(f"{pyproject}: [tool.distilgen] unknown key {key!r} (known: {known})")
            values[name] = _coerce(pyproject, key.replace("_", "-"), value, _FIELDS[name].default
                                   if _FIELDS[name].default is not dataclasses.MISSING else {})
        root = pyproject.parent
    else:
        from .analysis.roots import import_root

        root = import_root(start_path.resolve() if start_path.is_dir() else start_path.resolve().parent)
    for key, value in (overrides or {}).items():
        name = key.replace("-", "_")
        if name not in _FIELDS:
            raise ConfigError(f"unknown configuration override {key!r}")
        if value is not None:
            flag = name.replace("_", "-")
            if flag in _INSIDE_ROOT and isinstance(value, (str, os.PathLike)) and not Path(value).is_absolute():
                _check_inside(root, str(value), f"--{flag}")
            values[name] = str(value) if isinstance(value, os.PathLike) else value
    return Config(root=root, pyproject=pyproject, **values)
