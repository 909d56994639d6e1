"""In-memory `/v1/files` and `/v1/fine_tuning/jobs` state for the fake server."""

from __future__ import annotations

import collections
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .chat import RequestError

__all__ = ["Files", "Jobs", "JobPlan", "STATUSES"]

STATUSES = ("validating_files", "queued", "running", "succeeded")
TERMINAL = ("succeeded", "failed", "cancelled")


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def page(items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    """A cursor page over `items` (already in list order): the ones after id `after`."""
    start = 0
    if after:
        ids = [it["id"] for it in items]
        if after not in ids:
            raise RequestError(400, f"Invalid 'after': no object with id {after!r}", param="after")
        start = ids.index(after) + 1
    chunk = items[start:start + limit]
    return {
        "object": "list",
        "data": chunk,
        "has_more": start + limit < len(items),
        "first_id": chunk[0]["id"] if chunk else None,
        "last_id": chunk[-1]["id"] if chunk else None,
    }


class Files:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.objects: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}

    def create(self, filename: str, content: bytes, purpose: str) -> dict[str, Any]:
        if not purpose:
            raise RequestError(400, "Missing required parameter: 'purpose'.", param="purpose")
        file_id = _new_id("file")
        obj: dict[str, Any] = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }
        with self._lock:
            self.objects[file_id] = obj
            self.contents[file_id] = content
        return obj

    def get(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            if file_id not in self.objects:
                raise RequestError(404, f"No such File object: {file_id}", param="id")
            return self.objects[file_id]

    def content(self, file_id: str) -> bytes:
        self.get(file_id)
        with self._lock:
            return self.contents[file_id]

    def delete(self, file_id: str) -> dict[str, Any]:
        self.get(file_id)
        with self._lock:
            del self.objects[file_id]
            del self.contents[file_id]
        return {"id": file_id, "object": "file", "deleted": True}

    def list(self, purpose: str | None, after: str | None, limit: int, order: str) -> dict[str, Any]:
        with self._lock:
            items = [o for o in self.objects.values() if purpose is None or o["purpose"] == purpose]
        if order != "asc":  # newest first, as OpenAI's default
            items.reverse()
        return page(items, after, limit)


@dataclass
class JobPlan:
    """How the next created job ends: `fail` at status `at` with an error object, else succeed."""

    fail: bool = False
    at: str = "running"
    code: str = "invalid_training_file"
    message: str = "The job failed due to an invalid training file."
    param: str | None = "training_file"


class Jobs:
    """Fine-tuning jobs. A job moves one status per retrieve: validating_files -> queued -> running
    -> succeeded (or the planned failure); `cancel` stops it."""

    def __init__(self, files: Files, organization: str = "org-distilgen-fake") -> None:
        self._lock = threading.Lock()
        self.files = files
        self.organization = organization
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.checkpoints: dict[str, list[dict[str, Any]]] = {}
        self.plans: dict[str, JobPlan] = {}
        self._next: collections.deque[JobPlan] = collections.deque()
        self.fine_tuned_models: list[str] = []
        self.list_lag = 0.0
        """Seconds before a new job shows in `jobs list` (a service whose listing lags its writes)."""
        self._made_at: dict[str, float] = {}

    def fail_next(self, *, at: str = "running", code: str = "invalid_training_file",
                  message: str = "The job failed due to an invalid training file.",
                  param: str | None = "training_file") -> None:
        """The next created job fails when it reaches status `at` with this error object."""
        if at not in ("validating_files", "queued", "running"):
            raise ValueError(f"fail_next(at=...) must be validating_files, queued or running, not {at!r}")
        with self._lock:
            self._next.append(JobPlan(True, at, code, message, param))

    def create(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RequestError(400, "We could not parse the JSON body of your request.")
        for key in ("model", "training_file"):
            if not body.get(key):
                raise RequestError(400, f"Missing required parameter: '{key}'.", param=key)
        for key in ("training_file", "validation_file"):
            if body.get(key):
                try:
                    f = self.files.get(body[key])
                except RequestError:
                    raise RequestError(400, f"invalid {key}: {body[key]}", param=key, code="invalid_file") from None
                if f["purpose"] != "fine-tune":
                    raise RequestError(400, f"{key} {body[key]} has purpose {f['purpose']!r}, not 'fine-tune'", param=key)
        metadata = body.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16):
            raise RequestError(400, "'metadata' must be an object of at most 16 string pairs", param="metadata")
        method = body.get("method") or {"type": "supervised", "supervised": {"hyperparameters": body.get("hyperparameters") or {}}}
        mtype = method.get("type")
        if mtype not in ("supervised", "dpo", "reinforcement"):
            raise RequestError(400, f"Invalid value for 'method.type': {mtype!r}", param="method.type")
        hyper = dict(((method.get(mtype) or {}).get("hyperparameters")) or body.get("hyperparameters") or {})
        hyper = {
            "n_epochs": hyper.get("n_epochs", "auto") if hyper.get("n_epochs", "auto") != "auto" else 3,
            "batch_size": hyper.get("batch_size", "auto") if hyper.get("batch_size", "auto") != "auto" else 1,
            "learning_rate_multiplier": hyper.get("learning_rate_multiplier", "auto")
            if hyper.get("learning_rate_multiplier", "auto") != "auto" else 1.8,
        }
        now = int(time.time())
        job = {
            "id": _new_id("ftjob"),
            "object": "fine_tuning.job",
            "created_at": now,
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": hyper,
            "model": body["model"],
            "organization_id": self.organization,
            "result_files": [],
            "seed": body.get("seed") if body.get("seed") is not None else 42,
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"),
            "estimated_finish": None,
            "integrations": body.get("integrations") or [],
            "metadata": metadata,
            "method": {"type": mtype, mtype: {"hyperparameters": hyper}},
            "user_provided_suffix": body.get("suffix"),
        }
        with self._lock:
            self.jobs[job["id"]] = job
            self._made_at[job["id"]] = time.monotonic()
            self.events[job["id"]] = []
            self.checkpoints[job["id"]] = []
            self.plans[job["id"]] = self._next.popleft() if self._next else JobPlan()
        self._event(job["id"], f"Created fine-tuning job: {job['id']}")
        self._event(job["id"], f"Validating training file: {job['training_file']}")
        return job

    def _event(self, job_id: str, message: str, level: str = "info", data: Any = None, type: str = "message") -> None:
        ev = {
            "id": _new_id("ftevent"),
            "object": "fine_tuning.job.event",
            "created_at": int(time.time()),
            "level": level,
            "message": message,
            "data": data or {},
            "type": type,
        }
        with self._lock:
            self.events[job_id].append(ev)

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            if job_id not in self.jobs:
                raise RequestError(404, f"Could not find fine-tuning job: {job_id}", param="fine_tuning_job_id", code="fine_tuning_job_not_found")
            return self.jobs[job_id]

    def retrieve(self, job_id: str) -> dict[str, Any]:
        """The job, advanced by one status (a poll)."""
        job = self.get(job_id)
        if job["status"] not in TERMINAL:
            self._advance(job)
        return job

    def _advance(self, job: dict[str, Any]) -> None:
        plan = self.plans[job["id"]]
        if plan.fail and job["status"] == plan.at:
            job.update(status="failed", finished_at=int(time.time()),
                       error={"code": plan.code, "message": plan.message, "param": plan.param})
            self._event(job["id"], plan.message, level="error")
            return
        nxt = STATUSES[STATUSES.index(job["status"]) + 1]
        job["status"] = nxt
        if nxt == "queued":
            self._event(job["id"], "Files validated, moving job to queued state")
        elif nxt == "running":
            self._event(job["id"], "Fine-tuning job started")
            job["estimated_finish"] = int(time.time()) + 60
        elif nxt == "succeeded":
            self._succeed(job)

    def _succeed(self, job: dict[str, Any]) -> None:
        jid = job["id"]
        suffix = job.get("user_provided_suffix") or ""
        base = job["model"].split(":")[1] if job["model"].startswith("ft:") else job["model"]
        model = f"ft:{base}:distilgen-fake:{suffix}:{jid[-8:]}"
        steps = 3 * int(job["hyperparameters"]["n_epochs"])
        for step in range(1, steps + 1):
            loss = round(2.0 / step, 4)
            self._event(jid, f"Step {step}/{steps}: training loss={loss}", data={"step": step, "total_steps": steps, "train_loss": loss}, type="metrics")
        with self._lock:
            for epoch in range(1, int(job["hyperparameters"]["n_epochs"]) + 1):
                step = 3 * epoch
                self.checkpoints[jid].append({
                    "id": _new_id("ftckpt"),
                    "object": "fine_tuning.job.checkpoint",
                    "created_at": int(time.time()),
                    "fine_tuned_model_checkpoint": model if epoch == int(job["hyperparameters"]["n_epochs"]) else f"{model}:ckpt-step-{step}",
                    "fine_tuning_job_id": jid,
                    "metrics": {"step": float(step), "train_loss": round(2.0 / step, 4), "train_mean_token_accuracy": 0.9},
                    "step_number": step,
                })
            self.fine_tuned_models.append(model)
        job.update(status="succeeded", fine_tuned_model=model, finished_at=int(time.time()),
                   trained_tokens=1000 * int(job["hyperparameters"]["n_epochs"]), estimated_finish=None,
                   result_files=[self.files.create("step_metrics.csv", b"step,train_loss\n", "fine-tune-results")["id"]])
        self._event(jid, f"New fine-tuned model created: {model}")
        self._event(jid, "The job has successfully completed")

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job["status"] in TERMINAL:
            raise RequestError(400, f"Job {job_id} has already {job['status']}; it cannot be cancelled.", param="fine_tuning_job_id")
        job.update(status="cancelled", finished_at=int(time.time()))
        self._event(job_id, "Job cancelled by user")
        return job

    def list(self, after: str | None, limit: int, metadata: dict[str, str] | None) -> dict[str, Any]:
        with self._lock:
            shown_before = time.monotonic() - self.list_lag
            items = [j for j in reversed(list(self.jobs.values())) if self._made_at.get(j["id"], 0.0) <= shown_before]
        if metadata:
            items = [j for j in items if all((j.get("metadata") or {}).get(k) == v for k, v in metadata.items())]
        return page(items, after, limit)

    def list_events(self, job_id: str, after: str | None, limit: int) -> dict[str, Any]:
        self.get(job_id)
        with self._lock:
            items = list(reversed(self.events[job_id]))
        return page(items, after, limit)

    def list_checkpoints(self, job_id: str, after: str | None, limit: int) -> dict[str, Any]:
        self.get(job_id)
        with self._lock:
            items = list(reversed(self.checkpoints[job_id]))
        return page(items, after, limit)
