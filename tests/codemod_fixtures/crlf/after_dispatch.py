"""Doc."""

import os
from inbox.distil import instructions


@instructions.distil(mode="dispatch", model="ft:gpt-4o-mini:acme::abc123")
def f(x: int) -> M:
    return M()
