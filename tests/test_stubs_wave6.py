"""`distilgen stubs`, sixth held-out wave: stub classes of models with string forward references
build and answer (opik), and a bare standard-library generic (`os.PathLike`) in a copied signature
passes `mypy --strict` (docling-core)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distilgen import api
from mypy_strict import mypy_strict

ROOT = Path(__file__).resolve().parent.parent
MODEL = "ft:gpt-4o-mini:acme::wave6"

USAGE = '''from typing import Any, Optional

import pydantic


class OpenAICompletionsUsage(pydantic.BaseModel):
    """opik 2.2.122: a field names a class defined below it."""
    total_tokens: int
    completion_tokens_details: Optional["CompletionTokensDetails"] = None

    @classmethod
    def from_original_usage_dict(cls, usage_dict: dict[str, Any]) -> "OpenAICompletionsUsage":
        """Read a usage dict."""
        return cls(**usage_dict)

    def doubled(self) -> "OpenAICompletionsUsage":
        return OpenAICompletionsUsage(total_tokens=2 * self.total_tokens)


class CompletionTokensDetails(pydantic.BaseModel):
    reasoning_tokens: Optional[int] = None


class Plain(pydantic.BaseModel):
    """No forward reference: its stub class was always complete."""
    n: int

    @classmethod
    def make(cls, n: int) -> "Plain":
        return cls(n=n)
'''

PROBE = '''import json, pkg.stubs as s, pkg.usage as u
a = s.OpenAICompletionsUsage.from_original_usage_dict({"total_tokens": 7})
b = s.OpenAICompletionsUsage(total_tokens=1).doubled()
c = s.Plain.make(3)
print(json.dumps([type(a).__name__, isinstance(a, u.OpenAICompletionsUsage), a.total_tokens,
                  type(a.completion_tokens_details).__name__, a.completion_tokens_details.reasoning_tokens,
                  b.total_tokens, b.completion_tokens_details, c.n]))
'''


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    for rel, text in {"pyproject.toml": '[project]\nname = "proj"\n', "pkg/__init__.py": "", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _mypy_strict(root: Path, rel: str) -> subprocess.CompletedProcess[str]:
    return mypy_strict(root, rel, search_path=[root, ROOT], path_var="PYTHONPATH")


def test_a_stub_class_of_a_model_with_forward_references_builds_and_answers(tmp_path: Path) -> None:
    """opik: the model's `Optional["CompletionTokensDetails"]` names a class defined below it, so
    the model is incomplete until first used; its stub class, subclassed then, never completed
    (every stub call raised PydanticUserError "not fully defined"). mypy --strict had passed."""
    from distilgen.testing import FakeOpenAI

    root = _project(tmp_path, {"pkg/usage.py": USAGE})
    report = api.stubs([root], model=MODEL, output=root / "pkg" / "stubs.py")
    assert report.skipped == ()
    assert set(report.functions) == {"pkg.usage:OpenAICompletionsUsage.from_original_usage_dict",
                                     "pkg.usage:OpenAICompletionsUsage.doubled", "pkg.usage:Plain.make"}
    text = (root / "pkg" / "stubs.py").read_text()
    assert "class OpenAICompletionsUsage(pkg.usage.OpenAICompletionsUsage):" in text
    with FakeOpenAI() as srv:
        srv.chat.push({"total_tokens": 7, "completion_tokens_details": {"reasoning_tokens": 3}},
                      {"total_tokens": 2, "completion_tokens_details": None}, {"n": 3})
        env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{ROOT}", "OPENAI_BASE_URL": srv.base_url,
               "OPENAI_API_KEY": "sk-test"}
        run = subprocess.run([sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True,
                             timeout=120, env=env)
        names = [r.json["tool_choice"]["function"]["name"] for r in srv.requests_to("/v1/chat/completions")]
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == ["OpenAICompletionsUsage", True, 7, "CompletionTokensDetails", 3, 2, None, 3]
    assert names == ["OpenAICompletionsUsage", "OpenAICompletionsUsage", "Plain"]
    run = _mypy_strict(root, "pkg/stubs.py")
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_forward_reference_nothing_resolves_does_not_stop_the_stubs_module_importing(tmp_path: Path) -> None:
    """A name the model's module binds only for type checkers stays unresolved: the stub class
    fails as its original does, and the module's other stubs still import and answer."""
    broken = ("from typing import TYPE_CHECKING, Optional\n\nimport pydantic\n\n"
              "if TYPE_CHECKING:\n    from elsewhere import Missing\n\n\n"
              "class Odd(pydantic.BaseModel):\n    x: Optional[\"Missing\"] = None\n\n"
              "    @classmethod\n    def make(cls, n: int) -> \"Odd\":\n        return cls()\n")
    root = _project(tmp_path, {"pkg/usage.py": USAGE, "pkg/odd.py": broken})
    api.stubs([root], model=MODEL, output=root / "pkg" / "stubs.py")
    text = (root / "pkg" / "stubs.py").read_text()
    assert "class Odd(pkg.odd.Odd):" in text
    run = subprocess.run([sys.executable, "-c", "import pkg.stubs as s; print(s.Plain.__pydantic_complete__)"],
                         cwd=root, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{ROOT}"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True"


TOKENIZER = '''import os
from os import PathLike
from typing import Union

from pydantic import BaseModel


class Tokenizer(BaseModel):
    name: str


def one_line(path: str | PathLike) -> Tokenizer:
    """docling-core's bare os.PathLike, imported by name."""
    return Tokenizer(name=str(path))


def dotted(path: Union[str, os.PathLike]) -> Tokenizer:
    """The same, named through its module."""
    return Tokenizer(name=str(path))
'''

MULTI_LINE = '''

def from_pretrained(
    model_name: str | PathLike,
    max_tokens: int = 512,
) -> Tokenizer:
    """docling-core 2.104.0 HuggingFaceTokenizer.from_pretrained: over several lines."""
    return Tokenizer(name=str(model_name))
'''


@pytest.mark.parametrize("multi_line", [False, True])
def test_a_bare_pathlike_in_a_stub_signature_passes_mypy_strict(tmp_path: Path, multi_line: bool) -> None:
    """mypy --strict reports a bare `os.PathLike` (generic in typeshed) as `type-arg`, as it does a
    bare `dict`; the stub keeps the signature as written (it is the prompt) and says so to mypy: on
    the `def` line, or for the module when a signature spans lines."""
    root = _project(tmp_path, {"pkg/tok.py": TOKENIZER + (MULTI_LINE if multi_line else "")})
    report = api.stubs([root], model=MODEL, output=root / "pkg" / "stubs.py")
    assert report.skipped == ()
    text = (root / "pkg" / "stubs.py").read_text()
    assert "def one_line(path: str | PathLike) -> Tokenizer:" in text
    assert "def dotted(path: Union[str, os.PathLike]) -> Tokenizer:" in text
    if multi_line:
        assert '# mypy: allow-empty-bodies, disable-error-code="type-arg"\n' in text
        assert "# type: ignore" not in text
    else:
        assert "def one_line(path: str | PathLike) -> Tokenizer:  # type: ignore[type-arg]\n" in text
        assert "def dotted(path: Union[str, os.PathLike]) -> Tokenizer:  # type: ignore[type-arg]\n" in text
    run = _mypy_strict(root, "pkg/stubs.py")
    assert run.returncode == 0, run.stdout + run.stderr


DATASET = '''from typing import Any, Generic

import pydantic
from typing_extensions import TypeVar

InputsT = TypeVar("InputsT", default=Any)
OutputT = TypeVar("OutputT", default=Any)
ItemT = TypeVar("ItemT")


class Dataset(pydantic.BaseModel, Generic[InputsT, OutputT]):
    """pydantic-evals 2.62.0: generic only in type variables with defaults (PEP 696)."""
    name: str

    @classmethod
    def named(cls, name: str) -> "Dataset":
        return cls(name=name)


class Page(pydantic.BaseModel, Generic[ItemT, OutputT]):
    """One variable without a default: still generic when named bare."""
    size: int

    def doubled(self) -> "Page":
        return Page(size=2 * self.size)


class Box(pydantic.BaseModel, Generic[OutputT]):
    """No stub class of its own: a signature names the original, bare."""
    label: str = ""


class Crate(pydantic.BaseModel, Generic[ItemT]):
    weight: int = 0


def unbox(box: Box) -> Dataset:
    """A bare `Box`: complete, as its variable takes its default."""
    return Dataset(name=box.label)


def uncrate(crate: Crate) -> Page:
    return Page(size=crate.weight)
'''


def test_a_generic_model_whose_type_variables_all_have_defaults_takes_no_type_arg_ignore(tmp_path: Path) -> None:
    """mypy reads a bare `Dataset` as `Dataset[Any, Any]` when every type variable has a default:
    a `type-arg` ignore on its stub class or on a signature naming it is then reported unused and
    `mypy --strict` fails (pydantic-evals, wave 7). A class with one variable without a default keeps
    its ignores."""
    root = _project(tmp_path, {"pkg/evals.py": DATASET})
    report = api.stubs([root], model=MODEL, output=root / "pkg" / "stubs.py")
    assert report.skipped == ()
    text = (root / "pkg" / "stubs.py").read_text()
    unbox = next(line for line in text.splitlines() if line.startswith("def unbox("))
    uncrate = next(line for line in text.splitlines() if line.startswith("def uncrate("))
    assert "type-arg" not in unbox and "type-arg" in uncrate
    dataset_class = next(line for line in text.splitlines() if line.startswith("class Dataset("))
    page_class = next(line for line in text.splitlines() if line.startswith("class Page("))
    assert "type-arg" not in dataset_class and "type-arg" in page_class
    run = _mypy_strict(root, "pkg/stubs.py")
    assert run.returncode == 0, run.stdout + run.stderr
