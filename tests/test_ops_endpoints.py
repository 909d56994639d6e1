"""What `jobs`/`files` and dispatch do with endpoints that misbehave: answers that are not the API's,
credentials in a base URL, and a FakeOpenAI that must leave nothing behind. The real openai client
over HTTP to FakeOpenAI; the CLI in process (click's runner), so a traceback fails the test."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import openai
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from distilgen import Instructions
from distilgen.cli import main
from distilgen.config import Config
from distilgen.runtime.clients import EndpointError, redact_url, redact_urls_in
from distilgen.testing import FakeOpenAI

GOOD = Path(__file__).parent / "data" / "dataset_corpus" / "good_tools.jsonl"
SECRET = "s3cr3t-T0KEN"


def cli(srv_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: None for k in os.environ if k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=srv_url)
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


COMMANDS = [
    ["jobs", "list"],
    ["jobs", "list", "--request-id", "dg-1"],
    ["jobs", "watch", "ftjob-1", "--poll-interval", "0.01"],
    ["jobs", "watch", "--poll-interval", "0.01"],
    ["jobs", "events", "ftjob-1"],
    ["jobs", "checkpoints", "ftjob-1"],
    ["jobs", "cancel", "ftjob-1"],
    ["jobs", "create-from-id", "file-1", "--no-wait"],
    ["jobs", "create-from-file", str(GOOD), "--no-wait"],
    ["files", "upload", str(GOOD)],
    ["files", "list"],
    ["files", "delete", "file-1"],
]
BODIES = [
    ("<html><body>Sign in to the proxy</body></html>", "text/html", "not JSON"),
    ('{"unexpected": 1}', "application/json", "no '"),
    ('{"id": 7, "data": null, "deleted": "yes", "status": 3, "model": []}', "application/json", " is "),
    ("[1, 2]", "application/json", "a JSON array"),
]


@pytest.mark.parametrize("body, ctype, why", BODIES, ids=["html", "other-json", "wrong-types", "array"])
def test_answers_that_are_not_the_apis_are_one_line_exit_2(body: str, ctype: str, why: str) -> None:
    with FakeOpenAI() as srv:
        srv.faults.add(path="/v1/*", status=200, body=body, content_type=ctype, times=None)
        for args in COMMANDS:
            code, out, err = cli(srv.base_url, *args)
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert code == 2 and len(lines) == 1, (args, code, out, err)
            assert lines[0].startswith("distilgen: error: ") and "answered HTTP 200 with" in lines[0], (args, err)
            assert why in lines[0] and "check the base URL" in lines[0], (args, err)
            assert "None" not in out, (args, out)  # never `created job None on None`
        assert srv.jobs.jobs == {}


def test_jobs_list_by_request_id_finds_the_job_a_create_tagged() -> None:
    with FakeOpenAI() as srv:
        code, out, err = cli(srv.base_url, "jobs", "create-from-file", str(GOOD), "--no-wait", "--json")
        assert code == 0, err
        import json

        created = json.loads(out)
        code, out, err = cli(srv.base_url, "jobs", "list", "--request-id", created["request_id"])
        assert code == 0 and out.split()[0] == created["job"]["id"]
        code, out, err = cli(srv.base_url, "jobs", "list", "--request-id", "dg-nothing")
        assert code == 0 and out == "" and "no fine-tuning job tagged dg-nothing" in err


# -- credentials in a base URL ---------------------------------------------------------------

def test_redact_url_hides_user_info_and_secret_query_values() -> None:
    assert redact_url(f"http://user:{SECRET}@host:8080/v1") == "http://user:***@host:8080/v1"
    assert redact_url(f"https://{SECRET}@host/v1/") == "https://***@host/v1/"
    assert redact_url(f"https://host/v1?api_key={SECRET}&region=eu") == "https://host/v1?api_key=***&region=eu"
    assert redact_url("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1"
    assert SECRET not in redact_urls_in(f"cannot reach http://u:{SECRET}@h/v1/ (see https://h/x?token={SECRET})")


def _with_user_info(url: str) -> str:
    return url.replace("http://", f"http://user:{SECRET}@")


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 200, "body": "<html>x</html>", "content_type": "text/html"}],
                         ids=["500", "html"])
def test_jobs_errors_never_echo_url_credentials(fault: dict) -> None:
    with FakeOpenAI() as srv:
        srv.faults.add(path="/v1/*", times=None, **fault)
        # (a 5xx to a create would wait out the settle window: the create is covered by the html case)
        commands = [["jobs", "list"], ["files", "list"], ["jobs", "watch", "ftjob-1", "--poll-interval", "0.01"]]
        if fault["status"] == 200:
            commands.append(["jobs", "create-from-id", "file-1", "--no-wait"])
        for args in commands:
            code, out, err = cli(_with_user_info(srv.base_url), *args)
            assert code == 2 and err.strip(), (args, err)
            assert SECRET not in err + out, (args, err)
        if fault["status"] == 200:
            assert "user:***@" in err
    # nothing listens there any more: the "cannot reach" message shows the URL too
    code, out, err = cli(_with_user_info(srv.base_url), "jobs", "list")
    assert code == 2 and "cannot reach the API at http://user:***@127.0.0.1" in err and SECRET not in err


class Multiply(BaseModel):
    a: int
    b: int
    result: int


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 200, "body": "<html>x</html>", "content_type": "text/html"},
                                   {"drop": True}], ids=["500", "html", "dropped"])
def test_dispatch_errors_never_echo_url_credentials(fault: dict) -> None:
    with FakeOpenAI() as srv:
        srv.faults.add(path="/v1/chat/completions", times=None, **fault)
        client = openai.OpenAI(base_url=_with_user_info(srv.base_url), api_key="sk-test", max_retries=0)
        ins = Instructions(openai_client=client, config=Config(root=Path.cwd()))

        @ins.distil(mode="dispatch", model="ft:gpt-4o-mini:org::abc")
        def fn(a: int, b: int) -> Multiply:
            return Multiply(a=a, b=b, result=a * b)

        fn.__distil__.spec
        with pytest.raises(EndpointError) as info:
            fn(3, 4)
        assert SECRET not in str(info.value) and SECRET not in info.value.base_url
        assert "user:***@127.0.0.1" in str(info.value)


# -- FakeOpenAI leaves nothing behind -------------------------------------------------------

def _server_sockets(port: int) -> int:
    """Open fds of this process that are TCP sockets with local port `port` (the server's side)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            count += 1
    return count


def test_fake_server_closes_idle_keep_alive_connections_and_their_threads() -> None:
    threads_before = threading.active_count()
    with FakeOpenAI() as srv:
        clients = [srv.client(max_retries=0) for _ in range(20)]
        for i in range(200):
            clients[i % 20].models.list()
        port = srv.port
        assert _server_sockets(port) >= 20  # the measurement sees the server's connections while it runs
        assert threading.active_count() >= threads_before + 20
    try:
        # the clients still hold their idle connections open; the server's side must be gone
        assert threading.active_count() == threads_before
        assert _server_sockets(port) == 0
    finally:
        for c in clients:
            c.close()


def test_stop_cuts_a_scripted_delay_short() -> None:
    import time

    srv = FakeOpenAI().start()
    srv.faults.add(path="/v1/models", delay=30)
    client = srv.client(max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        client.models.list()
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 5
    client.close()
