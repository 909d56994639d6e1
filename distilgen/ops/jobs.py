"""`distilgen jobs`: create, watch, list, inspect and cancel fine-tuning jobs.

Creating a job is not idempotent: the client's automatic retry after a 5xx that arrived *after*
the service made the job creates a second, paid job. So creation runs with the client's retries
off, tags the job with a unique `metadata` request id, and after an ambiguous failure (5xx, 429,
timeout, dropped connection) looks the id up through `jobs list` until the job appears or a window
passes (a request the client gave up on may still be running) before it tries again.

Every answer is read raw and checked against the fields used here (JOB_SHAPE, ...): an HTML page or
another API's JSON behind the base URL is one UnexpectedResponseError line, not an AttributeError.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import DistilgenError, UsageError
from .client import LOCAL_TRAIN_HINT, ApiError, ApiSettings, Shape, UnexpectedResponseError, error_message, fetch, fetch_list, make_client, read_json
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
    "find_command",
    "settle_window",
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
LATENCY_ALLOWANCE = 5.0
"""Seconds a service may take, beyond the client's timeout, before a job it made shows in `jobs list`."""
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


JOB_SHAPE: Shape = {
    "id": str, "status": str, "model": str, "fine_tuned_model?": str, "created_at?": (int, float),
    "finished_at?": (int, float), "training_file?": str, "validation_file?": str, "trained_tokens?": int,
    "error?": dict, "hyperparameters?": dict, "metadata?": dict, "method?": dict, "user_provided_suffix?": str,
}
EVENT_SHAPE: Shape = {"id": str, "created_at": (int, float), "message": str, "level?": str, "type?": str,
                      "data?": dict}
CHECKPOINT_SHAPE: Shape = {"id": str, "step_number": int, "fine_tuned_model_checkpoint": str,
                           "created_at": (int, float), "metrics?": dict}
JOB = "a fine-tuning job"


def job_info(obj: dict[str, Any]) -> JobInfo:
    """A fine-tuning job object of the API (checked against JOB_SHAPE)."""
    hyper = obj.get("hyperparameters") or {}
    method = obj.get("method") or {}
    mtype = method.get("type")
    inner = method.get(mtype) if isinstance(mtype, str) else None
    if isinstance(inner, dict) and isinstance(inner.get("hyperparameters"), dict):
        hyper = inner["hyperparameters"]
    error = obj.get("error") or None
    if error is not None and not any(error.get(k) for k in ("code", "message")):
        error = None  # some services send an empty error object while the job is fine
    return JobInfo(
        id=obj["id"],
        status=obj["status"],
        model=obj["model"],
        fine_tuned_model=obj.get("fine_tuned_model"),
        created_at=int(obj.get("created_at") or 0),
        finished_at=int(obj["finished_at"]) if obj.get("finished_at") is not None else None,
        training_file=obj.get("training_file"),
        validation_file=obj.get("validation_file"),
        trained_tokens=obj.get("trained_tokens"),
        error=error,
        hyperparameters=dict(hyper),
        metadata={str(k): str(v) for k, v in (obj.get("metadata") or {}).items()},
        suffix=obj.get("user_provided_suffix"),
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
    def page(after: str | None) -> Any:
        return client.fine_tuning.jobs.with_raw_response.list(
            limit=50, metadata={REQUEST_ID_KEY: request_id}, **({"after": after} if after else {}))

    for obj in fetch_list("looking for the job just created (jobs list)", page, "fine-tuning jobs", JOB_SHAPE, scan):
        if (obj.get("metadata") or {}).get(REQUEST_ID_KEY) == request_id:
            return job_info(obj)
    return None


def find_command(request_id: str) -> str:
    """The command that shows the job a create with this request id made, if it made one."""
    return f"distilgen jobs list --request-id {request_id}"


def _client_timeout(client: Any) -> float:
    """The client's read timeout in seconds (how long a create may run before we stop waiting for it)."""
    timeout = getattr(client, "timeout", None)
    if isinstance(timeout, (int, float)):
        return float(timeout)
    values = [v for v in (getattr(timeout, k, None) for k in ("read", "write", "connect")) if isinstance(v, (int, float))]
    return float(max(values)) if values else 600.0


def settle_window(client: Any, slowest: float) -> float:
    """How long to look for a job after a create whose outcome is unknown: the client's timeout (a
    request it gave up on may still be running on the service) plus the service's usual latency
    (at least LATENCY_ALLOWANCE, or twice the slowest answer seen), so the job has had every
    chance to show up in `jobs list` before anything is sent again."""
    return _client_timeout(client) + max(LATENCY_ALLOWANCE, 2 * slowest)


def _await_job(client: Any, request_id: str, window: float, sleep: Callable[[float], None]) -> tuple[JobInfo | None, str | None]:
    """Look for the job until it appears or `window` seconds pass: (job, None), (None, None) when the
    last look saw no job, or (None, why) when the last look failed (nothing is known then)."""
    deadline = time.monotonic() + window
    interval = 0.25
    while True:
        try:
            found, failure = find_job_by_request_id(client, request_id), None
        except ApiError as exc:
            found, failure = None, str(exc)
        if found is not None:
            return found, None
        left = deadline - time.monotonic()
        if left <= 0:
            return None, failure
        sleep(min(interval, left))
        interval = min(interval * 2, 5.0)


def _ambiguous(exc: Exception) -> bool:
    """Could the service have made the job although this error came back?"""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # timeouts and dropped connections included
        return True
    status = getattr(exc, "status_code", None)
    # 429 too: a rate limiter in front of the service may answer after the job was made
    return status in (408, 409, 429) or (status is not None and status >= 500)


def create_job(client: Any, *, training_file: str, model: str, validation_file: str | None = None,
               suffix: str | None = None, seed: int | None = None,
               hyperparameters: Hyperparameters = Hyperparameters(),
               sleep: Callable[[float], None] = time.sleep, window: float | None = None) -> CreateResult:
    """Create a supervised fine-tuning job exactly once, even when the answer to the create is lost.

    After an answer that leaves the outcome open (timeout, dropped connection, 408/409/429/5xx) the
    job is looked for by its request id for `window` seconds (default `settle_window`) before the
    create is sent again; when the outcome stays unknown the error names the request id and the
    command that finds the job, rather than risk a second paid job."""
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
    action = "creating the fine-tuning job"
    last: Exception | None = None
    slowest = 0.0
    waited = 0.0
    lookup_failure: str | None = None
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        started = time.monotonic()
        try:
            raw = once.fine_tuning.jobs.with_raw_response.create(**params)
            raw.http_response.read()
        except openai.APIError as exc:
            slowest = max(slowest, time.monotonic() - started)
            message, status, code = error_message(exc)
            if not _ambiguous(exc):
                if _refused(message, status):
                    raise ApiError(f"the service refused to create a fine-tuning job: {message} (HTTP {status}). "
                                   f"{_local_hint()}", status=status, code=code) from None
                raise ApiError(f"{action}: {message} (HTTP {status}" + (f" {code}" if code else "") + ")",
                               status=status, code=code) from None
            last = exc
            wait = window if window is not None else settle_window(client, slowest)
            t0 = time.monotonic()
            found, lookup_failure = _await_job(client, request_id, wait, sleep)
            waited = time.monotonic() - t0 if window is None else wait
            if found is not None:
                return CreateResult(found, request_id, attempt, True)
            if lookup_failure is not None:
                break  # `jobs list` cannot tell whether the job exists: sending it again could make two
            if attempt < CREATE_ATTEMPTS:
                sleep(max(0.0, _retry_delay(exc, attempt) - waited))
            continue
        try:
            job = read_json(action, raw.http_response, JOB, JOB_SHAPE)
        except UnexpectedResponseError as exc:
            # a 200 we cannot read (a proxy's page?): the service may have made the job
            raise UnexpectedResponseError(f"{exc}; if a job was made anyway: {find_command(request_id)}",
                                          status=exc.status) from None
        return CreateResult(job_info(job), request_id, attempt, False)
    message, status, _ = error_message(last) if last else ("unknown error", None, None)
    seen = (f"`jobs list` could not be read ({lookup_failure})" if lookup_failure is not None
            else f"`jobs list` shows no job tagged {REQUEST_ID_KEY}={request_id} after waiting {waited:.0f}s")
    tries = "once" if attempt == 1 else f"{attempt} times"
    raise ApiError(f"{action} failed {tries}, and {seen}: {message}" + (f" (HTTP {status})" if status else "")
                   + f"; the outcome is unknown, so nothing more is sent. Find the job, if one was made: "
                   f"{find_command(request_id)}", status=status)


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
    return min(0.5 * 2.0 ** (attempt - 1), 8.0)


def get_job(job_id: str, *, settings: ApiSettings = ApiSettings(), client: Any = None) -> JobInfo:
    client = client or make_client(settings)
    return job_info(fetch(f"reading job {job_id}", lambda: client.fine_tuning.jobs.with_raw_response.retrieve(job_id),
                          JOB, JOB_SHAPE))


def _events(client: Any, job_id: str, action: str, limit: int) -> list[EventInfo]:
    def page(after: str | None) -> Any:
        return client.fine_tuning.jobs.with_raw_response.list_events(
            job_id, limit=min(limit, 100), **({"after": after} if after else {}))

    return [event_info(e) for e in fetch_list(action, page, "job events", EVENT_SHAPE, limit)]


def _new_events(client: Any, job_id: str, seen: set[str]) -> list[EventInfo]:
    page = _events(client, job_id, f"watching job {job_id}", 100)
    fresh = [e for e in reversed(page) if e.id not in seen]  # the API lists newest first
    seen.update(e.id for e in fresh)
    return sorted(fresh, key=lambda e: e.created_at)


def event_info(obj: dict[str, Any]) -> EventInfo:
    """A job event object of the API (checked against EVENT_SHAPE)."""
    return EventInfo(obj["id"], int(obj["created_at"]), str(obj.get("level") or "info"), obj["message"],
                     obj.get("type"), obj.get("data") or None)


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
            job = job_info(fetch(f"watching job {job_id}",
                                 lambda: client.fine_tuning.jobs.with_raw_response.retrieve(job_id), JOB, JOB_SHAPE))
            events = _new_events(client, job_id, seen)
        except ApiError as exc:
            # Jobs run for hours; a passing outage (after the client's own retries) must not end
            # the watch. Client errors (bad id, bad key) and answers that are not the API's still end it at once.
            transient = not isinstance(exc, UnexpectedResponseError) and (
                exc.status is None or exc.status == 429 or exc.status >= 500)
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


def list_jobs(*, limit: int = 20, request_id: str | None = None, settings: ApiSettings = ApiSettings(),
              client: Any = None) -> list[JobInfo]:
    """Recent jobs, newest first; with `request_id`, only the job a distilgen create tagged with it."""
    client = client or make_client(settings)
    if request_id is not None:
        found = find_job_by_request_id(client, request_id)
        return [found] if found is not None else []

    def page(after: str | None) -> Any:
        return client.fine_tuning.jobs.with_raw_response.list(limit=min(limit, 100), **({"after": after} if after else {}))

    return [job_info(obj) for obj in fetch_list("listing fine-tuning jobs", page, "fine-tuning jobs", JOB_SHAPE, limit)]


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
    out = _events(client, job_id, f"listing events of job {job_id}", limit)
    return sorted(reversed(out), key=lambda e: e.created_at)  # oldest first; same-second order kept


def list_checkpoints(job_id: str, *, limit: int = 100, settings: ApiSettings = ApiSettings(),
                     client: Any = None) -> list[CheckpointInfo]:
    client = client or make_client(settings)

    def page(after: str | None) -> Any:
        return client.fine_tuning.jobs.checkpoints.with_raw_response.list(
            job_id, limit=min(limit, 100), **({"after": after} if after else {}))

    out = [CheckpointInfo(c["id"], c["step_number"], c["fine_tuned_model_checkpoint"], int(c["created_at"]),
                          c.get("metrics") or {})
           for c in fetch_list(f"listing checkpoints of job {job_id}", page, "checkpoints", CHECKPOINT_SHAPE, limit)]
    return sorted(out, key=lambda c: c.step)


def cancel_job(job_id: str, *, settings: ApiSettings = ApiSettings(), client: Any = None) -> JobInfo:
    client = client or make_client(settings)
    return job_info(fetch(f"cancelling job {job_id}", lambda: client.fine_tuning.jobs.with_raw_response.cancel(job_id),
                          JOB, JOB_SHAPE))
