"""`eval`/`generate` TARGET: the function id of `path.py:fn` is the scan's (and so the lock's and
the dataset's), and parameter hints imported only under TYPE_CHECKING do not make it unusable."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from distilgen import api
from distilgen.errors import UsageError
from distilgen.evals.generate import plan_inputs
from distilgen.evals.target import resolve_target

MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: int\n"


def fn(name: str = "f") -> str:
    return MODEL + f"\n\ndef {name}(a: int) -> M:\n    return M(x=a)\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture
def clean_imports(monkeypatch):
    """resolve_target imports the user's module and extends sys.path: undo both afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


LAYOUT = {
    "pyproject.toml": "[project]\nname = 'lay'\n",
    # a regular package under a PEP 420 namespace folder (no __init__.py in evx_examples/)
    "evx_examples/shopx/__init__.py": "",
    "evx_examples/shopx/api.py": fn(),
    # a package nested under folders without __init__.py: the interpreter names it in full
    "evx_app/data/sourcex/__init__.py": "",
    "evx_app/data/sourcex/typex/__init__.py": "",
    "evx_app/data/sourcex/typex/service.py": fn("g"),
    # src layout
    "src/evx_pkg/__init__.py": "",
    "src/evx_pkg/mod.py": fn("h"),
}


def test_path_targets_get_the_scans_function_ids(tmp_path, clean_imports):
    project = write(tmp_path, LAYOUT)
    scanned = {r.path: r.function_id for r in api.scan([project], use_cache=False).results}
    for rel, qual, expected in [
        ("evx_examples/shopx/api.py", "f", "evx_examples.shopx.api:f"),
        ("evx_app/data/sourcex/typex/service.py", "g", "evx_app.data.sourcex.typex.service:g"),
        ("src/evx_pkg/mod.py", "h", "evx_pkg.mod:h"),
    ]:
        assert scanned[rel] == expected
        # relative to the root, and absolute, give the same id as the scan (and the lock, the dataset)
        assert resolve_target(f"{rel}:{qual}", project).function_id == expected
        assert resolve_target(f"{project / rel}:{qual}", project).function_id == expected
        # and the module:qualname spelling finds the same function (src/ is a source root)
        assert resolve_target(expected, project).original is resolve_target(f"{rel}:{qual}", project).original


TYPE_CHECKING_ONLY = MODEL + '''
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

if TYPE_CHECKING:
    from evx_somewhere import Files


def f(a: Annotated[int, Field(ge=3, le=5)], files: "Files | None" = None) -> M:
    return M(x=a)
'''


def test_type_checking_only_parameter_hints(tmp_path, clean_imports):
    project = write(tmp_path, {"pyproject.toml": "", "evx_tc.py": TYPE_CHECKING_ONLY})
    target = resolve_target("evx_tc.py:f", project)
    assert target.function_id == "evx_tc:f" and target.return_model.__name__ == "M"
    assert "Files" in target.unresolved["files"] and target.params["files"] is __import__("typing").Any
    # the other hints keep their Annotated constraints (the strategies honour them)
    assert getattr(target.params["a"], "__metadata__", None)
    with pytest.raises(UsageError, match="parameter 'files' cannot be resolved.*--strategies"):
        plan_inputs(target, 3, seed=1)
    from hypothesis import strategies as st

    planned, _, _ = plan_inputs(target, 3, seed=1, user_strategies={"files": st.none()})
    assert planned and all(3 <= p["a"] <= 5 and p["files"] is None for p in planned)


def test_unresolvable_return_annotation_is_one_line(tmp_path, clean_imports):
    project = write(tmp_path, {"pyproject.toml": "", "evx_bad.py": "def f(a: int) -> 'Nope':\n    ...\n"})
    with pytest.raises(UsageError, match=r"evx_bad.py:f'?: cannot resolve its return annotation: NameError"):
        resolve_target("evx_bad.py:f", project)


def test_a_private_methods_id_resolves_as_the_scan_names_it(tmp_path, clean_imports):
    """weaviate (third held-out wave): `_IndexWrappers.__hnsw` is stored as `_IndexWrappers__hnsw`
    (name mangling) while scan, the lock and the runtime say `__hnsw`; `generate`/`eval` refused
    the id they printed. The schema child's lookup follows the same rule."""
    from distilgen.prompts._schema_worker import _resolve

    project = write(tmp_path, {
        "pyproject.toml": "[project]\nname = 'mang'\n",
        "mangx/__init__.py": "",
        "mangx/cfg.py": MODEL + "\n\nclass _Wrappers:\n    @staticmethod\n    def __hnsw(a: int) -> M:\n        return M(x=a)\n",
    })
    [r] = api.scan([project], use_cache=False).results
    assert r.function_id == "mangx.cfg:_Wrappers.__hnsw"
    target = resolve_target(r.function_id, project)
    assert target.function_id == r.function_id and target.original(3).x == 3
    assert _resolve("mangx.cfg", "_Wrappers.__hnsw") is target.original
    with pytest.raises(UsageError, match="has no _Wrappers.__nope"):
        resolve_target("mangx.cfg:_Wrappers.__nope", project)
