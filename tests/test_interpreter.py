"""The project's interpreter: chosen like mypy/pyright do, asked once for its sys.path, used to
locate third-party bases (scan, check) and to run the schema reader (prompts). Real venvs
(`venv.create`, no pip), real files, the real CLI as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import venv
from pathlib import Path

import pydantic
import pytest

from distilgen import api
from distilgen.analysis.interpreter import find_interpreter
from distilgen.config import load_config
from distilgen.errors import ConfigError
from distilgen.prompts import _schema_worker
from distilgen.runtime import formats

SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"


def make_venv(path: Path, *, with_pydantic: bool = False) -> Path:
    """A real virtualenv without pip; `with_pydantic` lends it the test interpreter's pydantic (and
    only the folder it is installed in: distilgen itself is not importable there)."""
    venv.create(path, with_pip=False, symlinks=True)
    if with_pydantic:
        import pydantic

        (path / SITE / "lend.pth").write_text(str(Path(pydantic.__file__).parent.parent) + "\n")
    return path / "bin" / "python"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


def cli(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=root, capture_output=True, text=True,
                          timeout=120, env=env)


VENDOR_PROJECT = {
    "pyproject.toml": '[project]\nname = "shop"\n',
    "shop/__init__.py": "",
    "shop/models.py": """\
        from vendorlib import VendorBase


        class Order(VendorBase):
            item: str
            quantity: int
        """,
    "shop/logic.py": """\
        from shop.models import Order


        def parse_order(text: str) -> Order:
            \"\"\"Read an order from a chat message.\"\"\"
            return Order(item=text, quantity=1)
        """,
}


def vendor_venv(root: Path, name: str = ".venv") -> Path:
    """A venv at the project root holding `vendorlib`, a package whose base class is a pydantic model."""
    python = make_venv(root / name)
    write(root / name / SITE, {"vendorlib/__init__.py": "from pydantic import BaseModel\n\n\nclass VendorBase(BaseModel):\n    pass\n"})
    return python


def statuses(root: Path, **kw: object) -> list[tuple[str, str]]:
    return [(r.qualname, r.status) for r in api.scan([root], use_cache=False, **kw).results]


def test_third_party_bases_are_located_on_the_project_interpreter_path(tmp_path):
    root = write(tmp_path / "proj", VENDOR_PROJECT)
    assert statuses(root) == [("parse_order", "unresolved")]  # vendorlib is not in distilgen's environment
    vendor_venv(root)
    assert statuses(root) == [("parse_order", "candidate")]
    # the same venv elsewhere, chosen explicitly
    (root / ".venv").rename(tmp_path / "elsewhere")
    assert statuses(root) == [("parse_order", "unresolved")]
    assert statuses(root, python=str(tmp_path / "elsewhere" / "bin" / "python")) == [("parse_order", "candidate")]
    out = cli(root, "scan", "--python", str(tmp_path / "elsewhere" / "bin" / "python"))
    assert out.returncode == 0 and "[candidate]" in out.stdout, out.stdout + out.stderr


def test_choice_order_and_reasons(tmp_path):
    root = write(tmp_path / "proj", {"pyproject.toml": '[project]\nname = "p"\n'})
    cfg = load_config(root)
    assert find_interpreter(cfg, environ={}).path == sys.executable
    assert find_interpreter(cfg, environ={}).reason.startswith("the running interpreter")
    venv_py = make_venv(root / "venv")
    assert (find_interpreter(cfg, environ={}).path, find_interpreter(cfg, environ={}).reason) == (str(venv_py), "venv/ at the project root")
    dot_py = make_venv(root / ".venv")
    assert find_interpreter(cfg, environ={}).path == str(dot_py)
    active = make_venv(tmp_path / "active")
    found = find_interpreter(cfg, environ={"VIRTUAL_ENV": str(tmp_path / "active")})
    assert (found.path, found.reason) == (str(active), f"VIRTUAL_ENV={tmp_path / 'active'}")
    # VIRTUAL_ENV naming distilgen's own environment (pre-commit sets it to the hook's venv) is skipped
    assert find_interpreter(cfg, environ={"VIRTUAL_ENV": sys.prefix}).path == str(dot_py)
    (root / "pyproject.toml").write_text('[project]\nname = "p"\n\n[tool.distilgen]\npython = "venv/bin/python"\n')
    found = find_interpreter(load_config(root), environ={"VIRTUAL_ENV": str(tmp_path / "active")})
    assert (found.path, found.reason) == (str(venv_py), f"[tool.distilgen] python in {root / 'pyproject.toml'}")
    found = find_interpreter(api.effective_config(root, python=str(active)), environ={})
    assert (found.path, found.reason) == (str(active), "--python")
    out = cli(root, "config", "--python", str(active))
    assert out.returncode == 0 and out.stdout.rstrip().endswith(f"# interpreter: {active} (Python {found.version}; --python)")
    data = json.loads(cli(root, "config", "--format", "json").stdout)
    assert data["interpreter"]["path"] == str(venv_py) and data["python"] == "venv/bin/python"


def test_sys_path_is_cached_until_the_environment_changes(tmp_path):
    root = write(tmp_path / "proj", {"pyproject.toml": '[project]\nname = "p"\n'})
    make_venv(root / ".venv")
    cfg = load_config(root)
    first = find_interpreter(cfg, environ={})
    cache = json.loads((root / ".distilgen_cache" / "interpreters.json").read_text())
    assert cache[first.path]["sys_path"] == list(first.sys_path)
    # a cached answer is used as is: prove it by planting one the interpreter would never give
    cache[first.path]["sys_path"] = [*first.sys_path, "/planted"]
    (root / ".distilgen_cache" / "interpreters.json").write_text(json.dumps(cache))
    assert find_interpreter(cfg, environ={}).sys_path[-1] == "/planted"
    # installing something (a .pth file here) changes site-packages: asked again
    extra = tmp_path / "extra"
    extra.mkdir()
    (root / ".venv" / SITE / "extra.pth").write_text(str(extra) + "\n")
    again = find_interpreter(cfg, environ={})
    assert str(extra) in again.sys_path and "/planted" not in again.sys_path


# -- bad input: one line naming the path and the setting, exit 2 -----------------------------------

def one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["scan", "check", "prompts", "config", "apply"])
def test_no_interpreter_at_the_given_path(tmp_path, command):
    root = write(tmp_path / "proj", VENDOR_PROJECT)
    missing = tmp_path / "nope" / "bin" / "python"
    line = one_error_line(cli(root, command, "--python", str(missing)))
    assert line == f"distilgen: error: {missing}: no Python interpreter there (chosen by --python; set --python to use another)"


def test_configured_interpreter_missing_names_the_setting(tmp_path):
    root = write(tmp_path / "proj", VENDOR_PROJECT)
    (root / "pyproject.toml").write_text('[project]\nname = "shop"\n\n[tool.distilgen]\npython = ".venv/bin/python"\n')
    line = one_error_line(cli(root, "check"))
    assert line.startswith(f"distilgen: error: {root / '.venv/bin/python'}: no Python interpreter there (chosen by "
                           f"[tool.distilgen] python in {root / 'pyproject.toml'}")


@pytest.mark.parametrize("content, mode", [("#!/bin/sh\necho 'hello'\n", 0o755), ("just text\n", 0o644), ("\x7fELF junk", 0o755)])
def test_an_interpreter_that_is_not_python(tmp_path, content, mode):
    root = write(tmp_path / "proj", VENDOR_PROJECT)
    fake = tmp_path / "fakepython"
    fake.write_text(content)
    fake.chmod(mode)
    line = one_error_line(cli(root, "scan", "--python", str(fake)))
    assert line.startswith(f"distilgen: error: {fake}: not a Python interpreter (")
    assert line.endswith("(chosen by --python; set --python to use another)")


DISTILLED = {
    **VENDOR_PROJECT,
    "pyproject.toml": '[project]\nname = "shop"\n\n[tool.distilgen]\ninstructions = "shop.distil:instructions"\n',
    "shop/distil.py": "from distilgen import Instructions\n\ninstructions = Instructions(name='shop')\n",
    "shop/models.py": """\
        import os

        from pydantic import BaseModel

        PREFIX = os.environ["SHOP_PREFIX"]  # a settings read at import time


        class Order(BaseModel):
            item: str
            quantity: int
        """,
    "shop/logic.py": """\
        from shop.distil import instructions
        from shop.models import Order


        @instructions.distil
        def parse_order(text: str) -> Order:
            \"\"\"Read an order from a chat message.\"\"\"
            return Order(item=text, quantity=1)
        """,
}


def test_a_venv_without_pydantic(tmp_path):
    root = write(tmp_path / "proj", DISTILLED)
    python = make_venv(root / ".venv")
    line = one_error_line(cli(root, "prompts"))
    assert line == (f"distilgen: error: {python}: pydantic is not installed in the project's interpreter (chosen by "
                    ".venv/ at the project root); install it there, or set --python or [tool.distilgen] python to use another")
    assert cli(root, "check").returncode == 1  # check imports nothing: it runs (and finds the unrecorded function)


@pytest.mark.parametrize("text, line_no", [("GOOD=1\nthis is not an assignment\n", 2), ('A="unterminated\n', 1),
                                           ("B='x' trailing\n", 1)])
def test_an_env_file_that_does_not_parse(tmp_path, text, line_no):
    root = write(tmp_path / "proj", DISTILLED)
    (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text() + 'env-file = ".env"\n')
    (root / ".env").write_text(text)
    line = one_error_line(cli(root, "prompts"))
    assert line.startswith(f"distilgen: error: {root / '.env'}:{line_no}: not a KEY=value line: ")
    assert line.endswith("(file named by [tool.distilgen] env-file)")


def test_missing_env_file(tmp_path):
    root = write(tmp_path / "proj", DISTILLED)
    (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text() + 'env-file = "conf/.env"\n')
    line = one_error_line(cli(root, "prompts"))
    assert line == f"distilgen: error: {root / 'conf/.env'}: no such file (named by [tool.distilgen] env-file)"


# -- the schema reader under the project's interpreter ------------------------------------------

def test_prompts_run_the_project_interpreter_with_only_pydantic_and_the_env_file(tmp_path):
    root = write(tmp_path / "proj", DISTILLED)
    python = make_venv(root / ".venv", with_pydantic=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SHOP_PREFIX", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(Path(api.__file__).parent.parent)  # distilgen for the CLI itself, not the child's path
    probe = subprocess.run([str(python), "-c", "import pydantic; from distilgen import Instructions"], capture_output=True, text=True,
                           env={k: v for k, v in env.items() if k != "PYTHONPATH"}, timeout=60, cwd=tmp_path)
    assert probe.returncode == 1 and "Error" in probe.stderr  # the venv has pydantic, not distilgen
    out = cli(root, "prompts", env=env)
    assert out.returncode == 2
    [line] = out.stdout.splitlines()[:1]
    assert line.startswith("shop/logic.py:5: cannot read the return model schema of parse_order: importing shop.models "
                           "failed at shop/models.py:5: KeyError: 'SHOP_PREFIX'; environment variable SHOP_PREFIX is not "
                           "set: name a .env file with [tool.distilgen] env-file, or set it"), out.stdout
    (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text() + 'env-file = ".env"\n')
    (root / ".env").write_text("# local settings\nexport SHOP_PREFIX='ord-'  # a comment\n")
    out = cli(root, "prompts", env=env)
    assert out.returncode == 0 and "+ shop.logic:parse_order" in out.stdout, out.stdout + out.stderr
    assert cli(root, "check", env=env).returncode == 0


def test_src_layout_roots_are_on_the_child_path(tmp_path):
    files = {("src/" + k if k.startswith("shop/") else k): v for k, v in DISTILLED.items()}
    files["src/shop/models.py"] = files["src/shop/models.py"].replace('PREFIX = os.environ["SHOP_PREFIX"]', "PREFIX = 'x'")
    root = write(tmp_path / "proj", files)
    [rep] = api.prompts([root])
    assert rep.problems == () and rep.result.added == ("shop.logic:parse_order",)


def test_worker_schema_is_the_runtime_schema():
    """One compaction: the runtime imports the worker's (the worker, a self-contained script run
    by the project's interpreter, imports nothing of distilgen: no arrow runs up the layers)."""
    import ast as _ast
    import inspect

    tree = _ast.parse(inspect.getsource(_schema_worker))
    imported = [a.name for n in _ast.walk(tree) if isinstance(n, _ast.Import) for a in n.names]
    imported += [n.module or "." for n in _ast.walk(tree) if isinstance(n, _ast.ImportFrom) and n.level == 0]
    assert not [n for n in _ast.walk(tree) if isinstance(n, _ast.ImportFrom) and n.level], "relative import"
    assert not [m for m in imported if m.split(".")[0] == "distilgen"], imported
    assert formats.compact_schema is _schema_worker.compact_schema
    from test_prompts_same import SAMPLE  # noqa: F401 - the sample's models, imported the usual way

    sys.path.insert(0, str(SAMPLE))
    try:
        from inbox.models import OrderMention

        schema = formats.tool_schema(OrderMention)
        assert "title" not in schema and not [p for p in schema["properties"].values() if "title" in p]
        assert set(schema["properties"]) == set(OrderMention.model_fields)
    finally:
        sys.path.remove(str(SAMPLE))
        for name in [m for m in sys.modules if m == "inbox" or m.startswith("inbox.")]:
            del sys.modules[name]

    class Book(pydantic.BaseModel):
        title: str
        pages: int

    # a property called `title` stays; pydantic's own titles go
    assert formats.tool_schema(Book) == {"properties": {"title": {"type": "string"}, "pages": {"type": "integer"}},
                                         "required": ["title", "pages"], "type": "object"}


def test_bad_interpreter_is_a_config_error_in_the_library(tmp_path):
    root = write(tmp_path / "proj", VENDOR_PROJECT)
    with pytest.raises(ConfigError, match="no Python interpreter there"):
        api.check([root], python=str(tmp_path / "missing"))


def test_settings_that_need_the_environment_name_their_fields(tmp_path):
    files = dict(DISTILLED)
    files["shop/models.py"] = """\
        from pydantic import BaseModel
        from pydantic_settings import BaseSettings


        class Settings(BaseSettings):
            distilgen_test_database_url: str  # a name no environment sets


        settings = Settings()


        class Order(BaseModel):
            item: str
            quantity: int
        """
    root = write(tmp_path / "proj", files)
    [rep] = api.prompts([root])
    [problem] = rep.problems
    assert str(problem).startswith("shop/logic.py:5: cannot read the return model schema of parse_order: importing "
                                   "shop.models failed at shop/models.py:9: ValidationError: 1 validation error for Settings")
    assert str(problem).endswith("; settings read from the environment (distilgen_test_database_url): name a .env file "
                                 "with [tool.distilgen] env-file")


def test_a_model_named_settings_that_is_no_base_settings_says_its_own_error(tmp_path):
    """Wave 9 (django-ninja's `ninja/conf.py`): a plain model named `Settings` validated from
    Django's settings before DJANGO_SETTINGS_MODULE was set was reported as variables missing from
    the environment, with `.env` advice; the cause, each error's own message, was hidden."""
    files = dict(DISTILLED)
    files["shop/models.py"] = """\
        from pydantic import BaseModel, ConfigDict, Field


        class _Lazy:
            def __getattr__(self, name):
                raise RuntimeError(f"Requested setting {name}, but settings are not configured")


        class Settings(BaseModel):
            model_config = ConfigDict(from_attributes=True)
            PER_PAGE: int = Field(100, alias="NINJA_PER_PAGE")


        settings = Settings.model_validate(_Lazy())


        class Order(BaseModel):
            item: str
            quantity: int
        """
    root = write(tmp_path / "proj", files)
    [rep] = api.prompts([root])
    [problem] = rep.problems
    assert str(problem).endswith(
        "failed at shop/models.py:14: ValidationError: 1 validation error for Settings: PER_PAGE: Error extracting "
        "attribute: RuntimeError: Requested setting NINJA_PER_PAGE, but settings are not configured"), str(problem)
    assert "env-file" not in str(problem)


def test_a_package_installed_after_a_cached_scan_is_seen(tmp_path):
    """The cached report said `vendorlib` is not on the path; installing it must not leave that stale."""
    root = write(tmp_path / "proj", VENDOR_PROJECT)
    python = make_venv(root / ".venv")
    site = python.parent.parent / SITE

    def cached() -> list[tuple[str, str]]:
        return [(r.qualname, r.status) for r in api.scan([root]).results]

    assert cached() == [("parse_order", "unresolved")]
    assert cached() == [("parse_order", "unresolved")]  # now from the cache
    time.sleep(0.01)  # a distinct directory mtime even on coarse clocks
    write(site, {"vendorlib/__init__.py": "from pydantic import BaseModel\n\n\nclass VendorBase(BaseModel):\n    pass\n"})
    assert cached() == [("parse_order", "candidate")]


def test_how_distilgen_was_started_does_not_change_the_path(tmp_path, monkeypatch):
    """`python -m distilgen` puts the current folder first, the console script its bin/ folder: neither is
    the project's path, and keeping it made the two ways of starting key the scan cache apart."""
    root = write(tmp_path / "proj", {"pyproject.toml": '[project]\nname = "p"\n'})
    cfg = load_config(root)
    rest = [p for p in sys.path[1:] if p]
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "path", [str(root), *rest])
    monkeypatch.setattr(sys, "argv", ["-m"])
    as_module = find_interpreter(cfg, environ={}).sys_path
    bin_dir = str(tmp_path / "venv" / "bin")
    monkeypatch.setattr(sys, "path", [bin_dir, *rest])
    monkeypatch.setattr(sys, "argv", [bin_dir + "/distilgen", "check"])
    as_script = find_interpreter(cfg, environ={}).sys_path
    assert as_module == as_script == tuple(rest)
