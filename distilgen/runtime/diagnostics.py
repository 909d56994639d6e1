"""The runtime's logger: `distilgen`, silent unless the program configures logging.

Everything the runtime says inside the user's process (an example not captured, a dispatch that
fell back to the original function, a shadow comparison that failed, a torn dataset line repaired)
goes here, never to `warnings` and never straight to stderr. Both are part of what the program
sees: `filterwarnings = error` raised a warning out of the decorated function, and mcp's tests
compare a subprocess's stderr byte for byte. With a NullHandler, Python's last-resort handler stays
quiet; `logging.basicConfig()` (or pytest's log capture) shows the records, and
`Instructions.stats()` counts what was skipped either way.
"""

from __future__ import annotations

import logging

__all__ = ["log"]

log = logging.getLogger("distilgen")
log.addHandler(logging.NullHandler())
