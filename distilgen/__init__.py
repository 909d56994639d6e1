"""distilgen: turn typed Python functions into fine-tuned language models, and back.

    from distilgen import Instructions

`import distilgen` loads only the exception base classes: every other public name below is
imported on first access (PEP 562 module `__getattr__`), so an application that only wants the
decorator never pays for openai, httpx or libcst, and `distilgen --help` starts fast.
"""

from ._version import __version__
from .errors import (
    ConfigError,
    DecorationError,
    DistilDispatchError,
    DistilgenError,
    InternalError,
    MissingExtraError,
    UsageError,
)

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing would cost ~10 ms here
if TYPE_CHECKING:  # type checkers see the real names (mypy and pyright read TYPE_CHECKING by name)
    from .ops.client import ApiError, NoApiKeyError
    from .prompts.lock import LockError, PromptGoneError
    from .runtime.calls import UnrenderableValue
    from .runtime.credentials import CredentialValue
    from .runtime.formats import SerializedAnswer, SubclassAnswer, UnwritableAnswer, ZonedAnswer
    from .runtime.spec import SubclassCall, UnresolvedAnnotation
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
    from .runtime.sinks import SinkError
    from .train.run import RunTooLarge
    from .train.serve import ServerFailed
    from .train.trainer import TrainingInterrupted
    from .walkthrough import WalkthroughError
    from .codemods.apply import LockWriteError
    from .ops.client import UnexpectedResponseError

# public name -> the module that owns it (imported on first access)
_LAZY = {
    "Instructions": ".runtime.instructions",
    "CaptureStats": ".runtime.instructions",
    "CaptureWarning": ".runtime.instructions",
    "EndpointError": ".runtime.clients",
    "EndpointAuthError": ".runtime.clients",
    "ModelNotFoundError": ".runtime.clients",
    "RateLimitedError": ".runtime.clients",
    "EndpointServerError": ".runtime.clients",
    "EndpointTimeoutError": ".runtime.clients",
    "EndpointConnectionError": ".runtime.clients",
    "EndpointResponseError": ".runtime.clients",
    "UnrenderableValue": ".runtime.calls",
    "CredentialValue": ".runtime.credentials",
    "UnresolvedAnnotation": ".runtime.spec",
    "SubclassCall": ".runtime.spec",
    "SubclassAnswer": ".runtime.formats",
    "SerializedAnswer": ".runtime.formats",
    "UnwritableAnswer": ".runtime.formats",
    "ZonedAnswer": ".runtime.formats",
    "SinkError": ".runtime.sinks",
    "LockError": ".prompts.lock",
    "PromptGoneError": ".prompts.lock",
    "ApiError": ".ops.client",
    "NoApiKeyError": ".ops.client",
    "TrainingInterrupted": ".train.trainer",
    "RunTooLarge": ".train.run",
    "ServerFailed": ".train.serve",
    "WalkthroughError": ".walkthrough",
    "LockWriteError": ".codemods.apply",
    "UnexpectedResponseError": ".ops.client",
}

__all__ = [
    "__version__",
    "Instructions",
    "CaptureStats",
    "CaptureWarning",
    # every exception a caller may catch; all derive from DistilgenError
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
    "UnrenderableValue",
    "CredentialValue",
    "UnresolvedAnnotation",
    "SubclassCall",
    "SubclassAnswer",
    "SerializedAnswer",
    "UnwritableAnswer",
    "ZonedAnswer",
    "SinkError",
    "LockError",
    "PromptGoneError",
    "ApiError",
    "NoApiKeyError",
    "TrainingInterrupted",
    "RunTooLarge",
    "ServerFailed",
    "WalkthroughError",
    "InternalError",
    "LockWriteError",
    "UnexpectedResponseError",
]


def __getattr__(name: str) -> object:
    owner = _LAZY.get(name)
    if owner is None:
        # AttributeError (not ImportError) so `from distilgen import api` still finds the submodule
        raise AttributeError(f"module 'distilgen' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(owner, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
