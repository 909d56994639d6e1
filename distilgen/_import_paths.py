"""Where a module of the project is imported from: one rule, shared by the scan's layers and the
schema child's targets (`prompts` stays below `analysis`, so it lives here, below both)."""

from __future__ import annotations

__all__ = ["import_folder"]


def import_folder(path: str, module: str | None) -> str | None:
    """The folder (relative to the root, "" for the root) that the file at `path` (relative,
    posix) is imported from as `module`: its top-level package's parent, or its own folder for a
    top-level module. Not always a source root: `my-scripts/tool.py` is `tool`, run with
    `my-scripts/` on the path. None when `module` is not the path's tail (or there is none)."""
    if not module:
        return None
    parts = path.split("/")
    if parts[-1] == "__init__.py":
        parts = parts[:-1]
    else:
        parts[-1] = parts[-1][:-3] if parts[-1].endswith(".py") else parts[-1]
    names = module.split(".")
    return "/".join(parts[: -len(names)]) if parts[-len(names):] == names else None
