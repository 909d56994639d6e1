"""`distilgen jobs` / `files` end to end: the console script as a subprocess, the real openai client,
and the loopback OpenAI-compatible server (`distilgen.testing.FakeOpenAI`) with scripted faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distilgen.testing import FakeOpenAI

CORPUS = Path(__file__).parent / "data" / "dataset_corpus"
GOOD = CORPUS / "good_tools.jsonl"
JOBS = "/v1/fine_tuning/jobs"


@pytest.fixture
def srv():
    with FakeOpenAI() as server:
        yield server


def run(srv: FakeOpenAI | None, *args: str, key: str | None = "sk-test", cwd: Path | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    if key is not None:
        env["OPENAI_API_KEY"] = key
    if srv is not None:
        env["OPENAI_BASE_URL"] = srv.base_url
    return subprocess.run([sys.executable, "-m", "distilgen", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def _project_with_lock(root: Path) -> None:
    """A project whose distilgen.lock records the corpus's Multiply prompt for `math_demo:fn`."""
    from distilgen.prompts.lock import PromptRecord, record_prompts

    first = json.loads(GOOD.read_text(encoding="utf-8").splitlines()[0])
    prompt, schema = first["messages"][0]["content"], first["tools"][0]["function"]["parameters"]
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.distilgen]\n', encoding="utf-8")
    record_prompts(root / "distilgen.lock", [PromptRecord("math_demo:fn", "math_demo.py", "fn", 1, 3, "Multiply",
                                                          False, prompt, schema)])


def test_job_that_succeeds_prints_model_and_dispatch_command(srv: FakeOpenAI, tmp_path: Path) -> None:
    _project_with_lock(tmp_path)
    proc = run(srv, "jobs", "create-from-file", str(GOOD), "--suffix", "mul", "--epochs", "2",
               "--batch-size", "4", "--learning-rate-multiplier", "0.5", "--seed", "7", "--poll-interval", "0.01",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (job,) = srv.jobs.jobs.values()
    model = job["fine_tuned_model"]
    assert model.startswith("ft:gpt-4o-mini-2024-07-18:") and ":mul:" in model
    assert f"fine-tuned model: {model}" in proc.stdout
    # the lock tells which function the dataset trains: the command binds only that one
    assert f"use it: distilgen apply --dispatch --model {model} --select math_demo:fn\n" in proc.stdout
    # the live status walked through every state, with the service's events
    for status in ("validating_files", "queued", "running"):
        assert f"{job['id']}: {status}" in proc.stderr
    assert "Fine-tuning job started" in proc.stderr
    # the current method API, not the deprecated top-level hyperparameters
    (create,) = srv.requests_to(JOBS, "POST")
    body = create.json
    assert "hyperparameters" not in body
    assert body["method"] == {"type": "supervised", "supervised": {"hyperparameters": {
        "n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5}}}
    assert body["seed"] == 7 and body["suffix"] == "mul" and body["model"] == "gpt-4o-mini-2024-07-18"
    assert body["metadata"]["distilgen_request_id"].startswith("dg-")
    (upload,) = srv.requests_to("/v1/files", "POST")
    assert b'name="purpose"' in upload.body and b"fine-tune" in upload.body
    assert srv.files.content(body["training_file"]) == GOOD.read_bytes()


def test_job_that_fails_reports_the_error_object(srv: FakeOpenAI) -> None:
    srv.jobs.fail_next(at="running", code="invalid_training_file", message="Line 3: tool call has no arguments.",
                       param="training_file")
    proc = run(srv, "jobs", "create-from-file", str(GOOD), "--poll-interval", "0.01")
    assert proc.returncode == 2
    (job,) = srv.jobs.jobs.values()
    assert job["status"] == "failed"
    assert (f"distilgen: error: job {job['id']} failed: invalid_training_file: Line 3: tool call has no arguments. "
            "(param training_file)") in proc.stderr
    assert "fine-tuned model" not in proc.stdout


def test_cancelled_job(srv: FakeOpenAI) -> None:
    created = run(srv, "jobs", "create-from-file", str(GOOD), "--no-wait")
    assert created.returncode == 0, created.stderr
    job_id = created.stdout.strip()
    assert job_id in srv.jobs.jobs and srv.jobs.jobs[job_id]["status"] == "validating_files"
    cancel = run(srv, "jobs", "cancel", job_id, "--json")
    assert cancel.returncode == 0, cancel.stderr
    assert json.loads(cancel.stdout)["status"] == "cancelled"
    watch = run(srv, "jobs", "watch", job_id, "--poll-interval", "0.01")
    assert watch.returncode == 2
    assert f"job {job_id} was cancelled" in watch.stderr
    again = run(srv, "jobs", "cancel", job_id)
    assert again.returncode == 2
    assert "cannot be cancelled" in one_line_error(again) and "HTTP 400" in again.stderr


def test_429_during_upload_is_retried_and_uploads_once(srv: FakeOpenAI) -> None:
    srv.faults.add(path="/v1/files", method="POST", status=429, retry_after_ms=20, times=1)
    proc = run(srv, "jobs", "create-from-file", str(GOOD), "--no-wait", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    uploads = srv.requests_to("/v1/files", "POST")
    assert [r.status for r in uploads] == [429, 200]
    assert len(srv.files.list(purpose="fine-tune", after=None, limit=100, order="desc")["data"]) == 1
    assert result["job"]["training_file"] == result["training_file"]["id"]
    assert len(srv.jobs.jobs) == 1


def test_502_after_create_does_not_make_a_second_job(srv: FakeOpenAI) -> None:
    # the service creates the job, then the answer is lost behind a 502
    srv.faults.add(path=JOBS, method="POST", status=502, after_effect=True, times=1)
    proc = run(srv, "jobs", "create-from-file", str(GOOD), "--poll-interval", "0.01")
    assert proc.returncode == 0, proc.stderr
    assert len(srv.jobs.jobs) == 1
    assert len(srv.requests_to(JOBS, "POST")) == 1  # reconciled through jobs list, not re-sent
    (job,) = srv.jobs.jobs.values()
    assert f"created job {job['id']}" in proc.stderr and "found through jobs list" in proc.stderr
    assert f"fine-tuned model: {job['fine_tuned_model']}" in proc.stdout
    lists = srv.requests_to(JOBS, "GET")
    assert any(r.query.get("metadata[distilgen_request_id]") for r in lists)


def test_the_hazard_is_real_default_client_retries_make_two_jobs(srv: FakeOpenAI) -> None:
    """What the reconciliation prevents: the plain client's automatic retry after the same fault."""
    srv.faults.add(path=JOBS, method="POST", status=502, after_effect=True, times=1)
    client = srv.client(max_retries=2)
    f = client.files.create(file=("d.jsonl", GOOD.read_bytes()), purpose="fine-tune")
    client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
    assert len(srv.jobs.jobs) == 2


def test_dropped_connection_on_create_is_reconciled(srv: FakeOpenAI) -> None:
    srv.faults.add(path=JOBS, method="POST", drop=True, after_effect=True, times=1)
    proc = run(srv, "jobs", "create-from-file", str(GOOD), "--no-wait")
    assert proc.returncode == 0, proc.stderr
    assert len(srv.jobs.jobs) == 1
    assert len(srv.requests_to(JOBS, "POST")) == 1


def test_service_refusing_fine_tuning_points_at_local_training(srv: FakeOpenAI) -> None:
    srv.faults.add(path=JOBS, method="POST", status=403, times=None,
                   message="Fine-tuning is no longer available for new jobs on this account.")
    proc = run(srv, "jobs", "create-from-file", str(GOOD), "--no-wait")
    assert proc.returncode == 2
    line = one_line_error(proc.__class__(proc.args, proc.returncode, proc.stdout,
                                         "\n".join(x for x in proc.stderr.splitlines() if not x.startswith("uploaded"))))
    assert "refused to create a fine-tuning job" in line
    assert "2027-01-06" in line and "distilgen train" in line
    assert len(srv.requests_to(JOBS, "POST")) == 1  # a refusal is not retried


def test_invalid_dataset_is_refused_before_any_upload(srv: FakeOpenAI) -> None:
    proc = run(srv, "jobs", "create-from-file", str(CORPUS / "bad_tools.jsonl"))
    assert proc.returncode == 2
    assert "refusing to upload" in proc.stderr
    assert f"{CORPUS / 'bad_tools.jsonl'}:1: error: invalid JSON" in proc.stderr
    assert srv.requests_to("/v1/files", "POST") == []
    raw = run(srv, "jobs", "create-from-file", str(CORPUS / "good_raw.jsonl"))
    assert raw.returncode == 2 and "--to openai-tools" in raw.stderr


def test_validation_file_is_uploaded_and_passed(srv: FakeOpenAI, tmp_path: Path) -> None:
    split = run(None, "dataset", "split", str(GOOD), "--val", "0.1", "--seed", "3", "--out", str(tmp_path / "s"))
    assert split.returncode == 0, split.stderr
    proc = run(srv, "jobs", "create-from-file", str(tmp_path / "s" / "train.jsonl"),
               "--validation-file", str(tmp_path / "s" / "val.jsonl"), "--no-wait", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    (job,) = srv.jobs.jobs.values()
    assert job["validation_file"] == out["validation_file"]["id"]
    assert srv.files.content(job["validation_file"]) == (tmp_path / "s" / "val.jsonl").read_bytes()


def test_list_watch_latest_events_checkpoints_json(srv: FakeOpenAI) -> None:
    first = run(srv, "jobs", "create-from-file", str(GOOD), "--poll-interval", "0.01", "--json")
    assert first.returncode == 0, first.stderr
    done = json.loads(first.stdout)
    job_id = done["job"]["id"]
    assert done["job"]["status"] == "succeeded"
    assert done["use"] == f"distilgen apply --dispatch --model {done['job']['fine_tuned_model']}"
    second = run(srv, "jobs", "create-from-file", str(GOOD), "--no-wait")
    second_id = second.stdout.strip()

    listed = run(srv, "jobs", "list")
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [second_id, job_id]
    assert listed.stdout.splitlines()[1].split()[1] == "succeeded"

    watched = run(srv, "jobs", "watch", "--poll-interval", "0.01")  # no id: the latest running job
    assert watched.returncode == 0, watched.stderr
    assert f"{second_id}: succeeded" in watched.stdout

    events = json.loads(run(srv, "jobs", "events", job_id, "--json").stdout)
    messages = [e["message"] for e in events]
    assert messages[0] == f"Created fine-tuning job: {job_id}"
    assert messages[-1] == "The job has successfully completed"

    cps = json.loads(run(srv, "jobs", "checkpoints", job_id, "--json").stdout)
    assert [c["step"] for c in cps] == sorted(c["step"] for c in cps) and cps
    assert cps[-1]["model"] == done["job"]["fine_tuned_model"]
    assert "train_loss" in cps[-1]["metrics"]


def test_files_upload_list_delete(srv: FakeOpenAI) -> None:
    up = run(srv, "files", "upload", str(GOOD), "--json")
    assert up.returncode == 0, up.stderr
    info = json.loads(up.stdout)
    assert info["filename"] == "good_tools.jsonl" and info["bytes"] == GOOD.stat().st_size
    created = run(srv, "jobs", "create-from-id", info["id"], "--model", "gpt-4.1-mini-2025-04-14", "--epochs", "1",
                  "--no-wait", "--json")
    assert created.returncode == 0, created.stderr
    job = json.loads(created.stdout)["job"]
    assert job["training_file"] == info["id"] and job["model"] == "gpt-4.1-mini-2025-04-14"
    assert srv.jobs.jobs[job["id"]]["method"]["supervised"]["hyperparameters"]["n_epochs"] == 1
    listed = json.loads(run(srv, "files", "list", "--json").stdout)
    assert [f["id"] for f in listed] == [info["id"]]
    gone = run(srv, "files", "delete", info["id"])
    assert gone.returncode == 0 and "deleted" in gone.stdout
    assert srv.files.list(purpose=None, after=None, limit=100, order="desc")["data"] == []
    bad = run(srv, "files", "upload", str(CORPUS / "bad_tools.jsonl"))
    assert bad.returncode == 2 and "refusing to upload" in bad.stderr
    missing = run(srv, "files", "delete", "file-nope")
    assert missing.returncode == 2
    assert "deleting file file-nope" in one_line_error(missing) and "404" in missing.stderr


def test_no_api_key(tmp_path: Path) -> None:
    for args in (["jobs", "list"], ["jobs", "create-from-file", str(GOOD)]):
        proc = run(None, *args, key=None, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert one_line_error(proc).startswith("distilgen: error: no API key: set OPENAI_API_KEY")
    for args in (["jobs", "--help"], ["jobs", "create-from-file", "--help"]):
        proc = run(None, *args, key=None, cwd=tmp_path)
        assert proc.returncode == 0 and "Usage:" in proc.stdout
    proc = run(None, "dataset", "validate", str(GOOD), key=None, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("good_tools.jsonl: ok")


def test_rejected_key_and_unreachable_server() -> None:
    with FakeOpenAI(api_key="sk-right") as server:
        proc = run(server, "jobs", "list", key="sk-wrong")
        assert proc.returncode == 2
        assert "the API key was rejected (HTTP 401)" in one_line_error(proc)
    # the server is gone now: nothing listens on that port
    proc = run(None, "jobs", "list", "--base-url", server.base_url)
    assert proc.returncode == 2
    assert "cannot reach the API" in one_line_error(proc)


def test_watch_rides_out_a_passing_outage_but_not_a_bad_id(srv: FakeOpenAI) -> None:
    client = srv.client()
    f = client.files.create(file=("d.jsonl", GOOD.read_bytes()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
    # 3 failing answers: one whole poll fails after the client's own 2 retries
    srv.faults.add(path=f"{JOBS}/{job.id}", method="GET", status=503, times=3)
    proc = run(srv, "jobs", "watch", job.id, "--poll-interval", "0.01")
    assert proc.returncode == 0, proc.stderr
    assert f"{job.id}: succeeded" in proc.stdout
    assert [r.status for r in srv.requests_to(f"{JOBS}/{job.id}", "GET")][:4] == [503, 503, 503, 200]
    missing = run(srv, "jobs", "watch", "ftjob-nope", "--poll-interval", "0.01")
    assert missing.returncode == 2
    assert "watching job ftjob-nope" in one_line_error(missing) and "HTTP 404" in missing.stderr
