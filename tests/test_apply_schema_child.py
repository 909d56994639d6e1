"""`apply` asks the schema child before it edits: what `prompts` could not record is never decorated.

Each project below is a small repro of a function from the real-world corpus (issue 13) on which
`apply` used to decorate and `prompts`/`check` then failed forever:

- llama-index-core: return models with a `Callable` field or an arbitrary class (no JSON schema);
- mistralai: `MistralGCP.__init__.<locals>.get_security`, whose model's package imports an
  optional dependency (`google.auth`) that is not installed;
- anthropic: `Messages.parse.<locals>.parser -> ParsedMessage[ResponseFormatT]` (a local function,
  generic model over a module-level TypeVar) and a local function in a test module that imports
  `pytest`, absent from the project's environment (`-> ParsedBetaMessage[None]`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_interpreter import write

from distilgen import api
from distilgen.prompts.lock import load_lock

MODELS = """\
    from typing import Callable, Generic, TypeVar

    from pydantic import BaseModel, ConfigDict

    T = TypeVar("T")


    class Store:
        pass


    class Good(BaseModel):
        total: int


    class Hooks(BaseModel):
        callback: Callable[[int], int]


    class Cache(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        store: Store


    class Page(BaseModel, Generic[T]):
        items: list[T]
    """


REPO = Path(__file__).resolve().parent.parent


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's distilgen, wherever pytest runs
    return subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=root, capture_output=True, text=True,
                          timeout=180, env=env)


def decorated(root: Path) -> set[str]:
    return {r.qualname for r in api.scan([root], use_cache=False).by_status("decorated")}


def test_model_without_json_schema_is_ineligible_and_left_alone(tmp_path):
    root = write(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/logic.py": """\
            from shop.models import Cache, Good, Hooks


            def total(a: int, b: int) -> Good:
                \"\"\"Add them.\"\"\"
                return Good(total=a + b)


            def hooks(n: int) -> Hooks:
                return Hooks(callback=lambda x: x + n)


            def cache(name: str) -> Cache:
                return Cache.model_construct()
            """,
    })
    before = (root / "shop/logic.py").read_text()
    report = api.apply([root])
    assert decorated(root) == {"total"}
    notes = "\n".join(report.notes)
    for name, model in (("hooks", "Hooks"), ("cache", "Cache")):
        line = next(n for n in report.notes if f": {name}: " in n)
        assert line.startswith("shop/logic.py:") and "ineligible" in line and f"return model {model} has no JSON schema" in line, notes
    assert report.errors == ()
    assert [e.function_id for e in load_lock(root / "distilgen.lock").entries] == ["shop.logic:total"]
    # idempotent: asked again, the same verdict, nothing written
    again = api.apply([root])
    assert again.changed == () and decorated(root) == {"total"}
    # prompts then check pass; --remove gives the file back
    assert cli(root, "prompts").returncode == 0
    assert cli(root, "check").returncode == 0, cli(root, "check").stdout
    api.apply([root], action="remove")
    assert (root / "shop/logic.py").read_text() == before


def test_hand_decorated_model_without_json_schema_says_why_in_prompts(tmp_path):
    root = write(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/distil.py": "from distilgen import Instructions\n\ninstructions = Instructions(name='shop')\n",
        "shop/logic.py": """\
            from shop.distil import instructions
            from shop.models import Hooks


            @instructions.distil
            def hooks(n: int) -> Hooks:
                return Hooks(callback=lambda x: x + n)
            """,
    })
    done = cli(root, "prompts")
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout  # could not record: exit 2
    assert "shop/logic.py:5: hooks cannot be distilled: its return model Hooks has no JSON schema" in done.stdout
    # the last word is not "up to date" (held-out corpus: it was, after every failure)
    assert done.stdout.splitlines()[-1] == "distilgen.lock: 1 function not recorded (above); nothing else to change"


def test_local_functions_get_their_schema_from_the_model(tmp_path):
    """anthropic's `parser` (generic over a module TypeVar) and a test module's local helper whose
    module imports a package the environment lacks (its model is importable: `Page[None]`)."""
    root = write(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/pages.py": """\
            from typing import TypeVar

            from shop.models import Page

            ItemT = TypeVar("ItemT")


            class Reader:
                def parse(self, raw: str) -> int:
                    def parser(text: str) -> Page[ItemT]:
                        \"\"\"Split into items.\"\"\"
                        return Page(items=text.split())

                    return len(parser(raw).items)
            """,
        "tests/__init__.py": "",
        "tests/test_pages.py": """\
            import not_installed_test_runner

            from shop.models import Page


            def test_split(x: int) -> None:
                def split(text: str) -> Page[None]:
                    return Page(items=[None for _ in text.split()])

                assert split("a b").items == [None, None]
            """,
    })
    report = api.apply([root])
    assert report.errors == () and not [n for n in report.notes if "left alone" in n or "ineligible" in n], report.notes
    assert decorated(root) == {"Reader.parse.<locals>.parser", "test_split.<locals>.split"}
    entries = {e.function_id: e for e in load_lock(root / "distilgen.lock").entries}
    assert set(entries) == {"shop.pages:Reader.parse.<locals>.parser", "tests.test_pages:test_split.<locals>.split"}
    assert entries["tests.test_pages:test_split.<locals>.split"].schema["properties"]["items"]["items"] == {"type": "null"}
    assert cli(root, "prompts").returncode == 0
    assert cli(root, "check").returncode == 0


def gcp_project(models: str) -> dict[str, str]:
    """A package whose models import fine but whose `shop.gcp` package imports a module that is not
    installed (mistralai's `get_security`, whose package needs `google.auth`): `total` can be
    decorated, `get_security` and `from_env` must be left alone. (mistralai's `Security` holds an
    `api_key: str`, which the scan now refuses on its own: a credential in every answer; here it
    holds a `scheme`, so that only the missing dependency keeps them out.)"""
    return {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "shop/__init__.py": "",
        "shop/models.py": models,
        "shop/gcp/__init__.py": "from .sdk import Client\n",
        "shop/gcp/sdk.py": """\
            import not_installed_cloud_auth

            from shop.gcp import security


            class Client:
                def __init__(self, key: str) -> None:
                    def get_security(x: int) -> security.Security:
                        return security.Security(scheme=str(x))  # reads no `key`: not a closure

                    self.security = get_security
            """,
        "shop/gcp/security.py": "from pydantic import BaseModel\n\n\nclass Security(BaseModel):\n    scheme: str\n",
        "shop/gcp/tokens.py": """\
            from shop.gcp.security import Security


            def from_env(name: str) -> Security:
                return Security(scheme=name)
            """,
        "shop/logic.py": """\
            from shop.models import Good


            def total(a: int, b: int) -> Good:
                return Good(total=a + b)
            """,
    }


def test_model_whose_package_needs_a_missing_dependency_is_left_alone(tmp_path):
    """mistralai's `get_security`: the model's package imports `google.auth` (an optional extra)."""
    root = write(tmp_path / "proj", gcp_project(MODELS))
    report = api.apply([root])
    assert decorated(root) == {"total"}
    [line] = [n for n in report.notes if "get_security" in n]
    assert line.startswith("shop/gcp/sdk.py:8: Client.__init__.<locals>.get_security: left alone: ")
    assert "No module named 'not_installed_cloud_auth'" in line and "install not_installed_cloud_auth" in line
    # the second function of the package: the same failure, named as well (the child does not run
    # the package's modules again, and does not lose what was missing)
    [line] = [n for n in report.notes if "from_env" in n]
    assert line.startswith("shop/gcp/tokens.py:4: from_env: left alone: ") and "install not_installed_cloud_auth" in line
    assert (root / "shop/gcp/sdk.py").read_text().count("distil") == 0
    assert cli(root, "prompts").returncode == 0
    assert cli(root, "check").returncode == 0


def test_return_annotation_is_read_alone(tmp_path):
    """prefect: `-> State[R]`-like generic returns with a parameter hinted by a TYPE_CHECKING-only
    name: the child evaluates the return annotation alone, as the runtime does (issue 13 item 5)."""
    root = write(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/listing.py": """\
            from __future__ import annotations

            from typing import TYPE_CHECKING

            from shop.models import Page

            if TYPE_CHECKING:
                from shop.heavy import Files


            def listing(files: Files, n: int) -> Page[int]:
                return Page(items=list(range(n)))


            def broken(n: int) -> Page[Files]:
                return Page(items=[])
            """,
        "shop/optional.py": """            from __future__ import annotations

            from shop.models import Page

            try:
                from shop.gone import Extra
            except ImportError:
                pass


            def missing(n: int) -> Page[Extra]:
                return Page(items=[])
            """,
    })
    report = api.apply([root])
    assert decorated(root) == {"listing"}
    # `broken`'s return names what only type checkers import: the scan says so before any child
    # (wave 6); a name the scan sees imported but the run does not have is the child's to find
    [why] = [r.reason for r in api.scan([root], use_cache=False).results if r.qualname == "broken"]
    assert why is not None and why.startswith("its return annotation names Files, imported only under `if TYPE_CHECKING:`")
    [line] = [n for n in report.notes if ": missing: " in n]
    assert "left alone" in line and "its return annotation does not evaluate at run time (NameError" in line
    [entry] = load_lock(root / "distilgen.lock").entries
    assert entry.function_id == "shop.listing:listing" and entry.schema["properties"]["items"]["items"] == {"type": "integer"}


SLOW_MODELS = """\
    import atexit
    import pathlib
    import time

    from pydantic import BaseModel

    # a project whose import takes time and whose exit has side effects (telemetry, files)
    time.sleep(1.5)
    atexit.register(lambda: pathlib.Path(__file__).with_name("EXITED").write_text("atexit ran"))


    class Total(BaseModel):
        total: int


    class Label(BaseModel):
        text: str
    """


def test_apply_with_a_slow_child_records_what_prompts_records_and_runs_no_atexit(tmp_path):
    """With a child slow to import, the lock `apply` writes is the one `prompts` writes afterwards,
    and the child leaves without running the project's atexit handlers."""
    root = write(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "shop/__init__.py": "",
        "shop/models.py": SLOW_MODELS,
        "shop/logic.py": """\
            from shop.models import Label, Total


            def total(a: int, b: int) -> Total:
                \"\"\"Add them.\"\"\"
                return Total(total=a + b)


            def label(name: str) -> Label:
                return Label(text=name.title())
            """,
        "shop/more.py": """\
            from shop import models


            def count(n: int) -> models.Total:
                return models.Total(total=n)
            """,
    })
    done = cli(root, "apply")
    assert done.returncode == 0, done.stderr
    assert decorated(root) == {"total", "label", "count"}
    lock = (root / "distilgen.lock").read_bytes()
    assert {e.function_id for e in load_lock(root / "distilgen.lock").entries} == {
        "shop.logic:total", "shop.logic:label", "shop.more:count"}
    # what apply recorded is exactly what a fresh `prompts` records, and `check` agrees
    assert cli(root, "prompts", "--check").returncode == 0
    assert cli(root, "prompts").returncode == 0
    assert (root / "distilgen.lock").read_bytes() == lock
    assert cli(root, "check").returncode == 0
    assert not (root / "shop" / "EXITED").exists(), "the schema child ran the project's atexit handler"


def test_a_failed_import_does_not_fail_unrelated_modules_or_blame_another_file(tmp_path):
    """instructor and mcp (held-out corpus): once one module failed on a missing package, the child
    answered every later lookup of that package with the first failure. A package probing for an
    optional extra (`importlib.util.find_spec("extra") is None`, instructor's batch providers) then
    failed too, and a second module importing the package was reported at the first one's line."""
    model = "from pydantic import BaseModel\n\n\nclass {m}(BaseModel):\n    x: int\n\n\ndef {f}(n: int) -> {m}:\n    return {m}(x=n)\n"
    root = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "a_script.py": "import not_installed_extra\n" + model.format(m="A", f="fa"),
        "b_script.py": "\nimport not_installed_extra\n" + model.format(m="B", f="fb"),
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "import importlib.util\n\nHAS_EXTRA = importlib.util.find_spec('not_installed_extra') is not None\n",
        "pkg/sub/models.py": model.format(m="Answer", f="answer"),
    })
    report = api.apply([root])
    assert decorated(root) == {"answer"}
    [a] = [n for n in report.notes if ": fa: " in n]
    [b] = [n for n in report.notes if ": fb: " in n]
    assert "failed at a_script.py:1:" in a and "failed at b_script.py:2:" in b, (a, b)
    assert cli(root, "prompts").returncode == 0
    assert cli(root, "check").returncode == 0


def test_modules_named_from_folders_that_are_not_source_roots_are_imported_from_there(tmp_path):
    """mcp and instructor (held-out corpus): a script in `my-scripts/` is module `tool`, an example
    project's package in `examples/simple-tool/` is `simple_tool.server` (hyphens: no package
    above). The child had only the source roots on its path, so `apply` left them alone ("install
    tool"), or decorated them and `prompts` then failed at once."""
    model = "from pydantic import BaseModel\n\n\nclass Answer(BaseModel):\n    text: str\n"
    root = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "common/__init__.py": "",
        "common/models.py": model,
        "my-scripts/tool.py": model + "\n\ndef summarise(q: str) -> Answer:\n    return Answer(text=q)\n",
        "examples/simple-tool/simple_tool/__init__.py": "",
        "examples/simple-tool/simple_tool/server.py":
            "from common.models import Answer\n\n\ndef answer(q: str) -> Answer:\n    return Answer(text=q)\n",
    })
    report = api.apply([root])
    assert not report.notes, report.notes
    assert decorated(root) == {"summarise", "answer"}
    assert "from simple_tool.distil import instructions" in (root / "examples/simple-tool/simple_tool/server.py").read_text()
    ids = {r.function_id for r in api.scan([root], use_cache=False).results}
    assert ids == {"tool:summarise", "simple_tool.server:answer"}
    assert {e.function_id for e in load_lock(root / "distilgen.lock").entries} == ids
    assert cli(root, "prompts").returncode == 0
    assert cli(root, "check").returncode == 0


def test_a_package_the_interpreter_imports_from_elsewhere_is_named_with_where(tmp_path):
    """mcp (held-out corpus): its workspace member `src/mcp-types/mcp_types` is installed from PyPI
    in the venv, not in editable mode, so the interpreter never runs the tree's copy, where `apply`
    created `mcp_types/distil.py`; `prompts` said "install mcp_types", which was installed."""
    model = "from pydantic import BaseModel\n\n\nclass Kind(BaseModel):\n    name: str\n\n\ndef kind(q: str) -> Kind:\n    return Kind(name=q)\n"
    root = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "libs/my-types/mytypes/__init__.py": "",
        "libs/my-types/mytypes/models.py": model,
        # as `mcp` imports `mcp_types`: read first, it imports the installed copy
        "app/__init__.py": "import mytypes\n",
        "app/api.py": model.replace("Kind", "Reply").replace("def kind", "def reply"),
    })
    site = write(tmp_path / "site", {"mytypes/__init__.py": "", "mytypes/models.py": model})
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{site}"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=root, capture_output=True,  # noqa: E731
                                       text=True, timeout=180, env=env)
    assert run("apply").returncode == 0
    assert (root / "libs/my-types/mytypes/distil.py").is_file()
    done = run("prompts")
    assert done.returncode == 2
    assert (f"imports mytypes from {site / 'mytypes' / '__init__.py'}, not from this project: "
            "install the project's own copy (`pip install -e`)") in done.stdout, done.stdout


def test_modules_a_failing_package_imported_first_fail_with_it(tmp_path):
    """ragas (second held-out wave): `pkg/__init__` imports `pkg.a`, then fails on a missing
    dependency. `pkg.a` stayed in sys.modules, so the child described it, `apply` decorated it,
    and `prompts` (importing in another order) could not: in a fresh interpreter `import pkg.a`
    fails on `pkg` first."""
    model = "from pydantic import BaseModel\n\n\nclass {m}(BaseModel):\n    x: int\n\n\ndef {f}(t: str) -> {m}:\n    return {m}(x=len(t))\n"
    root = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "pkg/__init__.py": "from pkg import a, b\nimport no_such_dependency_xyz\n",
        "pkg/a.py": model.format(m="A", f="make_a"),
        "pkg/b.py": model.format(m="B", f="make_b"),
    })
    report = api.apply([root])
    assert decorated(root) == set()
    assert len([n for n in report.notes if "failed at pkg/__init__.py:2" in n]) == 2, report.notes
    assert cli(root, "prompts").returncode == 0
    assert cli(root, "check").returncode == 0


def test_a_third_party_package_without_the_submodule_is_not_called_the_projects(tmp_path):
    """ragas (second held-out wave): `langchain_community.chat_models.vertexai` is gone from the
    installed langchain_community; the note said to install the project's own copy (`pip install
    -e`), as for a package of the project itself."""
    root = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "app/__init__.py": "",
        "app/models.py": "from pydantic import BaseModel\nimport pydantic.no_such_submodule\n\n\nclass M(BaseModel):\n"
                         "    x: int\n\n\ndef make(t: str) -> M:\n    return M(x=1)\n",
    })
    [note] = api.apply([root]).notes
    assert "pip install -e" not in note
    assert "pydantic is installed in" in note and "has no pydantic.no_such_submodule: the project may need another version of pydantic" in note


def test_a_function_whose_instance_package_fails_to_import_is_left_alone(tmp_path):
    """ragas (second held-out wave): its package fails to import in its venv, but a function there
    returns a third-party model, which the child imported fine; `apply` decorated it, and the
    decorated module (importing `ragas.distil`, so `ragas`) could never be recorded. The package
    the created instance module goes in must import too."""
    root = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "models_lib.py": "from pydantic import BaseModel\n\n\nclass Reply(BaseModel):\n    text: str\n",
        "pkg/__init__.py": "import no_such_dependency_xyz\n",
        "pkg/api.py": "from models_lib import Reply\n\n\ndef reply(q: str) -> Reply:\n    return Reply(text=q)\n",
    })
    [note] = api.apply([root]).notes
    assert note.startswith("pkg/api.py:4: reply: left alone: ") and "importing pkg failed at pkg/__init__.py:1" in note, note
    assert not (root / "pkg" / "distil.py").exists() and decorated(root) == set()
    assert cli(root, "prompts").returncode == 0 and cli(root, "check").returncode == 0


def test_importing_the_project_never_captures(tmp_path):
    """zenml (third held-out wave): a field default calls a decorated classmethod at import time;
    the second `apply` and `prompts` imported the project in the schema child, which then wrote a
    training example into the user's tree (a new distil_dataset.jsonl, apply no longer idempotent)."""
    root = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "pkg/__init__.py": "",
        "pkg/policy.py": """
            from pydantic import BaseModel


            class CachePolicy(BaseModel):
                include_code: bool = True

                @classmethod
                def default(cls, include_code: bool = True) -> "CachePolicy":
                    return cls(include_code=include_code)


            DEFAULT_POLICY = CachePolicy.default()
        """,
        # a function left alone makes every later `apply` ask the child again
        "pkg/report.py": "from pydantic import BaseModel\nimport not_installed_dependency_xyz\n\n\n"
                         "class Report(BaseModel):\n    n: int\n\n\ndef make_report(n: int) -> Report:\n    return Report(n=n)\n",
    })
    before = sorted(p.name for p in root.iterdir())
    for args in (["apply"], ["apply"], ["prompts"], ["apply", "--check"]):
        out = cli(root, *args)
        assert out.returncode == 0, (args, out.stdout, out.stderr)
    assert decorated(root) == {"CachePolicy.default"}
    assert sorted(p.name for p in root.iterdir()) == sorted([*before, ".distilgen_cache", "distilgen.lock"])
    # the user's own process captures as before
    run = subprocess.run([sys.executable, "-c", "import pkg.policy"], cwd=root, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO)])}, timeout=60)
    assert run.returncode == 0, run.stderr
    assert (root / "distil_dataset.jsonl").read_text().count("Return CachePolicy.default()") == 1
    # bound to a model, the same import-time call must not reach the endpoint from the schema child
    (root / "distil_dataset.jsonl").unlink()
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "x"}
    for args in (["apply", "--dispatch", "--model", "ft:gpt-4o-mini:org::x", "--select", "CachePolicy.default"],
                 ["prompts"], ["check"]):
        out = subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=root, capture_output=True, text=True,
                             timeout=180, env=env)
        assert out.returncode == 0, (args, out.stdout, out.stderr)
    assert not (root / "distil_dataset.jsonl").exists()


def test_a_missing_distribution_inside_an_installed_namespace_is_named(tmp_path):
    """semantic-kernel (third held-out wave): `azure.cosmos` missing where `azure` is an installed
    PEP 420 namespace (azure-identity); the hint said "install azure", which names no distribution."""
    site = write(tmp_path / "site", {"nsvendor/present/__init__.py": ""})  # a namespace: no nsvendor/__init__.py
    root = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "app/__init__.py": "",
        "app/export.py": "from pydantic import BaseModel\nfrom nsvendor.cosmos.aio import Client\n\n\n"
                         "class Result(BaseModel):\n    n: int\n\n\ndef export(n: int) -> Result:\n    return Result(n=n)\n",
    })
    out = subprocess.run([sys.executable, "-m", "distilgen", "apply", "."], cwd=root,
                         capture_output=True, text=True, timeout=180,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(site)])})
    assert out.returncode == 0, out.stderr
    [note] = [line for line in out.stderr.splitlines() if "left alone" in line]
    assert "No module named 'nsvendor.cosmos'; nsvendor is a namespace package in" in note, note
    assert "no installed distribution provides nsvendor.cosmos: install the one that does (often named nsvendor-cosmos)" in note
    assert "install nsvendor in" not in note


def test_a_models_method_whose_instance_cannot_be_written_is_ineligible(tmp_path):
    """semantic-kernel (third held-out wave): ~40 methods of services that hold an AsyncOpenAI
    client were decorated; the instance is written into every call (`ChatService(...).create()`),
    so every call was only logged as not captured. A model's method now needs its model's schema."""
    root = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "pkg/__init__.py": "",
        "pkg/service.py": """
            from pydantic import BaseModel, ConfigDict


            class Client:
                pass


            class Message(BaseModel):
                text: str


            class ChatService(BaseModel):
                model_config = ConfigDict(arbitrary_types_allowed=True)
                client: Client

                def create(self, raw: str) -> Message:
                    return Message(text=raw)

                @staticmethod
                def plain(raw: str) -> Message:
                    return Message(text=raw)


            class Note(BaseModel):
                text: str

                def shout(self) -> Message:
                    return Message(text=self.text.upper())
        """,
    })
    report = api.apply([root])
    assert decorated(root) == {"ChatService.plain", "Note.shout"}
    [note] = report.notes
    assert note.startswith("pkg/service.py:17: ChatService.create: ineligible: ") and \
        "ChatService, its instance, is written into each call, but has no JSON schema" in note, note
    assert cli(root, "prompts").returncode == 0 and cli(root, "check").returncode == 0


def test_a_script_that_runs_at_import_is_never_imported(tmp_path):
    """mcp's examples (its own test suite after `apply`, helper 25): reading a schema imported
    scripts whose top level runs the program (`mcp.run()`), so `apply` ran them. A module in no
    package whose top level calls, loops or opens a `with` block (outside `if __name__ ==
    "__main__":`) is not imported: its functions are left alone with the line to guard; modules
    of packages import as before, and the same script guarded is decorated."""
    model = "from pydantic import BaseModel\n\n\nclass Answer(BaseModel):\n    text: str\n"
    side_effect = tmp_path / "ran.txt"
    run_it = f"from pathlib import Path\n\n\ndef main(x: int) -> None:\n    Path({str(side_effect)!r}).write_text('ran')\n\n\n"
    root = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "pkg/__init__.py": "",
        "pkg/models.py": model + "\nprint('configured')\n\n\ndef answer(q: str) -> Answer:\n    return Answer(text=q)\n",
        "examples/server.py": model + run_it + "def summarise(q: str) -> Answer:\n    return Answer(text=q)\n\n\n"
                              "if True:\n    main()\n",
        # instructor's distillation example: configuration at the top, the work under __main__
        "examples/three_digit_mul.py":
            "import logging\n\n" + model.replace("Answer", "Multiply") + "\nlogging.basicConfig(level=logging.INFO)\n"
            "Multiply.model_rebuild()\n\n\ndef fn(a: int, b: int) -> Multiply:\n    return Multiply(text=str(a * b))\n\n\n"
            "if __name__ == '__main__':\n    for i in range(3):\n        fn(i, i)\n",
        "tests/test_things.py": model + "\nCASES = [str(i) for i in range(3)]\n\n\ndef make(q: str) -> Answer:\n"
                                "    return Answer(text=q)\n\n\nfor case in CASES:\n    make(case)\n",
    })
    report = api.apply([root])
    assert not side_effect.exists()
    # a package module with a top-level call imports as always; a pytest module too
    assert decorated(root) == {"answer", "fn", "make"}
    [note] = [n for n in report.notes if "summarise" in n]
    assert note.startswith("examples/server.py:13: summarise: left alone: examples/server.py:18 runs `main()` when "
                           "imported (a script), so distilgen does not import it"), note
    assert 'if __name__ == "__main__":' in note
    text = (root / "examples/server.py").read_text()
    (root / "examples/server.py").write_text(text.replace("if True:\n    main()", "if __name__ == '__main__':\n    main()"))
    report = api.apply([root])
    assert decorated(root) == {"answer", "fn", "make", "summarise"} and not side_effect.exists()
    assert cli(root, "prompts").returncode == 0 and cli(root, "check").returncode == 0


def test_apply_leaves_alone_a_package_the_interpreter_imports_from_elsewhere(tmp_path):
    """apache-airflow-task-sdk (thirteenth held-out wave): `airflow/sdk/` ships without
    `airflow/__init__.py`; apache-airflow-core installs a regular `airflow/__init__.py` that extends
    its path, so `airflow.sdk` is the installed copy. `apply` read that copy's schemas, created
    `airflow/sdk/distil.py` in the tree and decorated 22 functions, exit 0; `prompts` could not
    import `airflow.sdk.distil` and exited 2. Now `apply` says so first and writes nothing."""
    model = ("from pydantic import BaseModel\n\n\nclass Point(BaseModel):\n    x: int\n    y: int\n\n\n"
             "def make_point(x: int, y: int) -> Point:\n    return Point(x=x, y=y)\n")
    root = write(tmp_path / "proj", {"pyproject.toml": "", "ns/sub/__init__.py": "", "ns/sub/m.py": model})
    site = write(tmp_path / "site", {"ns/__init__.py": "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n",
                                     "ns/sub/__init__.py": "", "ns/sub/m.py": model})
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{site}"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=root, capture_output=True,  # noqa: E731
                                       text=True, timeout=180, env=env)
    before = (root / "ns/sub/m.py").read_text()
    applied = run("apply")
    assert applied.returncode == 0, applied.stderr
    assert (f"imports ns.sub from {site / 'ns' / 'sub' / '__init__.py'}, not from this project: "
            "install the project's own copy (`pip install -e`)") in applied.stdout + applied.stderr
    assert (root / "ns/sub/m.py").read_text() == before and not (root / "ns/sub/distil.py").exists()
    done = run("prompts")
    assert done.returncode == 0, done.stdout + done.stderr
