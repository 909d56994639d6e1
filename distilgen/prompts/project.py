"""The static side: prompts rendered from a project's files, as the runtime would render them.

Takes the scan's records duck-typed (anything with `path`, `qualname`, `lineno`, `end_lineno`,
`decorator_lineno`, `module`, `model`, `decorator`), so this layer stays below `analysis`.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import DistilgenError
from .lock import PromptRecord
from .render import render_prompt
from .source import FunctionSource, function_source_from_module

__all__ = ["Problem", "read_source", "find_function", "static_source", "static_prompt", "compute_schemas", "build_records"]

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
    with tokenize.open(path) as f:
        return f.read()


def _is_overload(dec: ast.expr) -> bool:
    return (isinstance(dec, ast.Name) and dec.id == "overload") or (isinstance(dec, ast.Attribute) and dec.attr == "overload")


def find_function(tree: ast.Module, qualname: str, lineno: int | None = None) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The def node whose interpreter-style qualname is `qualname` (the one at `lineno` if several)."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                q = prefix + child.name
                if q == qualname:
                    found.append(child)
                visit(child, q + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)  # if/try/with blocks do not change qualnames

    visit(tree, "")
    # `@overload` stubs never run: the implementation after them is the function
    real = [n for n in found if not any(_is_overload(d) for d in n.decorator_list)]
    found = real or found
    if lineno is not None:
        for node in found:
            if node.lineno == lineno:
                return node
    return found[-1] if found else None  # a redefinition wins, as at run time


def static_source(text: str, qualname: str, lineno: int | None = None) -> tuple[FunctionSource, int, int] | None:
    """(FunctionSource, first line incl. decorators, last line) of `qualname` in module `text`."""
    tree = ast.parse(text)
    node = find_function(tree, qualname, lineno)
    if node is None:
        return None
    first = min([d.lineno for d in node.decorator_list] + [node.lineno])
    return function_source_from_module(text, node), first, node.end_lineno or node.lineno


def static_prompt(text: str, qualname: str, tool: str, *, include_body: bool, lineno: int | None = None) -> str | None:
    """The prompt the runtime renders for `qualname` in module `text`, or None when it is not there."""
    found = static_source(text, qualname, lineno)
    if found is None:
        return None
    return render_prompt(found[0], tool, include_body=include_body)


def compute_schemas(root: Path, targets: Sequence[dict[str, Any]], *, python: str | None = None,
                    timeout: float = SCHEMA_TIMEOUT) -> dict[str, dict[str, Any]]:
    """Import the project in a child process and describe each target (see `_schema_worker`)."""
    if not targets:
        return {}
    env = dict(os.environ)
    from ..analysis.roots import source_roots  # the roots the scan named the modules from

    env["PYTHONPATH"] = os.pathsep.join([*map(str, source_roots(root)), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    with tempfile.TemporaryDirectory(prefix="distilgen-schemas-") as tmp:
        src, dst = Path(tmp, "in.json"), Path(tmp, "out.json")
        src.write_text(json.dumps(list(targets)), encoding="utf-8")
        cmd = [python or sys.executable, "-m", "distilgen.prompts._schema_worker", str(src), str(dst)]
        try:
            proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DistilgenError(f"{root}: importing the project to read return-model schemas took over {timeout:.0f}s") from None
        if proc.returncode != 0 or not dst.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise DistilgenError(f"{root}: importing the project to read return-model schemas failed (exit {proc.returncode}):\n{tail}")
        return json.loads(dst.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def build_records(root: Path, results: Iterable[Any], *, python: str | None = None) -> tuple[list[PromptRecord], list[Problem]]:
    """A PromptRecord for every decorated function in `results` (paths relative to `root`)."""
    records: list[PromptRecord] = []
    problems: list[Problem] = []
    texts: dict[str, str] = {}
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
                texts[r.path] = read_source(root / r.path)
            found = static_source(texts[r.path], r.qualname, r.lineno)
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            problems.append(Problem(r.path, line, f"cannot read the source of {r.qualname}: {exc}"))
            continue
        if found is None:
            problems.append(Problem(r.path, line, f"{r.qualname} not found in the file (changed since the scan?); run again"))
            continue
        sources[key] = (r, *found)
        dec = getattr(r, "decorator", None)
        targets.append({"key": key, "module": r.module, "qualname": r.qualname, "model": r.model,
                        "instance": getattr(dec, "instance", None)})
    described = compute_schemas(root, targets, python=python)
    by_id: dict[str, tuple[str, PromptRecord]] = {}
    for key, (r, src, first, last) in sorted(sources.items()):
        info = described.get(key, {"error": "no answer from the schema worker"})
        if "error" in info:
            problems.append(Problem(r.path, first, f"cannot read the return model schema of {r.qualname}: {info['error']}"))
            continue
        prompt = render_prompt(src, info["tool"], include_body=bool(info["include_body"]))
        rec = PromptRecord(info["function_id"], r.path, r.qualname, first, last, info["tool"],
                           bool(info["include_body"]), prompt, info["schema"])
        seen = by_id.get(rec.function_id)
        if seen is not None:
            if seen[1].fingerprint != rec.fingerprint:
                problems.append(Problem(r.path, first, f"{r.qualname} and {seen[0]} are both distilled as {rec.function_id} with different prompts; give one a distinct distil(name=...)"))
            continue
        by_id[rec.function_id] = (f"{r.path}:{first}", rec)
        records.append(rec)
    return records, problems
