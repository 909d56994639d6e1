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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import DistilgenError

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
    """`sample_project/` of the checkout this package runs from."""
    here = Path(__file__).resolve().parent.parent / "sample_project"
    if not (here / "pyproject.toml").is_file():
        raise WalkthroughError("copy", f"no sample_project/ next to the package ({here}); run from a checkout")
    return here


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
    from . import api

    started = time.perf_counter()
    n = n if n is not None else (80 if quick else 300)
    base = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="distilgen-walkthrough-"))
    project = base / "inbox_project"
    steps: list[StepTime] = []
    total = 12
    state: dict[str, Any] = {}
    cleanup: list[Callable[[], None]] = []

    def step(i: int, name: str, what: str) -> Callable[[Callable[[], None]], None]:
        def run(body: Callable[[], None]) -> None:
            echo(f"\n[{i}/{total}] {name}: {what}")
            t0 = time.perf_counter()
            try:
                body()
            except WalkthroughError:
                raise
            except DistilgenError as exc:
                raise WalkthroughError(name, str(exc)) from None
            except Exception as exc:  # a bug or an environment problem: still name the step
                raise WalkthroughError(name, f"{type(exc).__name__}: {exc}") from exc
            steps.append(StepTime(name, time.perf_counter() - t0))
            echo(f"      done in {time.perf_counter() - t0:.1f}s")
        return run

    data = project / "data"
    dataset = data / "classify_ticket.jsonl"
    split_dir = data / "classify_ticket_split"

    try:
        @step(1, "copy", f"copy sample_project/ to {project} (the checkout is never touched)")
        def _copy() -> None:
            src = sample_project_path()
            if project.exists():
                raise WalkthroughError("copy", f"{project} already exists; give an empty --workdir")
            base.mkdir(parents=True, exist_ok=True)
            def ignore(folder: str, names: list[str]) -> set[str]:
                # leftovers of runs in the checkout itself: never copied
                top = _IGNORE_TOP if Path(folder) == src else set()
                return {x for x in names if x in _IGNORE_ANYWHERE or x in top or x.endswith(".pyc")}

            shutil.copytree(src, project, ignore=ignore)
            if str(project) not in sys.path:
                sys.path.insert(0, str(project))
            _forget_inbox()

        @step(2, "scan", "find every function that returns a pydantic model")
        def _scan() -> None:
            report = api.scan([project], use_cache=False)
            for r in report.results:
                echo(f"      {r.path}:{r.lineno}: {r.qualname} -> {r.model} [{r.status}]"
                     + (f" ({r.reason})" if r.reason and r.status != "candidate" else ""))
            counts = Counter(r.status for r in report.results)
            echo("      " + ", ".join(f"{c} {s}" for s, c in sorted(counts.items())))
            if not counts.get("candidate"):
                raise WalkthroughError("scan", "no candidate functions found in the sample project")
            if report.errors:
                raise WalkthroughError("scan", "; ".join(str(e) for e in report.errors))

        @step(3, "apply", "add @instructions.distil to every candidate (capture mode)")
        def _apply() -> None:
            report = api.apply([project])
            if report.errors:
                raise WalkthroughError("apply", "; ".join(f"{e.path}: {getattr(e, 'message', e)}" for e in report.errors))
            for e in report.changed:
                echo(f"      edited {e.path}")

        @step(4, "generate", f"draw {n} tickets (inbox.strategies) and capture the real function's answers")
        def _generate() -> None:
            _forget_inbox()  # apply just rewrote the sources: import them afresh
            result = api.generate(FUNCTION, n, out=str(dataset), seed=seed, root=str(project))
            from .evals.summary import format_generate

            for line in format_generate(result).splitlines():
                echo("      " + line)
            if result.variety.flags:
                raise WalkthroughError("generate", "; ".join(result.variety.flags))

        @step(5, "dataset", "validate the lines, print token stats, split off a validation set with no shared calls")
        def _dataset() -> None:
            (report,) = api.dataset_validate([dataset], min_examples=10)
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
            split = api.dataset_split(dataset, val=0.2, seed=seed, out=split_dir)
            echo(f"      train {split.train_examples} / val {split.val_examples} examples in {split_dir}")
            state["split"] = split

        if quick:
            echo(f"\n[6/{total}] train: skipped (--quick)")
            steps.append(StepTime("train", 0.0, skipped=True))
        else:
            @step(6, "train", "fine-tune a LoRA adapter of the default local base (bounded budget)")
            def _train() -> None:
                from .train.trainer import TrainSettings

                from .train.progress import ProgressBar

                # the walkthrough's budget: 90 optimizer steps (three epochs of 240 examples at batch 8)
                settings = TrainSettings(max_steps=train_steps or DEFAULT_TRAIN_STEPS)
                result = api.train([split_dir], project / "models" / "classify_ticket", function=FUNCTION,
                                   name="classify_ticket", settings=settings,
                                   lock_path=project / "distilgen.lock", progress=train_progress or ProgressBar())
                echo(f"      {result.model_id}: {result.train_examples} examples, {result.steps} steps, loss "
                     f"{result.first_loss:.3f} -> {result.last_loss:.3f}, {result.seconds:.0f}s")
                state["model"] = result.model_id
                state["model_dir"] = result.out

        if quick:
            @step(7, "serve", "start the loopback stand-in from distilgen.testing (NOT a trained model)")
            def _serve_quick() -> None:
                from .testing import FakeOpenAI

                srv = FakeOpenAI().start()
                cleanup.append(srv.stop)
                srv.chat.respond(standin_responder(Path(state["split"].train_path)))
                echo(f"      {srv.base_url}: a stand-in that replays the training split's answers and gives the "
                     "most common training answer for any call it has not seen")
                state["model"] = _STANDIN_MODEL
                state["base_url"] = srv.base_url
                _set_local_base_url(project, srv.base_url)
        else:
            @step(7, "serve", "serve the trained model with llama.cpp's OpenAI-compatible server")
            def _serve() -> None:
                server = api.start_server(state["model_dir"])
                cleanup.append(server.stop)
                info = server.info
                assert info is not None  # start_server returns once the server answers
                echo(f"      {info.base_url} serving {info.model_id} (pid {info.pid})")
                state["base_url"] = info.base_url
                _set_local_base_url(project, info.base_url)

        @step(8, "apply --dispatch", f"bind {FUNCTION} to the model (the other functions keep capturing)")
        def _dispatch() -> None:
            report = api.apply([project], select=[_SELECT], action="dispatch", model=state["model"])
            if report.errors:
                raise WalkthroughError("apply --dispatch", "; ".join(str(e.path) for e in report.errors))
            for e in report.changed:
                echo(f"      edited {e.path}")
            if report.pinned:
                echo(f"      pinned the trained-on prompt of {', '.join(report.pinned)} in distilgen.lock")

        @step(9, "check", "look for drift between the code, the lock and the bindings")
        def _check() -> None:
            (report,) = api.check([project])
            for f in report.findings:
                echo(f"      {f}")
            echo(f"      {len(report.findings)} findings")

        @step(10, "run the app", "python -m inbox.app: classify_ticket now answered by the model")
        def _run_app() -> None:
            env = {**os.environ, "PYTHONPATH": str(project) + os.pathsep + os.environ.get("PYTHONPATH", "")}
            limit = 60 if quick else 600
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
                echo(f"      {line}")

        @step(11, "eval", "the model against the real function on the held-out split")
        def _eval() -> None:
            from .evals.report import format_table, to_html

            _forget_inbox()
            report = api.evaluate(FUNCTION, state["model"], dataset=str(dataset), split="val", root=str(project),
                                  progress=_quarters(echo, "model calls"))
            for line in format_table(report).splitlines():
                echo("      " + line)
            html_path = base / "report.html"
            note = ("Quick mode: the model is a loopback stand-in from distilgen.testing that replays the training "
                    "split's answers and otherwise gives the most common one; it is not a trained model."
                    if quick else None)
            html_path.write_text(to_html([report], title="distilgen walkthrough: eval", note=note), encoding="utf-8")
            state["report"] = report
            state["html"] = html_path

        @step(12, "report", "summary")
        def _summary() -> None:
            report = state["report"]
            m = report.primary
            echo(f"      HTML report: {state['html']}")
            echo(f"      {FUNCTION}: exact match {100 * m.exact_rate:.1f}% on {m.calls} held-out calls; "
                 + ", ".join(f"{f.field} {100 * f.rate:.1f}%" for f in m.fields))
            if quick:
                echo("      (quick mode: a loopback stand-in answered, not a trained model)")
    finally:
        for stop in reversed(cleanup):
            try:
                stop()
            except Exception:
                pass

    report = state["report"]
    m = report.primary
    return WalkthroughResult(
        workdir=base, project=project, quick=quick, model=state["model"], report_html=state["html"],
        exact_match=m.exact_rate, field_accuracy=tuple((f.field, f.rate) for f in m.fields), steps=tuple(steps),
        seconds=time.perf_counter() - started,
    )
