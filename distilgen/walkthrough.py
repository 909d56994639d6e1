"""`distilgen walkthrough`: the whole loop on a copy of `sample_project/`, one verb of `distilgen.api` per step.

scan -> apply -> generate -> dataset validate + stats + split -> train -> serve -> apply --dispatch
-> check -> run the sample app in dispatch mode -> eval against the real function -> HTML report.

It works on a copy (never the checkout) and distils one function, `inbox.triage:classify_ticket`:
swapping one function at a time is how a user gains confidence. `quick=True` skips training and
serves a loopback stand-in from `distilgen.testing` instead of a model: it replays the training
split's answers for calls it has seen and answers the most common training answer otherwise. Its
figures show the pipeline working end to end; they say nothing about what a trained model learns.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .errors import DistilgenError

if TYPE_CHECKING:
    from .evals.evaluate import EvalReport
    from .ops.dataset import SplitResult
    from .train.run import TrainResult

__all__ = ["WalkthroughError", "WalkthroughResult", "StepTime", "run_walkthrough", "sample_project_path",
           "standin_responder", "FUNCTION"]

FUNCTION = "inbox.triage:classify_ticket"
_SELECT = "classify_ticket"
_STANDIN_MODEL = "local:inbox-standin"
DEFAULT_TRAIN_STEPS = 90
_IGNORE_ANYWHERE = {"__pycache__", ".distilgen_cache", ".pytest_cache", ".mypy_cache"}
_IGNORE_TOP = {"data", "models", "distilgen.lock", "report.html"}

Echo = Callable[[str], None]


class WalkthroughError(DistilgenError):
    """A step failed: the message names the step and the reason."""

    def __init__(self, step: str, reason: str) -> None:
        self.step = step
        self.reason = reason
        super().__init__(f"walkthrough stopped at step '{step}': {reason}")


@dataclass(frozen=True)
class StepTime:
    name: str
    seconds: float
    skipped: bool = False


@dataclass(frozen=True)
class WalkthroughResult:
    workdir: Path
    project: Path
    quick: bool
    model: str
    report_html: Path
    exact_match: float
    field_accuracy: tuple[tuple[str, float], ...]
    steps: tuple[StepTime, ...]
    seconds: float


def sample_project_path() -> Path:
    """`sample_project/`: inside the installed package (the wheel ships it), else beside it in a checkout."""
    package = Path(__file__).resolve().parent
    for here in (package / "sample_project", package.parent / "sample_project"):
        if (here / "pyproject.toml").is_file() and (here / "inbox").is_dir():
            return here
    raise WalkthroughError("copy", f"no sample_project/ in the package ({package}) or beside it; reinstall distilgen "
                                   "from a wheel or sdist, or run from a checkout")


def standin_responder(train_file: Path) -> Callable[[Any], Any]:
    """The quick mode's stand-in: replay the answer of a seen call, else the most common training answer."""
    from .ops.shapes import line_parts
    from .testing import Reply

    seen: dict[str, str] = {}
    answers: Counter[str] = Counter()
    for raw in train_file.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        parts = line_parts(json.loads(raw))
        if parts.arguments is not None:
            seen[parts.user] = parts.arguments
            answers[parts.arguments] += 1
    if not answers:
        raise WalkthroughError("serve", f"{train_file}: no training answers for the stand-in to replay")
    majority = answers.most_common(1)[0][0]
    return lambda request: Reply(arguments=seen.get(request.user or "", majority))


def _set_local_base_url(project: Path, base_url: str) -> None:
    """Point `local:` models of the copy at the server just started (the copy's own pyproject)."""
    path = project / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.startswith("local-base-url")]
    out, done = [], False
    for ln in lines:
        out.append(ln)
        if ln.strip() == "[tool.distilgen]" and not done:
            out.append(f'local-base-url = "{base_url}"')
            done = True
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def _quarters(echo: Echo, what: str) -> Callable[[int, int], None]:
    """A progress report for long steps: a line at each quarter of the way."""
    said: set[int] = set()

    def report(done: int, total: int) -> None:
        quarter = 4 * done // max(total, 1)
        if quarter and quarter not in said:
            said.add(quarter)
            echo(f"      {done}/{total} {what}")

    return report


def _forget_inbox() -> None:
    """Drop imported `inbox` modules: the next import reads the copy's current sources."""
    for mod in [m for m in sys.modules if m == "inbox" or m.startswith("inbox.")]:
        del sys.modules[mod]


_TOTAL = 12
_T = TypeVar("_T")


@dataclass(frozen=True)
class _Run:
    """One walkthrough's settings and paths, read by every step."""

    base: Path
    """The work folder (the report lands here)."""
    project: Path
    """The copy of sample_project/ the steps edit."""
    quick: bool
    n: int
    seed: int
    train_steps: int | None
    echo: Echo
    train_progress: Callable[[Any], None] | None

    @property
    def dataset(self) -> Path:
        return self.project / "data" / "classify_ticket.jsonl"

    @property
    def split_dir(self) -> Path:
        return self.project / "data" / "classify_ticket_split"


@dataclass(frozen=True)
class _Served:
    model: str
    """The model id the app is bound to (`local:...`)."""
    base_url: str


@dataclass(frozen=True)
class _Evaluation:
    report: EvalReport
    html: Path


@dataclass
class _Steps:
    """Runs the numbered steps in order, timing each; a failure becomes a WalkthroughError naming it."""

    echo: Echo
    times: list[StepTime] = field(default_factory=list)

    def run(self, i: int, name: str, what: str, body: Callable[[], _T]) -> _T:
        self.echo(f"\n[{i}/{_TOTAL}] {name}: {what}")
        t0 = time.perf_counter()
        try:
            out = body()
        except WalkthroughError:
            raise
        except DistilgenError as exc:
            raise WalkthroughError(name, str(exc)) from None
        except Exception as exc:  # a bug or an environment problem: still name the step
            raise WalkthroughError(name, f"{type(exc).__name__}: {exc}") from exc
        self.times.append(StepTime(name, time.perf_counter() - t0))
        self.echo(f"      done in {time.perf_counter() - t0:.1f}s")
        return out

    def skip(self, i: int, name: str, why: str) -> None:
        self.echo(f"\n[{i}/{_TOTAL}] {name}: skipped ({why})")
        self.times.append(StepTime(name, 0.0, skipped=True))


def run_walkthrough(
    *,
    workdir: str | Path | None = None,
    quick: bool = False,
    n: int | None = None,
    seed: int = 0,
    train_steps: int | None = None,
    echo: Echo = print,
    train_progress: Callable[[Any], None] | None = None,
) -> WalkthroughResult:
    """Run every step, printing what each does; a failing step raises WalkthroughError naming it."""
    from .train.extras import missing_extras

    # say what is missing before step 1, not at the step that needs it minutes later
    absent = missing_extras(("generate",) if quick else ("generate", "train", "serve"))
    if absent:
        needed = ",".join(e.extra for e in absent)
        raise WalkthroughError("setup", f"{'; '.join(e.package + ' is not installed' for e in absent)}: "
                                        f"pip install 'distilgen[{needed}]'" + ("" if quick else " (or run with --quick)"))

    started = time.perf_counter()
    base = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="distilgen-walkthrough-"))
    run = _Run(base, base / "inbox_project", quick, n if n is not None else (80 if quick else 300), seed,
               train_steps, echo, train_progress)
    steps = _Steps(echo)
    cleanup: list[Callable[[], None]] = []
    try:
        steps.run(1, "copy", f"copy sample_project/ to {run.project} (the checkout is never touched)", lambda: _copy(run))
        steps.run(2, "scan", "find every function that returns a pydantic model", lambda: _scan(run))
        steps.run(3, "apply", "add @instructions.distil to every candidate (capture mode)", lambda: _apply(run))
        steps.run(4, "generate", f"draw {run.n} tickets (inbox.strategies) and capture the real function's answers",
                  lambda: _generate(run))
        split = steps.run(5, "dataset", "validate the lines, print token stats, split off a validation set with no "
                          "shared calls", lambda: _dataset(run))
        if quick:
            steps.skip(6, "train", "--quick")
            served = steps.run(7, "serve", "start the loopback stand-in from distilgen.testing (NOT a trained model)",
                               lambda: _serve_standin(run, Path(split.train_path), cleanup))
        else:
            trained = steps.run(6, "train", "fine-tune a LoRA adapter of the default local base (bounded budget)",
                                lambda: _train(run))
            served = steps.run(7, "serve", "serve the trained model with llama.cpp's OpenAI-compatible server",
                               lambda: _serve_trained(run, trained, cleanup))
        steps.run(8, "apply --dispatch", f"bind {FUNCTION} to the model (the other functions keep capturing)",
                  lambda: _dispatch(run, served.model))
        steps.run(9, "check", "look for drift between the code, the lock and the bindings", lambda: _check(run))
        steps.run(10, "run the app", "python -m inbox.app: classify_ticket now answered by the model",
                  lambda: _run_app(run))
        evaluation = steps.run(11, "eval", "the model against the real function on the held-out split",
                               lambda: _eval(run, served.model))
        steps.run(12, "report", "summary", lambda: _summary(run, evaluation))
    finally:
        for stop in reversed(cleanup):
            try:
                stop()
            except Exception:
                pass
    m = evaluation.report.primary
    return WalkthroughResult(
        workdir=base, project=run.project, quick=quick, model=served.model, report_html=evaluation.html,
        exact_match=m.exact_rate, field_accuracy=tuple((f.field, f.rate) for f in m.fields),
        steps=tuple(steps.times), seconds=time.perf_counter() - started,
    )


def _copy(run: _Run) -> None:
    src = sample_project_path()
    project = run.project
    if project.exists():
        raise WalkthroughError("copy", f"{project} already exists; give an empty --workdir")
    run.base.mkdir(parents=True, exist_ok=True)

    def ignore(folder: str, names: list[str]) -> set[str]:
        # leftovers of runs in the checkout itself: never copied
        top = _IGNORE_TOP if Path(folder) == src else set()
        return {x for x in names if x in _IGNORE_ANYWHERE or x in top or x.endswith(".pyc")}

    shutil.copytree(src, project, ignore=ignore)
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))
    _forget_inbox()


def _scan(run: _Run) -> None:
    from . import api

    report = api.scan([run.project], use_cache=False)
    for r in report.results:
        run.echo(f"      {r.path}:{r.lineno}: {r.qualname} -> {r.model} [{r.status}]"
                 + (f" ({r.reason})" if r.reason and r.status != "candidate" else ""))
    counts = Counter(r.status for r in report.results)
    run.echo("      " + ", ".join(f"{c} {s}" for s, c in sorted(counts.items())))
    if not counts.get("candidate"):
        raise WalkthroughError("scan", "no candidate functions found in the sample project")
    if report.errors:
        raise WalkthroughError("scan", "; ".join(str(e) for e in report.errors))


def _apply(run: _Run) -> None:
    from . import api

    report = api.apply([run.project])
    if report.errors:
        raise WalkthroughError("apply", "; ".join(f"{e.path}: {getattr(e, 'message', e)}" for e in report.errors))
    for e in report.changed:
        run.echo(f"      edited {e.path}")


def _generate(run: _Run) -> None:
    from . import api
    from .evals.summary import format_generate

    _forget_inbox()  # apply just rewrote the sources: import them afresh
    result = api.generate(FUNCTION, run.n, out=str(run.dataset), seed=run.seed, root=str(run.project))
    for line in format_generate(result).splitlines():
        run.echo("      " + line)
    if result.variety.flags:
        raise WalkthroughError("generate", "; ".join(result.variety.flags))


def _dataset(run: _Run) -> SplitResult:
    from . import api

    dataset, echo = run.dataset, run.echo
    (report,) = api.dataset_validate([dataset])
    for p in report.errors:
        echo(f"      {p}")
    for p in report.warnings[:3]:
        echo(f"      {p}")
    if len(report.warnings) > 3:
        echo(f"      ... and {len(report.warnings) - 3} more warnings (distilgen dataset validate {dataset})")
    if not report.ok:
        raise WalkthroughError("dataset", f"{len(report.errors)} invalid lines in {dataset}")
    s = report.stats
    if s is not None:
        echo(f"      {report.examples} examples, tokens per example min {s.tokens_min} / median "
             f"{s.tokens_median:g} / max {s.tokens_max}")
    split = api.dataset_split(dataset, val=0.2, seed=run.seed, out=run.split_dir)
    echo(f"      train {split.train_examples} / val {split.val_examples} examples in {run.split_dir}")
    return split


def _train(run: _Run) -> TrainResult:
    from . import api
    from .train.progress import ProgressBar
    from .train.trainer import TrainSettings

    # the walkthrough's budget: 90 optimizer steps (three epochs of 240 examples at batch 8)
    settings = TrainSettings(max_steps=run.train_steps or DEFAULT_TRAIN_STEPS)
    result = api.train([run.split_dir], run.project / "models" / "classify_ticket", function=FUNCTION,
                       name="classify_ticket", settings=settings, lock_path=run.project / "distilgen.lock",
                       progress=run.train_progress or ProgressBar())
    run.echo(f"      {result.model_id}: {result.train_examples} examples, {result.steps} steps, loss "
             f"{result.first_loss:.3f} -> {result.last_loss:.3f}, {result.seconds:.0f}s")
    return result


def _serve_standin(run: _Run, train_file: Path, cleanup: list[Callable[[], None]]) -> _Served:
    from .testing import FakeOpenAI

    srv = FakeOpenAI().start()
    cleanup.append(srv.stop)
    srv.chat.respond(standin_responder(train_file))
    run.echo(f"      {srv.base_url}: a stand-in that replays the training split's answers and gives the "
             "most common training answer for any call it has not seen")
    _set_local_base_url(run.project, srv.base_url)
    return _Served(_STANDIN_MODEL, srv.base_url)


def _serve_trained(run: _Run, trained: TrainResult, cleanup: list[Callable[[], None]]) -> _Served:
    from . import api

    server = api.start_server(trained.out)
    cleanup.append(server.stop)
    info = server.info
    assert info is not None  # start_server returns once the server answers
    run.echo(f"      {info.base_url} serving {info.model_id} (pid {info.pid})")
    _set_local_base_url(run.project, info.base_url)
    return _Served(trained.model_id, info.base_url)


def _dispatch(run: _Run, model: str) -> None:
    from . import api

    report = api.apply([run.project], select=[_SELECT], action="dispatch", model=model)
    if report.errors:
        raise WalkthroughError("apply --dispatch", "; ".join(str(e.path) for e in report.errors))
    for e in report.changed:
        run.echo(f"      edited {e.path}")
    if report.pinned:
        run.echo(f"      pinned the trained-on prompt of {', '.join(report.pinned)} in distilgen.lock")


def _check(run: _Run) -> None:
    from . import api

    (report,) = api.check([run.project])
    for f in report.findings:
        run.echo(f"      {f}")
    run.echo(f"      {len(report.findings)} findings")


def _run_app(run: _Run) -> None:
    project = run.project
    env = {**os.environ, "PYTHONPATH": str(project) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    limit = 60 if run.quick else 600
    try:
        proc = subprocess.run([sys.executable, "-m", "inbox.app"], cwd=project, env=env,
                              capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise WalkthroughError("run the app", f"python -m inbox.app did not finish in {limit}s") from None
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["(no output)"]
        # a traceback's exception lines are the unindented ones after its frames
        cause = [ln for ln in lines if ln and not ln[0].isspace() and not ln.startswith("Traceback")]
        raise WalkthroughError("run the app", f"exit {proc.returncode}: {' | '.join(cause[-2:] or lines[-1:])}")
    for line in proc.stdout.strip().splitlines():
        run.echo(f"      {line}")


def _eval(run: _Run, model: str) -> _Evaluation:
    from . import api
    from .evals.eval_output import format_table, to_html

    _forget_inbox()
    report = api.evaluate(FUNCTION, model, dataset=str(run.dataset), split="val", root=str(run.project),
                          progress=_quarters(run.echo, "model calls"))
    for line in format_table(report).splitlines():
        run.echo("      " + line)
    html_path = run.base / "report.html"
    note = ("Quick mode: the model is a loopback stand-in from distilgen.testing that replays the training "
            "split's answers and otherwise gives the most common one; it is not a trained model."
            if run.quick else None)
    html_path.write_text(to_html([report], title="distilgen walkthrough: eval", note=note), encoding="utf-8")
    return _Evaluation(report, html_path)


def _summary(run: _Run, evaluation: _Evaluation) -> None:
    m = evaluation.report.primary
    run.echo(f"      HTML report: {evaluation.html}")
    run.echo(f"      {FUNCTION}: exact match {100 * m.exact_rate:.1f}% on {m.calls} held-out calls; "
             + ", ".join(f"{f.field} {100 * f.rate:.1f}%" for f in m.fields))
    if run.quick:
        run.echo("      (quick mode: a loopback stand-in answered, not a trained model)")
