"""Doc."""

import os
from inbox.distil import instructions


@instructions.distil
def f(x: int) -> M:
    return M()
