"""distilgen: turn typed Python functions into fine-tuned language models, and back.

    from distilgen import Instructions
"""

from ._version import __version__
from .errors import (
    ConfigError,
    DecorationError,
    DistilDispatchError,
    DistilgenError,
    MissingExtraError,
    UsageError,
)
from .runtime.instructions import CaptureStats, Instructions

__all__ = [
    "__version__",
    "Instructions",
    "CaptureStats",
    "DistilgenError",
    "DistilDispatchError",
    "DecorationError",
    "ConfigError",
    "UsageError",
    "MissingExtraError",
]
