"""blake2b and sha256 without loading OpenSSL.

`import hashlib` loads `_hashlib` (OpenSSL) at import time, a few milliseconds of every start of
`distilgen check`; the interpreter's built-in implementations give the same digests. Used by the
modules a warm `check` imports (`hashlib` stays fine everywhere else)."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: this module exists to keep start-up cheap
if TYPE_CHECKING:
    from hashlib import blake2b, sha256
else:
    try:
        from _blake2 import blake2b
    except ImportError:  # an interpreter built without it
        from hashlib import blake2b
    try:
        from _sha2 import sha256  # Python 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # Python 3.11
        except ImportError:
            from hashlib import sha256

__all__ = ["blake2b", "sha256"]
