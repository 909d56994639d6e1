"""Wave 12 (sqlmesh, datachain, camel-ai, supabase-auth): a helper imported inside the function,
validators through a project's wrapper or registered by a call, an argument kept through
`x = {} if x is None else x`, the file system's state, one-time codes and secrets by name, a
model's method taking `**kwargs`, `.open()` of bytes in memory (/tmp/w12/repros-copy.md)."""

from __future__ import annotations

from pathlib import Path

from test_scan_real_code import scanned_package

MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: str\n"
OPENED = "calls open() (its answer depends on a file, not on its call)"


def project(tmp_path: Path, body: str, **files: str) -> dict[str, tuple[str, str | None]]:
    return scanned_package(tmp_path, MODEL + body, **files)


# -- 2: a helper imported inside the function ----------------------------------------------------
def test_helper_imported_inside_the_function(tmp_path: Path) -> None:
    """datachain's `ImageFile.get_info` (`from .image import image_info; return image_info(self)`,
    which opens the file) was a candidate: the helper chain followed module-level imports only."""
    got = project(tmp_path, """
class Image(BaseModel):
    path: str

    def get_info(self) -> M:
        from .reader import read_info
        return M(x=read_info(self.path))


def from_name(path: str) -> M:
    from .reader import read_info
    return M(x=read_info(path))


def from_module(path: str) -> M:
    from . import reader
    return M(x=reader.read_info(path))


def as_alias(path: str) -> M:
    import pkg.reader as r
    return M(x=r.read_info(path))


def renamed(path: str) -> M:
    from pkg.reader import read_info as ri
    return M(x=ri(path))


def pure(path: str) -> M:
    from .reader import shout
    return M(x=shout(path))
""", reader="""
def read_info(path: str) -> str:
    with open(path) as f:
        return f.read()


def shout(text: str) -> str:
    return text.upper()
""")
    assert got["Image.get_info"] == ("ineligible", f"calls read_info(), which {OPENED}")
    assert got["from_name"] == ("ineligible", f"calls read_info(), which {OPENED}")
    assert got["from_module"] == ("ineligible", f"calls reader.read_info(), which {OPENED}")
    assert got["as_alias"] == ("ineligible", f"calls r.read_info(), which {OPENED}")
    assert got["renamed"] == ("ineligible", f"calls ri(), which {OPENED}")
    assert got["pure"] == ("candidate", None)
