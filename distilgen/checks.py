"""Drift checks: does the code still match `distilgen.lock`? (`distilgen check`, `scan --check`)

Static and read-only: the prompt is rendered from today's source with the shared renderer and the
tool name / include-body setting recorded in the lock, then compared to the recorded prompt; the
static fingerprint (the prompt plus the source of the return model, its bases and field types,
`analysis.depends`) is compared to the one recorded beside it, so a model edited in another module
is caught too. No project code is imported, so this runs in pre-commit's isolated environment on
every commit. What only an import can see (a pydantic upgrade changing a schema) is left to
`distilgen prompts --check`.

Finding codes (stable; `scan --check` may filter on them):
  DG001 decorated, no lock entry          DG005 dispatch model not recorded in the lock
  DG002 prompt drifted from the lock      DG006 dispatch model's trained prompt gone from the lock
  DG003 recorded by another renderer      DG007 undecorated candidate (require-decorated)
  DG004 lock entry edited by hand         DG008 lock entry for a function that is gone
  DG009 file could not be scanned         DG010 return model renamed since recorded
  DG011 return model (or a class it uses) changed since recorded
  DG012 entry recorded without a static fingerprint (an older distilgen)
  DG013 the decorator's Instructions module is missing from the project
  DG014 a distilled function that is not distillable here (its return model does not resolve with
        this interpreter, or it breaks a rule): its entry is kept, never called gone
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .analysis.depends import StaticFacts, prompt_digest
from .prompts.lock import Lock, LockedPrompt
from .prompts.render import RENDERER_VERSION, fingerprint, fingerprint_json, static_fingerprint

__all__ = ["Finding", "run_checks", "not_distillable_here"]

_IDENT = re.compile(r"^[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Finding:
    """One drift finding: where, its code (see the module docstring) and a one-line message."""

    path: str
    """Relative to the project root (the lock file's name for lock entries)."""
    line: int
    code: str
    message: str
    """What is wrong, then how to fix it."""
    function_id: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.message}"


def _drift(r: Any, entry: LockedPrompt, facts: StaticFacts, lock_name: str, verify: bool) -> list[Finding]:
    out: list[Finding] = []
    line = r.decorator_lineno or r.lineno
    fid = entry.function_id
    tool = entry.tool
    if r.model:
        scanned = r.model.rsplit(".", 1)[-1]
        if _IDENT.match(scanned) and _IDENT.match(entry.tool) and scanned != entry.tool:
            out.append(Finding(r.path, r.lineno, "DG010",
                               f"{r.qualname} now returns {scanned}, but {lock_name} recorded its prompt for {entry.tool}; "
                               f"run `distilgen prompts` to re-record it (models trained on {entry.tool} need retraining)", fid))
            tool = scanned
    # digests, not texts: the facts cache stays small, and equal digests mean the recorded prompt is today's
    digest = facts.prompt_digest(r, tool, entry.include_body)
    bound = ", ".join(m for m, fp in entry.models if fp == entry.fingerprint)
    retrain = f"; models trained on the old prompt ({bound}) keep it pinned until retrained" if bound else ""
    if digest is not None and digest != prompt_digest(entry.prompt) and not out:
        out.append(Finding(r.path, r.lineno, "DG002",
                           f"the source of {r.qualname} no longer matches its prompt in {lock_name} ({entry.fingerprint}); "
                           f"run `distilgen prompts` to re-record it{retrain}", fid))
    elif entry.renderer != RENDERER_VERSION:
        out.append(Finding(r.path, line, "DG003",
                           f"{lock_name} holds the prompt of {r.qualname} as rendered by prompt renderer v{entry.renderer}, "
                           f"this distilgen renders v{RENDERER_VERSION}; run `distilgen prompts` to re-record it", fid))
    elif verify and fingerprint_json(entry.prompt, entry.schema_json) != entry.fingerprint and \
            fingerprint(entry.prompt, entry.schema) != entry.fingerprint:  # the fast path, then by the book
        out.append(Finding(lock_name, entry.line, "DG004",
                           f"the entry for {fid} does not match its fingerprint {entry.fingerprint} (edited by hand?); "
                           f"run `distilgen prompts` to re-record it", fid))
    elif out or digest is None:
        pass  # renamed model (reported above) or a definition that cannot be read
    elif entry.static is None:
        out.append(Finding(r.path, r.lineno, "DG012",
                           f"{lock_name} holds no static fingerprint for {r.qualname} (recorded by an older distilgen), so "
                           f"changes to its return model cannot be checked; run `distilgen prompts` to re-record it", fid))
    else:
        closure = facts.closure(r)
        if closure is not None and static_fingerprint(entry.prompt, closure) != entry.static:
            out.append(Finding(r.path, r.lineno, "DG011",
                               f"the return model of {r.qualname} ({r.model} or a class it uses) changed since {lock_name} "
                               f"recorded its schema; run `distilgen prompts` to re-record it{retrain}", fid))
    return out


def _bindings(r: Any, entry: LockedPrompt, lock_name: str) -> list[Finding]:
    out: list[Finding] = []
    dec = r.decorator
    fid = entry.function_id
    for model, fp in entry.models:
        if fp not in entry.fingerprints:
            out.append(Finding(lock_name, entry.line, "DG006",
                               f"{fid}: model {model} was trained on prompt {fp}, which is no longer in {lock_name} "
                               f"(current {entry.fingerprint}); retrain it on the current prompt, then "
                               f"`distilgen apply --dispatch --model NEW_ID --select {r.qualname}`", fid))
    if dec is not None and dec.mode == "dispatch" and dec.model and entry.model_fingerprint(dec.model) is None:
        out.append(Finding(r.path, dec.lineno, "DG005",
                           f"{r.qualname} dispatches to {dec.model}, but {lock_name} does not record which prompt that "
                           f"model was trained on; run `distilgen apply --dispatch --model {dec.model} --select {r.qualname}` "
                           f"to record it", fid))
    return out


def not_distillable_here(r: Any) -> str:
    """Why a function that carries the distil decorator is not `decorated` in this scan, and what
    to do: its return model does not resolve with this interpreter (wave 5: `check` run where the
    project's dependencies are not installed called it gone, and `prompts` dropped its entry), or
    it is no longer distillable (a rule it breaks, a wrapped return). Shared by `check` (DG014)
    and `prompts` (which keeps the entry)."""
    if r.status == "unresolved":
        return (f"{r.qualname} is distilled, but its return model cannot be resolved with this interpreter "
                f"({r.reason}); its lock entry is kept. Run with the project's interpreter (`--python`)")
    return (f"{r.qualname} is distilled, but {r.status}: {r.reason}; its lock entry is kept until the decorator goes "
            f"(`distilgen apply --remove --select '{r.qualname}'`)")


def _not_checkable(r: Any) -> Finding:
    """DG014: a distilled function whose lock entry cannot be checked in this scan."""
    return Finding(r.path, r.decorator_lineno or r.lineno, "DG014", not_distillable_here(r), r.function_id)


def _missing_instance(r: Any, facts: StaticFacts) -> list[Finding]:
    """DG013: the module of the instance the decorator is bound to is not in the project (the
    `distil.py` that `apply` created, deleted or renamed): the decorated module no longer imports."""
    dec = r.decorator
    module = dec.instance.partition(":")[0] if dec is not None else ""
    top = module.partition(".")[0]
    if not module or "." not in module or not facts.module_exists(top) or facts.module_exists(module):
        return []  # present, or a third-party instance: not ours to find (module_exists remembers)
    return [Finding(r.path, dec.lineno, "DG013",
                    f"{r.qualname} is bound to {dec.instance}, but the project has no module {module}, so "
                    f"{r.path} no longer imports; run `distilgen apply` to create it again", r.function_id)]


def _lock_name(lock_path: Path, root: Path) -> str:
    """The lock as a path from the project root: findings about lock entries point into it."""
    if lock_path.is_absolute() and root.is_absolute():
        rel = os.path.relpath(lock_path, root)  # no filesystem calls: this runs on every commit
        if not rel.startswith(".."):
            return Path(rel).as_posix()
    try:
        return lock_path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(lock_path)


def run_checks(root: Path, results: Iterable[Any], lock: Lock, *, facts: StaticFacts, require_decorated: bool = False,
               scan_errors: Iterable[Any] = (), left_alone: Mapping[tuple[str, str], str] | None = None) -> list[Finding]:
    """Every drift finding for a project whose scan gave `results` (all statuses), sorted by place.

    `facts` reads prompts and closure digests from the project's files (parsed once each, cached).
    `left_alone`: (path, qualname) -> why the last `apply` left an undecorated candidate alone, so
    DG007 says why instead of suggesting an `apply` that would leave it alone again."""
    lock_name = _lock_name(lock.path, Path(root))
    findings: list[Finding] = []
    by_place = {(e.path, e.qualname): e for e in lock.entries}
    matched: set[str] = set()
    broken = set()
    # the entries' own consistency (DG004) is verified once per version of the lock file
    verify = not facts.lock_verified(lock.path)
    for err in scan_errors:
        broken.add(err.path)
        findings.append(Finding(err.path, 1, "DG009", f"cannot be scanned ({err.reason}), so its functions cannot be checked; fix the file"))
    for r in results:
        if r.status == "candidate" and require_decorated:
            why = (left_alone or {}).get((r.path, r.qualname))
            fix = (f"run `distilgen apply --select '{r.qualname}'`" if why is None else
                   f"`distilgen apply` leaves it alone ({why}); fix that, or exclude the function")
            findings.append(Finding(r.path, r.lineno, "DG007",
                                    f"{r.qualname} returns {r.model} but is not decorated (require-decorated is on); {fix}"))
        if r.decorator is None:
            continue
        entry = lock.get(r.function_id) or by_place.get((r.path, r.qualname))
        if r.status != "decorated":
            if entry is not None:  # still distilled: its entry is not stale (DG008 would say drop it)
                matched.add(entry.function_id)
                findings.append(_not_checkable(r))
            continue
        findings.extend(_missing_instance(r, facts))
        if entry is None:
            findings.append(Finding(r.path, r.decorator_lineno or r.lineno, "DG001",
                                    f"{r.qualname} is distilled but has no prompt in {lock_name}; run `distilgen prompts` to record it",
                                    r.function_id))
            continue
        matched.add(entry.function_id)
        findings.extend(_drift(r, entry, facts, lock_name, verify))
        findings.extend(_bindings(r, entry, lock_name))
    for entry in lock.entries:
        if entry.function_id not in matched and entry.path not in broken:
            findings.append(Finding(lock_name, entry.line, "DG008",
                                    f"entry for {entry.function_id}, but no distilled function {entry.qualname} is left in "
                                    f"{entry.path} (was at line {entry.start_line}); run `distilgen prompts` to drop it",
                                    entry.function_id))
    findings.sort(key=lambda f: (f.path, f.line, f.code))
    if verify and not findings:  # any finding may have pre-empted an entry's DG004 test: verify again next time
        facts.mark_lock_verified(lock.path)
    return findings
