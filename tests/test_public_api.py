"""The public surface: what `import distilgen` costs, which exceptions a caller can catch, `__all__`,
and instructor-compatible naming (`distil(name=...)`)."""

from __future__ import annotations

import gc
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from pydantic import BaseModel

import distilgen
from distilgen import api
from distilgen.errors import DistilgenError

# Libraries an application that only wants the decorator must not pay for at import time.
HEAVY = ("openai", "httpx", "httpx2", "libcst")

# Exceptions raised and caught inside distilgen; none reaches a caller (each becomes a report
# entry, a counted outcome or a one-line message). A new exception class must be either public
# (exported from `distilgen`, a DistilgenError), private by name (`_Name`), or listed here with the reason.
INTERNAL = {
    "distilgen.codemods.edits.EditError": "becomes the FileEdit's reason",
    "distilgen.evals.calling.CallTimeout": "counted as an eval outcome",
    "distilgen.evals.shadow_records.ShadowEndpointError": "counted as an eval outcome",
    "distilgen.analysis.file_index.UnindexableFile": "becomes a ScanReport error entry",
    "distilgen.testing.chat.RequestError": "the test server's 400 answer",
    "distilgen.analysis.parsing.UnparsableSource": "becomes the file's scan/apply error entry",
    "distilgen.runtime.calls.CallSyntaxError": "becomes a FILE:LINE usage error of generate/eval",
    "distilgen.runtime.formats.NonFiniteFloat": "counted as a skipped capture (logged on the distilgen logger)",
    "distilgen._toml.TomlSyntaxError": "becomes the ConfigError or LockError naming the file, line and column",
}


def _loaded_after(code: str, also: tuple[str, ...] = ()) -> list[str]:
    """Modules among HEAVY, click, asyncio and `also` in sys.modules after `code`, in a fresh interpreter."""
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True,
                         cwd=Path(__file__).parent)
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    return sorted(m for m in (*HEAVY, "click", "asyncio", *also) if m in loaded)


def test_import_distilgen_loads_no_client_cli_or_codemod_library() -> None:
    assert _loaded_after("import distilgen") == []


def test_capturing_application_never_imports_openai_httpx_or_libcst(tmp_path: Path) -> None:
    # what an application does: import the decorator, decorate, call (capture writes a line)
    out = tmp_path / "d.jsonl"
    code = (
        "from pydantic import BaseModel\n"
        "from distilgen import Instructions\n"
        "class M(BaseModel):\n    n: int\n"
        f"ins = Instructions(dataset={str(out)!r})\n"
        "@ins.distil\ndef f(k: int) -> M:\n    return M(n=k)\n"
        "assert f(3).n == 3\n"
    )
    assert [m for m in _loaded_after(code) if m in HEAVY] == []
    assert json.loads(out.read_text())["messages"][1]["content"] == "Return f(3)"


@pytest.mark.parametrize("argv", [["--help"], ["check", "{project}"], ["scan", "{project}"]])
def test_cli_commands_import_only_what_they_need(argv: list[str], tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "app").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.distilgen]\n")
    (project / "app" / "m.py").write_text(
        "from pydantic import BaseModel\n\nclass M(BaseModel):\n    n: int\n\ndef f(k: int) -> M:\n    return M(n=k)\n")
    args = [a.format(project=project) for a in argv]
    code = ("from distilgen.cli import main\n"
            f"try:\n    rc = main({args!r}, standalone_mode=False)\nexcept SystemExit as exc:\n    rc = exc.code\n"
            "assert rc in (0, None), rc\n")  # the command ran and succeeded
    loaded = _loaded_after(code, also=("torch", "pydantic"))
    # static commands never import the project's libraries, the HTTP client or the codemod engine
    assert [m for m in loaded if m in (*HEAVY, "torch", "pydantic")] == []


def _package_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(distilgen.__path__, "distilgen."):
        if info.name.endswith("__main__"):
            continue  # running it would start the CLI
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (issubclass(obj, BaseException) and not issubclass(obj, Warning)
                    and obj.__module__ == info.name):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_exception_a_caller_can_catch_is_exported_and_a_distilgen_error() -> None:
    found = _package_exceptions()
    assert "distilgen.prompts.lock_format.LockError" in found  # the walk reached the subpackages
    assert set(INTERNAL) <= set(found), "an INTERNAL entry names a class that no longer exists"
    for qualified, cls in found.items():
        name = cls.__name__
        if qualified in INTERNAL or name.startswith("_"):
            assert name not in distilgen.__all__
            continue
        assert issubclass(cls, DistilgenError), f"{qualified} does not derive from DistilgenError"
        assert name in distilgen.__all__, f"{qualified} is not in distilgen.__all__"
        assert getattr(distilgen, name) is cls, f"distilgen.{name} is not {qualified}"


def test_everything_in_all_resolves_lazily() -> None:
    for name in distilgen.__all__:
        assert getattr(distilgen, name) is not None
    assert set(distilgen.__all__) <= set(dir(distilgen))
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        distilgen.nonexistent  # noqa: B018
    from distilgen import WalkthroughError, api as api_module  # a lazy name and a submodule

    assert issubclass(WalkthroughError, DistilgenError) and api_module is api


def test_argument_errors_are_value_or_type_errors_as_in_instructor() -> None:
    assert issubclass(distilgen.UsageError, ValueError) and issubclass(distilgen.ConfigError, ValueError)
    assert issubclass(distilgen.NoApiKeyError, ValueError)
    assert issubclass(distilgen.DecorationError, TypeError) and issubclass(distilgen.UnrenderableValue, TypeError)
    assert issubclass(distilgen.SinkError, OSError)
    # code written for instructor catches ValueError around a bad argument
    with pytest.raises(ValueError, match="finetune_format must be one of"):
        distilgen.Instructions(finetune_format="bogus")
    with pytest.raises(DistilgenError):
        distilgen.Instructions(finetune_format="bogus")


def test_api_all_lists_every_public_verb() -> None:
    public = {n for n, v in vars(api).items()
              if not n.startswith("_") and callable(v) and getattr(v, "__module__", "") == api.__name__}
    assert public == set(api.__all__)


class Person(BaseModel):
    id: int
    name: str


def test_distil_name_is_the_callee_in_captured_and_dispatched_user_messages(tmp_path: Path) -> None:
    from distilgen.config import Config
    from distilgen.testing import FakeOpenAI, Reply

    data = tmp_path / "d.jsonl"
    capture = distilgen.Instructions(dataset=data)

    @capture.distil(name="find_user")
    def lookup(user_id: int) -> Person:
        return Person(id=user_id, name="Ada")

    lookup(4)
    (line,) = [json.loads(x) for x in data.read_text().splitlines()]
    assert line["messages"][1]["content"] == "Return find_user(4)"  # instructor's rendering
    assert lookup.__distil__.function_id.endswith(":find_user")

    with FakeOpenAI() as srv:
        srv.chat.respond(lambda req: Reply(arguments={"id": 4, "name": "Ada"}))
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        dispatch = distilgen.Instructions(openai_client=client, config=Config(root=tmp_path))

        @dispatch.distil(name="find_user", mode="dispatch", model="ft:gpt-4o-mini:org::x")
        def lookup2(user_id: int) -> Person:
            raise AssertionError("dispatch must not run the body")

        assert lookup2(4) == Person(id=4, name="Ada")
        (req,) = srv.requests_to("/v1/chat/completions")
        client.close()
    assert [m["content"] for m in req.json["messages"] if m["role"] == "user"] == ["Return find_user(4)"]


def test_scan_restores_the_garbage_collector_even_when_it_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from distilgen.analysis import project

    def boom(*args: object, **kwargs: object) -> None:
        assert not gc.isenabled()  # the scan runs with the collector off
        raise RuntimeError("scan failed")

    monkeypatch.setattr(project, "_scan_project", boom)
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="scan failed"):
        api.scan([tmp_path])
    assert gc.isenabled()


def test_jobs_get_reads_one_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from distilgen.testing import FakeOpenAI

    monkeypatch.chdir(tmp_path)  # no project lock around

    good = Path(__file__).parent / "data" / "dataset_corpus" / "good_tools.jsonl"
    with FakeOpenAI() as srv:
        created = api.jobs_create_from_file(good, base_url=srv.base_url, api_key="sk-test")
        job = api.jobs_get(created.job.id, base_url=srv.base_url, api_key="sk-test")
        assert job.id == created.job.id and job.training_file == created.job.training_file
        with pytest.raises(distilgen.ApiError, match="ftjob-nope"):
            api.jobs_get("ftjob-nope", base_url=srv.base_url, api_key="sk-test")


def test_no_direct_import_of_openais_http_library() -> None:
    # httpx2 (today's) or httpx is openai's dependency, not ours: reach it through openai's classes
    import ast

    root = Path(distilgen.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{path.relative_to(root)}:{node.lineno}" for n in names if n.split(".")[0] in ("httpx", "httpx2")]
    assert offenders == []
