"""`distilgen stubs`, twelfth held-out wave: the stub class of a model declared
`class Plan(PydanticModel, frozen=True)` repeats `frozen=True` (sqlmesh 0.236.4: its three
`mypy --strict` errors were "Non-frozen dataclass cannot inherit from a frozen dataclass"). Where
the model is frozen over a non-frozen model of the project (sqlmesh's `PydanticModel`), mypy reports
the model's own class line, and its stub class's either way: that line ignores `misc`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from distilgen import api
from mypy_strict import mypy_strict

ROOT = Path(__file__).resolve().parent.parent
MODEL = "ft:gpt-4o-mini:acme::wave12"

MODELS = '''from pydantic import BaseModel, ConfigDict


class Index(BaseModel, frozen=True):
    ids: tuple[int, ...] = ()

    def with_id(self, i: int) -> "Index":
        return Index(ids=(*self.ids, i))


class Loose(BaseModel, extra="allow"):
    """A keyword mypy does not read off the class line: not repeated."""
    n: int = 0

    def bumped(self, by: int) -> "Loose":
        return Loose(n=self.n + by)


class Configured(BaseModel):
    """Frozen through model_config, which mypy does not read: nothing to repeat."""
    model_config = ConfigDict(frozen=True)
    n: int = 0

    def bumped(self, by: int) -> "Configured":
        return Configured(n=self.n + by)
'''


def test_a_frozen_model_s_stub_class_is_frozen_and_passes_mypy_strict(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "models.py").write_text(MODELS)
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    assert "class Index(pkg.models.Index, frozen=True):\n" in text
    assert "class Loose(pkg.models.Loose):\n" in text and "class Configured(pkg.models.Configured):\n" in text
    run = mypy_strict(root, report.path, search_path=[root, ROOT])
    assert run.returncode == 0, run.stdout + run.stderr


BASE = '''import pydantic


class PydanticModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)


class FrozenBase(pydantic.BaseModel, frozen=True):
    n: int = 0
'''

PLANS = '''from pkg.base import FrozenBase, PydanticModel


class Plan(PydanticModel, frozen=True):
    n: int = 0

    def bumped(self, by: int) -> "Plan":
        return Plan(n=self.n + by)


class Step(FrozenBase, frozen=True):
    def bumped(self, by: int) -> "Step":
        return Step(n=self.n + by)
'''


def test_a_model_frozen_over_a_non_frozen_model_s_stub_class_ignores_misc(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "base.py").write_text(BASE)
    (root / "pkg" / "plans.py").write_text(PLANS)
    report = api.stubs([root], model=MODEL)
    text = (root / report.path).read_text()
    assert "class Plan(pkg.plans.Plan, frozen=True):  # type: ignore[misc]\n" in text
    assert "class Step(pkg.plans.Step, frozen=True):\n" in text  # frozen all the way up: nothing to ignore
    run = mypy_strict(root, report.path, search_path=[root, ROOT])
    assert run.returncode == 0, run.stdout + run.stderr


# thirteenth held-out wave (optimade 1.5.0's adapters): `try: from ase import Atoms` /
# `except ImportError: Atoms = type("Atoms", (), {})`, and `Atoms` in a signature
TRY_MODELS = '''from pydantic import BaseModel


class Out(BaseModel):
    text: str
'''

TRY_FUNCS = '''from pydantic import BaseModel

try:
    from fractions import Fraction
except ImportError:
    Fraction = type("Fraction", (), {})  # type: ignore[assignment,misc]

try:
    from pkg.models import Out
except ImportError:
    class Out(BaseModel):  # type: ignore[no-redef]
        text: str

try:
    from distilgen_absent_dependency import Atoms  # type: ignore[import-not-found]
except ImportError:
    Atoms = type("Atoms", (), {})


def half(x: Fraction) -> Out:
    """Half of x, as text."""
    return Out(text=str(x / 2))


def count_atoms(atoms: Atoms) -> Out:
    """How many atoms, as text."""
    return Out(text=str(len(atoms)))
'''


def test_a_name_imported_in_try_and_computed_in_except_is_imported_from_its_source(tmp_path: Path) -> None:
    """mypy reads the `try:` import as the name's binding: the stubs module imports it from that
    import's source for type checkers (the original's module only imported it, and importing it
    from there is an implicit re-export, which `mypy --strict` refuses), and from the original's
    module at run time, whichever binding ran there."""
    import subprocess
    import sys

    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "models.py").write_text(TRY_MODELS)
    (root / "pkg" / "m.py").write_text(TRY_FUNCS)
    original = mypy_strict(root, "pkg/m.py", search_path=[root, ROOT])
    assert original.returncode == 0, original.stdout + original.stderr
    report = api.stubs([root], model=MODEL)
    assert report.functions == ("pkg.m:half", "pkg.m:count_atoms"), report.skipped
    text = (root / report.path).read_text()
    # an optional dependency may be missing where mypy runs (optimade's ase): Any, as in the original
    ignore = "  # type: ignore[import-not-found, import-untyped, unused-ignore]\n"
    assert (f"if TYPE_CHECKING:\n    from distilgen_absent_dependency import Atoms{ignore}"
            f"    from fractions import Fraction{ignore}    from pkg.models import Out{ignore}"
            "else:\n    from pkg.m import Atoms, Fraction, Out\n") in text, text
    run = mypy_strict(root, report.path, search_path=[root, ROOT])
    assert run.returncode == 0, run.stdout + run.stderr
    module = report.path.removesuffix(".py").replace("/", ".")
    for probe in (f"import {module} as s, pkg.m as m, pkg.models\n"
                  "assert s.Fraction is m.Fraction and s.Out is m.Out is pkg.models.Out and s.Atoms is m.Atoms\n",
                  # the optional import fails: the stubs module still imports, with the fallback
                  f"import sys\nsys.modules['pkg.models'] = None\nimport {module} as s, pkg.m as m\n"
                  "assert s.Out is m.Out and m.Out.__module__ == 'pkg.m'\n"):
        imported = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=120,
                                  env={**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{ROOT}"})
        assert imported.returncode == 0, imported.stderr
