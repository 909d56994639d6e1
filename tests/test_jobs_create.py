"""Exactly-once job creation, in process: the real openai client over HTTP to FakeOpenAI."""

from __future__ import annotations

from pathlib import Path

import pytest

from distilgen.ops.client import ApiError
from distilgen.ops.jobs import REQUEST_ID_KEY, Hyperparameters, _refused, create_job
from distilgen.testing import FakeOpenAI

GOOD = Path(__file__).parent / "data" / "dataset_corpus" / "good_tools.jsonl"
JOBS = "/v1/fine_tuning/jobs"


@pytest.fixture
def setup():  # type: ignore[no-untyped-def]
    with FakeOpenAI() as srv:
        client = srv.client(max_retries=2)
        f = client.files.create(file=("d.jsonl", GOOD.read_bytes()), purpose="fine-tune")
        yield srv, client, f.id


def no_sleep(seconds: float) -> None:
    pass


def test_created_once_with_method_and_request_id(setup) -> None:  # type: ignore[no-untyped-def]
    srv, client, file_id = setup
    res = create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18",
                     hyperparameters=Hyperparameters(epochs=3), sleep=no_sleep)
    assert (res.attempts, res.reconciled) == (1, False)
    assert res.job.metadata == {REQUEST_ID_KEY: res.request_id}
    assert res.job.hyperparameters["n_epochs"] == 3


def test_every_attempt_fails_then_one_clear_error_and_no_job(setup) -> None:  # type: ignore[no-untyped-def]
    srv, client, file_id = setup
    srv.faults.add(path=JOBS, method="POST", status=502, times=None, message="upstream down")
    with pytest.raises(ApiError, match=r"failed 4 times, and `jobs list` shows no job tagged "
                                       r"distilgen_request_id=dg-[0-9a-f]+: upstream down \(HTTP 502\)"):
        create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", sleep=no_sleep)
    assert len(srv.requests_to(JOBS, "POST")) == 4  # our attempts only: the client's retries are off
    assert srv.jobs.jobs == {}


def test_last_attempt_lands_behind_a_502_and_is_found(setup) -> None:  # type: ignore[no-untyped-def]
    srv, client, file_id = setup
    srv.faults.add(path=JOBS, method="POST", status=502, times=3)
    srv.faults.add(path=JOBS, method="POST", status=502, after_effect=True, times=1, skip=3)
    res = create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", sleep=no_sleep)
    assert res.reconciled and len(srv.jobs.jobs) == 1


def test_429_on_create_waits_and_retries_without_listing(setup) -> None:  # type: ignore[no-untyped-def]
    srv, client, file_id = setup
    waits: list[float] = []
    srv.faults.add(path=JOBS, method="POST", status=429, retry_after_ms=250, times=1)
    res = create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", sleep=waits.append)
    assert res.attempts == 2 and not res.reconciled and waits == [0.25]
    assert srv.requests_to(JOBS, "GET") == []
    assert len(srv.jobs.jobs) == 1


def test_a_bad_request_is_not_retried(setup) -> None:  # type: ignore[no-untyped-def]
    srv, client, _ = setup
    with pytest.raises(ApiError, match=r"creating the fine-tuning job: invalid training_file: file-nope \(HTTP 400"):
        create_job(client, training_file="file-nope", model="gpt-4o-mini-2024-07-18", sleep=no_sleep)
    assert len(srv.requests_to(JOBS, "POST")) == 1


@pytest.mark.parametrize("status, message, refused", [
    (403, "Fine-tuning is not available to your organization.", True),
    (400, "Fine-tuning is no longer available for new jobs.", True),
    (410, "Gone.", True),
    (404, "The model `gpt-9` does not exist or you do not have access to it.", False),
    (400, "Model gpt-4o is not available for fine-tuning.", False),
    (400, "invalid training_file: file-x", False),
])
def test_refusal_wording(status: int, message: str, refused: bool) -> None:
    assert _refused(message, status) is refused
