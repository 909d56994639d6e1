"""Prove scan/apply/stubs/prompts/check on real projects from PyPI (issue 13, "Proof on real code").

The corpus is pinned in `benchmarks/real_world_corpus.toml` (name, version, file, sha256); each file
is fetched once with `pip download --no-deps` into ~/.cache/distilgen-corpus and checked against its
hash. For each project, on a fresh copy of the unpacked tree:

1. `scan --no-cache` (cold, timed) and `apply` (timed, cache removed first, so also cold);
2. every changed file compiles; `apply` again changes nothing (idempotent);
3. a wheel is built from the decorated tree (sdists: `pip wheel`; wheels: the package folders zipped
   back with the original metadata and a fresh RECORD) and installed with `pip install --target`;
   the package's top-level import and every decorated module are imported from it, in a venv with
   the project's dependencies (`pip install NAME==VERSION`), or, when those do not resolve from
   PyPI, with the missing imports stubbed; the mode is printed per project. A module counts as an
   import failure only when the same module imports from the *original* wheel under the same
   conditions (the baseline), so missing optional extras are not blamed on distilgen;
4. `stubs` output passes `mypy --strict` (imports followed silently against the installed wheel);
5. `prompts` then `check` exit 0;
6. `apply --remove` restores every changed file byte for byte.

    /work/devenv/bin/python benchmarks/real_world.py [--projects a,b] [--skip-imports] [--skip-mypy] [--keep]
        [--manifest FILE]

--skip-imports: steps 1, 2 and 6, and scan ids vs the interpreter's module names (no venvs, wheels, imports,
mypy, prompts; apply --no-lock).

Venvs are cached in ~/.cache/distilgen-corpus/venvs (first run: a minute or two per project).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MANIFEST = HERE / "real_world_corpus.toml"
CACHE = Path(os.environ.get("DISTILGEN_CORPUS_CACHE", Path.home() / ".cache" / "distilgen-corpus"))
# what distilgen itself needs inside a project's venv (the decorated code imports it)
DISTILGEN_DEPS = ("libcst>=1.1", "pydantic>=2.5", "openai>=1.40", "click>=8.1")
STEP_TIMEOUT = 900
STUBS = "distil_stubs_check.py"


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    kind: str
    filename: str
    sha256: str
    packages: tuple[str, ...]
    layout: str
    imports: tuple[str, ...] = ()


@dataclass
class Result:
    project: Project
    mode: str = "-"
    files: int = 0
    lines: int = 0
    candidates: int = 0
    decorated: int = 0
    changed: int = 0
    compile_failures: list[str] = field(default_factory=list)
    import_failures: dict[str, str] = field(default_factory=dict)
    baseline_unimportable: int = 0
    modules_imported: int = 0
    id_mismatches: list[str] = field(default_factory=list)
    toplevel_import: str = "not run"
    idempotent: bool | None = None
    removed_exact: int = 0
    removed_total: int = 0
    remove_mismatches: list[str] = field(default_factory=list)
    mypy: str = "not run"
    prompts_check: str = "not run"
    scan_s: float = 0.0
    apply_s: float = 0.0
    diff_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (not self.errors and not self.compile_failures and not self.import_failures and not self.id_mismatches
                and self.idempotent is not False and self.removed_exact == self.removed_total
                and self.toplevel_import in ("ok", "skipped") and self.mypy in ("ok", "skipped", "no stubs")
                and self.prompts_check.split(" ")[0] in ("ok", "skipped"))


def load_corpus(path: Path = MANIFEST) -> list[Project]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Project(p["name"], p["version"], p["kind"], p["filename"], p["sha256"], tuple(p["packages"]),
                    p.get("layout", ""), tuple(p.get("imports", p["packages"]))) for p in data["project"]]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(project: Project) -> Path:
    """The pinned file, downloaded once with `pip download --no-deps`; raises if pip or the hash fails."""
    dest = CACHE / "files"
    target = dest / project.filename
    if not target.exists():
        dest.mkdir(parents=True, exist_ok=True)
        binary = ["--no-binary", ":all:"] if project.kind == "sdist" else ["--only-binary", ":all:"]
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", *binary, "-d", tmp,
                                   f"{project.name}=={project.version}"], capture_output=True, text=True,
                                  timeout=STEP_TIMEOUT)
            got = Path(tmp) / project.filename
            if proc.returncode != 0 or not got.exists():
                raise RuntimeError(f"pip download {project.name}=={project.version} failed: "
                                   f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
            os.replace(got, target)
    digest = _sha256(target)
    if digest != project.sha256:
        target.unlink()
        raise RuntimeError(f"{project.filename}: sha256 {digest} does not match the pinned {project.sha256}")
    return target


def unpack(project: Project, archive: Path, dest: Path) -> Path:
    """The project tree: an sdist's top folder, or a wheel's contents (with a minimal pyproject.toml)."""
    dest.mkdir(parents=True)
    if project.kind == "sdist":
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
        (root,) = [p for p in dest.iterdir() if p.is_dir()]
        return root
    root = dest / f"{project.name}-{project.version}"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(root)
    return root


def py_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if ".distilgen_cache" not in p.parts)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and ".distilgen_cache" not in p.parts and "__pycache__" not in p.parts}


# -- the CLI, as a user runs it ---------------------------------------------------------------------
def distilgen(python: str, args: list[str], cwd: Path, timeout: float = STEP_TIMEOUT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTHONSAFEPATH", None)
    return subprocess.run([python, "-m", "distilgen", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _one_line(proc: subprocess.CompletedProcess) -> str:
    text = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    if any("Traceback (most recent call last)" in line for line in text):
        return f"exit {proc.returncode}, traceback: {text[-1][:160]}"
    return f"exit {proc.returncode}: {(text[-1] if text else '')[:160]}"


# -- venvs ------------------------------------------------------------------------------------------
def venv_for(project: Project) -> tuple[str, str]:
    """(python, mode): a cached venv with the project's dependencies, or with distilgen's only ("stubbed")."""
    home = CACHE / "venvs" / f"{project.name}-{project.version}"
    marker = home / "distilgen-mode"
    py = str(home / "bin" / "python")
    if marker.exists():
        return py, marker.read_text().strip()
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True, timeout=STEP_TIMEOUT)
    pip = [sys.executable, "-m", "pip", "--python", py]
    full = subprocess.run([*pip, "install", "-q", f"{project.name}=={project.version}", *DISTILGEN_DEPS],
                          capture_output=True, text=True, timeout=STEP_TIMEOUT)
    mode = "venv"
    if full.returncode != 0:
        subprocess.run([*pip, "install", "-q", *DISTILGEN_DEPS], check=True, capture_output=True, timeout=STEP_TIMEOUT)
        reason = [ln for ln in full.stderr.splitlines() if ln.startswith("ERROR")][:1]
        mode = "stubbed" + (f" ({reason[0][7:].strip()[:120]})" if reason else "")
    marker.write_text(mode)
    return py, mode


# -- wheels -----------------------------------------------------------------------------------------
def build_wheel(project: Project, tree: Path, original: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    if project.kind == "sdist":
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(tree)],
                              capture_output=True, text=True, timeout=STEP_TIMEOUT)
        wheels = list(out.glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise RuntimeError(f"pip wheel failed: {proc.stderr.strip().splitlines()[-1:]}")
        return wheels[0]
    # a wheel's tree: the shipped top-level folders as they are now, the original metadata, a new RECORD
    target = out / original.name
    with zipfile.ZipFile(original) as zf:
        dist_info = sorted({n.split("/")[0] for n in zf.namelist() if n.split("/")[0].endswith(".dist-info")})[0]
    records = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for top in [*project.packages, dist_info]:
            base = tree / top
            for f in sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                arc = f.relative_to(tree).as_posix()
                if arc == f"{dist_info}/RECORD" or ".distilgen_cache" in f.parts:
                    continue
                data = f.read_bytes()
                zout.writestr(arc, data)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                records.append((arc, f"sha256={digest}", str(len(data))))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([*records, (f"{dist_info}/RECORD", "", "")])
        zout.writestr(f"{dist_info}/RECORD", buf.getvalue())
    return target


def install_target(wheel: Path, dest: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target",
                           str(dest), str(wheel)], capture_output=True, text=True, timeout=STEP_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"pip install --target failed: {proc.stderr.strip().splitlines()[-1:]}")


# A child that imports modules and prints {module: error or null}. In "stubbed" mode a last-resort
# finder makes any module that cannot be found an empty stand-in, except the project's own modules
# and distilgen's (so a module apply forgot to ship still fails).
_IMPORTER = r"""
import importlib, importlib.abc, importlib.machinery, json, sys, types, warnings
warnings.simplefilter("ignore")
mods, stub, own = json.loads(sys.argv[1]), sys.argv[2] == "1", set(json.loads(sys.argv[3]))

class _Meta(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _make(name)
    def __getitem__(cls, item): return cls
    def __or__(cls, other): return cls
    def __ror__(cls, other): return cls

class _Base(metaclass=_Meta):
    def __init__(self, *a, **k): pass
    def __call__(self, *a, **k): return a[0] if len(a) == 1 and callable(a[0]) and not k else _make("call")()
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _make(name)()
    def __iter__(self): return iter(())
    def __bool__(self): return False

def _make(name): return _Meta(name, (_Base,), {})

class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _make(name)
        setattr(self, name, value)
        return value

class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    stubbed = set()
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in own:
            return None
        self.stubbed.add(fullname.split(".")[0])
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
    def create_module(self, spec):
        m = _StubModule(spec.name); m.__path__ = []; return m
    def exec_module(self, module): pass

if stub:
    sys.meta_path.append(_Finder())
out = {}
for m in mods:
    try:
        importlib.import_module(m)
        out[m] = None
    except BaseException as e:
        out[m] = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
print(json.dumps(out))
"""


def distilgen_only(work: Path) -> Path:
    """A folder holding just `distilgen` (a link to this checkout), for PYTHONPATH and MYPYPATH."""
    shadow = work / "distilgen-only"
    if not shadow.exists():
        shadow.mkdir(parents=True)
        (shadow / "distilgen").symlink_to(REPO / "distilgen")
    return shadow


def import_modules(python: str, site: Path, tree: Path, modules: list[str], stubbed: bool, own: set[str],
                   packages: tuple[str, ...], work: Path, folders: dict[str, str] | None = None) -> dict:
    """{module: error or None}. The shipped packages' modules come from the installed wheel alone (the
    tree is not on the path, so a module apply created outside the package is missing, as it would be
    for a user); other modules (tests, docs of an sdist) from the tree; a module in a folder no
    package reaches (`examples/simple-tool/pkg/`: `folders` maps it to that folder) with that folder
    on the path too, as it runs."""
    folders = folders or {}
    shipped = [m for m in modules if m.split(".")[0] in packages]
    groups: dict[str, list[str]] = {}
    for m in modules:
        if m not in shipped:
            groups.setdefault(folders.get(m, ""), []).append(m)
    out = {}
    jobs = [(shipped, [site])] + [(mods, [site, tree, tree / "src", *([tree / f] if f else [])])
                                  for f, mods in sorted(groups.items())]
    for mods, path in jobs:
        if mods:
            out.update(_import_child(python, [distilgen_only(work), *path], mods, stubbed, own))
    return out


def _import_child(python: str, path: list[Path], modules: list[str], stubbed: bool, own: set[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in path)
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run([python, "-c", _IMPORTER, json.dumps(modules), "1" if stubbed else "0",
                               json.dumps(sorted(own))], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=STEP_TIMEOUT)
    if proc.returncode != 0 or not proc.stdout.strip():
        return {m: f"importer died: exit {proc.returncode} {proc.stderr.strip().splitlines()[-1:]}" for m in modules}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _own_folder(r: dict) -> str | None:
    """The import folder of a scan record whose path holds a folder that is no identifier (so no
    package reaches it, and the interpreter imports it only from that folder); None otherwise."""
    parts = r["path"].removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    names = (r.get("module") or "").split(".")
    if not r.get("module") or parts[-len(names):] != names:
        return None
    folder = parts[: -len(names)]
    return "/".join(folder) if any(not p.isidentifier() for p in folder) else None


def interpreter_module(rel: str) -> str:
    """The module name of a file of the tree with the tree (or its src/) on sys.path."""
    parts = rel.removesuffix(".py").split("/")
    if parts[0] == "src":
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _own_names(tree: Path, packages: tuple[str, ...]) -> set[str]:
    roots = [tree, tree / "src"]
    names = {p.stem if p.suffix == ".py" else p.name for r in roots if r.is_dir() for p in r.iterdir()
             if (p.is_dir() and not p.name.startswith(".")) or p.suffix == ".py"}
    return names | set(packages) | {"distilgen", "distil"}


# -- one project ------------------------------------------------------------------------------------
def run_project(project: Project, work: Path, *, skip_imports: bool = False, skip_mypy: bool = False,
                log=print) -> Result:
    res = Result(project)
    archive = fetch(project)
    orig = unpack(project, archive, work / "orig")
    tree = work / "tree"
    shutil.copytree(orig, tree, symlinks=True)
    before = snapshot(tree)
    files = py_files(tree)
    res.files = len(files)
    res.lines = sum(f.read_bytes().count(b"\n") for f in files)
    python, mode = (sys.executable, "skipped") if skip_imports else venv_for(project)
    res.mode = mode
    stubbed = mode.startswith("stubbed")

    # 1. cold scan, then a cold apply (cache removed)
    t = time.perf_counter()
    scan = distilgen(python, ["scan", "--no-cache", "--format", "json", "--exit-zero", "."], tree)
    res.scan_s = time.perf_counter() - t
    if scan.returncode != 0:
        res.errors.append(f"scan: {_one_line(scan)}")
        return res
    records = json.loads(scan.stdout)
    res.candidates = sum(r["status"] == "candidate" for r in records)
    shutil.rmtree(tree / ".distilgen_cache", ignore_errors=True)
    t = time.perf_counter()
    diff = distilgen(python, ["apply", "--diff", "."], tree)
    res.diff_s = time.perf_counter() - t
    if diff.returncode != 0 or "Traceback" in diff.stderr:
        res.errors.append(f"apply --diff: {_one_line(diff)}")
    shutil.rmtree(tree / ".distilgen_cache", ignore_errors=True)
    # stubbed or no venv: the lock's schema child cannot import the project, so apply records no lock
    no_lock = ["--no-lock"] if stubbed or skip_imports else []
    t = time.perf_counter()
    applied = distilgen(python, ["apply", *no_lock, "."], tree)
    res.apply_s = time.perf_counter() - t
    if applied.returncode not in (0, 1) or "Traceback" in applied.stderr:
        res.errors.append(f"apply: {_one_line(applied)}")
        return res
    if applied.returncode == 1:
        res.errors.append(f"apply exit 1: {_one_line(applied)}")
    after = snapshot(tree)
    changed = sorted(k for k in after if before.get(k) != after[k])
    res.changed = len(changed)
    rescan = distilgen(python, ["scan", "--format", "json", "--exit-zero", "."], tree)
    decorated = [r for r in json.loads(rescan.stdout)] if rescan.returncode == 0 else []
    decorated = [r for r in decorated if r["status"] == "decorated"]
    res.decorated = len(decorated)
    log(f"  {project.name}: {res.files} files, {res.lines} lines, {res.candidates} candidates, "
        f"{res.changed} files changed, {res.decorated} decorated ({res.scan_s:.1f}s scan, {res.diff_s:.1f}s apply --diff, {res.apply_s:.1f}s apply)")

    # 2. compile, idempotence
    for rel in changed:
        if rel.endswith(".py"):
            try:
                compile(after[rel], rel, "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as e:
                res.compile_failures.append(f"{rel}: {e}")
    again = distilgen(python, ["apply", *no_lock, "."], tree)
    res.idempotent = again.returncode == 0 and snapshot(tree) == after
    if not res.idempotent:
        res.errors.append(f"second apply: {_one_line(again)}")

    # 3. imports from a built wheel
    own = _own_names(tree, project.packages)
    # import names as the interpreter spells them (from the path), not as the scan reports them; a
    # file under a folder that is no identifier (`examples/simple-tool/`) is imported as it runs:
    # from its own import folder, under the scan's name
    folders = {r["module"]: f for r in decorated if (f := _own_folder(r)) is not None}
    modules = sorted({r["module"] if r["module"] in folders else interpreter_module(r["path"]) for r in decorated})
    res.id_mismatches = sorted({f'{r["module"]} (interpreter: {interpreter_module(r["path"])})' for r in decorated
                                if r["path"].removeprefix("src/").split("/")[0] in project.packages
                                and r["module"] != interpreter_module(r["path"])})
    site_dec = None
    if not skip_imports:
        try:
            site_orig, site_dec = work / "site-orig", work / "site-decorated"
            install_target(build_wheel(project, orig, archive, work / "wheel-orig"), site_orig)
            install_target(build_wheel(project, tree, archive, work / "wheel-decorated"), site_dec)
            top = list(project.imports)
            base = import_modules(python, site_orig, orig, top + modules, stubbed, own, project.packages, work, folders)
            now = import_modules(python, site_dec, tree, top + modules, stubbed, own, project.packages, work, folders)
            res.baseline_unimportable = sum(base[m] is not None for m in modules)
            res.modules_imported = sum(base[m] is None for m in modules)
            res.import_failures = {m: now[m] for m in modules if base[m] is None and now[m] is not None}
            top_errors = {m: now[m] for m in top if now[m] is not None}
            res.toplevel_import = "ok" if not top_errors else "; ".join(f"{m}: {e}" for m, e in top_errors.items())
            if all(base[m] is not None for m in top):
                res.toplevel_import = f"baseline fails too ({base[top[0]]})"
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            res.errors.append(f"wheel/imports: {e}")
    else:
        res.toplevel_import = "skipped"

    # 4. stubs pass mypy --strict
    if skip_mypy or skip_imports or site_dec is None:
        res.mypy = "skipped"
    else:
        res.mypy = _stubs_mypy(python, tree, site_dec, work, sorted(set(folders.values())))

    # 5. prompts then check
    if skip_imports or stubbed:
        res.prompts_check = "skipped" + (" (stubbed: the schema child imports the project)" if stubbed else "")
    else:
        prompts = distilgen(python, ["prompts", "."], tree)
        check = distilgen(python, ["check", "."], tree) if prompts.returncode == 0 else None
        if prompts.returncode != 0:
            res.prompts_check = f"prompts {_one_line(prompts)}"
        elif check.returncode != 0:
            res.prompts_check = f"check {_one_line(check)}"
        else:
            res.prompts_check = "ok"

    # 6. remove restores the bytes
    removed = distilgen(python, ["apply", "--remove", "."], tree)
    if removed.returncode != 0:
        res.errors.append(f"apply --remove: {_one_line(removed)}")
    final = snapshot(tree)
    res.removed_total = sum(1 for k in changed if k in before)
    res.remove_mismatches = [k for k in changed if k in before and final.get(k) != before[k]]
    res.removed_exact = res.removed_total - len(res.remove_mismatches)
    return res


def _stubs_mypy(python: str, tree: Path, site: Path, work: Path, folders: list[str] = ()) -> str:
    # written inside the tree (stubs refuses paths outside the scanned root), checked from a copy
    proc = distilgen(python, ["stubs", "--model", "ft:gpt-4o-mini:bench:real-world", "-o", STUBS, "."], tree)
    if proc.returncode == 0 and not (tree / STUBS).exists() and " 0 stubs" in f" {proc.stdout}":
        return "no stubs"
    if proc.returncode != 0 or not (tree / STUBS).exists():
        return f"stubs {_one_line(proc)}"
    out = work / "stubs" / STUBS
    out.parent.mkdir()
    shutil.move(tree / STUBS, out)
    # distilgen as a followed (silent) import; the project from its installed wheel, and what the
    # wheel does not ship (an sdist's tests/, docs_src/, examples/) from the tree, after it
    path = [distilgen_only(work), site, tree, tree / "src", *(tree / f for f in folders)]
    env = {**os.environ, "MYPYPATH": os.pathsep.join(str(p) for p in path)}
    env.pop("PYTHONPATH", None)
    mypy = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental",
                           "--python-executable", python, "--cache-dir", str(work / "mypy-cache"), str(out)],
                          cwd=out.parent, env={**env, "PYTHONPATH": str(site)}, capture_output=True, text=True,
                          timeout=STEP_TIMEOUT)
    if mypy.returncode == 0:
        return "ok"
    errors = [ln for ln in mypy.stdout.splitlines() if ": error:" in ln]
    codes: dict[str, int] = {}
    for ln in errors:
        code = ln.rsplit("[", 1)[-1].rstrip("]") if ln.endswith("]") else "other"
        codes[code] = codes.get(code, 0) + 1
    first = errors[0].split(": error: ", 1)[-1][:140] if errors else mypy.stdout[-200:]
    by_code = ", ".join(f"{c} {n}" for c, n in sorted(codes.items(), key=lambda kv: -kv[1]))
    return f"{len(errors)} mypy errors ({by_code}); first: {first}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--projects", help="comma-separated names from the manifest (default: all)")
    ap.add_argument("--skip-imports", action="store_true", help="no venvs, wheels, imports, mypy, prompts")
    ap.add_argument("--skip-mypy", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work folders (printed)")
    ap.add_argument("--manifest", type=Path, default=MANIFEST,
                    help="another corpus in the same format (e.g. benchmarks/held_out_corpus.toml)")
    args = ap.parse_args(argv)
    corpus = load_corpus(args.manifest)
    if args.projects:
        wanted = set(args.projects.split(","))
        unknown = wanted - {p.name for p in corpus}
        if unknown:
            ap.error(f"unknown project(s): {', '.join(sorted(unknown))}")
        corpus = [p for p in corpus if p.name in wanted]
    results = []
    top = Path(tempfile.mkdtemp(prefix="distilgen-real-world-"))
    try:
        for project in corpus:
            print(f"{project.name} {project.version} ({project.kind}): {project.layout}", flush=True)
            try:
                results.append(run_project(project, top / project.name, skip_imports=args.skip_imports,
                                           skip_mypy=args.skip_mypy))
            except Exception as e:  # one broken project must not hide the others' figures
                r = Result(project)
                r.errors.append(f"{type(e).__name__}: {e}")
                results.append(r)
            r = results[-1]
            for line in describe(r):
                print("  " + line, flush=True)
    finally:
        if args.keep:
            print(f"work folders kept in {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)
    print()
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


def describe(r: Result) -> list[str]:
    out = [f"imports: {r.mode}; top-level import from the built wheel: {r.toplevel_import}"]
    if r.compile_failures:
        out.append(f"compile failures: {r.compile_failures[:3]}")
    for m, e in list(r.import_failures.items())[:5]:
        out.append(f"import failure: {m}: {e}")
    if r.id_mismatches:
        out.append(f"{len(r.id_mismatches)} decorated modules named unlike the interpreter, e.g. {r.id_mismatches[:2]}")
    if r.remove_mismatches:
        out.append(f"--remove left {len(r.remove_mismatches)} files different, e.g. {r.remove_mismatches[:3]}")
    out.append(f"stubs + mypy --strict: {r.mypy}; prompts + check: {r.prompts_check}")
    out.extend(f"error: {e}" for e in r.errors)
    return out


def table(results: list[Result]) -> str:
    head = ("project", "files", "lines", "cand.", "decor.", "compile fail", "import fail (of ok before)",
            "id != runtime", "remove exact", "idempotent", "scan s", "apply --diff s", "apply s", "diff/scan",
            "prompts + check")
    rows = [head]
    for r in results:
        rows.append((f"{r.project.name} {r.project.version}", str(r.files), f"{r.lines:,}", str(r.candidates),
                     str(r.decorated), str(len(r.compile_failures)),
                     f"{len(r.import_failures)} ({r.modules_imported})" if r.mode != "skipped" else "skipped",
                     str(len(r.id_mismatches)), f"{r.removed_exact}/{r.removed_total}", {True: "yes", False: "NO", None: "-"}[r.idempotent],
                     f"{r.scan_s:.1f}", f"{r.diff_s:.1f}", f"{r.apply_s:.1f}", f"{r.diff_s / r.scan_s:.1f}" if r.scan_s else "-",
                     (r.prompts_check or "-")[:60]))
    total = sum(r.lines for r in results)
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines) + f"\n{len(results)} projects, {total:,} lines; {sum(r.ok for r in results)} fully clean"


if __name__ == "__main__":
    sys.exit(main())
