"""The exceptions distilgen raises. Every message names the file, line, function or argument at fault."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs `import distilgen` ~10 ms
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "DistilgenError",
    "ConfigError",
    "UsageError",
    "DecorationError",
    "DistilDispatchError",
    "MissingExtraError",
    "InternalError",
]


class DistilgenError(Exception):
    """Base class of every error distilgen raises on purpose."""


class ConfigError(DistilgenError, ValueError):
    """Bad `[tool.distilgen]` configuration (CLI exit code 2). A ValueError too: a bad setting value."""


class UsageError(DistilgenError, ValueError):
    """A bad argument to a command or API call (CLI exit code 2).

    Also a ValueError, so `except ValueError` written for instructor's `Instructions` keeps working."""


class DecorationError(DistilgenError, TypeError):
    """`@instructions.distil` was put on something it cannot distil."""


class MissingExtraError(DistilgenError):
    """A command needs an optional extra that is not installed."""

    def __init__(self, extra: str, package: str) -> None:
        self.extra = extra
        self.package = package
        super().__init__(
            f"this needs the '{extra}' extra ({package} is not installed): "
            f"pip install 'distilgen[{extra}]'"
        )


class DistilDispatchError(DistilgenError):
    """The model's answer could not be turned into the return model, after every retry."""

    def __init__(
        self,
        message: str,
        *,
        function_id: str,
        model: str,
        raw_output: Any = None,
        errors: list[str] | None = None,
    ) -> None:
        self.function_id = function_id
        self.model = model
        self.raw_output = raw_output
        self.errors = list(errors or [])
        super().__init__(f"{function_id} (model {model}): {message}")


class InternalError(DistilgenError):
    """A bug met while processing the named file (CLI: one line, exit 2; the traceback with --debug)."""
