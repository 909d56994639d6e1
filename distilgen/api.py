"""The library's verbs. The CLI is a thin layer over these; nothing here imports click.

Each verb takes plain arguments and returns frozen result records (or raises a DistilgenError
subclass whose message names the file, line or argument at fault).
"""

from __future__ import annotations

# Sections below are filled by each layer; keep imports inside the functions that need heavy
# modules (libcst, torch) so `distilgen --help` stays fast.

# --- scan / config -----------------------------------------------------------------------------
from pathlib import Path as _Path  # noqa: E402
from typing import TYPE_CHECKING as _TYPE_CHECKING  # noqa: E402
from typing import Iterable as _Iterable  # noqa: E402

if _TYPE_CHECKING:
    from .analysis.scan import ScanReport
    from .config import Config


def scan(
    paths: "_Iterable[str | _Path]" = (".",),
    *,
    config: "Config | None" = None,
    select: "_Iterable[str]" = (),
    exclude: "_Iterable[str]" = (),
    include_generated: bool = False,
    use_cache: bool = True,
) -> "ScanReport":
    """Find every function whose return annotation resolves to a pydantic model.

    `paths` are files or folders (default: the current folder); the config is read from the
    nearest pyproject.toml of the first path unless given. `select`/`exclude` are path globs or
    qualname patterns (`Catalog.*`, `inbox.triage:classify_*`). Never raises for a bad source file:
    those land in `ScanReport.errors`.
    """
    from .analysis.project import scan_project

    return scan_project(
        [_Path(p) for p in paths],
        config=config,
        select=tuple(select),
        exclude=tuple(exclude),
        include_generated=include_generated,
        use_cache=use_cache,
    )


def effective_config(start: "str | _Path | None" = None) -> "Config":
    """The configuration `distilgen` would use from `start` (default: the current folder)."""
    from .config import load_config

    return load_config(start)


# --- end scan / config -------------------------------------------------------------------------

# --- apply / stubs -----------------------------------------------------------------------------
# --- end apply / stubs -------------------------------------------------------------------------

# --- prompts / check ---------------------------------------------------------------------------
from dataclasses import dataclass as _dataclass  # noqa: E402

if _TYPE_CHECKING:
    from .checks import Finding
    from .prompts.lock import RecordResult
    from .prompts.project import Problem


@_dataclass(frozen=True)
class PromptsReport:
    """What `distilgen prompts` did (or, with check=True, would do) to one project's lock."""

    root: _Path
    lock_path: _Path
    result: "RecordResult"
    problems: "tuple[Problem, ...]"

    @property
    def changed(self) -> bool:
        r = self.result
        return bool(r.added or r.changed or r.moved or r.removed)


@_dataclass(frozen=True)
class CheckReport:
    root: _Path
    lock_path: _Path
    findings: "tuple[Finding, ...]"


def _projects(paths: "_Iterable[str | _Path]") -> "list[Config]":
    """The projects (nearest pyproject.toml) holding `paths`: checks always cover a whole project."""
    from .config import load_config

    configs: dict[_Path, Config] = {}
    for p in paths or (".",):
        path = _Path(p)
        start = path if path.exists() else path.parent
        cfg = load_config(start)
        configs.setdefault(cfg.root, cfg)
    return list(configs.values())


def prompts(
    paths: "_Iterable[str | _Path]" = (".",),
    *,
    config: "Config | None" = None,
    check: bool = False,
) -> "list[PromptsReport]":
    """(Re)record the prompt of every distilled function of the project(s) holding `paths`.

    Renders each prompt from source, imports the project in a child process for the return
    models' schemas, and rewrites the lock (only when it changes). Entries of functions no longer
    distilled are dropped; prompts that a bound model was trained on stay pinned. With
    check=True nothing is written: the reports say what would change.
    """
    from .prompts.lock import record_prompts
    from .prompts.project import build_records

    reports = []
    for cfg in [config] if config is not None else _projects(paths):
        report = scan([cfg.root], config=cfg)
        decorated = report.by_status("decorated")
        records, problems = build_records(report.root, decorated)
        failed = {(p.path) for p in problems}
        # an entry we could not re-record this time is kept, not dropped
        keep = {r.function_id for r in records}
        from .prompts.lock import load_lock

        for e in load_lock(cfg.lock_path).entries:
            if e.path in failed or e.path in {f.path for f in report.errors}:
                keep.add(e.function_id)
        result = record_prompts(cfg.lock_path, records, keep_only=keep, write=not check)
        reports.append(PromptsReport(cfg.root, cfg.lock_path, result, tuple(problems)))
    return reports


def check(
    paths: "_Iterable[str | _Path]" = (".",),
    *,
    config: "Config | None" = None,
    report: "ScanReport | None" = None,
) -> "list[CheckReport]":
    """Drift findings for the project(s) holding `paths` (see `distilgen.checks` for the codes).

    `scan --check` passes its own `report` (and `config`) so the project is scanned once.
    """
    from .checks import run_checks
    from .prompts.lock import load_lock

    out = []
    for cfg in [config] if config is not None else _projects(paths):
        rep = report if report is not None else scan([cfg.root], config=cfg)
        lock = load_lock(cfg.lock_path)
        findings = run_checks(rep.root, rep.results, lock, require_decorated=cfg.require_decorated,
                              scan_errors=rep.errors)
        out.append(CheckReport(cfg.root, cfg.lock_path, tuple(findings)))
    return out


# --- end prompts / check -----------------------------------------------------------------------

# --- dataset / jobs / files --------------------------------------------------------------------
# --- end dataset / jobs / files ----------------------------------------------------------------

# --- train / serve -----------------------------------------------------------------------------
# --- end train / serve -------------------------------------------------------------------------

# --- generate / eval ---------------------------------------------------------------------------
from typing import TYPE_CHECKING as _TYPE_CHECKING_EVALS  # noqa: E402

if _TYPE_CHECKING_EVALS:
    from .evals.generate import GenerateResult


def generate(target: str, n: int = 100, **options: "object") -> "GenerateResult":
    """Capture `n` calls of the real function on arguments drawn from its type hints.

    Options: out, finetune_format, seed, inputs (JSONL of argument sets), strategies
    ('module:object'), timeout (seconds per call), mutate, root, progress (callable(done, total)).
    """
    from .evals.generate import generate as _generate

    return _generate(target, n, **options)  # type: ignore[arg-type]
# --- end generate / eval -----------------------------------------------------------------------
