"""Optional-dependency checks: a command that needs a missing extra fails with one line, never an ImportError."""

from __future__ import annotations

import importlib.util

from ..errors import MissingExtraError

__all__ = ["TRAIN_MODULES", "SERVE_MODULES", "GENERATE_MODULES", "require_train", "require_serve", "missing",
           "missing_extras"]

# import name -> distribution name, in the order a user would install them
TRAIN_MODULES = (("torch", "torch"), ("transformers", "transformers"), ("peft", "peft"), ("gguf", "gguf"),
                 ("safetensors", "safetensors"))
SERVE_MODULES = (("llama_cpp", "llama-cpp-python"), ("uvicorn", "llama-cpp-python[server]"),
                 ("sse_starlette", "llama-cpp-python[server]"))
GENERATE_MODULES = (("hypothesis", "hypothesis"),)
_EXTRAS = {"train": TRAIN_MODULES, "serve": SERVE_MODULES, "generate": GENERATE_MODULES}


def missing(modules: tuple[tuple[str, str], ...]) -> str | None:
    """The distribution of the first module that cannot be found (find_spec: no heavy import)."""
    for module, dist in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return dist
    return None


def require_train() -> None:
    dist = missing(TRAIN_MODULES)
    if dist is not None:
        raise MissingExtraError("train", dist)


def require_serve() -> None:
    dist = missing(SERVE_MODULES)
    if dist is not None:
        raise MissingExtraError("serve", dist)


def missing_extras(extras: tuple[str, ...]) -> list[MissingExtraError]:
    """Every extra of `extras` that is not fully installed (to list them all at once, before any work)."""
    found = [(extra, missing(_EXTRAS[extra])) for extra in extras]
    return [MissingExtraError(extra, dist) for extra, dist in found if dist is not None]
