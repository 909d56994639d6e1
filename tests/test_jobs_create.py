"""Exactly-once job creation, in process: the real openai client over HTTP to FakeOpenAI."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from distilgen.ops.client import ApiError, UnexpectedResponseError
from distilgen.ops.jobs import REQUEST_ID_KEY, Hyperparameters, _refused, create_job, settle_window
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
                                       r"distilgen_request_id=(dg-[0-9a-f]+) after waiting 0s: upstream down \(HTTP 502\);"
                                       r".* distilgen jobs list --request-id dg-[0-9a-f]+$"):
        create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", sleep=no_sleep, window=0)
    assert len(srv.requests_to(JOBS, "POST")) == 4  # our attempts only: the client's retries are off
    assert len(srv.requests_to(JOBS, "GET")) == 4  # one look for the job after each
    assert srv.jobs.jobs == {}


def test_last_attempt_lands_behind_a_502_and_is_found(setup) -> None:  # type: ignore[no-untyped-def]
    srv, client, file_id = setup
    srv.faults.add(path=JOBS, method="POST", status=502, times=3)
    srv.faults.add(path=JOBS, method="POST", status=502, after_effect=True, times=1, skip=3)
    res = create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", sleep=no_sleep, window=0)
    assert res.reconciled and len(srv.jobs.jobs) == 1


def test_502_before_the_job_was_made_looks_for_the_window_then_retries_once(setup) -> None:  # type: ignore[no-untyped-def]
    srv, client, file_id = setup
    srv.faults.add(path=JOBS, method="POST", status=502, times=1)
    t0 = time.monotonic()
    res = create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", window=0.6)
    assert time.monotonic() - t0 >= 0.6  # the whole window passed before the create was sent again
    assert (res.attempts, res.reconciled) == (2, False)
    assert [r.status for r in srv.requests_to(JOBS, "POST")] == [502, 200]
    assert len(srv.requests_to(JOBS, "GET")) >= 2 and len(srv.jobs.jobs) == 1


def test_429_before_the_job_was_made_looks_then_retries(setup) -> None:  # type: ignore[no-untyped-def]
    srv, client, file_id = setup
    waits: list[float] = []
    srv.faults.add(path=JOBS, method="POST", status=429, retry_after_ms=250, times=1)
    res = create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", sleep=waits.append, window=0)
    assert res.attempts == 2 and not res.reconciled and waits == [0.25]
    assert len(srv.requests_to(JOBS, "GET")) == 1  # the job was looked for before the create was sent again
    assert len(srv.jobs.jobs) == 1


def test_429_after_the_job_was_made_is_found_not_repeated(setup) -> None:  # type: ignore[no-untyped-def]
    srv, client, file_id = setup
    srv.faults.add(path=JOBS, method="POST", status=429, retry_after_ms=10, after_effect=True, times=1)
    res = create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", sleep=no_sleep, window=0)
    assert (res.attempts, res.reconciled) == (1, True)
    assert len(srv.jobs.jobs) == 1 and len(srv.requests_to(JOBS, "POST")) == 1


def _slow_client(srv: FakeOpenAI, timeout: float):  # type: ignore[no-untyped-def]
    client = srv.client(max_retries=2, timeout=timeout)
    f = client.files.create(file=("d.jsonl", GOOD.read_bytes()), purpose="fine-tune")
    return client, f.id


def _settled(srv: FakeOpenAI, seconds: float) -> int:
    """The number of jobs once every create sent has been answered (bounded wait)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(r.status is None for r in srv.requests_to(JOBS, "POST")):
        time.sleep(0.05)
    return len(srv.jobs.jobs)


def test_create_that_outlives_the_client_timeout_is_waited_for_not_repeated() -> None:
    # The service makes the job 1.5 s after the request arrives; the client gives up after 0.5 s.
    with FakeOpenAI() as srv:
        client, file_id = _slow_client(srv, timeout=0.5)
        srv.faults.add(path=JOBS, method="POST", delay=1.5, times=1)
        t0 = time.monotonic()
        res = create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18")
        took = time.monotonic() - t0
        assert (res.attempts, res.reconciled) == (1, True)
        assert len(srv.requests_to(JOBS, "POST")) == 1
        assert _settled(srv, 5) == 1
        assert took < settle_window(client, 0.5)  # it returned when the job appeared, not at the window's end


def test_without_the_window_the_same_slow_create_makes_two_jobs() -> None:
    """What the window prevents: looking once, at once, finds nothing while the first create still runs."""
    with FakeOpenAI() as srv:
        client, file_id = _slow_client(srv, timeout=0.5)
        srv.faults.add(path=JOBS, method="POST", delay=1.5, times=1)
        create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", sleep=no_sleep, window=0)
        assert _settled(srv, 5) == 2


def test_answer_delayed_past_the_timeout_after_the_job_was_made_is_found() -> None:
    with FakeOpenAI() as srv:
        client, file_id = _slow_client(srv, timeout=0.5)
        srv.faults.add(path=JOBS, method="POST", delay_after=1.5, times=1)
        res = create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18")
        assert (res.attempts, res.reconciled) == (1, True)
        assert _settled(srv, 5) == 1


def test_a_listing_that_lags_is_polled_until_the_job_shows() -> None:
    with FakeOpenAI() as srv:
        client, file_id = _slow_client(srv, timeout=2.0)
        srv.jobs.list_lag = 1.0
        srv.faults.add(path=JOBS, method="POST", status=502, after_effect=True, times=1)
        res = create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18")
        assert res.reconciled and len(srv.jobs.jobs) == 1
        assert len(srv.requests_to(JOBS, "GET")) >= 2  # the first look came too early


def test_unknown_outcome_ends_with_request_id_and_command_never_a_second_job() -> None:
    with FakeOpenAI() as srv:
        client, file_id = _slow_client(srv, timeout=0.3)
        # every create hangs past the timeout and is never made
        srv.faults.add(path=JOBS, method="POST", delay=1.0, drop=True, times=None)
        with pytest.raises(ApiError) as info:
            create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", window=0.3)
        message = str(info.value)
        rid = message.split("--request-id ")[1]
        assert "the request timed out" in message and f"distilgen_request_id={rid}" in message
        assert "\n" not in message
        assert srv.jobs.jobs == {}


def test_a_lookup_that_fails_stops_the_retries() -> None:
    """`jobs list` is down: whether the job exists cannot be told, so the create is not sent again."""
    with FakeOpenAI() as srv:
        client, file_id = _slow_client(srv, timeout=2.0)
        srv.faults.add(path=JOBS, method="POST", status=502, times=None)
        srv.faults.add(path=JOBS, method="GET", status=500, times=None, should_retry=False)
        with pytest.raises(ApiError, match=r"failed once, and `jobs list` could not be read .*--request-id dg-"):
            create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", sleep=no_sleep, window=0)
        assert len(srv.requests_to(JOBS, "POST")) == 1


def test_a_create_answered_with_html_names_the_request_id() -> None:
    with FakeOpenAI() as srv:
        client, file_id = _slow_client(srv, timeout=2.0)
        srv.faults.add(path=JOBS, method="POST", status=200, body="<html>login</html>", content_type="text/html",
                       after_effect=True)
        with pytest.raises(UnexpectedResponseError, match=r"answered HTTP 200 with text/html that is not a "
                                                          r"fine-tuning job .*jobs list --request-id dg-"):
            create_job(client, training_file=file_id, model="gpt-4o-mini-2024-07-18", sleep=no_sleep)
        assert len(srv.requests_to(JOBS, "POST")) == 1


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
