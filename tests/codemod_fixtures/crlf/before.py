"""Doc."""

import os


def f(x: int) -> M:
    return M()
