"""The project's own Python: which interpreter runs the project, and its `sys.path`.

distilgen often runs in an environment that is not the project's (pre-commit's isolated hook
virtualenv, pipx, uvx). Third-party bases (`sqlmodel.SQLModel`) are located on the *project's*
path, and `distilgen prompts` imports the project with the project's interpreter. The choice
follows mypy's `--python-executable` and pyright's venv discovery, first match wins:

1. `--python PATH` (a config override; relative to the current folder)
2. `[tool.distilgen] python = "..."` (relative to the project root)
3. `VIRTUAL_ENV`, unless it is the environment distilgen itself runs in (pre-commit sets it to
   the hook's own virtualenv)
4. `.venv/` or `venv/` at the project root
5. the running interpreter

The interpreter is asked once for its `sys.path`; the answer is cached as JSON in the cache folder,
keyed by the interpreter's path and mtime and the mtimes of its site-packages folders (installing
a package or a `.pth` file changes those, so the answer is asked again).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..config import Config
from ..errors import ConfigError

__all__ = ["Interpreter", "find_interpreter", "QUERY_TIMEOUT"]

QUERY_TIMEOUT = 30.0
_CACHE_FILE = "interpreters.json"
_CACHE_FORMAT = 1
# What the interpreter is asked; stdlib only, so any Python 3 answers it.
_QUERY = (
    "import json, sys, importlib.util as u\n"
    "print(json.dumps({'sys_path': sys.path, 'prefix': sys.prefix,"
    " 'version': '.'.join(map(str, sys.version_info[:3])),"
    " 'pydantic': u.find_spec('pydantic') is not None}))\n"
)


@dataclass(frozen=True)
class Interpreter:
    """The interpreter chosen for a project, why, and what it answered."""

    path: str
    """Absolute path of the executable, as found (a venv's `bin/python`, not its symlink target)."""
    reason: str
    """Why this one: `--python`, `[tool.distilgen] python in .../pyproject.toml`, `VIRTUAL_ENV`, ..."""
    setting: str
    """What to change to choose another (named in every error about it)."""
    sys_path: tuple[str, ...]
    """Its `sys.path` (existing folders and zip files only, the current folder left out)."""
    has_pydantic: bool
    version: str = ""


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _pyproject_python(config: Config) -> str | None:
    """`python` as written in the pyproject (to tell it from a --python override)."""
    if config.pyproject is None:
        return None
    from .._toml import parse_toml

    try:
        table = parse_toml(config.pyproject.read_text(encoding="utf-8"), config.pyproject).get("tool", {}).get("distilgen", {})
    except (OSError, ValueError):
        return None
    value = table.get("python") if isinstance(table, dict) else None
    return value if isinstance(value, str) else None


def _same_env(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _choose(config: Config, environ: Mapping[str, str]) -> tuple[str | None, str, str]:
    """(path or None for the running interpreter, reason, setting)."""
    if config.python:
        if _pyproject_python(config) == config.python:
            where = f"[tool.distilgen] python in {config.pyproject}"
            return str(config.path(config.python)), where, "[tool.distilgen] python"
        return os.path.abspath(config.python), "--python", "--python"
    venv = environ.get("VIRTUAL_ENV")
    if venv and not _same_env(venv, sys.prefix):
        return str(_venv_python(Path(venv))), f"VIRTUAL_ENV={venv}", "VIRTUAL_ENV (or --python)"
    root = str(config.root)
    for name in (".venv", "venv"):
        if os.path.isdir(os.path.join(root, name)):  # one stat when there is none (every scan asks)
            candidate = _venv_python(config.root / name)
            if candidate.exists() or (config.root / name / "pyvenv.cfg").exists():
                return str(candidate), f"{name}/ at the project root", "--python or [tool.distilgen] python"
    return None, "the running interpreter (no --python, python setting, VIRTUAL_ENV, .venv/ or venv/)", \
        "--python or [tool.distilgen] python"


def _stamp(path: str, sys_path: Any = ()) -> list[Any]:
    """What must be unchanged for a cached answer to hold."""
    st = os.stat(path)
    sites = []
    for p in sys_path:
        if p.endswith(("site-packages", "dist-packages")):
            try:
                sites.append([p, os.stat(p).st_mtime_ns])
            except OSError:
                sites.append([p, None])
    return [_CACHE_FORMAT, os.lstat(path).st_mtime_ns, st.st_mtime_ns, st.st_size, sites]


def _load_cache(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(file: Path, data: dict[str, Any]) -> None:
    from .._atomic import write_cache_file

    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        ignore = file.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Created by distilgen: this cache never belongs in git.\n*\n", encoding="utf-8")
    except OSError:
        return  # a cache that cannot be written is only slower
    write_cache_file(file, json.dumps(data).encode("utf-8"))


def _ask(path: str, reason: str, setting: str) -> dict[str, Any]:
    where = f"(chosen by {reason}; set {setting} to use another)"
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no Python interpreter there {where}")
    if os.path.isdir(path):
        raise ConfigError(f"{path}: is a folder, not a Python interpreter {where}")
    import subprocess
    import tempfile

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONSTARTUP")}
    try:
        proc = subprocess.run([path, "-c", _QUERY], capture_output=True, text=True, timeout=QUERY_TIMEOUT,
                              cwd=tempfile.gettempdir(), env=env)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{path}: did not answer within {QUERY_TIMEOUT:.0f}s when asked for its sys.path {where}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: not a Python interpreter ({exc.strerror or exc}) {where}") from None
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    except (ValueError, IndexError):
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("sys_path"), list):
        said = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]
        raise ConfigError(f"{path}: not a Python interpreter (asked for its sys.path, it said: {said}) {where}")
    return answer


def _own_path() -> tuple[str, ...]:
    """The running interpreter's sys.path without the entry Python put first for how it was started
    (the console script's bin/ folder, or the current folder for `-m`): it says nothing about the
    project, and keeping it made `python -m distilgen` and `distilgen` key the scan cache apart."""
    path = list(sys.path)
    if path and path[0] in ("", os.getcwd(), os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else ""):
        path = path[1:]
    return tuple(p for p in path if p)


def find_interpreter(config: Config, *, environ: Mapping[str, str] | None = None, use_cache: bool = True) -> Interpreter:
    """The project's interpreter (see the module docstring); a ConfigError naming the path and the
    setting when it does not exist or is not Python."""
    path, reason, setting = _choose(config, os.environ if environ is None else environ)
    if path is None or _same_env(path, sys.executable) and _same_env(sys.prefix, str(Path(path).parent.parent)):
        return Interpreter(sys.executable, reason, setting, _own_path(), True, ".".join(map(str, sys.version_info[:3])))
    cache_file = config.cache_path / _CACHE_FILE
    cache = _load_cache(cache_file) if use_cache else {}
    hit = cache.get(path)
    try:
        if isinstance(hit, dict) and hit.get("stamp") == _stamp(path, hit.get("sys_path", ())):
            return Interpreter(path, reason, setting, tuple(hit["sys_path"]), bool(hit["pydantic"]), hit.get("version", ""))
    except (OSError, KeyError, TypeError):
        pass
    answer = _ask(path, reason, setting)
    sys_path = tuple(p for p in answer["sys_path"] if isinstance(p, str) and p)
    found = Interpreter(path, reason, setting, sys_path, bool(answer.get("pydantic")), str(answer.get("version", "")))
    if use_cache:
        cache[path] = {"stamp": _stamp(path, sys_path), "sys_path": list(sys_path), "pydantic": found.has_pydantic,
                       "version": found.version}
        _save_cache(cache_file, cache)
    return found
