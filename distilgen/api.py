"""The library's verbs. The CLI is a thin layer over these; nothing here imports click.

Each verb takes plain arguments and returns frozen result records (or raises a DistilgenError
subclass whose message names the file, line or argument at fault).
"""

from __future__ import annotations

from dataclasses import dataclass as _dataclass
from pathlib import Path as _Path
from typing import TYPE_CHECKING
from typing import Any as _Any
from typing import Callable as _Callable
from typing import Iterable as _Iterable
from typing import Mapping as _Mapping

# Heavy modules (libcst, openai, torch) are imported inside the verbs that need them, so
# `import distilgen.api` and `distilgen --help` stay fast. Names are private (`_Path`) so that
# `from distilgen.api import *` gives only the verbs.
if TYPE_CHECKING:
    from .contracts import ReportFormat, ResponseFormat
    from .analysis.depends import StaticFacts
    from .analysis.index_shift import ShiftedFile
    from .analysis.interpreter import Interpreter
    from .analysis.scan import ScanReport
    from .checks import Finding
    from .codemods.apply import ApplyReport
    from .codemods.stubs import StubsReport
    from .config import Config
    from .contracts import ApplyAction
    from .evals.evaluate import EvalReport
    from .evals.generate import GenerateResult
    from .ops.dataset import ExportResult, FileReport, SplitResult
    from .ops.files import FileInfo
    from .ops.jobs import CheckpointInfo, CreateResult, EventInfo, JobInfo
    from .prompts.lock import RecordResult
    from .prompts.recording import Problem
    from .train.run import TrainResult
    from .train.serve import LocalServer, ServeInfo
    from .train.trainer import Progress, TrainSettings

__all__ = [
    "scan", "effective_config", "apply", "stubs", "PromptsReport", "CheckReport", "project_interpreter", "prompts", "check",
    "dataset_validate", "dataset_min_examples", "dataset_split", "dataset_export",
    "jobs_create_from_file", "jobs_create_from_id", "jobs_watch", "jobs_get", "jobs_list", "jobs_events",
    "jobs_checkpoints", "jobs_cancel", "files_upload", "files_list", "files_delete",
    "train", "serve", "start_server", "generate", "evaluate", "evaluate_shadow",
]


# --- scan / config -----------------------------------------------------------------------------


def scan(
    paths: "_Iterable[str | _Path]" = (".",),
    *,
    config: "Config | None" = None,
    select: "_Iterable[str]" = (),
    exclude: "_Iterable[str]" = (),
    include_generated: bool = False,
    use_cache: bool = True,
    python: str | None = None,
) -> "ScanReport":
    """Find every function whose return annotation resolves to a pydantic model.

    `paths` are files or folders (default: the current folder); the config is read from the
    nearest pyproject.toml of the first path unless given. `select`/`exclude` are path globs or
    qualname patterns (`Catalog.*`, `inbox.triage:classify_*`). Never raises for a bad source file:
    those land in `ScanReport.errors`. `python` is the project's interpreter (`--python`), whose
    `sys.path` third-party base classes are located on.
    """
    from .analysis.project import scan_project

    paths = _no_empty(paths)
    if python is not None:
        config = _with_python(_project_config(paths, config), python)
    return scan_project(
        [_Path(p) for p in paths],
        config=config,
        select=tuple(select),
        exclude=tuple(exclude),
        include_generated=include_generated,
        use_cache=use_cache,
    )


def effective_config(start: "str | _Path | None" = None, *, python: str | None = None) -> "Config":
    """The configuration `distilgen` would use from `start` (default: the current folder)."""
    from .config import load_config

    return _with_python(load_config(start), python)


def project_interpreter(config: "Config") -> "Interpreter":
    """The project's interpreter, why it was chosen, and its sys.path (`distilgen config` shows it)."""
    from .analysis.interpreter import find_interpreter

    return find_interpreter(config)


def _with_python(config: "Config", python: str | None) -> "Config":
    """`--python PATH` (relative to the current folder) over the configured interpreter."""
    import dataclasses
    import os

    return config if python is None else dataclasses.replace(config, python=os.path.abspath(python))


# --- end scan / config -------------------------------------------------------------------------

# --- apply / stubs -----------------------------------------------------------------------------

def _no_empty(paths: "_Iterable[str | _Path]") -> "list[str | _Path]":
    """The paths, refusing an empty one: `Path("")` is the current folder, and `apply ""` from a
    shell variable that expanded to nothing would edit the whole project."""
    from .errors import UsageError

    out = list(paths)
    if any(isinstance(p, str) and not p for p in out):
        raise UsageError("an empty path was given (a shell variable that expanded to nothing?)")
    return out


def _project_config(paths: "_Iterable[str | _Path]", config: "Config | None") -> "Config":
    from .config import load_config

    paths = _no_empty(paths)
    if config is not None:
        return config
    first = _Path(next(iter(paths), "."))
    return load_config(first if first.is_dir() else first.parent)


def apply(
    paths: "_Iterable[str | _Path]" = (".",),
    *,
    config: "Config | None" = None,
    select: "_Iterable[str]" = (),
    action: ApplyAction = "decorate",
    model: str | None = None,
    write: bool = True,
    lock: bool = True,
    python: str | None = None,
) -> "ApplyReport":
    """Add (`decorate`), rebind (`dispatch` with `model`, `capture`) or `remove` distil decorators.

    Works on the functions `scan(paths, select=select)` finds; only files that need an edit are
    parsed and written (atomically, never over a file that changed since it was read). With
    write=False nothing is written (`--diff`/`--check`): the report's edits carry the diffs, without
    the functions the last `apply` left alone while that still holds (`codemods.left_alone`). After
    writing, with lock=True, the lock's prompts are re-recorded and `dispatch` pins each rebound
    function's current prompt fingerprint to the model id (`prompts.lock.record_model`).
    """
    paths = list(paths) or ["."]
    cfg = _with_python(_project_config(paths, config), python)
    # the schema child starts first, even before libcst is imported (~0.25 s): it imports the
    # project's packages while the scan runs, and on a big project it is the critical path
    early = _early_schemas(cfg) if write and lock and action != "remove" else None
    from .codemods.apply import apply_codemod, pin_models

    try:
        report = scan(paths, config=cfg, select=select)
        if early is not None:
            early.send(report, cfg, action, model, tuple(select))
        vet = early.refusals if early is not None else None
        if not write and lock and action in ("decorate", "dispatch"):
            # --diff/--check import nothing: what the last `apply` left alone, if it still holds
            from .codemods.left_alone import recall

            remembered = recall(cfg, report)
            vet = (lambda wait=True: remembered) if remembered else None
        result = apply_codemod(report, cfg, action=action, model=model, write=write, selected=tuple(select), vet=vet,
                               named=_named_files(paths, report.root))
        facts: "list[StaticFacts]" = []  # the lock's static facts, shared with `remember` (one read per file)
        rescans: "list[ScanReport]" = []  # the lock step's scan of the edited project, `remember`'s too
        if write and lock and (result.changed or (action == "dispatch" and result.bound)):
            shifted = result.shifted
            result = pin_models(result, report, cfg,
                                lambda config: [_record_prompts(config, early=early, facts=facts, scans=rescans,
                                                                shifted=shifted)])
        if early is not None and early.verdicts is not None and action in ("decorate", "dispatch"):
            from .codemods.left_alone import remember

            # keyed on the files as they are now (a rescan: the cache makes it the edited files only;
            # the lock step's own when it scanned what this apply did, the whole project)
            whole = not select and all(_Path(p).resolve() == cfg.root.resolve() for p in paths)
            remember(cfg, (lambda: rescans[0]) if whole and len(rescans) == 1 else
                     (lambda: scan(paths, config=cfg, select=select)), early.verdicts,
                     facts=facts[0] if len(facts) == 1 else None)
    finally:
        if early is not None:
            early.cancel()
    return result


def _named_files(paths: "_Iterable[str | _Path]", root: _Path) -> "tuple[str, ...]":
    """The files among `paths`, relative to the scan `root` as its results' paths are (posix)."""
    import os

    out = []
    for p in paths:
        if os.path.isfile(p):
            rel = os.path.relpath(os.path.abspath(p), root)
            if not rel.startswith(".."):
                out.append(rel.replace(os.sep, "/"))
    return tuple(out)


class _EarlySchemas:
    """`apply`'s schema child, started before the edit so that it overlaps the codemod."""

    def __init__(self, job: "_Any") -> None:
        self.job = job
        self.verdicts: "dict[tuple[str, str], str] | None" = None
        """The last answer of `refusals` (what `apply` left alone, remembered for --diff/--check)."""

    def send(self, report: "ScanReport", cfg: "Config", action: "ApplyAction", model: str | None,
             select: "tuple[str, ...]") -> None:
        from .codemods.apply import schema_targets

        self.job.send(schema_targets(report, cfg, action, model, select))

    def refusals(self, wait: bool = True) -> "dict[tuple[str, str], str] | None":
        """(path, qualname) -> why, for the functions the child cannot describe (nothing when the
        child itself failed: the edit goes on and the lock step reports it, as before). With
        wait=False: None while the child is still at it."""
        from .errors import DistilgenError
        from .prompts.recording import explain_failure

        try:
            answers = self.job.new_answers(wait)
        except DistilgenError:
            return {}
        if answers is None:
            return None
        out = {}
        for key, info in answers.items():
            if "error" in info:
                path, _, qualname = key.partition("::")
                why = explain_failure(info, qualname, self.job.child)
                out[(path, qualname)] = f"ineligible: {why}" if info.get("kind") in ("schema", "owner") else f"left alone: {why}"
        self.verdicts = out
        return out

    def result(self) -> "_Any":
        return self.job.result()

    def cancel(self) -> None:
        self.job.cancel()


def _early_schemas(cfg: "Config") -> "_EarlySchemas | None":
    from .analysis.roots import source_roots
    from .errors import DistilgenError
    from .prompts.recording import SchemaJob

    try:
        child = _project_python(cfg)
    except DistilgenError:
        return None  # the lock step after the edit says what is wrong, as it always did
    # the project's own top-level packages (not its tests): every return model is imported through them
    packages = sorted({p.parent.name for r in source_roots(cfg.root, cfg.source_roots) for p in _Path(r).glob("*/__init__.py")
                       if p.parent.name.isidentifier() and not p.parent.name.startswith(("test", "_"))})[:8]
    try:
        return _EarlySchemas(SchemaJob(cfg.root, None, child=child, preload=packages))
    except DistilgenError:
        return None


def stubs(
    paths: "_Iterable[str | _Path]" = (".",),
    *,
    model: str,
    config: "Config | None" = None,
    select: "_Iterable[str]" = (),
    output: "str | _Path | None" = None,
    write: bool = True,
    python: str | None = None,
) -> "StubsReport":
    """Write a module of dispatch-mode stubs (same signatures, docstrings, return models) for `model`."""
    from .codemods.left_alone import recall
    from .codemods.stubs import write_stubs

    paths = list(paths) or ["."]
    cfg = _with_python(_project_config(paths, config), python)
    report = scan(paths, config=cfg, select=select)
    # what the last `apply` refused (it imports the models; `stubs` does not) is not stubbed either
    return write_stubs(report, cfg, model=model, output=output, write=write, refused=recall(cfg, report))


# --- end apply / stubs -------------------------------------------------------------------------

# --- prompts / check ---------------------------------------------------------------------------


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
        return bool(r.added or r.changed or r.moved or r.removed or r.restamped)


@_dataclass(frozen=True)
class CheckReport:
    """`distilgen check` for one project: its drift findings (none when the lock matches the code)."""

    root: _Path
    lock_path: _Path
    findings: "tuple[Finding, ...]"


def _projects(paths: "_Iterable[str | _Path]", python: str | None = None) -> "list[Config]":
    """The projects (nearest pyproject.toml) holding `paths`: checks always cover a whole project."""
    from .config import load_config

    configs: dict[_Path, Config] = {}
    for p in _no_empty(paths) or (".",):
        path = _Path(p)
        start = path
        if not path.exists():
            from .config import find_pyproject
            from .errors import UsageError

            # a file the commit deleted (pre-commit passes its name) still selects its project; a
            # path in no project is a typo, not a request to check the folder above it (or `/`)
            if find_pyproject(path.parent) is None:
                raise UsageError(f"path does not exist: {p}")
            start = path.parent
        cfg = _with_python(load_config(start), python)
        configs.setdefault(cfg.root, cfg)
    return list(configs.values())


def _project_python(cfg: "Config") -> "_Any":
    """How `prompts` runs the child importing the project: its interpreter, source roots, env-file."""
    from .analysis.interpreter import find_interpreter
    from .analysis.roots import source_roots
    from .errors import ConfigError
    from .prompts.envfile import read_env_file
    from .prompts.recording import ProjectPython

    interp = find_interpreter(cfg)
    if not interp.has_pydantic:
        raise ConfigError(f"{interp.path}: pydantic is not installed in the project's interpreter (chosen by "
                          f"{interp.reason}); install it there, or set {interp.setting} to use another")
    env = read_env_file(cfg.path(cfg.env_file)) if cfg.env_file else {}
    return ProjectPython(interp.path, interp.reason, interp.setting,
                         tuple(str(r) for r in source_roots(cfg.root, cfg.source_roots)), env)


def prompts(
    paths: "_Iterable[str | _Path]" = (".",),
    *,
    config: "Config | None" = None,
    check: bool = False,
    python: str | None = None,
) -> "list[PromptsReport]":
    """(Re)record the prompt of every distilled function of the project(s) holding `paths`.

    Renders each prompt from source, imports the project in a child process for the return
    models' schemas, and rewrites the lock (only when it changes). Entries of functions no longer
    distilled are dropped; prompts that a bound model was trained on stay pinned. With
    check=True nothing is written: the reports say what would change. The child runs the
    project's interpreter (`python`, else `[tool.distilgen] python`, VIRTUAL_ENV, `.venv/`).
    """
    configs = [_with_python(config, python)] if config is not None else _projects(paths, python)
    return [_record_prompts(cfg, check=check) for cfg in configs]


def _record_prompts(cfg: "Config", *, check: bool = False, early: "_EarlySchemas | None" = None,
                    facts: "list[StaticFacts] | None" = None, scans: "list[ScanReport] | None" = None,
                    shifted: "_Mapping[str, ShiftedFile] | None" = None) -> PromptsReport:
    """`prompts` for one project; `early` holds the answers of a schema child `apply` started
    before its edit (only functions it did not describe start another child); the static facts
    read are appended to `facts`, and the project's scan to `scans`, for a caller that asks more
    of the same files; `shifted` are the files `apply` just edited by inserting lines, whose
    indexes the scan moves instead of building again."""
    from .analysis.depends import StaticFacts
    from .analysis.project import scan_project
    from .prompts.lock import load_lock, record_prompts
    from .prompts.recording import build_records

    report = scan_project([_Path(cfg.root)], config=cfg, shifted=shifted or {})
    if scans is not None:
        scans.append(report)
    decorated = report.by_status("decorated")
    child = (early.job.child if early is not None else _project_python(cfg)) if decorated else None
    static = StaticFacts(report.root, cfg, modules=report.modules)
    if facts is not None:
        facts.append(static)
    described = early.result() if early is not None and decorated else None
    records, problems = build_records(report.root, decorated, child=child, closures=static.closures(decorated),
                                      described=described, texts=static.sources)
    # still carrying the decorator, but not distillable in this scan: never dropped (`check` DG014)
    from .checks import not_distillable_here
    from .prompts.recording import Problem

    problems += [Problem(r.path, r.decorator_lineno or r.lineno, not_distillable_here(r)) for r in report.results
                 if r.decorator is not None and r.status != "decorated"]
    static.save()
    # an entry that could not be re-recorded this time (import failed, file unreadable) is
    # kept as it was, never dropped
    unsure = {p.path for p in problems} | {e.path for e in report.errors}
    keep = {r.function_id for r in records}
    keep |= {e.function_id for e in load_lock(cfg.lock_path).entries if e.path in unsure}
    result = record_prompts(cfg.lock_path, records, keep_only=keep, write=not check)
    return PromptsReport(cfg.root, cfg.lock_path, result, tuple(problems))


def check(
    paths: "_Iterable[str | _Path]" = (".",),
    *,
    config: "Config | None" = None,
    report: "ScanReport | None" = None,
    python: str | None = None,
) -> "list[CheckReport]":
    """Drift findings for the project(s) holding `paths` (see `distilgen.checks` for the codes).

    `scan --check` passes its own `report` (and `config`) so the project is scanned once. Nothing
    is imported: `python` only says where third-party base classes are located.
    """
    from .analysis.depends import StaticFacts
    from .checks import run_checks
    from .prompts.lock import load_lock

    import gc

    out = []
    for cfg in [_with_python(config, python)] if config is not None else _projects(paths, python):
        rep = report if report is not None else scan([cfg.root], config=cfg)
        lock = load_lock(cfg.lock_path)
        facts = StaticFacts(rep.root, cfg, modules=rep.modules)
        left_alone = None
        if cfg.require_decorated and any(r.status == "candidate" for r in rep.results):
            from .codemods.left_alone import recall

            left_alone = recall(cfg, rep, facts=facts)  # why the last `apply` did not decorate them
        collecting = gc.isenabled()
        gc.disable()  # small acyclic records only: the cyclic collector would only rescan the scan's
        try:
            findings = run_checks(rep.root, rep.results, lock, facts=facts, require_decorated=cfg.require_decorated,
                                  scan_errors=rep.errors, left_alone=left_alone)
            facts.save()
        finally:
            if collecting:
                gc.enable()
        out.append(CheckReport(cfg.root, cfg.lock_path, tuple(findings)))
    return out


# --- end prompts / check -----------------------------------------------------------------------

# --- dataset / jobs / files --------------------------------------------------------------------


def _known_prompts(lock: "str | _Path | None") -> "_Any":
    """Current prompts from the lock (`lock`, else the project's); None when there is no lock."""
    from .ops.dataset import known_prompts_from_lock

    if lock is None:
        from .config import load_config
        from .errors import ConfigError

        try:
            lock = load_config().lock_path
        except ConfigError:
            return None  # a broken pyproject is `distilgen check`'s to report, not the dataset's
    return known_prompts_from_lock(lock)


def dataset_validate(
    paths: "_Iterable[str | _Path]",
    *,
    model: str | None = None,
    max_tokens: int | None = None,
    epochs: int | None = None,
    price_per_million: float | None = None,
    lock: "str | _Path | None" = None,
    stale: bool = True,
    min_examples: int | None = None,
) -> "list[FileReport]":
    """Check dataset files line by line (OpenAI's rules for tools/messages, distilgen's for raw),
    with token stats, epochs and cost; duplicates and stale prompts come back as warnings."""
    from .errors import UsageError
    from .ops.dataset import MIN_EXAMPLES, validate_file
    from .ops.tokens import DEFAULT_MODEL

    paths = list(paths)
    if not paths:
        raise UsageError("give one or more dataset files (.jsonl)")
    if epochs is not None and not 1 <= epochs <= 50:
        raise UsageError(f"--epochs must be between 1 and 50, got {epochs}")
    if price_per_million is not None and price_per_million < 0:
        raise UsageError(f"--price-per-million must be >= 0, got {price_per_million}")
    known = _known_prompts(lock) if stale else None
    return [validate_file(p, model=model or DEFAULT_MODEL, max_tokens=max_tokens, epochs=epochs,
                          price_per_million=price_per_million, known=known,
                          min_examples=MIN_EXAMPLES if min_examples is None else min_examples) for p in paths]


def dataset_min_examples() -> int:
    """The fewest examples a dataset may hold (`--min-examples`' default; owned by ops/dataset.py)."""
    from .ops.dataset import MIN_EXAMPLES

    return MIN_EXAMPLES


def dataset_split(path: "str | _Path", *, val: float = 0.1, seed: int = 0, out: "str | _Path | None" = None) -> "SplitResult":
    """`out/train.jsonl` + `out/val.jsonl` with no call on both sides."""
    from .ops.dataset import split_file

    return split_file(path, val=val, seed=seed, out_dir=out)


def dataset_export(path: "str | _Path", *, to: str, out: "str | _Path | None" = None,
                   tool_schema: str = "compact") -> "ExportResult":
    """The dataset for another trainer: hf-chat, sharegpt, or openai-tools (raw records declare
    their tool by name, or with the full schema when tool_schema="full")."""
    from .ops.dataset import export_file

    return export_file(path, to, out, tool_schema=tool_schema)


def _api_settings(base_url: str | None, api_key: str | None) -> "_Any":
    from .ops.client import ApiSettings

    return ApiSettings(base_url=base_url, api_key=api_key)


def _training_file_errors(model: str) -> "_Callable[[str | _Path, int], list[str]]":
    def check(path: "str | _Path", minimum: int) -> list[str]:
        from .ops.dataset import validate_file

        # the lock's schemas check compact lines' arguments; its stale warnings do not block
        rep = validate_file(path, model=model, min_examples=minimum, duplicates=False, known=_known_prompts(None))
        errors = [str(p) for p in rep.errors]
        if rep.shape == "raw":
            errors.append(f"{path}: raw records are distilgen's own format, not OpenAI's; convert first: "
                          f"distilgen dataset export {path} --to openai-tools")
        return errors

    return check


def jobs_create_from_file(
    path: "str | _Path",
    *,
    validation_file: "str | _Path | None" = None,
    model: str | None = None,
    suffix: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate_multiplier: float | None = None,
    seed: int | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
) -> "CreateResult":
    """Validate (refuse on errors), upload, and create a supervised fine-tuning job exactly once."""
    from .ops.jobs import Hyperparameters, create_from_file
    from .ops.tokens import DEFAULT_MODEL

    import dataclasses

    from .ops.dataset import dataset_functions

    model = model or DEFAULT_MODEL
    result = create_from_file(path, validation_path=validation_file, model=model, suffix=suffix, seed=seed,
                              hyperparameters=Hyperparameters(epochs, batch_size, learning_rate_multiplier),
                              settings=_api_settings(base_url, api_key), validate=_training_file_errors(model))
    known = _known_prompts(None)
    return dataclasses.replace(result, functions=dataset_functions(path, known.source if known else None))


def jobs_create_from_id(
    file_id: str,
    *,
    validation_file: str | None = None,
    model: str | None = None,
    suffix: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate_multiplier: float | None = None,
    seed: int | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
) -> "CreateResult":
    """Create a supervised fine-tuning job from an already uploaded file, exactly once."""
    from .ops.jobs import Hyperparameters, create_from_id
    from .ops.tokens import DEFAULT_MODEL

    return create_from_id(file_id, validation_file=validation_file, model=model or DEFAULT_MODEL, suffix=suffix,
                          seed=seed, hyperparameters=Hyperparameters(epochs, batch_size, learning_rate_multiplier),
                          settings=_api_settings(base_url, api_key))


def jobs_watch(
    job_id: str | None = None,
    *,
    poll_interval: float = 10.0,
    timeout: float | None = None,
    on_update: "_Callable[[JobInfo, list[EventInfo]], None] | None" = None,
    base_url: str | None = None,
    api_key: str | None = None,
) -> "JobInfo":
    """Poll a job (default: the latest running one) until it ends."""
    from .ops.jobs import latest_job, watch_job

    settings = _api_settings(base_url, api_key)
    if job_id is None:
        job_id = latest_job(settings=settings).id
    return watch_job(job_id, settings=settings, poll_interval=poll_interval, timeout=timeout, on_update=on_update)


def jobs_get(job_id: str, *, base_url: str | None = None, api_key: str | None = None) -> "JobInfo":
    from .ops.jobs import get_job

    return get_job(job_id, settings=_api_settings(base_url, api_key))


def jobs_list(*, limit: int = 20, request_id: str | None = None, base_url: str | None = None,
              api_key: str | None = None) -> "list[JobInfo]":
    """Recent jobs, newest first; with `request_id`, the job a create with that request id made (if any)."""
    from .ops.jobs import list_jobs

    return list_jobs(limit=limit, request_id=request_id, settings=_api_settings(base_url, api_key))


def jobs_events(job_id: str, *, limit: int = 100, base_url: str | None = None, api_key: str | None = None) -> "list[EventInfo]":
    from .ops.jobs import list_events

    return list_events(job_id, limit=limit, settings=_api_settings(base_url, api_key))


def jobs_checkpoints(job_id: str, *, limit: int = 100, base_url: str | None = None,
                     api_key: str | None = None) -> "list[CheckpointInfo]":
    from .ops.jobs import list_checkpoints

    return list_checkpoints(job_id, limit=limit, settings=_api_settings(base_url, api_key))


def jobs_cancel(job_id: str, *, base_url: str | None = None, api_key: str | None = None) -> "JobInfo":
    from .ops.jobs import cancel_job

    return cancel_job(job_id, settings=_api_settings(base_url, api_key))


def files_upload(path: "str | _Path", *, purpose: str = "fine-tune", validate: bool = True,
                 model: str | None = None, base_url: str | None = None, api_key: str | None = None) -> "FileInfo":
    """Upload a file; a fine-tune file is validated first (refused on errors) unless validate=False."""
    from .errors import DistilgenError
    from .ops.files import upload_file
    from .ops.tokens import DEFAULT_MODEL

    if validate and purpose == "fine-tune":
        errors = _training_file_errors(model or DEFAULT_MODEL)(path, 1)
        if errors:
            raise DistilgenError(f"refusing to upload: {len(errors)} error(s) (--no-validate uploads anyway):\n"
                                 + "\n".join(errors[:30]))
    return upload_file(path, purpose=purpose, settings=_api_settings(base_url, api_key))


def files_list(*, purpose: str | None = None, limit: int = 100, base_url: str | None = None,
               api_key: str | None = None) -> "list[FileInfo]":
    from .ops.files import list_files

    return list_files(purpose=purpose, limit=limit, settings=_api_settings(base_url, api_key))


def files_delete(file_id: str, *, base_url: str | None = None, api_key: str | None = None) -> bool:
    from .ops.files import delete_file

    return delete_file(file_id, settings=_api_settings(base_url, api_key))


# --- end dataset / jobs / files ----------------------------------------------------------------

# --- train / serve -----------------------------------------------------------------------------


def train(
    datasets: "_Iterable[str | _Path]",
    out: "str | _Path",
    *,
    function: "str | None" = None,
    base: "str | _Path | None" = None,
    name: "str | None" = None,
    settings: "TrainSettings | None" = None,
    drop_stale: bool = False,
    config: "Config | None" = None,
    lock_path: "str | _Path | None" = None,
    memory_limit: "int | None" = None,
    resume: bool = False,
    progress: "_Callable[[Progress], None] | None" = None,
) -> "TrainResult":
    """Fine-tune a LoRA adapter of a small local model on one function's captured examples.

    Needs the `train` extra. Writes the adapter (safetensors and llama.cpp GGUF), the tokenizer and
    `model.json` into `out`, and records `local:NAME` under the function in the lock (the config's
    lock file unless `lock_path`). Ctrl-C saves a checkpoint that `resume=True` continues.
    """
    from .config import load_config
    from .train.run import train_model

    if lock_path is None:
        lock_path = (config or load_config()).lock_path
    return train_model(datasets, out, function=function, base=base, name=name, settings=settings,
                       drop_stale=drop_stale, lock_path=lock_path, memory_limit=memory_limit, resume=resume,
                       progress=progress)


def serve(
    folder: "str | _Path | _Iterable[str | _Path] | None" = None,
    *,
    host: str = "127.0.0.1",
    port: "int | None" = 8080,
    threads: int = 2,
    on_ready: "_Callable[[ServeInfo], None] | None" = None,
    config: "Config | None" = None,
) -> int:
    """Serve `train` output folder(s) with llama.cpp's OpenAI-compatible server until Ctrl-C/SIGTERM:
    one process, one port, each model under its own id. No folder: every `local:NAME` model the
    project's lock pins. Needs the `serve` extra. Blocks; `on_ready` gets the ServeInfo once it answers.
    """
    from .config import load_config
    from .train.serve import project_model_folders, serve_forever

    folders = [folder] if isinstance(folder, (str, _Path)) else list(folder or ())
    if not folders:
        cfg = config or load_config()
        folders = list(project_model_folders(cfg.root, cfg.lock_path))
    return serve_forever(folders, host, port, threads, on_ready)


def start_server(folder: "str | _Path", *, host: str = "127.0.0.1", port: "int | None" = None,
                 threads: int = 2) -> "LocalServer":
    """Start the server for a `train` output folder and return once it answers (call `.stop()`)."""
    from .train.serve import start_server as _start

    return _start(folder, host, port, threads)


# --- end train / serve -------------------------------------------------------------------------

# --- generate / eval ---------------------------------------------------------------------------


def generate(
    target: str,
    n: int = 100,
    *,
    out: "str | _Path | None" = None,
    finetune_format: "str | None" = None,
    seed: int = 0,
    inputs: "str | _Path | None" = None,
    strategies: "str | None" = None,
    timeout: "float | None" = None,
    mutate: bool = True,
    root: "str | _Path | None" = None,
    progress: "_Callable[[int, int], None] | None" = None,
) -> "GenerateResult":
    """Capture `n` calls of the real function on arguments drawn from its type hints.

    `inputs`: a JSONL of argument sets to use first; `strategies`: 'module:object' overriding draws;
    `timeout`: seconds per call; `mutate`: also vary seen inputs; `progress(done, total)`.
    """
    from .evals.generate import generate as _generate

    return _generate(target, n, out=out, finetune_format=finetune_format, seed=seed, inputs=inputs,
                     strategies=strategies, timeout=timeout, mutate=mutate, root=root, progress=progress)


def evaluate(
    target: str,
    model: str,
    *,
    baseline: "str | None" = None,
    dataset: "str | _Path | None" = None,
    split: "str | None" = None,
    inputs: "str | _Path | None" = None,
    n: int = 50,
    seed: int = 0,
    strategies: "str | None" = None,
    base_url: "str | None" = None,
    baseline_base_url: "str | None" = None,
    tolerance: float = 0.0,
    price_per_million: "float | None" = None,
    price_per_million_output: "float | None" = None,
    max_retries: int = 2,
    timeout: float = 120.0,
    response_format: "ResponseFormat | None" = None,
    min_accuracy: "float | None" = None,
    worst: int = 10,
    root: "str | _Path | None" = None,
    progress: "_Callable[[int, int], None] | None" = None,
) -> "EvalReport":
    """Score `model` (dispatched exactly as production does) against the real function on the same inputs.

    Inputs: `dataset` (+ `split` 'val'/'train' from `dataset split`), `inputs` (JSONL), or `n` fresh
    draws (`seed`, `strategies`).
    """
    from .evals.evaluate import evaluate as _evaluate

    return _evaluate(target, model, baseline=baseline, dataset=dataset, split=split, inputs=inputs, n=n, seed=seed,
                     strategies=strategies, base_url=base_url, baseline_base_url=baseline_base_url,
                     tolerance=tolerance, price_per_million=price_per_million,
                     price_per_million_output=price_per_million_output, max_retries=max_retries, timeout=timeout,
                     response_format=response_format, min_accuracy=min_accuracy, worst=worst, root=root,
                     progress=progress)


def evaluate_shadow(path: "str | _Path", *, function_id: "str | None" = None, tolerance: float = 0.0,
                    min_accuracy: "float | None" = None) -> "list[EvalReport]":
    """Score shadow-mode records (docs/dispatch.md): the function's answers against the model's."""
    from pathlib import Path

    from .evals.evaluate import evaluate_shadow as _shadow

    return _shadow(Path(path), function_id=function_id, tolerance=tolerance, min_accuracy=min_accuracy)
# --- end generate / eval -----------------------------------------------------------------------


# --- output: the records and formatters the CLI prints (each takes a verb's result) -------------

__all__ += [
    "ConfigReport", "config_report", "walkthrough", "train_settings", "train_progress_bar",
    "format_scan", "format_config", "format_generate", "format_eval", "eval_html", "format_train",
    "dispatch_command", "jobs_create",
]


def jobs_create(
    source: "str | _Path",
    *,
    uploaded: bool = False,
    wait: bool = True,
    poll_interval: float = 10.0,
    on_created: "_Callable[[CreateResult], None] | None" = None,
    on_update: "_Callable[[JobInfo, list[EventInfo]], None] | None" = None,
    **options: "_Any",
) -> "CreateResult":
    """Create a fine-tuning job from a dataset file (or, `uploaded=True`, an uploaded file's id) and,
    with `wait`, watch it to the end: the result's `job` is then its final state. `options` are
    those of `jobs_create_from_file` / `jobs_create_from_id`; `on_created` gets the new job first."""
    import dataclasses

    create = jobs_create_from_id if uploaded else jobs_create_from_file
    result = create(source, **options)  # type: ignore[arg-type]
    if on_created is not None:
        on_created(result)
    if not wait:
        return result
    job = jobs_watch(result.job.id, poll_interval=poll_interval, on_update=on_update,
                     base_url=options.get("base_url"), api_key=options.get("api_key"))
    return dataclasses.replace(result, job=job)


@_dataclass(frozen=True)
class ConfigReport:
    """The effective configuration and the project's interpreter (`distilgen config`)."""

    config: "Config"
    interpreter: "Interpreter"


def config_report(start: "str | _Path | None" = None, *, python: str | None = None) -> ConfigReport:
    """The configuration `distilgen` would use from `start`, and the interpreter it would ask."""
    config = effective_config(start, python=python)
    return ConfigReport(config, project_interpreter(config))


def walkthrough(*, workdir: "str | _Path | None" = None, quick: bool = False, n: "int | None" = None, seed: int = 0,
                train_steps: "int | None" = None, echo: "_Callable[[str], None]" = print) -> "_Any":
    """The whole loop on a copy of sample_project/ (docs/walkthrough.md); `echo` gets each line."""
    from .walkthrough import run_walkthrough

    return run_walkthrough(workdir=workdir, quick=quick, n=n, seed=seed, train_steps=train_steps, echo=echo)


def train_settings(**overrides: "_Any") -> "TrainSettings":
    """`TrainSettings` with `overrides` (its defaults are the CLI's option defaults)."""
    from .train.trainer import TrainSettings

    return TrainSettings(**overrides)


def train_progress_bar() -> "_Callable[[Progress], None]":
    """The progress line `train` shows on stderr (a line per step off a terminal)."""
    from .train.progress import ProgressBar

    return ProgressBar()


def format_scan(report: "ScanReport", fmt: "ReportFormat" = "text") -> str:
    """text: `path:line:col` lines and a summary; json: the documented list; github: annotations."""
    from .analysis.scan_output import format_report

    return format_report(report, fmt)


def format_config(report: ConfigReport, fmt: str = "text") -> str:
    """text (TOML): every key, defaults included, and the interpreter; json: the same as an object."""
    import json

    interp = report.interpreter
    if fmt == "json":
        data = {**report.config.as_dict(), "interpreter": {"path": interp.path, "reason": interp.reason,
                                                           "version": interp.version, "sys-path": list(interp.sys_path)}}
        return json.dumps(data, indent=2) + "\n"
    from .analysis.scan_output import config_toml

    return config_toml(report.config) + f"# interpreter: {interp.path} (Python {interp.version}; {interp.reason})\n"


def format_generate(result: "GenerateResult", fmt: str = "text") -> str:
    import dataclasses
    import json

    if fmt == "json":
        return json.dumps(dataclasses.asdict(result), indent=2) + "\n"
    from .evals.summary import format_generate as _text

    return _text(result) + "\n"


def format_eval(reports: "_Iterable[EvalReport]", fmt: str = "text") -> str:
    """text: a table per report; json: every figure."""
    from .evals import report as _report

    reports = list(reports)
    if fmt == "json":
        return _report.to_json(reports) + "\n"
    return "\n\n".join(_report.format_table(r) for r in reports) + "\n"


def eval_html(reports: "_Iterable[EvalReport]") -> str:
    """A self-contained HTML report."""
    from .evals.eval_output import to_html

    return to_html(list(reports))


def format_train(result: "TrainResult", fmt: str = "text") -> str:
    """text: the run in a few lines and how to serve it; json: the record."""
    if fmt == "json":
        import dataclasses
        import json

        return json.dumps(dataclasses.asdict(result), indent=2, default=str) + "\n"
    from .train.estimate import fmt_seconds

    r = result
    val = f", validation {r.val_losses[-1]:.4f}" if r.val_losses else ""
    lines = [f"trained {r.model_id} on {r.train_examples} examples ({r.validation_examples} validation), "
             f"{r.steps} steps in {fmt_seconds(r.seconds)}: loss {r.first_loss:.4f} -> {r.last_loss:.4f}{val}"
             + (" (stopped early)" if r.stopped_early else "")]
    for c in r.curve:
        if c.get("exact_match") is not None:
            fields = ", ".join(f"{k} {v:.0%}" for k, v in c["fields"].items())
            lines.append(f"epoch {c['epoch']}: {c['data_size']} examples, {c['steps']} steps, exact match "
                         f"{c['exact_match']:.1%} ({fields})" + (f" [round {c['round']}]" if c.get("round") else ""))
    for g in r.growth:
        lines.append(f"round {g['round']}: " + (
            f"+{g['added']} examples labelled by the function ({g['from_mistakes']} mutations of missed validation "
            f"calls, {g['from_strategies']} drawn from its signature; {g['duplicates']} already in the data, "
            f"{g['teacher_errors']} calls raised)" if "error" not in g else g["error"]))
    if r.growth_note:
        lines.append(f"growth: {r.growth_note}")
    lines.append(f"stopped: {r.stop_reason}")
    short = r.shortfall()
    if short:
        lines.append(short)
    for reason, n in r.skipped:
        lines.append(f"skipped {n} example{'s' if n != 1 else ''}: {reason}")
    lines += [f"wrote {r.out} (adapter/, adapter.gguf, tokenizer/, model.json)", f"lock: {r.lock_note}",
              f"serve it: distilgen serve {r.out}"]
    return "".join(x + "\n" for x in lines)


def dispatch_command(model: str, functions: "tuple[str, ...]" = ()) -> str:
    """The `distilgen apply --dispatch` command that switches these functions (all when none) to `model`."""
    from .ops.jobs import dispatch_command as _command

    return _command(model, functions)
# --- end output --------------------------------------------------------------------------------
