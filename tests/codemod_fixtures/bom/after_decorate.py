# header
"""Doc é."""

from inbox.distil import instructions


@instructions.distil
def f(x: int) -> M:
    return M()
