"""The scan on code it has never seen: module names as the interpreter gives them, nested namespace
packages in the environment, pathological files, eligibility of validators, stubs and protocols."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from distilgen import api
from distilgen.analysis.roots import source_roots

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


def test_unimportable_folders_fall_back_to_the_package_name(tmp_path):
    project = write(tmp_path, {"pyproject.toml": "", "my-tools/kit/__init__.py": "", "my-tools/kit/run.py": fn()})
    (r,) = api.scan([project], use_cache=False).results
    assert r.module == "kit.run"
