#!/usr/bin/env python
# -*- coding: latin-1 -*-
from inbox.distil import instructions


@instructions.distil
def f(x: int) -> M:
    """Café."""
    return M(name="é")
