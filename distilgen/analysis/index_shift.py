"""An edited file's index from its index before the edit, where the edit only inserted lines.

`apply` decorates most files by inserting whole lines (`codemods.quick_decorate`: one
`@instructions.distil` line per function, one import after the top import block) and then scans
the project again for the lock. Indexing those files again (parse, walk) was a fifth of a big
`apply` (mcp: 193 files, ~1 s of CPU). Their new index is the old one with line numbers moved,
the decorator added to each decorated def and the import's name bound: nothing else in a file can
change when lines that neither bind nor read any of its names are inserted (`quick_decorate`
answers only where the instance's names appear nowhere in the file). The tests compare
`shifted_index` with `build_index` of the edited text on every edit `quick_decorate` makes on the
corpora and on generated programs (`tests/test_quick_decorate.py`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from .file_index import FileIndex, is_generated

__all__ = ["LineInserts", "ShiftedFile", "shifted_index"]


@dataclass(frozen=True)
class LineInserts:
    """What a line-insertion edit put into a file."""

    inserts: tuple[tuple[int, int, int], ...]
    """(line of the old text the new lines go before, how many lines, the old line of the def it
    decorates, or 0 for the import), in the order the lines stand in the new text."""
    attr: str
    """The name the import binds and the decorator calls (`instructions`)."""
    module: str
    """The module the name is imported from (`pkg.distil`)."""


@dataclass(frozen=True)
class ShiftedFile:
    """A file `apply` wrote by inserting lines: its content digests (`cache.digest`) before and after
    the edit, so that its old index is moved only when it is the index of what the edit read, and
    only while the file holds what the edit wrote."""

    old_digest: bytes
    new_digest: bytes
    edit: LineInserts


def shifted_index(old: FileIndex, edit: LineInserts, new_text: str) -> FileIndex:
    """`build_index` of `new_text`, computed from `old` (the index of the text before `edit`). A
    decorated def the index does not record (`-> int`) is not recorded after the edit either."""
    befores = [b for b, _, _ in edit.inserts]
    counts: list[int] = []  # lines inserted up to and including each insert
    total = 0
    for _, n, _ in edit.inserts:
        total += n
        counts.append(total)

    def moved(line: int) -> int:
        at = bisect.bisect_right(befores, line)  # inserts that go before this line
        return line + (counts[at - 1] if at else 0)

    decorator_at: dict[int, int] = {}  # old def line -> the new decorator's line
    for i, (before, _, def_line) in enumerate(edit.inserts):
        if def_line:
            decorator_at[def_line] = before + (counts[i - 1] if i else 0)
    funcs = []
    for f in old.funcs:
        decos = tuple((moved(d[0]), *d[1:]) for d in f.decorators)
        at = decorator_at.get(f.lineno)
        if at is not None:
            decos = (*decos, (at, f"{edit.attr}.distil", False, ()))
        lineno = moved(f.lineno)
        funcs.append(f._replace(lineno=lineno, end_lineno=moved(f.end_lineno), decorators=decos,
                                decorator_lineno=min([lineno, *(d[0] for d in decos)])))
    classes = {}
    for q, c in old.classes.items():
        span = c.span
        if span is not None:
            span = (moved(span[0]), span[1], moved(span[2]), span[3])
        classes[q] = c._replace(lineno=moved(c.lineno), span=span)
    names: dict[str, Any] = dict(old.names)
    names[edit.attr] = ("imp", 0, edit.module, edit.attr)
    scopes = list(old.scopes)
    if scopes:
        parent, _, kind = scopes[0]
        scopes[0] = (parent, names, kind)
    return old._replace(names=names, scopes=tuple(scopes), classes=classes, funcs=tuple(funcs),
                        generated=is_generated(new_text), lines=new_text.count("\n") + 1)
