"""The scan on code it has never seen: module names as the interpreter gives them, nested namespace
packages in the environment, pathological files, eligibility of validators, stubs and protocols."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


from distilgen import api
from distilgen.analysis.roots import source_roots

ROOT = Path(__file__).resolve().parent.parent

MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: int\n"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def scanned(project: Path) -> dict[str, tuple[str, str | None]]:
    """(status, reason) by qualname: a fresh scan (no cache) of `project`."""
    from distilgen import api

    return {r.qualname: (r.status, r.reason) for r in api.scan([project], use_cache=False).results}


def scanned_package(tmp_path: Path, module: str, **files: str) -> dict[str, tuple[str, str | None]]:
    """`scanned` of a project holding package `pkg`: `pkg/m.py` is `module`, `files` its siblings."""
    tree = {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/m.py": module}
    tree.update({f"pkg/{name}.py": text for name, text in files.items()})
    return scanned(write(tmp_path, tree))


def fn(name: str = "f") -> str:
    return f"from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: int\n\n\ndef {name}(a: int) -> M:\n    return M(x=a)\n"


# -- item 13.6: function ids equal the runtime's module names --------------------------------------
LAYOUTS = {
    "pyproject.toml": "[project]\nname = 'layouts'\n[tool.distilgen]\nsource-roots = ['lib']\n",
    "src/pkg/__init__.py": "",
    "src/pkg/mod.py": fn(),
    "src/pkg/sub/__init__.py": "",
    "src/pkg/sub/deep.py": fn(),
    "src/nspkg/inner/__init__.py": "",        # a namespace folder in src/ with a package inside
    "src/nspkg/inner/svc.py": fn(),
    "src/plain.py": fn(),
    "examples/shop/__init__.py": "",           # a package under a namespace folder
    "examples/shop/api.py": fn(),
    "app/__init__.py": "",
    "app/data/__init__.py": "",
    "app/data/source/type/__init__.py": "",    # a package under a namespace folder inside a package
    "app/data/source/type/service.py": fn(),
    "scripts/tool.py": fn(),                   # a namespace folder
    "top.py": fn(),
    "lib/vendored/__init__.py": "",            # a configured source root
    "lib/vendored/thing.py": fn(),
}


def test_module_names_equal_the_interpreters(tmp_path):
    project = write(tmp_path / "proj", LAYOUTS)
    report = api.scan([project], use_cache=False)
    assert not report.errors
    by_path = {r.path: r.module for r in report.results}
    assert len(by_path) == 9
    assert by_path["examples/shop/api.py"] == "examples.shop.api"
    assert by_path["app/data/source/type/service.py"] == "app.data.source.type.service"
    assert by_path["src/pkg/mod.py"] == "pkg.mod"
    assert by_path["lib/vendored/thing.py"] == "vendored.thing"
    # The interpreter, with the source roots on sys.path, imports each name: same file, same name,
    # and the function's __module__ (what capture records) is the scan's module.
    roots = [str(p) for p in source_roots(project)]
    probe = textwrap.dedent("""
        import importlib, json, sys
        out = {}
        for name in json.loads(sys.argv[1]):
            m = importlib.import_module(name)
            out[name] = [m.__name__, m.__file__, m.f.__module__]
        print(json.dumps(out))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(roots), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", probe, json.dumps(sorted(set(by_path.values())))],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    for rel, module in by_path.items():
        name, file, fn_module = seen[module]
        assert (name, fn_module) == (module, module)
        assert Path(file).resolve() == (project / rel).resolve()
    ids = {r.function_id for r in report.results}
    assert "examples.shop.api:f" in ids and "app.data.source.type.service:f" in ids


def test_source_roots_order_and_config(tmp_path):
    project = write(tmp_path, {"pyproject.toml": "[tool.distilgen]\nsource-roots = ['lib']\n", "src/a.py": "", "lib/b.py": ""})
    assert source_roots(project) == (project / "lib", project / "src", project)
    plain = write(tmp_path / "plain", {"a.py": ""})
    assert source_roots(plain) == (plain,)
    pkg_src = write(tmp_path / "pkgsrc", {"src/__init__.py": ""})  # `src` itself a package: not a root
    assert source_roots(pkg_src) == (pkg_src,)


def test_a_nested_project_is_a_source_root_of_its_own(tmp_path):
    """A uv workspace member (fastmcp's `fastmcp_slim/`), an example project with a src layout: once
    installed, their packages are imported by their own names, so that is what they are called (and
    what `apply` imports); a project folder inside a package is named through the package."""
    project = write(tmp_path, {
        "pyproject.toml": "[tool.uv.workspace]\nmembers = ['member']\n",
        "member/pyproject.toml": "[project]\nname = 'member-pkg'\n", "member/pkg/__init__.py": "",
        "member/pkg/mod.py": fn(),
        "examples/shop/setup.py": "", "examples/shop/src/shop/__init__.py": "", "examples/shop/src/shop/api.py": fn(),
        "app/__init__.py": "", "app/vendored/pyproject.toml": "", "app/vendored/thing.py": fn(),
    })
    assert source_roots(project) == (project, project / "member", project / "examples" / "shop" / "src")
    by_path = {r.path: r.module for r in api.scan([project], use_cache=False).results}
    assert by_path == {"member/pkg/mod.py": "pkg.mod", "examples/shop/src/shop/api.py": "shop.api",
                       "app/vendored/thing.py": "app.vendored.thing"}
    report = api.apply([project], lock=False)
    assert report.errors == ()
    assert "from pkg.distil import instructions\n" in (project / "member/pkg/mod.py").read_text()
    assert (project / "member/pkg/distil.py").is_file() and not (project / "member/distil.py").exists()
    # what `pip install ./member` ships imports on its own
    site = tmp_path / "site"
    site.mkdir()
    import shutil
    shutil.copytree(project / "member" / "pkg", site / "pkg")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", "import pkg.mod; print(pkg.mod.f.__module__)"], cwd=site, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "pkg.mod", proc.stderr


def test_unimportable_folders_fall_back_to_the_package_name(tmp_path):
    project = write(tmp_path, {"pyproject.toml": "", "my-tools/kit/__init__.py": "", "my-tools/kit/run.py": fn()})
    (r,) = api.scan([project], use_cache=False).results
    assert r.module == "kit.run"


# -- items 13.4 and 13.10: eligibility fit for real code -------------------------------------------
ELIGIBILITY = {
    "pyproject.toml": "[project]\nname = 'elig'\n",
    "elig/__init__.py": "",
    "elig/models.py": MODEL,
    "elig/hooks.py": """
        from typing import TYPE_CHECKING, Protocol, overload as ov
        import abc
        import pydantic as pd
        from pydantic import BaseModel, field_validator as fv, model_validator, computed_field, model_serializer
        from .models import M


        class Record(BaseModel):
            x: int

            @fv("x")
            @classmethod
            def check_x(cls, v: int) -> "Record": ...

            @model_validator(mode="after")
            def whole(self) -> "Record":
                return self

            @pd.field_serializer("x")
            def ser(self, v: int) -> M: ...

            @model_serializer
            def dump(self) -> M: ...

            @computed_field
            @property
            def doubled(self) -> M: ...

            def real(self) -> M:
                return M(x=self.x)

            def __add__(self, other: "Record") -> "Record":
                return Record(x=self.x + other.x)

            def model_copy(self, *, update=None, deep: bool = False) -> "Record":
                return super().model_copy(update=update, deep=deep)

            @classmethod
            def model_validate(cls, obj: object) -> "Record":
                return super().model_validate(obj)

            def __call__(self, k: int) -> M:
                return M(x=k)


        class Plain:
            @staticmethod
            def copy(a: int) -> M:  # not a model: pydantic's names mean nothing here
                return M(x=a)

            @classmethod
            def __class_getitem__(cls, item: int) -> M:
                return M(x=item)


        class Base(abc.ABC):
            @abc.abstractmethod
            def make(self, a: int) -> M: ...


        class Maker(Protocol):
            def make(self, a: int) -> M: ...

            @staticmethod
            def build(a: int) -> M: ...


        @ov
        def one(a: int) -> M: ...
        @ov
        def one(a: str) -> M: ...
        def one(a):
            return M(x=1)


        def anything(a: int) -> BaseModel: ...


        def root_model(a: int) -> pd.BaseModel: ...


        if TYPE_CHECKING:
            def typed_only(a: int) -> M: ...


        def outer(a: int) -> int:
            class Local(BaseModel):
                y: int

            def inner(b: int) -> Local:
                return Local(y=b)

            def uses_global(b: int) -> M:
                return M(x=b)
            return inner(a).y


        def fine(a: int) -> M:
            return M(x=a)
    """,
    "elig/stub.pyi": "from .models import M\n\ndef stubbed(a: int) -> M: ...\n",
}


def test_ineligible_defs_are_named_with_a_reason(tmp_path):
    project = write(tmp_path, ELIGIBILITY)
    report = api.scan([project, project / "elig/stub.pyi"], use_cache=False)
    assert not report.errors
    got = {r.qualname: (r.status, r.reason) for r in report.results}
    expect = {
        "Record.check_x": "pydantic @field_validator",
        "Record.whole": "pydantic @model_validator",
        "Record.ser": "pydantic @field_serializer",
        "Record.dump": "pydantic @model_serializer",
        "Record.doubled": "pydantic @computed_field",
        "Base.make": "@abstractmethod",
        "Maker.make": "method of Protocol Maker",
        "Maker.build": "method of Protocol Maker",
        "one": "@overload stub",
        "anything": "returns pydantic.main.BaseModel itself",
        "root_model": "returns pydantic.main.BaseModel itself",
        "typed_only": "defined under `if TYPE_CHECKING:`",
        "outer.<locals>.inner": "return model Local is defined inside a function",
        "stubbed": "declared in a .pyi stub",
        "Record.__add__": "special method __add__",
        "Plain.__class_getitem__": "special method __class_getitem__",
        "Record.model_copy": "overrides pydantic's BaseModel.model_copy",
        "Record.model_validate": "overrides pydantic's BaseModel.model_validate",
    }
    for qualname, reason in expect.items():
        status, why = got[qualname]
        assert status == "ineligible" and why is not None and why.startswith(reason), (qualname, status, why)
    # `one` is listed once (the alias-spelled overloads), the implementation has no annotation
    assert [r.qualname for r in report.results].count("one") == 2
    assert got["Record.real"] == ("candidate", None)
    assert got["fine"] == ("candidate", None)
    assert got["outer.<locals>.uses_global"] == ("candidate", None)
    assert got["Record.__call__"] == ("candidate", None)  # called by name, like any function
    assert got["Plain.copy"] == ("candidate", None)


def test_pydantic_api_names_are_the_installed_pydantics():
    """The overrides rule names BaseModel's own methods: a pydantic that adds one fails here first."""
    import pydantic
    from distilgen.analysis.project import PYDANTIC_API

    public = {n for n in dir(pydantic.BaseModel) if not n.startswith("_") and callable(getattr(pydantic.BaseModel, n))}
    assert public <= PYDANTIC_API, sorted(public - PYDANTIC_API)


def test_a_decorated_def_that_is_now_ineligible_says_so_and_remove_takes_it_off(tmp_path):
    """An older `apply` (or a hand) decorated `__add__` and a validator: the scan says they are
    still decorated and how to take it off; plain `--remove` does, for the instance apply binds."""
    project = write(tmp_path, {
        "pyproject.toml": "[project]\nname = 'old'\n",
        "old/__init__.py": "",
        "old/distil.py": "from distilgen import Instructions\n\ninstructions = Instructions(name='old')\n",
        "old/m.py": """
            from pydantic import BaseModel, model_validator
            from old.distil import instructions


            class Usage(BaseModel):
                n: int = 0

                @instructions.distil
                def __add__(self, other: "Usage") -> "Usage":
                    return Usage(n=self.n + other.n)

                @model_validator(mode="after")
                @instructions.distil
                def check(self) -> "Usage":
                    return self
        """,
    })
    got = _cli(["scan"], project)
    assert got.returncode == 0, got.stderr
    assert ("old/m.py:10:5: Usage.__add__ -> old.m.Usage [ineligible: special method __add__ (Python calls it for an "
            "operator or protocol, not your code); still decorated (old.distil:instructions): `distilgen apply --remove "
            "--select 'Usage.__add__'` takes it off]") in got.stdout, got.stdout
    assert "Usage.check -> old.m.Usage [ineligible: pydantic @model_validator" in got.stdout
    got = _cli(["apply", "--remove", "--no-lock"], project)
    assert got.returncode == 0, got.stdout + got.stderr
    text = (project / "old/m.py").read_text()
    assert "instructions" not in text and "@model_validator" in text
    assert "__add__" in text and "still decorated" not in _cli(["scan"], project).stdout


def test_apply_never_decorates_ineligible_defs(tmp_path):
    project = write(tmp_path, ELIGIBILITY)
    before = (project / "elig/hooks.py").read_text()
    result = subprocess.run([sys.executable, "-m", "distilgen", "apply", "--diff"], cwd=project,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(Path(api.__file__).parent.parent)})
    assert result.returncode in (0, 1), result.stderr
    decorated = [line for line in result.stdout.splitlines() if line.startswith("+") and line[1:].strip().startswith("@") and ".distil" in line]
    # exactly the five candidates: Record.real, Record.__call__, Plain.copy, outer.<locals>.uses_global, fine
    assert len(decorated) == 5, result.stdout
    assert (project / "elig/hooks.py").read_text() == before


# -- item 13.7: no crash, ever, on input ------------------------------------------------------------
def _cli(args: list[str], cwd: Path, extra_path: str = "") -> subprocess.CompletedProcess[str]:
    here = str(Path(api.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, extra_path]))}
    return subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240)


def test_nested_namespace_packages_in_the_environment(tmp_path):
    """`opentelemetry.sdk.trace` / `google.protobuf` style: namespace folders nested in namespace
    folders on sys.path. importlib's PathFinder raised KeyError('opentelemetry') here."""
    site = write(tmp_path / "site", {
        "opentelemetry/sdk/trace/__init__.py": MODEL.replace("class M", "class Span"),
        "opentelemetry/api/__init__.py": "",
        "google/protobuf/__init__.py": "",
        "google/protobuf/message.py": "class Message:\n    pass\n",
        "xai_sdk/proto/v1/__init__.py": "",
    })
    project = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "app.py": "from opentelemetry.sdk.trace import Span\nfrom google.protobuf import message\n"
                  "import xai_sdk.proto.v1\n\n\ndef f(x: int) -> Span:\n    ...\n",
    })
    proc = _cli(["scan", "--no-cache", "--format", "json", "."], project, str(site))
    assert proc.returncode == 0, proc.stderr
    (r,) = json.loads(proc.stdout)
    assert (r["status"], r["model"]) == ("candidate", "opentelemetry.sdk.trace.Span")


PATHOLOGICAL = {
    "deep.py": "x = " + "(" * 2000 + "1" + ")" * 2000 + "\n",
    "deep_new_syntax.py": "type A = int\nx = " + "(" * 2000 + "1" + ")" * 2000 + "\n",
    "nul.py": "x = 1\x00\n",
    "long.py": "x = " + "+".join(["a"] * 200_000) + "\n",
}


def test_pathological_files_are_reported_and_every_command_goes_on(tmp_path):
    project = write(tmp_path, {
        "pyproject.toml": "[tool.distilgen]\ninstructions = 'app.distil:instructions'\n",
        "app/__init__.py": "", "app/ok.py": fn(),
        **{f"app/{k}": v for k, v in PATHOLOGICAL.items()},
    })
    scan = _cli(["scan", "--no-cache", "."], project)
    assert scan.returncode == 1, scan.stderr
    for name in PATHOLOGICAL:
        (line,) = [ln for ln in scan.stdout.splitlines() + scan.stderr.splitlines() if f"app/{name}: error:" in ln]
        assert "None" not in line and not line.rstrip().endswith(":"), line
    assert "app/ok.py:8:1: f -> app.ok.M [candidate]" in scan.stdout
    for args in (["apply", "--diff"], ["apply", "--check"], ["check"], ["stubs"], ["apply"], ["prompts"], ["check"]):
        proc = _cli(args, project)
        assert proc.returncode in (0, 1, 2), (args, proc.returncode, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, (args, proc.stderr[-2000:])


def test_parser_messages(tmp_path):
    """Run in a child: were the guard missing, libcst would kill the process (exit 139)."""
    for name, text in PATHOLOGICAL.items():
        write(tmp_path, {name: text})
    probe = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        from distilgen.analysis.parsing import UnparsableSource, parse_ast, parse_cst
        out = {}
        for p in sorted(Path(sys.argv[1]).iterdir()):
            for fn in (parse_ast, parse_cst):
                try:
                    fn(p.read_bytes(), str(p))
                    out[p.name + fn.__name__] = "parsed"
                except UnparsableSource as exc:
                    out[p.name + fn.__name__] = str(exc)
        print(json.dumps(out))
    """)
    here = str(Path(api.__file__).resolve().parent.parent)
    proc = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "PYTHONPATH": here})
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    for fname in ("parse_ast", "parse_cst"):
        assert got["nul.py" + fname] == "contains a NUL byte at line 1, column 6 (not Python source)"
        assert got["deep.py" + fname] == "syntax error at line 1, column 205: too many nested parentheses"
        assert got["deep_new_syntax.py" + fname].startswith("syntax error at line 2, column 205")
        assert got["long.py" + fname].startswith("an expression is too long or too deeply nested for Python's parser (")


def test_new_syntax_still_parses_on_older_interpreters():
    from distilgen.analysis.parsing import parse_ast, parse_cst

    text = "type A = list[int]\n\n\ndef f[T](x: T) -> A:\n    return [1]\n\n\nclass C[T]:\n    pass\n"
    tree = parse_ast(text)
    assert [type(n).__name__ for n in tree.body][1:] == ["FunctionDef", "ClassDef"]
    assert tree.body[1].lineno == 4
    assert parse_cst(text.encode()).code == text


def test_internal_error_is_one_line_naming_the_file_exit_2(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from distilgen.analysis import project as project_mod
    from distilgen.cli import main

    project = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/a.py": fn()})

    def boom(*args, **kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(project_mod, "_classify", boom)
    res = CliRunner().invoke(main, ["scan", "--no-cache", str(project)])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert lines == ["distilgen: internal error: pkg/a.py: while resolving its functions: KeyError: 'surprise' "
                     "(run with --debug for the traceback)"]
    res = CliRunner().invoke(main, ["--debug", "scan", "--no-cache", str(project)])
    assert isinstance(res.exception, Exception) and "surprise" in str(res.exception)


def test_prompts_imports_modules_from_every_source_root(tmp_path):
    """The lock's ids are the scan's, and the schema child imports them (src/ on its path)."""
    doc = '    """Make an M."""\n'
    body = fn().replace("    return M(x=a)\n", doc + "    return M(x=a)\n")
    project = write(tmp_path, {
        "pyproject.toml": "[project]\nname = 'shop'\n[tool.distilgen]\n",
        "src/shop/__init__.py": "", "src/shop/api.py": body,
        "examples/demo/__init__.py": "", "examples/demo/api.py": body,
    })
    for args in (["apply"], ["prompts"], ["check"]):
        proc = _cli(args, project)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    lock = (project / "distilgen.lock").read_text()
    assert '[functions."shop.api:f"]' in lock and '[functions."examples.demo.api:f"]' in lock


def test_generated_deep_nesting_never_crashes_the_parsers():
    """Hypothesis builds deeply nested expressions (brackets, unary operators, calls, attribute
    chains, conditionals, lambdas, PEP 695 lines) in a child process: every one parses or raises
    UnparsableSource with a one-line reason; a crash of libcst would end the child with a signal."""
    probe = textwrap.dedent("""
        from hypothesis import HealthCheck, given, settings, strategies as st
        from distilgen.analysis.parsing import UnparsableSource, parse_ast, parse_cst

        OPEN = {"(": ")", "[": "]", "{": "}", "-": "", "not ": "", "f(": ")", "lambda: ": "", "a if b else ": ""}
        layer = st.sampled_from(sorted(OPEN))

        @st.composite
        def source(draw):
            layers = draw(st.lists(layer, min_size=1, max_size=4))
            depth = draw(st.integers(1, 2200))
            prefix = draw(st.sampled_from(["", "type A = int\\n", "def g[T](x: T) -> T: ...\\n"]))
            seq = [layers[i % len(layers)] for i in range(depth)]
            return prefix + "x = " + "".join(seq) + "1" + "".join(OPEN[s] for s in reversed(seq)) + "\\n"

        seen = {"parsed": 0, "refused": 0}

        @settings(max_examples=30, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(source())
        def check(text):
            for fn in (parse_ast, parse_cst):
                try:
                    fn(text)
                    seen["parsed"] += 1
                except UnparsableSource as exc:
                    msg = str(exc)
                    assert msg and "\\n" not in msg and "None" not in msg and not msg.endswith(": "), msg
                    seen["refused"] += 1

        check()
        print(seen["parsed"], seen["refused"])
    """)
    here = str(Path(api.__file__).resolve().parent.parent)
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": here})
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    parsed, refused = map(int, proc.stdout.split())
    assert parsed > 0 and refused > 0  # both sides of the guard were exercised


def test_very_long_chains_are_reported_not_crashed_on(tmp_path):
    chain = MODEL.replace("class M", "class C0") + "".join(f"class C{i}(C{i - 1}):\n    pass\n" for i in range(1, 600))
    files = {
        "pyproject.toml": "",
        "ors.py": MODEL + "\n\ndef f() -> " + " | ".join(["M"] * 2500) + ":\n    ...\n",
        "chain.py": chain + "\n\ndef f() -> C599:\n    ...\n",
        "user.py": "from m0 import A\n\n\ndef f() -> A:\n    ...\n",
        **{f"m{i}.py": f"from m{i + 1} import A\n" for i in range(60)},
        "m60.py": MODEL.replace("class M", "class A"),
    }
    project = write(tmp_path, files)
    report = api.scan([project], use_cache=False)
    assert [(e.path, e.reason) for e in report.errors] == [
        ("ors.py", "an expression is too long or too deeply nested to index (RecursionError)")]
    got = {r.path: (r.status, r.reason) for r in report.results}
    assert got["chain.py"] == ("unresolved", "the chain of bases, aliases or imports behind the annotation is too deep to follow")
    assert got["user.py"][0] == "unresolved" and "more than 40 modules" in got["user.py"][1]


def test_scanning_a_package_folder_directly_keeps_its_package_name(tmp_path):
    write(tmp_path, {"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/mod.py": fn()})
    report = api.scan([tmp_path / "pkg" / "sub"], use_cache=False)
    (r,) = report.results
    # no pyproject.toml: rooted where `pkg` is imported from, as `scan .` there is (one lock, one cache)
    assert (report.root, r.path, r.module) == (tmp_path, "pkg/sub/mod.py", "pkg.sub.mod")
    assert source_roots(tmp_path / "pkg" / "sub", ()) == (tmp_path,)


# a file `ast` accepts but libcst's visitors and code generator (recursive Python) cannot walk
WIDE = fn("g") + "\n\nY = " + "+".join(["1"] * 1500) + "\n"


def test_pathological_files_beside_candidates_every_codemod_command(tmp_path):
    """Each codemod command through the real CLI: no signal death, no traceback, every bad file
    named on its own line, the good candidate still handled."""
    project = write(tmp_path, {
        "pyproject.toml": "[tool.distilgen]\ninstructions = 'app.distil:instructions'\n",
        "app/__init__.py": "", "app/ok.py": fn(), "app/wide.py": WIDE,
        **{f"app/{k}": v for k, v in PATHOLOGICAL.items()},
    })

    def run(args: list[str]) -> str:
        proc = _cli(args, project)
        out = proc.stdout + proc.stderr
        # unparsable files: a failed edit, exit 2 as for `ruff format` (not a crash: <0, 139)
        assert proc.returncode == 2, (args, proc.returncode, out[-2000:])
        assert "Traceback" not in out and "internal error" not in out, (args, out[-2000:])
        for name in PATHOLOGICAL:
            assert any(ln.startswith(f"app/{name}: error: cannot be scanned: ") for ln in out.splitlines()), (args, out)
        return out

    assert "app/ok.py: would be decorated: f" in run(["apply", "--check"])
    diff = run(["apply", "--diff"])
    assert "+++ b/app/ok.py" in diff and "+@instructions.distil" in diff
    out = run(["apply", "--no-lock"])
    assert "app/ok.py: decorated: f" in out
    assert "@instructions.distil\ndef f(" in (project / "app/ok.py").read_text()
    # the reduced parse reaches the decorator without walking the deep statement
    assert "app/wide.py: decorated: g" in out
    out = run(["apply", "--remove", "--no-lock"])
    assert "app/ok.py: undecorated: f" in out and (project / "app/ok.py").read_text() == fn()
    # --remove reads the whole module (is the import still used?): deeper than libcst's visitors
    # go by default, so it is edited again on the big stack with room to recurse
    assert "app/wide.py: undecorated: g" in out and (project / "app/wide.py").read_text() == WIDE
    out = run(["stubs", "--model", "ft:x", "--select", "f"])
    assert "app/distil_stubs.py: created" in out and "1 stub for ft:x" in out
    assert "def f(a: int) -> M:" in (project / "app/distil_stubs.py").read_text()
    for name, text in PATHOLOGICAL.items():  # nothing the user had is changed
        assert (project / "app" / name).read_text() == text


def test_stub_of_a_function_beside_a_very_deep_one(tmp_path):
    """Only the stubbed def is walked: a 1,500-term sum in another function is no obstacle."""
    project = write(tmp_path, {"pyproject.toml": "", "app/__init__.py": "", "app/ok.py": fn(),
                               "app/wide.py": fn("g") + "\n\ndef k() -> int:\n    return "
                               + "+".join(["1"] * 1500) + "\n"})
    proc = _cli(["stubs", "--model", "ft:x", "-o", "app/stubs_wide.py", "--select", "g"], project)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "internal error" not in out, out
    assert proc.returncode == 0, out
    assert "1 stub for ft:x" in out and "def g(a: int) -> M:" in (project / "app/stubs_wide.py").read_text()


SELF_MODELS = '''\
from typing import Self
import typing_extensions as te

from pydantic import BaseModel


class Doc(BaseModel):
    text: str

    @classmethod
    def from_xml(cls, xml: str) -> Self:
        return cls(text=xml.strip("<>"))

    def shout(self, n: int) -> "Self":
        return self.model_copy(update={"text": self.text.upper() * n})

    @classmethod
    def other(cls, x: int) -> te.Self:
        return cls(text=str(x))


class Plain:
    @classmethod
    def make(cls, a: int) -> Self:
        return cls()
'''


def test_a_model_method_returning_self_is_a_candidate_and_captures_as_its_class(tmp_path):
    """pydantic-xml's `from_xml(...) -> Self` (wave 4) was not listed at all. `Self` on a model's
    method is the model (typing's or typing_extensions'); on a plain class it is no model."""
    project = write(tmp_path, {"pyproject.toml": "[project]\nname = 'selfp'\n", "pkg/__init__.py": "",
                               "pkg/m.py": SELF_MODELS})
    results = {r.qualname: (r.status, r.model) for r in api.scan([project], use_cache=False).results}
    assert results == {"Doc.from_xml": ("candidate", "pkg.m.Doc"), "Doc.shout": ("candidate", "pkg.m.Doc"),
                       "Doc.other": ("candidate", "pkg.m.Doc")}
    report = api.apply([project])
    assert report.errors == (), report.errors
    run = subprocess.run([sys.executable, "-c", "import pkg.m as m\n"
                          "print(m.Doc.from_xml('<hi>').text, m.Doc(text='a').shout(2).text, m.Doc.other(3).text)"],
                         cwd=project, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([str(project), str(ROOT)])})
    assert run.returncode == 0 and run.stdout.split() == ["hi", "AA", "3"], run.stderr
    lines = [json.loads(line) for line in (project / "distil_dataset.jsonl").read_text().splitlines()]
    assert [ln["messages"][1]["content"] for ln in lines] == [
        "Return Doc.from_xml('<hi>')", "Return Doc(text='a').shout(2)", "Return Doc.other(3)"]
    assert {ln["tools"][0]["function"]["name"] for ln in lines} == {"Doc"}
    check = subprocess.run([sys.executable, "-m", "distilgen", "check", "."], cwd=project, capture_output=True,
                           text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_model_method_reading_state_its_methods_set_is_ineligible(tmp_path):
    """Wave 4 (crewai, fastmcp): a model's method whose answer depends on private state (set by
    `model_post_init`, never declared) cannot be distilled: its call writes the instance with its
    fields only, so one call text would get two answers. Reads that are not state stay candidates."""
    project = write(tmp_path, {"svc/__init__.py": "", "svc/m.py": """\
        from pydantic import BaseModel


        class Out(BaseModel):
            text: str


        class Client(BaseModel):
            url: str

            def model_post_init(self, context: object) -> None:
                self._session = object()

            def fetch(self, path: str) -> Out:
                return Out(text=f"{self._session}{self.url}{path}")

            def local(self, path: str) -> Out:
                other = Client(url=path)
                return Out(text=str(other._session))  # another instance's state: not `self`'s

            def copy_of(self, path: str) -> Out:
                return Out(text=self.url + path)
        """})
    got = {r.qualname: (r.status, r.reason) for r in api.scan([project], use_cache=False).results}
    assert got["Client.fetch"][0] == "ineligible"
    assert got["Client.fetch"][1].startswith("reads private state `self._session`")
    assert got["Client.local"] == ("candidate", None)
    assert got["Client.copy_of"] == ("candidate", None)


def test_a_parameter_no_call_can_write_makes_a_def_ineligible(tmp_path):
    """Wave 5 (arize-phoenix: 85 endpoints taking a starlette `Request`, helpers taking SQLAlchemy
    sessions and rows): a class found on the project's path that is no model, dataclass, enum or
    value has no written form, so every call would be skipped. A class the scan cannot see through
    (a decorator that may make it a dataclass, a base it cannot resolve) is not refused."""
    site = write(tmp_path / "site", {
        "webkit/__init__.py": "",
        "webkit/requests.py": "from typing import Any, Mapping\n\n\nclass HTTPConnection(Mapping[str, Any]):\n"
                              "    pass\n\n\nclass Request(HTTPConnection):\n    pass\n",
        "webkit/shapes.py": "import attr\n\n\n@attr.define\nclass Box:\n    size: int\n\n\n"
                            "class Opaque(NotInstalled):  # noqa: F821\n    pass\n",
    })
    project = write(tmp_path / "proj", {
        "pyproject.toml": "",
        "app.py": MODEL + "\n\nfrom webkit.requests import Request\nfrom webkit.shapes import Box, Opaque\n\n\n"
                  "def endpoint(request: Request, limit: int) -> M:\n    return M(x=limit)\n\n\n"
                  "def boxed(box: Box) -> M:\n    return M(x=box.size)\n\n\n"
                  "def opaque(o: Opaque) -> M:\n    return M(x=1)\n\n\n"
                  "def missing(thing: 'NotThere', n: int) -> M:  # noqa: F821\n    return M(x=n)\n",
    })
    proc = _cli(["scan", "--no-cache", "--format", "json", "."], project, str(site))
    assert proc.returncode == 0, proc.stderr
    got = {r["qualname"]: (r["status"], r["reason"]) for r in json.loads(proc.stdout)}
    assert got["endpoint"] == ("ineligible", "parameter request is of class webkit.requests.Request "
                                             "(no call can write its value)")
    assert got["boxed"] == ("candidate", None)
    assert got["opaque"] == ("candidate", None)
    assert got["missing"] == ("candidate", None)


def test_an_answer_from_the_clock_or_a_random_draw_is_ineligible(tmp_path):
    """Wave 5 (arize-phoenix's `_build_compaction_message` wrote `datetime.now()` into its answer;
    zenml's webhooks `secrets.token_urlsafe()`): one call, a different answer each time. The
    call's names are read through the module's imports, whatever their spelling."""
    project = write(tmp_path, {"notes/__init__.py": "", "notes/m.py": """\
        import datetime as dt
        import random as rnd
        import time
        from datetime import datetime, timedelta
        from secrets import token_hex
        from uuid import UUID, uuid4

        from pydantic import BaseModel


        class Note(BaseModel):
            text: str


        def stamped(text: str) -> Note:
            return Note(text=f"{datetime.now()} {text}")

        def dated(text: str) -> Note:
            return Note(text=f"{dt.date.today()} {text}")

        def rolled(text: str) -> Note:
            return Note(text=text * rnd.randint(1, 3))

        def keyed(text: str) -> Note:
            return Note(text=token_hex(4) + text)

        def named(text: str) -> Note:
            return Note(text=str(uuid4()))

        def epoch(text: str) -> Note:
            return Note(text=str(time.time()))

        def timed(text: str) -> Note:
            start = time.perf_counter()  # a duration, not the answer
            return Note(text=text + str(timedelta(seconds=1)))

        def parsed(text: str) -> Note:
            return Note(text=str(UUID(text)) + str(datetime.fromisoformat("2026-01-01")))

        def shadowed(text: str) -> Note:
            def random() -> str:
                return text
            return Note(text=random())
        """})
    got = {r.qualname: (r.status, r.reason) for r in api.scan([project], use_cache=False).results}
    assert got["stamped"] == ("ineligible", "calls datetime.now() (its answer depends on the clock, not on its call)")
    assert got["dated"][1].startswith("calls dt.date.today() (its answer depends on the clock")
    assert got["rolled"][1].startswith("calls rnd.randint() (its answer depends on a random draw")
    assert got["keyed"][1].startswith("calls token_hex()")
    assert got["named"][1].startswith("calls uuid4()")
    assert got["epoch"][1].startswith("calls time.time()")
    for fine in ("timed", "parsed", "shadowed"):
        assert got[fine] == ("candidate", None), (fine, got[fine])


def test_a_name_imported_in_both_branches_of_an_if_resolves_through_either(tmp_path):
    """Wave 5 (langfuse's Fern compat module: `if IS_PYDANTIC_V2: from pydantic.v1.fields import
    ModelField` / `else: from pydantic.fields import ModelField`): the scan read the `else` import
    only, which this environment lacks, and called the function unresolved. Both are kept, the
    `if` branch's first; the first that resolves wins."""
    project = write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/real.py": MODEL, "pkg/m.py": """\
        import sys

        if sys.version_info >= (3, 8):
            from pkg.real import M
        else:
            from pkg.gone import M

        if sys.version_info < (3, 8):
            from pkg.gone import M as N
        else:
            from pkg.real import M as N

        if sys.version_info < (3, 8):
            from pkg.gone import M as G
        else:
            from pkg.nowhere import M as G

        if sys.version_info >= (3, 8):
            try:
                from pkg.real import M as T
            except ImportError:
                raise
        else:
            from pkg.gone import M as T


        def first(a: int) -> M:
            return M(x=a)


        def second(a: int) -> N:
            return N(x=a)


        def neither(a: int) -> G:
            return G(x=a)


        def tried(a: int) -> T:
            return T(x=a)
        """})
    got = {r.qualname: (r.status, r.model, r.reason) for r in api.scan([project], use_cache=False).results}
    assert got["first"] == ("candidate", "pkg.real.M", None)
    assert got["second"] == ("candidate", "pkg.real.M", None)
    assert got["neither"][0] == "unresolved" and "pkg.gone" in got["neither"][2]  # the `if` branch's reason
    assert got["tried"] == ("candidate", "pkg.real.M", None)  # bound in a `try` inside the `if` branch
