"""`codemods.line_diff`: a diff that aligns untouched runs in linear time is still a correct diff,
and the same text as `difflib` on the edits `apply` makes."""

from __future__ import annotations

import difflib
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from distilgen.codemods.line_diff import unified_diff_lines

_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def patched(a: list[str], diff: list[str]) -> list[str]:
    """`a` with the unified diff applied, checking every context and removed line against `a`."""
    out: list[str] = []
    at = 0  # lines of `a` consumed
    rows = diff[2:]
    k = 0
    while k < len(rows):
        m = _HUNK.match(rows[k])
        assert m, rows[k]
        start, length = int(m.group(1)), int(m.group(2) or 1)
        first = start - 1 if length else start  # an empty range names the line before it
        out.extend(a[at:first])
        at = first
        k += 1
        while k < len(rows) and not rows[k].startswith("@@"):
            mark, line = rows[k][0], rows[k][1:]
            if mark in " -":
                assert a[at] == line, (at, a[at], line)
                at += 1
            if mark in " +":
                out.append(line)
            k += 1
    return out + a[at:]


def edited(base: list[str], edits: list[tuple[int, int, list[str]]]) -> list[str]:
    out = list(base)
    for pos, cut, new in edits:
        pos = min(pos, len(out))
        out[pos:pos + cut] = new
    return out


LINES = st.lists(st.sampled_from(["\n", ")\n", "x = 1\n", "def f():\n", "    pass\n", "import a\n"]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(LINES, st.lists(st.tuples(st.integers(0, 60), st.integers(0, 3), LINES.map(lambda xs: xs[:4])), max_size=6))
def test_any_edit_gives_a_diff_that_turns_the_old_lines_into_the_new(base: list[str], edits: list) -> None:
    new = edited(base, edits)
    diff = list(unified_diff_lines(base, new, "a/m.py", "b/m.py"))
    assert patched(base, diff) == new
    assert (diff == []) == (base == new)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 400), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 2), st.integers(0, 3)), max_size=8))
def test_separate_edits_of_distinct_lines_diff_as_difflib_does(size: int, edits: list) -> None:
    # apply's edits: a few lines inserted or replaced among lines that are mostly distinct
    base = [f"line {i}\n" for i in range(size)]
    new = edited(base, [(pos, cut, [f"new {pos} {k}\n" for k in range(n)]) for pos, cut, n in edits])
    ours = list(unified_diff_lines(base, new, "a/m.py", "b/m.py"))
    assert ours == list(difflib.unified_diff(base, new, "a/m.py", "b/m.py"))


def test_a_decorator_between_blank_lines_is_one_added_line() -> None:
    # difflib's autojunk makes blank lines "junk" in files of 200+ lines and then rewrites the blank
    # lines around an insertion (-2 +3); the inserted line alone is the diff
    base = ["import a\n", "\n", "\n", "def f():\n", "    return 1\n"] + [f"x{i} = {i}\n" for i in range(300)]
    new = base[:3] + ["@instructions.distil\n"] + base[3:]
    ours = list(unified_diff_lines(base, new, "a/m.py", "b/m.py"))
    assert [line for line in ours if line[0] in "+-" and not line.startswith(("---", "+++"))] == ["+@instructions.distil\n"]
    assert patched(base, ours) == new


def test_lists_that_share_nothing_fall_back_to_difflib() -> None:
    base = [f"a{i}\n" for i in range(500)]
    new = [f"b{i}\n" for i in range(500)]
    assert list(unified_diff_lines(base, new, "x", "y")) == list(difflib.unified_diff(base, new, "x", "y"))
    assert list(unified_diff_lines([], new[:3], "/dev/null", "b/m.py")) == list(
        difflib.unified_diff([], new[:3], "/dev/null", "b/m.py"))
