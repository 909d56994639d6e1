#!/usr/bin/env python
# -*- coding: latin-1 -*-
from inbox.distil import instructions


@instructions.distil(mode="dispatch", model="ft:gpt-4o-mini:acme::abc123")
def f(x: int) -> M:
    """Café."""
    return M(name="é")
