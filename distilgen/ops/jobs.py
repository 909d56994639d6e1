"""`distilgen jobs`: create, watch, list, inspect and cancel fine-tuning jobs.

Creating a job is not idempotent: the client's automatic retry after a 5xx that arrived *after*
the service made the job creates a second, paid job. So creation runs with the client's retries
off, tags the job with a unique `metadata` request id, and after an ambiguous failure (5xx,
timeout, dropped connection) looks the id up through `jobs list` before it tries again.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import DistilgenError, UsageError
from .client import LOCAL_TRAIN_HINT, ApiError, ApiSettings, api_errors, error_message, make_client
from .files import FileInfo, upload_file

__all__ = [
    "REQUEST_ID_KEY",
    "TERMINAL",
    "JobInfo",
    "EventInfo",
    "CheckpointInfo",
    "Hyperparameters",
    "CreateResult",
    "job_info",
    "create_job",
    "find_job_by_request_id",
    "create_from_file",
    "watch_job",
    "latest_job",
    "list_jobs",
    "list_events",
    "list_checkpoints",
    "cancel_job",
    "get_job",
    "dispatch_command",
]

REQUEST_ID_KEY = "distilgen_request_id"
TERMINAL = ("succeeded", "failed", "cancelled")
CREATE_ATTEMPTS = 4
WATCH_TRANSIENT_FAILURES = 5


@dataclass(frozen=True)
class JobInfo:
    id: str
    status: str
    model: str
    fine_tuned_model: str | None
    created_at: int
    finished_at: int | None
    training_file: str | None
    validation_file: str | None
    trained_tokens: int | None
    error: dict[str, Any] | None
    """The job's error object (`code`, `message`, `param`) when it failed."""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    suffix: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def error_line(self) -> str:
        e = self.error or {}
        parts = [str(e.get("code") or "error"), str(e.get("message") or "no message")]
        if e.get("param"):
            parts.append(f"(param {e['param']})")
        return " ".join([parts[0] + ":"] + parts[1:])


@dataclass(frozen=True)
class EventInfo:
    id: str
    created_at: int
    level: str
    message: str
    type: str | None = None
    data: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CheckpointInfo:
    id: str
    step: int
    model: str
    created_at: int
    metrics: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Hyperparameters:
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None

    def as_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.epochs is not None:
            out["n_epochs"] = self.epochs
        if self.batch_size is not None:
            out["batch_size"] = self.batch_size
        if self.learning_rate_multiplier is not None:
            out["learning_rate_multiplier"] = self.learning_rate_multiplier
        return out


@dataclass(frozen=True)
class CreateResult:
    job: JobInfo
    request_id: str
    attempts: int
    reconciled: bool
    """True when the job was found through `jobs list` after an ambiguous failure."""
    training_file: FileInfo | None = None
    validation_file: FileInfo | None = None
    functions: tuple[str, ...] = ()
    """The function ids the training file holds examples of, when known (for `apply --select`)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "functions": list(self.functions),
            "job": self.job.as_dict(),
            "request_id": self.request_id,
            "attempts": self.attempts,
            "reconciled": self.reconciled,
            "training_file": self.training_file.as_dict() if self.training_file else None,
            "validation_file": self.validation_file.as_dict() if self.validation_file else None,
        }


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    return value


def job_info(obj: Any) -> JobInfo:
    hyper = _plain(getattr(obj, "hyperparameters", None)) or {}
    method = _plain(getattr(obj, "method", None)) or {}
    if isinstance(method, dict):
        mtype = method.get("type")
        inner = method.get(mtype) if isinstance(mtype, str) else None
        if isinstance(inner, dict) and isinstance(inner.get("hyperparameters"), dict):
            hyper = inner["hyperparameters"]
    return JobInfo(
        id=obj.id,
        status=str(obj.status),
        model=str(obj.model),
        fine_tuned_model=getattr(obj, "fine_tuned_model", None),
        created_at=int(getattr(obj, "created_at", 0) or 0),
        finished_at=getattr(obj, "finished_at", None),
        training_file=getattr(obj, "training_file", None),
        validation_file=getattr(obj, "validation_file", None),
        trained_tokens=getattr(obj, "trained_tokens", None),
        error=_plain(getattr(obj, "error", None)) or None,
        hyperparameters=dict(hyper),
        metadata=dict(getattr(obj, "metadata", None) or {}),
        suffix=getattr(obj, "user_provided_suffix", None),
    )


def dispatch_command(model: str, functions: tuple[str, ...] = ()) -> str:
    """The command that switches the dataset's functions (all distilled ones when unknown) to a model."""
    select = "".join(f" --select {f}" for f in functions)
    return f"distilgen apply --dispatch --model {model}{select}"


def _refused(message: str, status: int | None) -> bool:
    """Does this error say the service no longer takes fine-tuning jobs (not: a bad request)?"""
    text = message.lower()
    about = any(w in text for w in ("fine-tun", "fine tun", "finetun"))
    closing = any(w in text for w in ("no longer", "discontinu", "deprecat", "disabled", "shut down", "sunset",
                                      "closed", "not accepting"))
    return status == 410 or (about and (closing or status == 403))


def _local_hint() -> str:
    import datetime

    if datetime.date.today() >= datetime.date(2027, 1, 6):
        return LOCAL_TRAIN_HINT
    return LOCAL_TRAIN_HINT.replace("stopped accepting", "stops accepting")


def find_job_by_request_id(client: Any, request_id: str, *, scan: int = 200) -> JobInfo | None:
    """The job tagged with `request_id`, through `jobs list` (filtered by metadata where supported).

    Every candidate's metadata is checked here too, and at most `scan` recent jobs are read, so a
    service that ignores the filter costs a bounded number of pages.
    """
    with api_errors("looking for the job just created (jobs list)"):
        seen = 0
        for obj in client.fine_tuning.jobs.list(limit=50, metadata={REQUEST_ID_KEY: request_id}):
            if (getattr(obj, "metadata", None) or {}).get(REQUEST_ID_KEY) == request_id:
                return job_info(obj)
            seen += 1
            if seen >= scan:
                break
    return None


def create_job(client: Any, *, training_file: str, model: str, validation_file: str | None = None,
               suffix: str | None = None, seed: int | None = None,
               hyperparameters: Hyperparameters = Hyperparameters(),
               sleep: Callable[[float], None] = time.sleep) -> CreateResult:
    """Create a supervised fine-tuning job exactly once, even when the answer to the create is lost."""
    import openai

    request_id = f"dg-{uuid.uuid4().hex}"
    params: dict[str, Any] = {
        "model": model,
        "training_file": training_file,
        "method": {"type": "supervised", "supervised": {"hyperparameters": hyperparameters.as_api()}},
        "metadata": {REQUEST_ID_KEY: request_id},
    }
    if validation_file:
        params["validation_file"] = validation_file
    if suffix:
        params["suffix"] = suffix
    if seed is not None:
        params["seed"] = seed
    once = client.with_options(max_retries=0)
    last: Exception | None = None
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            job = once.fine_tuning.jobs.create(**params)
            return CreateResult(job_info(job), request_id, attempt, False)
        except (openai.APIConnectionError, openai.InternalServerError) as exc:
            # Ambiguous: the service may have made the job before the answer was lost.
            last = exc
            found = find_job_by_request_id(client, request_id)
            if found is not None:
                return CreateResult(found, request_id, attempt, True)
        except openai.APIStatusError as exc:
            message, status, code = error_message(exc)
            if status == 429:
                last = exc  # rate limited: the job was not made; wait and retry
            elif status in (408, 409) or (status is not None and status >= 500):
                last = exc  # the outcome is unknown: look for the job before trying again
                found = find_job_by_request_id(client, request_id)
                if found is not None:
                    return CreateResult(found, request_id, attempt, True)
            elif _refused(message, status):
                raise ApiError(f"the service refused to create a fine-tuning job: {message} (HTTP {status}). "
                               f"{_local_hint()}", status=status, code=code) from None
            else:
                raise ApiError(f"creating the fine-tuning job: {message} (HTTP {status}"
                               + (f" {code}" if code else "") + ")", status=status, code=code) from None
        if attempt < CREATE_ATTEMPTS:
            sleep(_retry_delay(last, attempt))
    found = find_job_by_request_id(client, request_id)  # one last look: the final attempt may have landed
    if found is not None:
        return CreateResult(found, request_id, CREATE_ATTEMPTS, True)
    message, status, _ = error_message(last) if last else ("unknown error", None, None)
    raise ApiError(f"creating the fine-tuning job failed {CREATE_ATTEMPTS} times, and `jobs list` shows no job "
                   f"tagged {REQUEST_ID_KEY}={request_id}: {message}" + (f" (HTTP {status})" if status else ""),
                   status=status)


def _retry_delay(exc: Exception | None, attempt: int) -> float:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        if "retry-after-ms" in headers:
            return min(float(headers["retry-after-ms"]) / 1000, 60.0)
        if "retry-after" in headers:
            return min(float(headers["retry-after"]), 60.0)
    except ValueError:
        pass
    return min(0.5 * 2 ** (attempt - 1), 8.0)


def get_job(job_id: str, *, settings: ApiSettings = ApiSettings(), client: Any = None) -> JobInfo:
    client = client or make_client(settings)
    with api_errors(f"reading job {job_id}"):
        return job_info(client.fine_tuning.jobs.retrieve(job_id))


def _new_events(client: Any, job_id: str, seen: set[str]) -> list[EventInfo]:
    page = client.fine_tuning.jobs.list_events(job_id, limit=100)
    fresh = [event_info(e) for e in reversed(page.data) if e.id not in seen]  # the API lists newest first
    seen.update(e.id for e in fresh)
    return sorted(fresh, key=lambda e: e.created_at)


def event_info(obj: Any) -> EventInfo:
    return EventInfo(obj.id, int(obj.created_at), str(getattr(obj, "level", "info")), str(obj.message),
                     getattr(obj, "type", None), _plain(getattr(obj, "data", None)) or None)


def watch_job(job_id: str, *, settings: ApiSettings = ApiSettings(), client: Any = None,
              poll_interval: float = 10.0, timeout: float | None = None,
              on_update: Callable[[JobInfo, list[EventInfo]], None] | None = None,
              sleep: Callable[[float], None] = time.sleep) -> JobInfo:
    """Poll until the job ends (or `timeout` seconds pass); `on_update` gets each state and new events."""
    client = client or make_client(settings)
    seen: set[str] = set()
    start = time.monotonic()
    failures = 0
    while True:
        try:
            with api_errors(f"watching job {job_id}"):
                job = job_info(client.fine_tuning.jobs.retrieve(job_id))
                events = _new_events(client, job_id, seen)
        except ApiError as exc:
            # Jobs run for hours; a passing outage (after the client's own retries) must not end
            # the watch. Client errors (bad id, bad key) still end it at once.
            transient = exc.status is None or exc.status == 429 or exc.status >= 500
            failures += 1
            if not transient or failures > WATCH_TRANSIENT_FAILURES:
                raise
            sleep(poll_interval * failures)
            continue
        failures = 0
        if on_update:
            on_update(job, events)
        if job.done:
            return job
        if timeout is not None and time.monotonic() - start > timeout:
            raise DistilgenError(f"job {job_id} is still {job.status} after {timeout:g}s; "
                                 f"keep watching with: distilgen jobs watch {job_id}")
        sleep(poll_interval)


def create_from_file(path: str | Path, *, validation_path: str | Path | None = None, model: str,
                     suffix: str | None = None, seed: int | None = None,
                     hyperparameters: Hyperparameters = Hyperparameters(),
                     settings: ApiSettings = ApiSettings(), client: Any = None,
                     validate: Callable[[str | Path, int], list[str]] | None = None) -> CreateResult:
    """Validate, upload, create. `validate(path, min_examples)` returns error lines (empty: fine)."""
    paths = [(path, 10)] + ([(validation_path, 1)] if validation_path else [])
    if validate is not None:
        errors = [line for p, minimum in paths for line in validate(p, minimum)]
        if errors:
            shown = "\n".join(errors[:30]) + (f"\n... and {len(errors) - 30} more" if len(errors) > 30 else "")
            raise DistilgenError(f"refusing to upload: the dataset has {len(errors)} error(s) "
                                 f"(distilgen dataset validate shows them all):\n{shown}")
    client = client or make_client(settings)
    train = upload_file(path, client=client)
    val = upload_file(validation_path, client=client) if validation_path else None
    result = create_job(client, training_file=train.id, model=model, validation_file=val.id if val else None,
                        suffix=suffix, seed=seed, hyperparameters=hyperparameters)
    return CreateResult(result.job, result.request_id, result.attempts, result.reconciled, train, val)


def create_from_id(file_id: str, *, validation_file: str | None = None, model: str, suffix: str | None = None,
                   seed: int | None = None, hyperparameters: Hyperparameters = Hyperparameters(),
                   settings: ApiSettings = ApiSettings(), client: Any = None) -> CreateResult:
    client = client or make_client(settings)
    return create_job(client, training_file=file_id, model=model, validation_file=validation_file,
                      suffix=suffix, seed=seed, hyperparameters=hyperparameters)


def list_jobs(*, limit: int = 20, settings: ApiSettings = ApiSettings(), client: Any = None) -> list[JobInfo]:
    client = client or make_client(settings)
    out: list[JobInfo] = []
    with api_errors("listing fine-tuning jobs"):
        for obj in client.fine_tuning.jobs.list(limit=min(limit, 100)):
            out.append(job_info(obj))
            if len(out) >= limit:
                break
    return out


def latest_job(*, settings: ApiSettings = ApiSettings(), client: Any = None) -> JobInfo:
    """The most recent job still running, else the most recent job (for `jobs watch` with no id)."""
    jobs = list_jobs(limit=50, settings=settings, client=client)
    if not jobs:
        raise UsageError("there are no fine-tuning jobs to watch; give a job id")
    running = [j for j in jobs if not j.done]
    return (running or jobs)[0]


def list_events(job_id: str, *, limit: int = 100, settings: ApiSettings = ApiSettings(),
                client: Any = None) -> list[EventInfo]:
    client = client or make_client(settings)
    out: list[EventInfo] = []
    with api_errors(f"listing events of job {job_id}"):
        for obj in client.fine_tuning.jobs.list_events(job_id, limit=min(limit, 100)):
            out.append(event_info(obj))
            if len(out) >= limit:
                break
    return sorted(reversed(out), key=lambda e: e.created_at)  # oldest first; same-second order kept


def list_checkpoints(job_id: str, *, limit: int = 100, settings: ApiSettings = ApiSettings(),
                     client: Any = None) -> list[CheckpointInfo]:
    client = client or make_client(settings)
    out: list[CheckpointInfo] = []
    with api_errors(f"listing checkpoints of job {job_id}"):
        for obj in client.fine_tuning.jobs.checkpoints.list(job_id, limit=min(limit, 100)):
            out.append(CheckpointInfo(obj.id, int(obj.step_number), str(obj.fine_tuned_model_checkpoint),
                                      int(obj.created_at), _plain(obj.metrics) or {}))
            if len(out) >= limit:
                break
    return sorted(out, key=lambda c: c.step)


def cancel_job(job_id: str, *, settings: ApiSettings = ApiSettings(), client: Any = None) -> JobInfo:
    client = client or make_client(settings)
    with api_errors(f"cancelling job {job_id}"):
        return job_info(client.fine_tuning.jobs.cancel(job_id))
