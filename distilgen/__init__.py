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
from .runtime.clients import (
    EndpointAuthError,
    EndpointConnectionError,
    EndpointError,
    EndpointResponseError,
    EndpointServerError,
    EndpointTimeoutError,
    ModelNotFoundError,
    RateLimitedError,
)
from .runtime.instructions import CaptureStats, CaptureWarning, Instructions

__all__ = [
    "__version__",
    "Instructions",
    "CaptureStats",
    "CaptureWarning",
    "DistilgenError",
    "DistilDispatchError",
    "DecorationError",
    "ConfigError",
    "UsageError",
    "MissingExtraError",
    "EndpointError",
    "EndpointAuthError",
    "ModelNotFoundError",
    "RateLimitedError",
    "EndpointServerError",
    "EndpointTimeoutError",
    "EndpointConnectionError",
    "EndpointResponseError",
]
