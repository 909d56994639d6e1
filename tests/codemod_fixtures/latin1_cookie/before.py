#!/usr/bin/env python
# -*- coding: latin-1 -*-
def f(x: int) -> M:
    """Café."""
    return M(name="é")
