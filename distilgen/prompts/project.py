"""The static side: prompts rendered from a project's files, as the runtime would render them.

Takes the scan's records duck-typed (anything with `path`, `qualname`, `lineno`, `end_lineno`,
`decorator_lineno`, `module`, `model`, `decorator`), so this layer stays below `analysis`.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import ConfigError, DistilgenError
from .lock import PromptRecord
from .render import render_prompt, static_fingerprint
from .source import FunctionSource, function_source_from_module

__all__ = ["Problem", "ProjectPython", "ModuleSource", "read_source", "find_function", "static_source", "static_prompt",
           "compute_schemas", "build_records", "explain_failure"]

SCHEMA_TIMEOUT = 300.0


@dataclass(frozen=True)
class Problem:
    """Something that kept one function from being recorded: `path:line: message`."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def read_source(path: Path) -> str:
    """A module's text exactly as `inspect.getsource` sees it: encoding cookie/BOM honoured,
    newlines universal (linecache reads through `tokenize.open`)."""
    import tokenize  # here, as the other heavy imports: `check` imports this module and rarely reads

    with tokenize.open(path) as f:
        return f.read()


def _is_overload(dec: ast.expr) -> bool:
    return (isinstance(dec, ast.Name) and dec.id == "overload") or (isinstance(dec, ast.Attribute) and dec.attr == "overload")


def _index_functions(tree: ast.Module) -> dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every def by its interpreter-style qualname, in one walk of the tree."""
    found: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                q = prefix + child.name
                found.setdefault(q, []).append(child)
                visit(child, q + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            elif isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                visit(child, prefix)  # if/try/with blocks do not change qualnames

    visit(tree, "")
    return found


def _pick(found: list[ast.FunctionDef | ast.AsyncFunctionDef], lineno: int | None) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    # `@overload` stubs never run: the implementation after them is the function
    real = [n for n in found if not any(_is_overload(d) for d in n.decorator_list)]
    found = real or found
    if lineno is not None:
        for node in found:
            if node.lineno == lineno:
                return node
    return found[-1] if found else None  # a redefinition wins, as at run time


def find_function(tree: ast.Module, qualname: str, lineno: int | None = None) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The def node whose interpreter-style qualname is `qualname` (the one at `lineno` if several)."""
    return _pick(_index_functions(tree).get(qualname, []), lineno)


class ModuleSource:
    """One module's text, parsed once, with its defs indexed once: many functions, one parse."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._tree: ast.Module | None = None
        self._defs: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] | None = None

    @property
    def tree(self) -> ast.Module:
        if self._tree is None:
            self._tree = ast.parse(self.text)
        return self._tree

    def function(self, qualname: str, lineno: int | None = None) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        if self._defs is None:
            self._defs = _index_functions(self.tree)
        return _pick(self._defs.get(qualname, []), lineno)

    def source(self, qualname: str, lineno: int | None = None) -> tuple[FunctionSource, int, int] | None:
        """(FunctionSource, first line incl. decorators, last line) of `qualname`, or None."""
        node = self.function(qualname, lineno)
        if node is None:
            return None
        first = min([d.lineno for d in node.decorator_list] + [node.lineno])
        return function_source_from_module(self.text, node), first, node.end_lineno or node.lineno

    def prompt(self, qualname: str, tool: str, *, include_body: bool, lineno: int | None = None) -> str | None:
        """The prompt the runtime renders for `qualname`, or None when it is not there."""
        found = self.source(qualname, lineno)
        return None if found is None else render_prompt(found[0], tool, include_body=include_body)


def static_source(text: str, qualname: str, lineno: int | None = None) -> tuple[FunctionSource, int, int] | None:
    """(FunctionSource, first line incl. decorators, last line) of `qualname` in module `text`."""
    return ModuleSource(text).source(qualname, lineno)


def static_prompt(text: str, qualname: str, tool: str, *, include_body: bool, lineno: int | None = None) -> str | None:
    """The prompt the runtime renders for `qualname` in module `text`, or None when it is not there."""
    return ModuleSource(text).prompt(qualname, tool, include_body=include_body, lineno=lineno)


@dataclass(frozen=True)
class ProjectPython:
    """How to run the child that imports the project: the project's interpreter and its setup."""

    python: str
    about: str
    """Why this interpreter (`.venv/ at the project root`), for error messages."""
    setting: str
    """The setting that chooses another one (`--python or [tool.distilgen] python`)."""
    roots: tuple[str, ...] = ()
    """The project's source roots (`src/`, the root), first on the child's sys.path."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables (the `env-file`)."""


def _distilgen_fallback(tmp: Path) -> str | None:
    """A folder holding only distilgen itself, for a project that imports distilgen but whose
    environment lacks it (the child puts it LAST on its path: the project's own copy wins)."""
    pkg = Path(__file__).resolve().parent.parent
    link = tmp / "fallback" / "distilgen"
    try:
        link.parent.mkdir()
        link.symlink_to(pkg, target_is_directory=True)
    except OSError:
        return None
    return str(link.parent)


def compute_schemas(root: Path, targets: Sequence[dict[str, Any]], *, child: ProjectPython | None = None,
                    timeout: float = SCHEMA_TIMEOUT) -> dict[str, dict[str, Any]]:
    """Import the project in a child process under its own interpreter and describe each target
    (see `_schema_worker`, which is copied and run as a plain script: nothing of distilgen needs
    to be installed there)."""
    if not targets:
        return {}
    child = child or ProjectPython(sys.executable, "the running interpreter", "--python", (str(root),))
    env = dict(os.environ)
    env.update(child.env)
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    import shutil
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="distilgen-schemas-") as tmp:
        src, dst = Path(tmp, "in.json"), Path(tmp, "out.json")
        script = Path(tmp, "distilgen_schema_worker.py")
        shutil.copyfile(Path(__file__).with_name("_schema_worker.py"), script)
        job = {"roots": list(child.roots or (str(root),)), "fallback": _distilgen_fallback(Path(tmp)), "targets": list(targets)}
        src.write_text(json.dumps(job), encoding="utf-8")
        cmd = [child.python, str(script), str(src), str(dst)]
        who = f"{child.python} ({child.about})"
        try:
            proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DistilgenError(f"{root}: importing the project with {who} to read return-model schemas took over {timeout:.0f}s") from None
        except OSError as exc:
            raise ConfigError(f"{child.python}: cannot run it ({exc.strerror or exc}; chosen by {child.about}; set {child.setting} to use another)") from None
        if proc.returncode != 0 or not dst.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise DistilgenError(f"{root}: importing the project with {who} to read return-model schemas failed (exit {proc.returncode}):\n{tail}")
        out: dict[str, dict[str, Any]] = json.loads(dst.read_text(encoding="utf-8"))
    fatal = out.pop("__fatal__", None)
    if fatal is not None:
        raise ConfigError(f"{child.python}: pydantic is not installed in the project's interpreter (chosen by {child.about}); "
                          f"install it there, or set {child.setting} to use another ({fatal['error']})")
    return out


def _uses_name(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """`@x.distil(name=...)`: the function id is not the scan's, only the function's import knows it."""
    return any(isinstance(d, ast.Call) and any(k.arg == "name" for k in d.keywords) for d in node.decorator_list)


def explain_failure(info: Mapping[str, Any], qualname: str, child: ProjectPython) -> str:
    """One line: what failed to import, what was missing, and the setting that fixes it."""
    module = info.get("module") or "the project"
    at = f" at {info['place']}" if info.get("place") else ""
    head = f"cannot read the return model schema of {qualname}: importing {module} failed{at}: {info['error']}"
    kind, missing = info.get("kind"), info.get("missing")
    if kind == "module" and missing:
        return (f"{head}; install {missing.split('.')[0]} in the project's interpreter {child.python} "
                f"(chosen by {child.about}), or set {child.setting} to use another")
    if kind == "variable" and missing:
        return f"{head}; environment variable {missing} is not set: name a .env file with [tool.distilgen] env-file, or set it"
    if kind == "settings":
        fields = f" ({missing})" if missing else ""
        return f"{head}; settings read from the environment{fields}: name a .env file with [tool.distilgen] env-file"
    return head


def build_records(root: Path, results: Iterable[Any], *, child: ProjectPython | None = None,
                  closures: Mapping[str, str] | None = None) -> tuple[list[PromptRecord], list[Problem]]:
    """A PromptRecord for every decorated function in `results` (paths relative to `root`).

    `closures` maps `path::qualname` to the digest of the classes its schema depends on, read
    statically (`analysis.depends`): with the prompt it makes the static fingerprint recorded
    beside the prompt, which `check` compares without importing anything."""
    child = child or ProjectPython(sys.executable, "the running interpreter", "--python", (str(root),))
    records: list[PromptRecord] = []
    problems: list[Problem] = []
    texts: dict[str, ModuleSource] = {}
    sources: dict[str, tuple[Any, FunctionSource, int, int]] = {}
    targets = []
    for r in results:
        key = f"{r.path}::{r.qualname}"
        line = getattr(r, "decorator_lineno", 0) or r.lineno
        if r.module is None:
            problems.append(Problem(r.path, line, f"{r.qualname}: the file is not importable as a module, so its return model's schema cannot be read; put it in a package under the project root"))
            continue
        try:
            if r.path not in texts:
                texts[r.path] = ModuleSource(read_source(root / r.path))
            found = texts[r.path].source(r.qualname, r.lineno)
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            problems.append(Problem(r.path, line, f"cannot read the source of {r.qualname}: {exc}"))
            continue
        if found is None:
            problems.append(Problem(r.path, line, f"{r.qualname} not found in the file (changed since the scan?); run again"))
            continue
        sources[key] = (r, *found)
        dec = getattr(r, "decorator", None)
        node = texts[r.path].function(r.qualname, r.lineno)
        light = bool(r.model) and "[" not in r.model and node is not None and not _uses_name(node)
        targets.append({"key": key, "module": r.module, "qualname": r.qualname, "model": r.model,
                        "instance": getattr(dec, "instance", None), "light": light,
                        "function_id": f"{r.module}:{r.qualname}"})
    described = compute_schemas(root, targets, child=child)
    by_id: dict[str, tuple[str, PromptRecord]] = {}
    for key, (r, src, first, last) in sorted(sources.items()):
        info = described.get(key, {"error": "no answer from the schema worker"})
        if "error" in info:
            problems.append(Problem(r.path, first, explain_failure(info, r.qualname, child)))
            continue
        prompt = render_prompt(src, info["tool"], include_body=bool(info["include_body"]))
        rec = PromptRecord(info["function_id"], r.path, r.qualname, first, last, info["tool"],
                           bool(info["include_body"]), prompt, info["schema"],
                           static_fingerprint(prompt, closures[key]) if closures and key in closures else None)
        seen = by_id.get(rec.function_id)
        if seen is not None:
            if seen[1].fingerprint != rec.fingerprint:
                problems.append(Problem(r.path, first, f"{r.qualname} and {seen[0]} are both distilled as {rec.function_id} with different prompts; give one a distinct distil(name=...)"))
            continue
        by_id[rec.function_id] = (f"{r.path}:{first}", rec)
        records.append(rec)
    return records, problems
