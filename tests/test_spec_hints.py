"""Capture when parameter hints exist only for type checkers (`if TYPE_CHECKING:` imports)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from distilgen.runtime.spec import parameter_hints, resolve_return_model

ROOT = Path(__file__).resolve().parent.parent

MODULE = '''
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from distilgen import Instructions

if TYPE_CHECKING:
    from somewhere_only_for_mypy import Files

instructions = Instructions(dataset=DATASET)


class Count(BaseModel):
    n: int


@instructions.distil
def count(files: Files, limit: int) -> Count:
    """Count the files, at most `limit`."""
    return Count(n=min(len(files), limit))
'''


def _python(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter that imports from `tmp_path` and this checkout only."""
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"})


def _load(tmp_path: Path, name: str, return_hint: str = "Count") -> Path:
    src = MODULE.replace("DATASET", repr(str(tmp_path / "d.jsonl"))).replace("-> Count:", f"-> {return_hint}:")
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(src))
    return tmp_path


def test_type_checking_only_parameter_hint_still_captures(tmp_path: Path) -> None:
    _load(tmp_path, "tc_mod")
    code = "import tc_mod, warnings\nwarnings.simplefilter('error')\nprint(tc_mod.count(['a', 'b', 'c'], 2).n)\n"
    run = _python(tmp_path, code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "2"
    (line,) = (tmp_path / "d.jsonl").read_text().splitlines()
    example = json.loads(line)
    assert example["messages"][1]["content"] == "Return count(['a', 'b', 'c'], 2)"


def test_the_return_annotation_resolves_alone_and_parameters_one_by_one() -> None:
    ns: dict[str, object] = {}
    exec(textwrap.dedent('''
        from __future__ import annotations
        from pydantic import BaseModel
        class Count(BaseModel):
            n: int
        def count(files: Files, limit: int, other: Missing) -> Count:
            return Count(n=1)
    '''), ns)
    fn = ns["count"]
    assert resolve_return_model(fn) is ns["Count"]  # type: ignore[arg-type]
    hints, failed = parameter_hints(fn)  # type: ignore[arg-type]
    assert hints == {"limit": int}
    assert failed == {"files": "NameError: name 'Files' is not defined",
                      "other": "NameError: name 'Missing' is not defined"}


def test_an_unresolvable_return_annotation_is_named_as_such(tmp_path: Path) -> None:
    _load(tmp_path, "tc_bad", return_hint="Nowhere")
    code = "import logging, tc_bad\nlogging.basicConfig()\ntc_bad.count([], 1)\n"
    run = _python(tmp_path, code)
    assert run.returncode == 0, run.stderr  # capture never breaks the caller: it logs (shown once configured)
    assert "cannot resolve the return annotation: name 'Nowhere' is not defined" in run.stderr
    assert "Files" not in run.stderr


def test_a_model_named_through_a_package_still_importing_resolves_at_the_first_call(tmp_path: Path) -> None:
    # dspy's shape: `pkg/__init__.py` imports `pkg.tools` before it binds `History`, and
    # `pkg.tools` annotates `-> pkg.History` under postponed annotations. Undecorated, this imports
    # fine; the decorator must not evaluate the annotation while `pkg` is half initialised.
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from pkg.tools import coerce\nfrom pkg.history import History\n")
    (pkg / "history.py").write_text("from pydantic import BaseModel\n\nclass History(BaseModel):\n    messages: list[str]\n")
    (pkg / "tools.py").write_text(textwrap.dedent(f'''
        from __future__ import annotations

        import pkg
        from distilgen import Instructions

        instructions = Instructions(dataset={str(tmp_path / "d.jsonl")!r})


        @instructions.distil
        def coerce(messages: list[str]) -> pkg.History:
            return pkg.History(messages=messages)
    '''))
    code = "import pkg\nprint(pkg.coerce(['a']).messages)\n"
    run = _python(tmp_path, code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['a']"
    (line,) = (tmp_path / "d.jsonl").read_text().splitlines()
    assert json.loads(line)["messages"][1]["content"] == "Return coerce(['a'])"
