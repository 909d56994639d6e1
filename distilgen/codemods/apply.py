"""`distilgen apply`: drive the decorator codemod over the files the scan says need an edit.

Only files holding a selected function whose decorator must change are read and parsed with
libcst; everything else is left alone, unread. When decorators are added and the project's
`Instructions` module does not exist yet, it is created from `templates/instructions_module.py.tmpl`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import libcst as cst

from .._templates import render_template
from ..errors import ConfigError, DistilgenError, UsageError
from .decorate import ACTIONS, InstanceRef, Target, edit_module, string_literal
from .edits import FileEdit, PlannedEdit, commit_edits, read_snapshot
from .names import module_names

if TYPE_CHECKING:
    from ..analysis.scan import ScanReport, ScanResult
    from ..config import Config

__all__ = [
    "ApplyReport",
    "apply_codemod",
    "pin_models",
    "needs_edit",
    "instance_ref",
    "instance_module_path",
    "render_instance_module",
]

_VERBS = {"decorate": "decorated", "dispatch": "dispatch", "capture": "capture", "remove": "removed"}


@dataclass(frozen=True)
class ApplyReport:
    root: Path
    action: str
    model: str | None
    edits: tuple[FileEdit, ...]
    written: bool
    pinned: tuple[str, ...] = ()
    """Function ids whose model id was pinned to their current prompt fingerprint in the lock."""
    notes: tuple[str, ...] = ()
    """`path:line: qualname: why it was left alone`, for functions asked for by --select."""
    bound: tuple[str, ...] = ()
    """Function ids of the selected functions that are (or, unwritten, would be) in the action's
    state: decorated, or bound to the model for `dispatch`."""

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


def needs_edit(r: ScanResult, action: str, model: str | None) -> bool:
    """Whether the scan result's decorator differs from what `action` wants (no file read)."""
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
        return r.status == "decorated"
    raise UsageError(f"unknown apply action {action!r} (one of {', '.join(ACTIONS)})")


def _source_roots(results: Iterable[ScanResult]) -> list[str]:
    """Folders (relative to the root) that modules are imported from, most used first."""
    counts: Counter[str] = Counter()
    for r in results:
        if not r.module:
            continue
        parts = r.path.split("/")
        if parts[-1] == "__init__.py":
            parts = parts[:-1]
        else:
            parts[-1] = parts[-1][:-3] if parts[-1].endswith(".py") else parts[-1]
        n = len(r.module.split("."))
        if parts[-n:] == r.module.split("."):
            counts["/".join(parts[:-n])] += 1
    ordered = [k for k, _ in counts.most_common()]
    return ordered + [d for d in ("", "src") if d not in ordered]


def instance_module_path(root: Path, instance: InstanceRef, results: Iterable[ScanResult]) -> tuple[Path, bool]:
    """Where the instance's module is (exists=True) or should be created (exists=False)."""
    parts = instance.module.split(".")
    roots = _source_roots(results)
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


def check_instance_module(path: Path, instance: InstanceRef) -> None:
    """ConfigError when the existing module does not bind the configured attribute."""
    try:
        tree = cst.parse_module(path.read_bytes())
    except (cst.ParserSyntaxError, UnicodeDecodeError, OSError):
        return  # its own problem, reported by scan; the import will say more than we can
    names = module_names(tree, instance.module, path.name == "__init__.py")
    if instance.attr not in names.bindings and "__getattr__" not in names.bindings and not names.has_star_import:
        raise ConfigError(
            f"{path}: [tool.distilgen] instructions = {str(instance)!r}, but this module binds no name "
            f"{instance.attr!r} (expected `{instance.attr} = Instructions(...)`)"
        )


def render_instance_module(config: Config, instance: InstanceRef, path: Path) -> str:
    depth = len(path.relative_to(config.root).parts) - 1
    name = config.name or config.root.name
    return render_template(
        "instructions_module.py.tmpl",
        attr=instance.attr,
        instance_name=string_literal(name),
        dataset=string_literal(config.dataset),
        dataset_doc=config.dataset,
        finetune_format=string_literal(config.finetune_format),
        parents=f".parents[{depth}]",
    )


def _plan_file(root: Path, rel: str, results: list[ScanResult], instance: InstanceRef, action: str,
               model: str | None, notes: list[str], refused: set[tuple[str, str]]) -> PlannedEdit | FileEdit:
    snap = read_snapshot(root / rel)
    if snap.data is None:
        return FileEdit(rel, "error", "the file is gone since the scan")
    targets = [
        Target(r.qualname, r.lineno, r.decorator.lineno if r.decorator is not None else None) for r in results
    ]
    module = next((r.module for r in results if r.module), "") or ""
    try:
        new, outcome = edit_module(
            snap.data, targets, instance, action, module=module, is_package=rel.endswith("__init__.py"), model=model
        )
    except cst.ParserSyntaxError as exc:
        return FileEdit(rel, "error", f"libcst cannot parse it: {exc.message} (line {exc.raw_line})")
    except (UnicodeDecodeError, LookupError) as exc:
        return FileEdit(rel, "error", f"cannot decode it: {exc}")
    for qualname, why, line in outcome.refused:
        notes.append(f"{rel}:{line}: {qualname}: {why}; left alone")
        refused.add((rel, qualname))
    if outcome.missing:
        gone = ", ".join(outcome.missing)
        return FileEdit(rel, "error", f"no function {gone} here any more (changed since the scan?); not written")
    assert isinstance(new, bytes)
    return PlannedEdit(rel, snap, new, outcome.changed, outcome.encoding)


def apply_codemod(
    report: ScanReport,
    config: Config,
    *,
    action: str = "decorate",
    model: str | None = None,
    write: bool = True,
    selected: tuple[str, ...] = (),
) -> ApplyReport:
    """Plan and (with write=True) make the edits for the selected results of `report`.

    `selected` are the --select patterns the scan was run with: when given, matching nothing is a
    usage error, and selected functions that cannot take a decorator are named in `notes`.
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
    if selected:
        if not report.results:
            raise UsageError(f"--select {' '.join(selected)}: no function returning a model matches")
        for r in report.results:
            if r.status not in ("candidate", "decorated"):
                why = f" ({r.reason})" if r.reason else ""
                notes.append(f"{r.path}:{r.lineno}: {r.qualname}: {r.status}{why}; left alone")
    by_path: dict[str, list[ScanResult]] = {}
    for r in report.results:
        if needs_edit(r, action, model):
            by_path.setdefault(r.path, []).append(r)

    planned: list[PlannedEdit] = []
    failed: list[FileEdit] = []
    for rel in sorted(by_path):
        outcome = _plan_file(root, rel, by_path[rel], instance, action, model, notes, refused)
        (failed if isinstance(outcome, FileEdit) else planned).append(outcome)  # type: ignore[arg-type]

    if action in ("decorate", "dispatch") and any(p.functions for p in planned):
        path, exists = instance_module_path(root, instance, report.results)
        if exists:
            check_instance_module(path, instance)
        else:
            text = render_instance_module(config, instance, path)
            rel = path.relative_to(root).as_posix()
            planned.append(PlannedEdit(rel, read_snapshot(path), text.encode("utf-8"), note="from template"))

    edits = commit_edits(root, planned, write=write)
    order = {e.path: e for e in [*edits, *failed]}
    bad = {e.path for e in order.values() if e.status == "error"}
    wanted = ("decorated",) if action in ("capture", "remove") else ("candidate", "decorated")
    bound = tuple(
        r.function_id for r in report.results
        if r.status in wanted and r.module and r.path not in bad and (r.path, r.qualname) not in refused
    )
    return ApplyReport(root, action, model, tuple(order[k] for k in sorted(order)), write, notes=tuple(notes),
                       bound=bound if action != "remove" else ())


def pin_models(result: ApplyReport, report: ScanReport, config: Config,
               record_prompts: Callable[..., Any]) -> ApplyReport:
    """After writing: re-record the lock's prompts; for `dispatch`, pin model id -> fingerprint.

    `record_prompts` is `api.prompts` (passed in: codemods sit below the api layer). A failure
    here does not undo the edits; it is reported as an error on the lock file.
    """
    lock = config.lock_path
    lock_rel = lock.relative_to(config.root).as_posix() if lock.is_relative_to(config.root) else str(lock)
    problems: list[FileEdit] = []
    pinned: list[str] = []
    touched = {e.path for e in result.changed}
    try:
        for rep in record_prompts(config=config):
            # problems elsewhere in the project are for `distilgen prompts`/`check` to report
            for p in getattr(rep, "problems", ()):
                if getattr(p, "path", None) in touched:
                    problems.append(FileEdit(lock_rel, "error", f"prompt not recorded: {p}"))
    except DistilgenError as exc:
        problems.append(FileEdit(lock_rel, "error", f"prompts not recorded: {exc}"))
    if result.action == "dispatch" and result.model:
        from ..prompts.lock import record_model

        # every selected function bound to the model, changed now or already: pinning is idempotent
        for fid in result.bound:
            try:
                record_model(config.lock_path, fid, result.model)
                pinned.append(fid)
            except DistilgenError as exc:
                problems.append(FileEdit(lock_rel, "error", f"{fid}: model not pinned: {exc}"))
    return replace(result, edits=(*result.edits, *problems), pinned=tuple(pinned))
