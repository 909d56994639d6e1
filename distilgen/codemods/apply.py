"""`distilgen apply`: drive the decorator codemod over the files the scan says need an edit.

Only files holding a selected function whose decorator must change are read and parsed with
libcst; everything else is left alone, unread. When decorators are added and the project's
`Instructions` module does not exist yet, it is created from `templates/instructions_module.py.tmpl`.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence


from .._templates import render_template
from ..analysis.cache import digest
from ..analysis.index_shift import LineInserts, ShiftedFile
from ..analysis.parsing import UnparsableSource, parse_cst, run_deep
from ..analysis.processes import ordered_map, worker_count
from ..analysis.roots import import_folders
from ..contracts import FALLBACK_INSTANCE_MODULE, ApplyAction
from ..errors import ConfigError, DistilgenError, InternalError, UsageError
from .decorate import ACTIONS, InstanceRef, ModuleEdit, Target, edit_module, string_literal
from .edits import FileEdit, PlannedEdit, check_edit, commit_edits, read_snapshot
from .names import module_names

if TYPE_CHECKING:
    from ..analysis.scan import ScanReport, ScanResult
    from ..config import Config

__all__ = [
    "ApplyReport",
    "apply_codemod",
    "schema_targets",
    "pin_models",
    "needs_edit",
    "instance_ref",
    "instance_module_path",
    "main_placement",
    "placements",
    "render_instance_module",
]

_VERBS = {"decorate": "decorated", "dispatch": "dispatch", "capture": "capture", "remove": "removed"}


@dataclass(frozen=True)
class ApplyReport:
    root: Path
    action: ApplyAction
    model: str | None
    edits: tuple[FileEdit, ...]
    written: bool
    pinned: tuple[str, ...] = ()
    """Function ids whose model id was pinned to their current prompt fingerprint in the lock."""
    notes: tuple[str, ...] = ()
    """`path:line: qualname: why it was left alone`, for functions asked for by --select or in a file
    named on the command line."""
    bound: tuple[str, ...] = ()
    """Function ids of the selected functions that are (or, unwritten, would be) in the action's
    state: decorated, or bound to the model for `dispatch`."""
    shifted: Mapping[str, ShiftedFile] = field(default_factory=dict, repr=False, compare=False)
    """The written files whose edit only inserted lines, by path: the lock step's scan moves their
    old index instead of indexing them again (`analysis.index_shift`)."""

    @property
    def changed(self) -> tuple[FileEdit, ...]:
        return tuple(e for e in self.edits if e.status == "changed")

    @property
    def errors(self) -> tuple[FileEdit, ...]:
        return tuple(e for e in self.edits if e.status == "error")

    @property
    def diff(self) -> str:
        return "".join(e.diff for e in self.edits)


def instance_ref(config: Config) -> InstanceRef:
    try:
        return InstanceRef.parse(config.instructions)
    except ValueError as exc:
        where = config.pyproject or config.root
        raise ConfigError(f"{where}: [tool.distilgen] instructions: {exc}") from None


def needs_edit(r: ScanResult, action: ApplyAction, model: str | None, ours: str | None = None) -> bool:
    """Whether the scan result's decorator differs from what `action` wants (no file read).

    `ours` (`module:attr`): `remove` then only takes out decorators bound to that instance, the
    one `apply` itself binds to; a hand-written decorator on another instance (say instructor's)
    stays unless --select names it (pass `ours=None`). `remove` takes the decorator off whatever
    the function's status: one that a rule now calls ineligible (a special method, a validator)
    may carry it from an older `apply` or from a hand.
    """
    dec = r.decorator
    if action == "decorate":
        return r.status == "candidate"
    if action == "dispatch":
        if r.status == "candidate":
            return True
        return r.status == "decorated" and not (dec is not None and dec.mode == "dispatch" and dec.model == model)
    if action == "capture":
        return r.status == "decorated" and dec is not None and dec.mode not in ("distil", "capture")
    if action == "remove":
        return dec is not None and (ours is None or dec.instance == ours)
    raise UsageError(f"unknown apply action {action!r} (one of {', '.join(ACTIONS)})")


def instance_module_path(root: Path, instance: InstanceRef, results: Iterable[ScanResult]) -> tuple[Path, bool]:
    """Where the instance's module is (exists=True) or should be created (exists=False)."""
    parts = instance.module.split(".")
    roots = import_folders(results)
    for sroot in roots:
        base = root.joinpath(sroot, *parts) if sroot else root.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate, True
    for sroot in roots:
        folder = root / sroot if sroot else root
        if folder.joinpath(*parts[:-1]).is_dir():
            return folder.joinpath(*parts).with_suffix(".py"), False
    raise ConfigError(
        f"[tool.distilgen] instructions = {str(instance)!r}: cannot create module {instance.module}: "
        f"package {'.'.join(parts[:-1])!r} not found under {root}"
    )


@dataclass(frozen=True)
class Placement:
    """The instance a file's decorators import, and the module file that defines it."""

    instance: InstanceRef
    path: Path | None
    """Where that module is or is to be created; None: look it up (`instance_module_path`)."""


FALLBACK_MODULE = FALLBACK_INSTANCE_MODULE
"""The instance's module in a package that already has a module of the configured name of its own
(instructor ships `instructor/distil.py`); the name is in `contracts`, which the scan reads too."""


def _placement(root: Path, r: ScanResult, configured: InstanceRef,
               binds: dict[Path, bool] | None = None) -> Placement:
    """Which instance `r`'s decorator binds to.

    A configured `pkg.mod:attr` is used everywhere, as configured. A one-part module (the default
    `distil:instructions`) lives inside the top-level package of the code it decorates (its
    outermost folder with an `__init__.py`, so a namespace package's own portion): a package must
    never import a module it does not ship. Only a top-level module outside any package imports
    it from beside itself. Where the package already has a module of that name that binds no
    such attribute (its own), the instance lives beside it as `FALLBACK_MODULE`; `binds`
    remembers, per module file, whether it binds the attribute (one parse per package).
    """
    if "." in configured.module or not r.module:
        return Placement(configured, None)
    parts = r.module.split(".")
    dirs = r.path.split("/")[:-1]
    levels = len(parts) if r.path.endswith("/__init__.py") or r.path == "__init__.py" else len(parts) - 1
    if levels == 0:
        # a top-level module: beside itself, in the folder it is imported from (a script in
        # `my-scripts/` runs with that folder on the path, not the project's most used one)
        return _beside(root.joinpath(*dirs), configured, binds, [])
    # the folders of the module's packages, outermost first, found from the file's own folder: the
    # root may be below the folder the module is imported from (`apply nsorg/spec/envs.py` with no
    # pyproject.toml: the root is `nsorg/spec/`, the module `nsorg.spec.envs`)
    folder = root.joinpath(*dirs)
    chain = [folder, *folder.parents][:levels]
    if len(chain) < levels:
        return Placement(configured, None)
    packages = chain[::-1]
    pkg_level = levels  # no regular package: the innermost (namespace) package the file is in
    for j in range(1, levels + 1):
        if (packages[j - 1] / "__init__.py").is_file():
            pkg_level = j
            break
    return _beside(packages[pkg_level - 1], configured, binds, parts[:pkg_level])


def _beside(folder: Path, configured: InstanceRef, binds: dict[Path, bool] | None, package: list[str]) -> Placement:
    """The one-part instance module in `folder` (the package `package`, [] for none)."""
    name = configured.module
    path = _module_file(folder, name)
    if path.is_file():
        memo = binds if binds is not None else {}
        if path not in memo:
            memo[path] = _binds(path, configured.attr)
        if not memo[path]:
            name = FALLBACK_MODULE
            path = _module_file(folder, name)
    return Placement(InstanceRef(".".join([*package, name]), configured.attr), path)


def _module_file(folder: Path, name: str) -> Path:
    """`folder/name.py`, or the package `folder/name/__init__.py` when that is what exists."""
    path = folder / f"{name}.py"
    if not path.is_file() and (folder / name / "__init__.py").is_file():
        return folder / name / "__init__.py"
    return path


def _instance_path(root: Path, place: Placement, results: Iterable[ScanResult]) -> tuple[Path, bool]:
    """Where `place`'s instance module is or is to be created, and whether it exists."""
    if place.path is None:
        return instance_module_path(root, place.instance, results)
    return place.path, place.path.is_file()


def placements(root: Path, results: Iterable[ScanResult], configured: InstanceRef) -> dict[str, Placement]:
    """Path of each scanned file -> its Placement (one per top-level package)."""
    out: dict[str, Placement] = {}
    binds: dict[Path, bool] = {}
    for r in results:
        if r.path not in out:
            out[r.path] = _placement(root, r, configured, binds)
    return out


def main_placement(root: Path, results: Iterable[ScanResult], configured: InstanceRef) -> tuple[InstanceRef, Path, bool]:
    """The instance most of the functions bind to, its module path and whether that exists (for
    `stubs`, which writes one module for all of them)."""
    results = [r for r in results if r.status in ("candidate", "decorated")] or list(results)
    binds: dict[Path, bool] = {}
    counts = Counter(_placement(root, r, configured, binds) for r in results)
    place = counts.most_common(1)[0][0] if counts else Placement(configured, None)
    if place.path is None:
        path, exists = instance_module_path(root, place.instance, results)
        return place.instance, path, exists
    return place.instance, place.path, place.path.is_file()


def _binds(path: Path, attr: str) -> bool:
    """Whether the module file binds `attr` (or may: a module `__getattr__`, a star import); True
    for a file that cannot be read or parsed (its own problem, reported by scan; the import will
    say more than we can)."""
    try:
        tree = parse_cst(path.read_bytes(), str(path))
        names = module_names(tree, path.stem, path.name == "__init__.py")
    except (UnparsableSource, OSError, RecursionError, MemoryError):
        return True
    return attr in names.bindings or "__getattr__" in names.bindings or names.has_star_import


def check_instance_module(path: Path, instance: InstanceRef) -> None:
    """ConfigError when the existing module does not bind the configured attribute."""
    if not _binds(path, instance.attr):
        raise ConfigError(
            f"{path}: [tool.distilgen] instructions = {str(instance)!r}, but this module binds no name "
            f"{instance.attr!r} (expected `{instance.attr} = Instructions(...)`)"
        )


def _root_marker(config: Config) -> str | None:
    """A file at the project root that an installed copy of its packages does not have."""
    if config.pyproject is not None and config.pyproject.parent == config.root:
        return config.pyproject.name
    for name in ("setup.py", "setup.cfg"):
        if (config.root / name).is_file():
            return name
    return config.lock_path.name if config.lock_path.parent == config.root else None


def render_instance_module(config: Config, instance: InstanceRef, path: Path) -> str:
    depth = len(path.relative_to(config.root).parts) - 1
    name = config.name or config.root.name
    # an installed copy (site-packages has no pyproject.toml) must not write its examples there:
    # a file only the source tree's root holds says which copy runs (a setup.py-only project, or
    # a tree with no project file at all: the lock `apply` writes beside it; wave 5)
    marker = _root_marker(config)
    return render_template(
        "instructions_module.py.tmpl",
        attr=instance.attr,
        instance_name=string_literal(name),
        dataset=string_literal(config.dataset),
        dataset_doc=config.dataset,
        finetune_format=string_literal(config.finetune_format),
        parents=f".parents[{depth}]",
        installed="" if marker is None else f";\n# installed (no {marker} there: site-packages), to the working directory",
        guard="" if marker is None else f"\nif not (_ROOT / {string_literal(marker)}).is_file():\n    _ROOT = Path.cwd()",
    )


@dataclass(frozen=True)
class _Job:
    """One file to plan: what `_plan_job` needs, pickled to a worker process."""

    root: Path
    rel: str
    results: tuple[ScanResult, ...]
    instance: InstanceRef
    action: ApplyAction
    model: str | None


@dataclass(frozen=True)
class _Planned:
    outcome: PlannedEdit | FileEdit
    notes: tuple[str, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()


def _plan_job(job: _Job) -> _Planned:
    """Plan one file's edit and check its output (`check_edit`: re-parsed, diffed): the per-file
    work, the same in this process or in a worker. A bug (not the file's fault) names the file."""
    try:
        planned = _plan_file(job.root, job.rel, job.results, job.instance, job.action, job.model)
        if isinstance(planned.outcome, PlannedEdit):
            planned = replace(planned, outcome=replace(planned.outcome, checked=check_edit(job.root, planned.outcome)))
        return planned
    except DistilgenError:
        raise
    except Exception as exc:
        raise InternalError(f"{job.rel}: while planning its edit: {type(exc).__name__}: {exc}") from exc


def _plan_file(root: Path, rel: str, results: Sequence[ScanResult], instance: InstanceRef, action: ApplyAction,
               model: str | None) -> _Planned:
    try:
        snap = read_snapshot(root / rel)
    except OSError as exc:
        return _Planned(FileEdit(rel, "error", f"cannot read: {exc.strerror or exc}"))
    if snap.data is None:
        return _Planned(FileEdit(rel, "error", "the file is gone since the scan"))
    targets = [
        Target(r.qualname, r.lineno, r.decorator.lineno if r.decorator is not None else None) for r in results
    ]
    module = next((r.module for r in results if r.module), "") or ""
    data = snap.data

    def edit() -> tuple[bytes | str, ModuleEdit]:
        return edit_module(data, targets, instance, action, module=module, is_package=rel.endswith("__init__.py"),
                           model=model)

    try:
        try:
            new, outcome = edit()
        except RecursionError:
            # libcst's visitors recurse in Python: once more on the big stack, with room to recurse
            new, outcome = run_deep(edit)
    except UnparsableSource as exc:
        return _Planned(FileEdit(rel, "error", f"cannot be parsed: {exc}"))
    except (UnicodeDecodeError, LookupError) as exc:
        if isinstance(exc, (KeyError, IndexError)):
            raise  # a bug, not an unknown coding cookie: `_plan_job` names the file
        return _Planned(FileEdit(rel, "error", f"cannot decode it: {exc}"))
    except (RecursionError, MemoryError) as exc:
        # libcst's visitors and code generator recurse in Python: a file `ast` accepts (a sum of
        # 1,500 terms) can still be too deep for them; say so and go on with the other files
        return _Planned(FileEdit(rel, "error", f"too deeply nested to edit safely ({exc or type(exc).__name__}); not written"))
    notes = tuple(f"{rel}:{line}: {qualname}: {why}; left alone" for qualname, why, line in outcome.refused)
    refused = tuple((rel, qualname) for qualname, _, _ in outcome.refused)
    if outcome.missing:
        gone = ", ".join(outcome.missing)
        return _Planned(FileEdit(rel, "error", f"no function {gone} here any more (changed since the scan?); not written"),
                        notes, refused)
    assert isinstance(new, bytes)
    return _Planned(PlannedEdit(rel, snap, new, outcome.changed, outcome.encoding, std_parsed=outcome.std_parsed,
                                inserts=outcome.line_inserts), notes, refused)


# Below this much source to edit, planning in this process beats starting worker processes
# (measured: `python benchmarks/apply_scale.py --break-even`, see docs/apply.md).
_PARALLEL_MIN_FILES = 8
_PARALLEL_MIN_BYTES = 500_000


def _plan_files(root: Path, rels: Sequence[str], by_path: Mapping[str, Sequence[ScanResult]],
                where: dict[str, Placement], action: ApplyAction, model: str | None,
                keep: Callable[[str], tuple[Sequence[ScanResult], list[str]]] | None = None,
                ) -> list[tuple[list[str], _Planned | None]]:
    """Plan `rels` in order, on worker processes when there is enough to edit: for each, the
    notes `keep` said about it and its plan (None: nothing left to edit there). `keep(rel)` says,
    just before a file is sent, which of its results are still to edit (and the notes of those
    that are not), so that a file left with nothing is never parsed. The order is that of `rels`
    whichever process planned what."""
    size = 0
    for rel in rels:
        try:
            size += os.stat(root / rel).st_size
        except OSError:
            pass  # `_plan_file` says why
    enough = len(rels) >= _PARALLEL_MIN_FILES and size >= _PARALLEL_MIN_BYTES
    workers = worker_count() if enough else 1
    said: dict[str, list[str]] = {}
    sent: list[str] = []

    def jobs() -> Iterator[_Job]:
        for rel in rels:
            rest, said[rel] = keep(rel) if keep is not None else (by_path[rel], [])
            if rest:
                sent.append(rel)
                yield _Job(root, rel, tuple(rest), where[rel].instance, action, model)

    from concurrent.futures.process import BrokenProcessPool

    done: dict[str, _Planned] = {}
    try:
        # a core busy now (the schema child importing the project) may be free before the end
        for k, planned in enumerate(ordered_map(_plan_job, jobs(), workers, ahead=8,
                                                recheck=worker_count if enough else None)):
            done[sent[k]] = planned
    except BrokenProcessPool as exc:
        at = sent[len(done)] if len(done) < len(sent) else "?"
        raise InternalError(f"{at}: a worker process planning the edits died ({exc})") from exc
    return [(said[rel], done.get(rel)) for rel in rels]


def _taken(planned: _Planned, notes: list[str], refused: set[tuple[str, str]]) -> PlannedEdit | FileEdit:
    notes.extend(planned.notes)
    refused.update(planned.refused)
    return planned.outcome


def apply_codemod(
    report: ScanReport,
    config: Config,
    *,
    action: ApplyAction = "decorate",
    model: str | None = None,
    write: bool = True,
    selected: tuple[str, ...] = (),
    vet: Callable[..., Mapping[tuple[str, str], str] | None] | None = None,
    named: tuple[str, ...] = (),
) -> ApplyReport:
    """Plan and (with write=True) make the edits for the selected results of `report`.

    `selected` are the --select patterns the scan was run with: when given, matching nothing is a
    usage error, and selected functions that cannot take a decorator are named in `notes`.
    `vet` names the functions about to be decorated that must be left alone (`(path, qualname)` ->
    why): the schema child's verdict, so that `apply` never decorates what `prompts` could not
    record. `vet()` waits for it (once the edits are planned, before anything is written);
    `vet(False)` returns None while it is not there yet: asked before each file is planned, so
    that a file whose functions are all left alone is never parsed. `named` are the files (paths
    relative to the root) named on the command line: their functions that cannot take a decorator
    are named in `notes` too, as selected ones are (`apply FILE` used to print `0 files changed`
    and nothing else for a file whose function the scan could not resolve).
    """
    if action == "dispatch" and not model:
        raise UsageError("--dispatch needs --model ID: the fine-tuned model to bind")
    if action != "dispatch" and model:
        raise UsageError("--model only goes with --dispatch")
    if model is not None and (not model.strip() or not model.isprintable()):
        raise UsageError(f"--model: not a model id: {model!r}")
    instance = instance_ref(config)
    root = report.root
    notes: list[str] = []
    refused: set[tuple[str, str]] = set()
    if selected and not report.results:
        raise UsageError(f"--select {' '.join(selected)}: no function returning a model matches")
    if selected or (named and action in ("decorate", "dispatch")):
        for r in report.results:
            if (selected or r.path in named) and r.status not in ("candidate", "decorated"):
                why = f" ({r.reason})" if r.reason else ""
                notes.append(f"{r.path}:{r.lineno}: {r.qualname}: {r.status}{why}; left alone")
    where = placements(root, report.results, instance)
    by_path: dict[str, list[ScanResult]] = {}
    kept: list[ScanResult] = []
    for r in report.results:
        # --select names functions explicitly: then any distil decorator on them may be removed
        ours = None if selected else str(where[r.path].instance)
        if needs_edit(r, action, model, ours):
            by_path.setdefault(r.path, []).append(r)
        elif action == "remove" and r.decorator is not None:
            kept.append(r)
    for r in kept:
        inst = r.decorator.instance if r.decorator is not None else "?"
        notes.append(f"{r.path}:{r.decorator_lineno or r.lineno}: {r.qualname}: bound to {inst}, not to "
                     f"{where[r.path].instance} that apply manages; kept (name it with --select to remove it)")

    if action in ("decorate", "dispatch"):
        # an existing instance module that binds no instance is a configuration error, said before
        # anything is planned: the same error with or without --diff, whatever the child answers
        for place in sorted({where[rel] for rel in by_path}, key=lambda pl: str(pl.instance)):
            path, exists = _instance_path(root, place, report.results)
            if exists:
                check_instance_module(path, place.instance)

    planned: list[PlannedEdit] = []
    failed: list[FileEdit] = []
    # only new decorations wait for the child's verdict (a run with nothing new never waits)
    vetting = vet is not None and action in ("decorate", "dispatch") and any(
        r.status == "candidate" for rs in by_path.values() for r in rs)
    verdicts: Mapping[tuple[str, str], str] | None = None

    def unrefused(rel: str) -> tuple[list[ScanResult], list[str]]:
        nonlocal verdicts
        if vetting and verdicts is None:
            assert vet is not None
            verdicts = vet(False)
        if verdicts is None:
            return by_path[rel], []
        said: list[str] = []
        by_path[rel] = _refuse(by_path[rel], verdicts, said, refused)
        return by_path[rel], said

    for said, plan in _plan_files(root, sorted(by_path), by_path, where, action, model, unrefused):
        notes.extend(said)
        if plan is not None:
            outcome = _taken(plan, notes, refused)
            (failed if isinstance(outcome, FileEdit) else planned).append(outcome)  # type: ignore[arg-type]
    if vetting:
        assert vet is not None
        verdicts = vet() if verdicts is None else verdicts
        assert verdicts is not None
        planned = _vetted(root, planned, by_path, verdicts, where, action, model, notes, refused, failed)

    if action in ("decorate", "dispatch", "capture"):
        needed = {where[p.rel] for p in planned if p.functions}
        # and the instance module of functions already bound to it, deleted since (scan still
        # calls them decorated; `check` says DG013): their files import it
        needed |= {where[r.path] for r in report.results if r.decorator is not None
                   and r.decorator.instance == str(where[r.path].instance) and r.status == "decorated"}
        for place in sorted(needed, key=lambda pl: str(pl.instance)):
            path, exists = _instance_path(root, place, report.results)
            if exists:
                check_instance_module(path, place.instance)  # again: it may have changed meanwhile
            else:
                text = render_instance_module(config, place.instance, path)
                rel = path.relative_to(root).as_posix()
                planned.append(PlannedEdit(rel, read_snapshot(path), text.encode("utf-8"), note="from template"))

    # the created instructions module is written first, and the decorated files only once it is
    # there: a kill (or a failure) between writes never leaves code importing a missing module
    created = [p for p in planned if p.snapshot.data is None]
    edits = commit_edits(root, created, write=write)
    rest = [p for p in planned if p.snapshot.data is not None]
    if write and any(e.status == "error" for e in edits):
        edits += [FileEdit(p.rel, "error", "not written: the instructions module it would import could not be "
                           "created", functions=p.functions) for p in rest]
    else:
        edits += commit_edits(root, rest, write=write)
    # files the scan could not read or parse are reported, never skipped silently
    failed.extend(FileEdit(err.path, "error", f"cannot be scanned: {err.reason}") for err in report.errors)
    order = {e.path: e for e in [*edits, *failed]}
    bad = {e.path for e in order.values() if e.status == "error"}
    wanted = ("decorated",) if action in ("capture", "remove") else ("candidate", "decorated")
    bound = tuple(
        r.function_id for r in report.results
        if r.status in wanted and r.module and r.path not in bad and (r.path, r.qualname) not in refused
    )
    written = {e.path for e in edits if e.status == "changed"} if write else set()
    shifted = {p.rel: ShiftedFile(digest(p.snapshot.data), digest(p.new),
                                  LineInserts(p.inserts, where[p.rel].instance.attr, where[p.rel].instance.module))
               for p in rest if p.inserts is not None and p.rel in written and p.snapshot.data is not None}
    # in file and line order, however soon the schema child answered (and whichever process planned)
    return ApplyReport(root, action, model, tuple(order[k] for k in sorted(order)), write,
                       notes=tuple(sorted(notes, key=_note_place)),
                       bound=bound if action != "remove" else (), shifted=shifted)


def _note_place(note: str) -> tuple[str, int]:
    """The `path:line` a note of `apply_codemod` starts with."""
    found = _NOTE_PLACE.match(note)
    return (found[1], int(found[2])) if found else (note, 0)


_NOTE_PLACE = re.compile(r"(.*?):(\d+): ")


def _vetted(root: Path, planned: list[PlannedEdit], by_path: dict[str, list[ScanResult]],
            verdicts: Mapping[tuple[str, str], str], where: dict[str, Placement], action: ApplyAction, model: str | None,
            notes: list[str], refused: set[tuple[str, str]], failed: list[FileEdit]) -> list[PlannedEdit]:
    """The plan without the new decorations `verdicts` refuses (each file planned again without
    them; a file left with nothing to do is not written)."""
    said: dict[str, list[str]] = {}
    rest: dict[str, list[ScanResult]] = {}
    for plan in planned:
        results = by_path.get(plan.rel, [])
        said[plan.rel] = []
        rest[plan.rel] = _refuse(results, verdicts, said[plan.rel], refused)
        if len(rest[plan.rel]) == len(results):
            del rest[plan.rel]  # nothing refused: the plan stands
    again = [rel for rel in rest if rest[rel]]
    replanned = dict(zip(again, (p for _, p in _plan_files(root, again, rest, where, action, model))))
    out: list[PlannedEdit] = []
    for plan in planned:  # the notes in the order one pass over the plan says them
        notes.extend(said[plan.rel])
        if plan.rel not in rest:
            out.append(plan)
        elif plan.rel in replanned:
            redone = replanned[plan.rel]
            assert redone is not None
            outcome = _taken(redone, notes, refused)
            (failed if isinstance(outcome, FileEdit) else out).append(outcome)  # type: ignore[arg-type]
    return out


def _refuse(results: list[ScanResult], verdicts: Mapping[tuple[str, str], str], notes: list[str],
            refused: set[tuple[str, str]]) -> list[ScanResult]:
    """`results` without the new decorations `verdicts` refuses (each noted once)."""
    out = []
    for r in results:
        if r.status == "candidate" and (r.path, r.qualname) in verdicts:
            notes.append(f"{r.path}:{r.lineno}: {r.qualname}: {verdicts[(r.path, r.qualname)]}")
            refused.add((r.path, r.qualname))
        else:
            out.append(r)
    return out


def schema_targets(report: ScanReport, config: Config, action: ApplyAction, model: str | None,
                   selected: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """What the schema child must describe for `apply` to record the lock: every function that is
    or will be decorated, as it will be after the edit (so the child can start before it)."""
    from ..prompts.recording import ModuleSource, read_source, schema_target

    instance = instance_ref(config)
    where = placements(report.root, report.results, instance)
    texts: dict[str, ModuleSource | None] = {}

    def source(rel: str) -> ModuleSource | None:
        if rel not in texts:
            try:
                texts[rel] = ModuleSource(read_source(report.root / rel))
            except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
                texts[rel] = None
        return texts[rel]

    targets = []
    for r in report.results:
        if not r.module:
            continue
        if r.status == "decorated" and action != "remove":
            targets.append(schema_target(r, source(r.path)))
        elif r.status == "candidate" and action in ("decorate", "dispatch"):
            ours = None if selected else str(where[r.path].instance)
            if not needs_edit(r, action, model, ours):
                continue
            place = where[r.path]
            try:
                exists = _instance_path(report.root, place, report.results)[1]
            except ConfigError:
                exists = False  # apply_codemod says so, in its own words
            # an instance module apply creates is the template's: include_code_body is off
            local = "<locals>" in r.qualname and "[" in (r.model or "")
            target = schema_target(r, source(r.path) if local else None, instance=str(place.instance) if exists else None)
            # the decorated module will import the instance's module: when apply creates it, its
            # package must import (ragas: a package broken in its environment)
            package = place.instance.module.rpartition(".")[0] if not exists else ""
            created = {"package": package, "instance_module": place.instance.module} if package else {}
            targets.append({**target, "new": True, **created})  # described first
    return sorted(targets, key=lambda t: not t.get("new"))


def pin_models(result: ApplyReport, report: ScanReport, config: Config,
               record_prompts: Callable[..., Any]) -> ApplyReport:
    """After writing: re-record the lock's prompts; for `dispatch`, pin model id -> fingerprint;
    for `remove`, drop the entries of the undecorated functions that have no model pinned.

    `record_prompts` is `api.prompts` (passed in: codemods sit below the api layer). A failure
    here does not undo the edits; it is reported as an error on the lock file.
    """
    lock = config.lock_path
    lock_rel = lock.relative_to(config.root).as_posix() if lock.is_relative_to(config.root) else str(lock)
    problems: list[FileEdit] = []
    pinned: list[str] = []
    touched = {e.path for e in result.changed}
    try:
        if result.action == "remove":
            return _forget_removed(result, report, config)
        return _pin_models(result, config, record_prompts, lock_rel, problems, pinned, touched)
    except OSError as exc:
        raise LockWriteError(_unwritable_lock(result, lock_rel, exc)) from None


class LockWriteError(ConfigError):
    """The lock could not be written after the source was edited (exit 2, like a bad setting)."""


def _unwritable_lock(result: ApplyReport, lock_rel: str, exc: OSError) -> str:
    files = ", ".join(e.path for e in result.changed) or "no file changed this time"
    why = exc.strerror or str(exc)
    if result.action == "dispatch":
        return (f"{lock_rel}: cannot write the lock ({why}); the source is already bound to {result.model} "
                f"({files}) but the prompts are not pinned: make the lock writable and run the same "
                f"`distilgen apply --dispatch --model {result.model}` again to pin them")
    return (f"{lock_rel}: cannot write the lock ({why}); the source is already edited ({files}) but the "
            f"lock does not say so: make the lock writable and run `distilgen prompts`")


def _forget_removed(result: ApplyReport, report: ScanReport, config: Config) -> ApplyReport:
    """After `--remove`: drop the lock entries of the functions undecorated, except those with a
    model pinned (the fine-tuned model still needs the prompt it was trained on); `distilgen
    prompts` drops those too once they are no longer wanted."""
    from ..prompts.lock import load_lock, record_prompts

    gone = {
        r.function_id for r in report.results
        for e in result.changed if e.path == r.path and r.qualname in e.functions and r.module
    }
    try:
        lock = load_lock(config.lock_path)
        keep = sorted(e.function_id for e in lock.entries if e.function_id in gone and e.models)
        record_prompts(config.lock_path, [], drop=gone - set(keep))
    except DistilgenError as exc:
        return replace(result, edits=(*result.edits, FileEdit(config.lock_file, "error", f"entries not dropped: {exc}")))
    notes = tuple(f"{config.lock_file}: kept the entry of {fid}: a model is pinned to its prompt "
                  f"(`distilgen prompts` drops it)" for fid in keep)
    return replace(result, notes=(*result.notes, *notes))


def _pin_models(result: ApplyReport, config: Config, record_prompts: Callable[..., Any], lock_rel: str,
                problems: list[FileEdit], pinned: list[str], touched: set[str]) -> ApplyReport:
    try:
        for rep in record_prompts(config=config):
            # problems elsewhere in the project are for `distilgen prompts`/`check` to report
            for p in getattr(rep, "problems", ()):
                if getattr(p, "path", None) in touched:
                    problems.append(FileEdit(lock_rel, "error", f"prompt not recorded: {p}"))
    except DistilgenError as exc:
        problems.append(FileEdit(lock_rel, "error", f"prompts not recorded: {exc}"))
    if result.action == "dispatch" and result.model:
        from ..prompts.lock import record_models

        # every selected function bound to the model, changed now or already: pinning is
        # idempotent; one write of the lock for all of them
        failed: Mapping[str, DistilgenError]
        try:
            _, failed = record_models(config.lock_path, result.bound, result.model)
        except DistilgenError as exc:
            failed = {fid: exc for fid in result.bound}
        pinned.extend(fid for fid in result.bound if fid not in failed)
        problems.extend(FileEdit(lock_rel, "error", f"{fid}: model not pinned: {exc}") for fid, exc in failed.items())
    return replace(result, edits=(*result.edits, *problems), pinned=tuple(pinned))
