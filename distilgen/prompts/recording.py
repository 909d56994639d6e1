"""The static side: prompts rendered from a project's files, as the runtime would render them.

Takes the scan's records duck-typed (anything with `path`, `qualname`, `lineno`, `end_lineno`,
`decorator_lineno`, `module`, `model`, `decorator`), so this layer stays below `analysis`.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .._import_paths import import_folder
from ..contracts import DISABLE_ENV
from ..errors import ConfigError, DistilgenError
from .lock import PromptRecord
from .render import render_prompt, static_fingerprint
from .source import FunctionSource, function_source_from_module, parse_definition, source_lines, source_of_node

# subprocess, tempfile, shutil and tokenize are imported where used: `check` imports this module
# and, on a warm cache, starts no process and writes no file

__all__ = ["Problem", "ProjectPython", "ModuleSource", "read_source", "find_function", "static_source", "static_prompt",
           "SchemaJob", "compute_schemas", "schema_target", "build_records", "explain_failure"]

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
    return decode_source(path.read_bytes())


def decode_source(data: bytes) -> str:
    """A module's text from its bytes, as `tokenize.open` decodes a file (also for text about to
    be written)."""
    import io
    import tokenize

    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return io.TextIOWrapper(io.BytesIO(data), encoding, line_buffering=True).read()


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


@dataclass(frozen=True)
class Definition:
    """A function's definition as the prompt and the schema child read it."""

    source: FunctionSource
    first: int
    """First line, decorators included."""
    last: int
    node: ast.FunctionDef | ast.AsyncFunctionDef
    """Its `ast` node (positions within its own lines, not the module's)."""


class ModuleSource:
    """One module's text, its lines split once; parsed (once) only when a caller does not know
    where a function is: the scan's records say it, and then only the function's lines are parsed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._tree: ast.Module | None = None
        self._defs: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] | None = None
        self._lines: list[str] | None = None
        self._bytes: list[bytes] | None = None

    @property
    def lines(self) -> list[str]:
        """The text's lines as the parser numbers them (`source.source_lines`)."""
        if self._lines is None:
            self._lines = source_lines(self.text)
        return self._lines

    def segment(self, node: ast.AST) -> str | None:
        """`ast.get_source_segment(self.text, node)`, with the lines split once per module, not
        once per call (that split made the static closures quadratic in the file's size)."""
        end_lineno, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        if end_lineno is None or end_col is None:
            return None
        return self.segment_at(int(node.lineno), int(node.col_offset), int(end_lineno), int(end_col))  # type: ignore[attr-defined]

    def segment_at(self, lineno: int, col_offset: int, end_lineno: int, end_col_offset: int) -> str | None:
        """The text between two `ast` positions (lines from 1, columns in UTF-8 bytes), as
        `segment` takes them from a node; None when they are not positions in this text."""
        if self._bytes is None:
            self._bytes = [line.encode("utf-8") for line in self.lines]
        lines, first, last = self._bytes, lineno - 1, end_lineno - 1
        if not 0 <= first <= last < len(lines):
            return None
        try:
            if last == first:
                return lines[first][col_offset:end_col_offset].decode()
            return (lines[first][col_offset:] + b"".join(lines[first + 1:last]) + lines[last][:end_col_offset]).decode()
        except UnicodeDecodeError:  # columns that split a character: not this text's positions
            return None

    @property
    def tree(self) -> ast.Module:
        if self._tree is None:
            self._tree = ast.parse(self.text)
        return self._tree

    def function(self, qualname: str, lineno: int | None = None) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        if self._defs is None:
            self._defs = _index_functions(self.tree)
        return _pick(self._defs.get(qualname, []), lineno)

    def definition(self, qualname: str, lineno: int | None = None, lines: tuple[int, int] | None = None) -> Definition | None:
        """`qualname`'s definition (the one at `lineno` if several), or None when it is not there.

        `lines`: (first, last) where the scan found it, decorators included. Then only those lines
        are parsed (a def's own text is what `inspect.getsource` gives the runtime); the whole
        module only when they do not hold that def (the file changed since the scan)."""
        if lines is not None:
            found = self._at(qualname, lineno, *lines)
            if found is not None:
                return found
        node = self.function(qualname, lineno)
        if node is None:
            return None
        first = min([d.lineno for d in node.decorator_list] + [node.lineno])
        return self._at(qualname, node.lineno, first, node.end_lineno or node.lineno) or Definition(
            function_source_from_module(self.lines, node), first, node.end_lineno or node.lineno, node)

    def _at(self, qualname: str, lineno: int | None, first: int, last: int) -> Definition | None:
        if not 1 <= first <= last <= len(self.lines):
            return None
        try:
            text, node, added = parse_definition("".join(self.lines[first - 1:last]))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        # the def asked for: its name, on its line (a decorator line may hold a lambda, never a def)
        if node.name != qualname.rpartition(".")[2] or (lineno is not None and first + node.lineno - 1 - added != lineno):
            return None
        return Definition(source_of_node(text, node), first, last, node)

    def source(self, qualname: str, lineno: int | None = None,
               lines: tuple[int, int] | None = None) -> tuple[FunctionSource, int, int] | None:
        """(FunctionSource, first line incl. decorators, last line) of `qualname`, or None."""
        found = self.definition(qualname, lineno, lines)
        return None if found is None else (found.source, found.first, found.last)

    def prompt(self, qualname: str, tool: str, *, include_body: bool, lineno: int | None = None,
               lines: tuple[int, int] | None = None) -> str | None:
        """The prompt the runtime renders for `qualname`, or None when it is not there."""
        found = self.definition(qualname, lineno, lines)
        return None if found is None else render_prompt(found.source, tool, include_body=include_body)


def scanned_lines(r: Any) -> tuple[int, int] | None:
    """(first line incl. decorators, last line) of scan record `r`'s def, when it says."""
    first, last = getattr(r, "decorator_lineno", 0) or getattr(r, "lineno", 0), getattr(r, "end_lineno", 0)
    return (first, last) if first and last else None


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


class SchemaJob:
    """The child that imports the project for the return models' schemas, started now and read
    later (`result()`), so that the caller's own work overlaps it (see `_schema_worker`, copied
    and run as a plain script: nothing of distilgen needs to be installed there).

    With `targets=None` the child starts before they are known: it imports `preload` (the
    project's top-level packages) meanwhile, and waits for `send(targets)`."""

    def __init__(self, root: Path, targets: Sequence[dict[str, Any]] | None, *, child: ProjectPython | None = None,
                 preload: Sequence[str] = (), timeout: float = SCHEMA_TIMEOUT) -> None:
        import shutil
        import subprocess
        import tempfile

        self.root, self.timeout = root, timeout
        self.child = child = child or ProjectPython(sys.executable, "the running interpreter", "--python", (str(root),))
        self._proc: subprocess.Popen[str] | None = None
        self._out: dict[str, dict[str, Any]] | None = {} if targets is not None and not targets else None
        self._error: DistilgenError | None = None
        if self._out is not None:
            return
        env = dict(os.environ)
        env.update(child.env)
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        env[DISABLE_ENV] = "1"  # a decorated function the project calls at import must not capture nor dispatch
        self._tmp = tempfile.TemporaryDirectory(prefix="distilgen-schemas-")
        tmp = self._tmp.name
        src, self._dst, self._targets = Path(tmp, "in.json"), Path(tmp, "out.json"), Path(tmp, "targets.json")
        script = Path(tmp, "distilgen_schema_worker.py")
        shutil.copyfile(Path(__file__).with_name("_schema_worker.py"), script)
        job: dict[str, Any] = {"roots": list(child.roots or (str(root),)), "fallback": _distilgen_fallback(Path(tmp)),
                               "preload": list(preload)}
        if targets is not None:
            job["targets"] = list(targets)
        else:
            job["targets_file"] = str(self._targets)
        self._new = Path(tmp, "new.json")
        job["new_file"] = str(self._new)
        src.write_text(json.dumps(job), encoding="utf-8")
        self._who = f"{child.python} ({child.about})"
        self._stderr = open(Path(tmp, "stderr.txt"), "w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed in result/cancel
        try:
            # stdin stays open while the child waits for its targets: closing it says "go"
            self._proc = subprocess.Popen([child.python, str(script), str(src), str(self._dst)], cwd=root, env=env,
                                          stdin=subprocess.PIPE if targets is None else subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=self._stderr, text=True)
        except OSError as exc:
            self._stderr.close()
            self._tmp.cleanup()
            raise ConfigError(f"{child.python}: cannot run it ({exc.strerror or exc}; chosen by {child.about}; "
                              f"set {child.setting} to use another)") from None

    def send(self, targets: Sequence[dict[str, Any]]) -> None:
        """The targets of a child started early (none: it is stopped)."""
        if not targets:
            self.cancel()
            self._out = {}
            return
        self._targets.write_text(json.dumps(list(targets)), encoding="utf-8")
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.close()
        except OSError:
            pass  # the child is gone: result() says why

    def new_answers(self, wait: bool = True) -> dict[str, dict[str, Any]] | None:
        """The answers for the targets marked `new`, as soon as the child has them (then it goes on
        with the others); all of them when it is done first. Raises as `result()` does. With
        wait=False: None when the child has not got that far yet."""
        deadline = time.monotonic() + self.timeout
        if not wait and self._out is None and self._error is None and self._proc is not None:
            try:
                return dict(json.loads(self._new.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                if self._proc.poll() is None:
                    return None
        if self._out is None and self._error is None and self._proc is not None:
            while self._proc.poll() is None and time.monotonic() < deadline:
                try:
                    return dict(json.loads(self._new.read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    time.sleep(0.02)
        return self.result()

    def result(self) -> dict[str, dict[str, Any]]:
        """Each target's key -> its description or `{error, ...}`; waits for the child."""
        import subprocess

        if self._out is not None:
            return self._out
        if self._error is not None:
            raise self._error
        assert self._proc is not None
        try:
            try:
                if self._proc.stdin is not None and not self._proc.stdin.closed:
                    self._proc.stdin.close()  # never sent: nothing to describe
                self._proc.wait(timeout=self.timeout)
                self._stderr.seek(0)
                stderr = self._stderr.read()
            except subprocess.TimeoutExpired:
                self.cancel()
                raise DistilgenError(f"{self.root}: importing the project with {self._who} to read return-model "
                                     f"schemas took over {self.timeout:.0f}s") from None
            if self._proc.returncode != 0 or not self._dst.exists():
                tail = "\n".join(stderr.strip().splitlines()[-5:])
                raise DistilgenError(f"{self.root}: importing the project with {self._who} to read return-model "
                                     f"schemas failed (exit {self._proc.returncode}):\n{tail}")
            out: dict[str, dict[str, Any]] = json.loads(self._dst.read_text(encoding="utf-8"))
            fatal = out.pop("__fatal__", None)
            if fatal is not None:
                child = self.child
                raise ConfigError(f"{child.python}: pydantic is not installed in the project's interpreter (chosen by "
                                  f"{child.about}); install it there, or set {child.setting} to use another ({fatal['error']})")
        except DistilgenError as exc:
            self._error = exc  # asked again (apply asks before and after editing): the same answer
            raise
        finally:
            self._stderr.close()
            self._tmp.cleanup()
        self._out = out
        return out

    def cancel(self) -> None:
        """Stop the child (its answers are not needed after all)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._proc is not None:
            if self._proc.stdin is not None and not self._proc.stdin.closed:
                self._proc.stdin.close()
            self._stderr.close()
            self._tmp.cleanup()


def compute_schemas(root: Path, targets: Sequence[dict[str, Any]], *, child: ProjectPython | None = None,
                    timeout: float = SCHEMA_TIMEOUT) -> dict[str, dict[str, Any]]:
    """Import the project in a child process under its own interpreter and describe each target."""
    return SchemaJob(root, targets, child=child, timeout=timeout).result()


def _uses_name(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """`@x.distil(name=...)`: the function id is not the scan's, only the function's import knows it."""
    return any(isinstance(d, ast.Call) and any(k.arg == "name" for k in d.keywords) for d in node.decorator_list)


def explain_failure(info: Mapping[str, Any], qualname: str, child: ProjectPython) -> str:
    """One line: what failed to import, what was missing, and the setting that fixes it."""
    if info.get("kind") == "annotation":
        return f"cannot read the return model schema of {qualname}: {info['error'].removeprefix('_BadAnnotation: ')}"
    if info.get("kind") == "script":
        return (f"{str(info['error']).removeprefix('_Script: ')}, so distilgen does not import it to read the return "
                f"model's schema; put that under `if __name__ == \"__main__\":` and run again")
    if info.get("kind") == "owner":
        error = str(info["error"]).removeprefix("_NoCallText: ")
        return f"{qualname} cannot be distilled: {error}; no call of it can be written down, captured or dispatched"
    if info.get("kind") == "schema":
        error = str(info["error"])
        if error.startswith("_NotAnObject: "):  # `returns Identifier, a RootModel whose JSON schema is a string, ...`
            return f"{qualname} cannot be distilled: {error.removeprefix('_NotAnObject: ')}"
        what = error.removeprefix("_NoJsonSchema: ") if error.startswith("_NoJsonSchema: ") else f"has no JSON schema ({error})"
        return (f"{qualname} cannot be distilled: its return model {what}; "
                f"a tool call cannot describe it, so it can be neither captured nor dispatched")
    module = info.get("module") or "the project"
    at = f" at {info['place']}" if info.get("place") else ""
    head = f"cannot read the return model schema of {qualname}: importing {module} failed{at}: {info['error']}"
    kind, missing = info.get("kind"), info.get("missing")
    if kind == "elsewhere" and missing:
        package, _, where = missing.partition("=")
        return (f"{head}; the interpreter {child.python} imports {package} from {where}, not from this project: "
                f"install the project's own copy (`pip install -e`), or set {child.setting} to an interpreter that has it")
    if kind == "submodule" and missing:
        module_name, _, where = missing.partition("=")
        return (f"{head}; {module_name.rpartition('.')[0]} is installed in {child.python} ({where}) but has no "
                f"{module_name}: the project may need another version of {module_name.split('.')[0]}")
    if kind == "project" and missing:
        return (f"{head}; the project has no module {missing} (deleted or renamed?): restore it, or run "
                f"`distilgen apply` if it is the Instructions module apply created")
    if kind == "namespace" and missing:
        return (f"{head}; {missing.rpartition('.')[0]} is a namespace package in {child.python}, and no installed "
                f"distribution provides {missing}: install the one that does (often named "
                f"{missing.replace('.', '-').replace('_', '-')}), or set {child.setting} to use another")
    if kind == "module" and missing:
        return (f"{head}; install {missing.split('.')[0]} in the project's interpreter {child.python} "
                f"(chosen by {child.about}), or set {child.setting} to use another")
    if kind == "variable" and missing:
        return f"{head}; environment variable {missing} is not set: name a .env file with [tool.distilgen] env-file, or set it"
    if kind == "settings":
        fields = f" ({missing})" if missing else ""
        return f"{head}; settings read from the environment{fields}: name a .env file with [tool.distilgen] env-file"
    return head


def schema_target(r: Any, source: ModuleSource | Definition | None = None, *, instance: str | None = None) -> dict[str, Any]:
    """What the schema child needs of scan record `r` (its key is `path::qualname`).

    `source` (the module's text, or `r`'s definition read from it) tells a decorator with `name=`
    and the return annotation as written; without it `r` is taken as undecorated. `instance`
    overrides the decorator's own (a function about to be decorated: the instance it will be bound to)."""
    found = source.definition(r.qualname, r.lineno, scanned_lines(r)) if isinstance(source, ModuleSource) else source
    node = found.node if found is not None else None
    named = node is not None and _uses_name(node)
    dec = getattr(r, "decorator", None)
    returns = ast.unparse(node.returns) if node is not None and node.returns is not None else None
    return {"key": f"{r.path}::{r.qualname}", "module": r.module, "qualname": r.qualname, "model": r.model,
            "instance": instance if instance is not None else getattr(dec, "instance", None),
            "light": bool(r.model) and "[" not in r.model and not named, "named": named,
            "returns": returns, "function_id": f"{r.module}:{r.qualname}", "folder": import_folder(r.path, r.module),
            # a model's method: its instance is written into the call, so its model needs a schema too
            "owner": f"{r.module}.{r.qualname.rpartition('.')[0]}" if getattr(r, "kind", None) == "method"
            and "<locals>" not in r.qualname else None}


def build_records(root: Path, results: Iterable[Any], *, child: ProjectPython | None = None,
                  closures: Mapping[str, str] | None = None, described: Mapping[str, dict[str, Any]] | None = None,
                  texts: dict[str, ModuleSource | None] | None = None) -> tuple[list[PromptRecord], list[Problem]]:
    """A PromptRecord for every decorated function in `results` (paths relative to `root`).

    `closures` maps `path::qualname` to the digest of the classes its schema depends on, read
    statically (`analysis.depends`): with the prompt it makes the static fingerprint recorded
    beside the prompt, which `check` compares without importing anything. `described` holds the
    schema child's answers already read (an early `SchemaJob`): only functions missing from it
    start a child. `texts` shares the module texts read with the caller (one read per file)."""
    child = child or ProjectPython(sys.executable, "the running interpreter", "--python", (str(root),))
    records: list[PromptRecord] = []
    problems: list[Problem] = []
    texts = {} if texts is None else texts
    sources: dict[str, tuple[Any, FunctionSource, int, int]] = {}
    targets = []
    for r in results:
        key = f"{r.path}::{r.qualname}"
        line = getattr(r, "decorator_lineno", 0) or r.lineno
        if r.module is None:
            problems.append(Problem(r.path, line, f"{r.qualname}: the file is not importable as a module, so its return model's schema cannot be read; put it in a package under the project root"))
            continue
        try:
            module = texts.get(r.path)
            if module is None:
                text = read_source(root / r.path)
                texts[r.path] = module = ModuleSource(text)
            found = module.definition(r.qualname, r.lineno, scanned_lines(r))
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            problems.append(Problem(r.path, line, f"cannot read the source of {r.qualname}: {exc}"))
            continue
        if found is None:
            problems.append(Problem(r.path, line, f"{r.qualname} not found in the file (changed since the scan?); run again"))
            continue
        sources[key] = (r, found.source, found.first, found.last)
        targets.append(schema_target(r, found))
    answers = dict(described or {})
    missing = [t for t in targets if t["key"] not in answers]
    answers.update(compute_schemas(root, missing, child=child))
    by_id: dict[str, tuple[str, PromptRecord]] = {}
    for key, (r, src, first, last) in sorted(sources.items()):
        info = answers.get(key, {"error": "no answer from the schema worker"})
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
