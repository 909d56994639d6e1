# header
"""Doc é."""


def f(x: int) -> M:
    return M()
