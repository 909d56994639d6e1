"""`distilgen stubs`, twelfth held-out wave: the stub class of a model declared
`class Plan(PydanticModel, frozen=True)` repeats `frozen=True` (sqlmesh 0.236.4: its three
`mypy --strict` errors were "Non-frozen dataclass cannot inherit from a frozen dataclass"). Where
the model is frozen over a non-frozen model of the project (sqlmesh's `PydanticModel`), mypy reports
the model's own class line, and its stub class's either way: that line ignores `misc`."""

from __future__ import annotations

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
