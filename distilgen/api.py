"""The library's verbs. The CLI is a thin layer over these; nothing here imports click.

Each verb takes plain arguments and returns frozen result records (or raises a DistilgenError
subclass whose message names the file, line or argument at fault).
"""

from __future__ import annotations

# Sections below are filled by each layer; keep imports inside the functions that need heavy
# modules (libcst, torch) so `distilgen --help` stays fast.

# --- scan / config -----------------------------------------------------------------------------
from pathlib import Path as _Path  # noqa: E402
from typing import TYPE_CHECKING as _TYPE_CHECKING  # noqa: E402
from typing import Iterable as _Iterable  # noqa: E402

if _TYPE_CHECKING:
    from .analysis.scan import ScanReport
    from .config import Config


def scan(
    paths: "_Iterable[str | _Path]" = (".",),
    *,
    config: "Config | None" = None,
    select: "_Iterable[str]" = (),
    exclude: "_Iterable[str]" = (),
    include_generated: bool = False,
    use_cache: bool = True,
) -> "ScanReport":
    """Find every function whose return annotation resolves to a pydantic model.

    `paths` are files or folders (default: the current folder); the config is read from the
    nearest pyproject.toml of the first path unless given. `select`/`exclude` are path globs or
    qualname patterns (`Catalog.*`, `inbox.triage:classify_*`). Never raises for a bad source file:
    those land in `ScanReport.errors`.
    """
    from .analysis.project import scan_project

    return scan_project(
        [_Path(p) for p in paths],
        config=config,
        select=tuple(select),
        exclude=tuple(exclude),
        include_generated=include_generated,
        use_cache=use_cache,
    )


def effective_config(start: "str | _Path | None" = None) -> "Config":
    """The configuration `distilgen` would use from `start` (default: the current folder)."""
    from .config import load_config

    return load_config(start)


# --- end scan / config -------------------------------------------------------------------------

# --- apply / stubs -----------------------------------------------------------------------------
# --- end apply / stubs -------------------------------------------------------------------------

# --- prompts / check ---------------------------------------------------------------------------
# --- end prompts / check -----------------------------------------------------------------------

# --- dataset / jobs / files --------------------------------------------------------------------
# --- end dataset / jobs / files ----------------------------------------------------------------

# --- train / serve -----------------------------------------------------------------------------
# --- end train / serve -------------------------------------------------------------------------

# --- generate / eval ---------------------------------------------------------------------------
from typing import TYPE_CHECKING as _TYPE_CHECKING_EVALS  # noqa: E402

if _TYPE_CHECKING_EVALS:
    from .evals.generate import GenerateResult


def generate(target: str, n: int = 100, **options: "object") -> "GenerateResult":
    """Capture `n` calls of the real function on arguments drawn from its type hints.

    Options: out, finetune_format, seed, inputs (JSONL of argument sets), strategies
    ('module:object'), timeout (seconds per call), mutate, root, progress (callable(done, total)).
    """
    from .evals.generate import generate as _generate

    return _generate(target, n, **options)  # type: ignore[arg-type]
# --- end generate / eval -----------------------------------------------------------------------
