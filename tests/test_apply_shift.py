"""`apply`'s lock step moves the index of a file it edited by inserting lines instead of indexing
it again (`analysis.index_shift`): the cached index is the one a fresh build gives, and a file that
is not what the edit wrote (or an index that is not of what it read) is indexed as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_scan_real_code import write

import distilgen.analysis.project as project
from distilgen import api
from distilgen.analysis.cache import ScanCache
from distilgen.analysis.file_index import FileIndex, build_index, thaw

MODELS = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: int\n"
MODULE = '''"""Orders."""

from __future__ import annotations

from pkg.models import M


@staticmethod
def helper(a: int) -> M:
    return M(x=a)


class Box:
    """A box."""

    def size(self) -> int:
        return 1


def first(a: int) -> M:
    return M(x=a)


def second(a: int, b: int) -> M:
    def inner(c: int) -> M:
        return M(x=c)
    return inner(a + b)
'''


def project_files(tmp_path: Path) -> Path:
    return write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/models.py": MODELS,
                            "pkg/orders.py": MODULE, "pkg/more.py": "from pkg.models import M\n\n\ndef third(a: int) -> M:\n"
                                                                     "    return M(x=a)\n"})


def cached_indexes(root: Path) -> dict[str, FileIndex]:
    files = ScanCache(root / ".distilgen_cache", True).load_index().files
    return {Path(p).relative_to(root).as_posix(): (c.index if isinstance(c.index, FileIndex) else thaw(c.index))
            for p, c in files.items()}


def test_the_lock_step_moves_the_indexes_of_the_files_it_edited(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = project_files(tmp_path)
    moved: list[str] = []
    real = project._moved

    def counting(e, hit, edit):  # type: ignore[no-untyped-def]
        got = real(e, hit, edit)
        if got is not None:
            moved.append(e.rel)
        return got

    monkeypatch.setattr(project, "_moved", counting)
    result = api.apply([root])
    assert sorted(result.shifted) == ["pkg/more.py", "pkg/orders.py"]
    assert sorted(moved) == ["pkg/more.py", "pkg/orders.py"]
    for rel, idx in cached_indexes(root).items():
        assert idx == build_index((root / rel).read_bytes(), str(root / rel)), rel
    assert [r.findings for r in api.check([root])] == [()]


def test_a_file_changed_after_the_edit_is_indexed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The edit's digest no longer matches what the file holds: its old index is not moved."""
    root = project_files(tmp_path)
    real = project._moved

    def changed_first(e, hit, edit):  # type: ignore[no-untyped-def]
        if e.rel == "pkg/more.py":
            path = Path(e.path)
            path.write_text(path.read_text() + "\n\ndef fourth(a: int) -> M:\n    return M(x=a)\n")
        return real(e, hit, edit)

    monkeypatch.setattr(project, "_moved", changed_first)
    api.apply([root])
    idx = cached_indexes(root)["pkg/more.py"]
    assert {f.qualname for f in idx.funcs} == {"third", "fourth"}  # built from what the file holds now
