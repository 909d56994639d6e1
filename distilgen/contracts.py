"""The closed vocabularies that cross layers, as `Literal` types, each with its tuple of values.

One owner for each: config, runtime, analysis, codemods, ops and the CLI import these, so a mode,
status or format spelled wrong is a type error under `mypy --strict`, not a silent branch miss.
The tuples (derived from the types, never written twice) are for runtime checks and messages.
This module imports nothing of distilgen: every layer may depend on it.
"""

from __future__ import annotations

from typing import Literal, TypeVar, get_args

__all__ = [
    "Mode", "MODES",
    "FinetuneFormat", "FORMATS",
    "ResponseFormat", "RESPONSE_FORMATS",
    "Fallback", "FALLBACKS",
    "ToolSchema", "TOOL_SCHEMAS",
    "FunctionKind",
    "ScanStatus", "SCAN_STATUSES",
    "DefKind", "DEF_KINDS",
    "ApplyAction", "APPLY_ACTIONS",
    "EditStatus", "EDIT_STATUSES",
    "ReportFormat", "REPORT_FORMATS",
    "ExportFormat", "EXPORT_FORMATS",
    "JobTerminalStatus", "TERMINAL_JOB_STATUSES",
    "BaseKind",
    "ProgressKind",
    "DISABLE_ENV",
    "FALLBACK_INSTANCE_MODULE",
    "PYDANTIC_NETWORK_TYPES",
    "one_of",
]

FALLBACK_INSTANCE_MODULE = "distilgen_instructions"
"""The instance module `apply` creates in a package whose own `distil.py` binds no instance
(instructor ships one); the scan recognises it too when it has been deleted."""

DISABLE_ENV = "DISTILGEN_DISABLE"
"""The environment variable that turns the decorators off for a process (1, true, yes, on), read
when an `Instructions` is made: decorated functions run as undecorated ones, their own bodies,
recording nothing and calling no model (capture, dispatch and shadow alike). distilgen's own
import of a project (`prompts`, `apply`) sets it."""

Mode = Literal["distil", "capture", "dispatch", "shadow"]
"""`@instructions.distil(mode=...)`: `capture` is a synonym of `distil` (record calls)."""
MODES: tuple[Mode, ...] = get_args(Mode)

FinetuneFormat = Literal["tools", "messages", "raw"]
"""How a captured call is written to the dataset (`finetune-format`)."""
FORMATS: tuple[FinetuneFormat, ...] = get_args(FinetuneFormat)

ResponseFormat = Literal["tools", "messages", "json_schema"]
"""How dispatch asks the model for the answer."""
RESPONSE_FORMATS: tuple[ResponseFormat, ...] = get_args(ResponseFormat)

Fallback = Literal["raise", "function"]
"""What dispatch does when the model fails: raise, or call the original function."""
FALLBACKS: tuple[Fallback, ...] = get_args(Fallback)

ToolSchema = Literal["compact", "full"]
"""The tool declaration's parameters in a training line: the compact schema or pydantic's full one."""
TOOL_SCHEMAS: tuple[ToolSchema, ...] = get_args(ToolSchema)

FunctionKind = Literal["function", "staticmethod", "classmethod", "model_method", "selfless_method"]
"""How a decorated function is called at run time (`FunctionSpec.kind`)."""

ScanStatus = Literal["decorated", "candidate", "ineligible", "wrapped", "unresolved"]
"""`ScanResult.status`."""
SCAN_STATUSES: tuple[ScanStatus, ...] = get_args(ScanStatus)

DefKind = Literal["function", "method", "staticmethod", "classmethod", "nested"]
"""`ScanResult.kind`: where the def sits, as the scan sees it statically."""
DEF_KINDS: tuple[DefKind, ...] = get_args(DefKind)

ApplyAction = Literal["decorate", "dispatch", "capture", "remove"]
"""What `distilgen apply` does to each function's decorator."""
APPLY_ACTIONS: tuple[ApplyAction, ...] = get_args(ApplyAction)

EditStatus = Literal["changed", "unchanged", "error"]
"""`FileEdit.status`."""
EDIT_STATUSES: tuple[EditStatus, ...] = get_args(EditStatus)

ReportFormat = Literal["text", "json", "github"]
"""`--format` of the commands that report findings."""
REPORT_FORMATS: tuple[ReportFormat, ...] = get_args(ReportFormat)

ExportFormat = Literal["hf-chat", "sharegpt", "openai-tools"]
"""`distilgen dataset export --to`."""
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)

JobTerminalStatus = Literal["succeeded", "failed", "cancelled"]
"""A fine-tuning job's final states (the service may report others while it runs)."""
TERMINAL_JOB_STATUSES: tuple[JobTerminalStatus, ...] = get_args(JobTerminalStatus)

BaseKind = Literal["gguf", "hf"]
"""A local base model: one GGUF file, or a Hugging Face model folder."""

ProgressKind = Literal["step", "epoch", "info"]
"""A training progress event."""

_V = TypeVar("_V", bound=str)


def one_of(value: object, choices: tuple[_V, ...]) -> _V | None:
    """`value` as a member of `choices` (typed as the Literal), or None when it is not one."""
    for choice in choices:
        if value == choice:
            return choice
    return None

# pydantic's URL and e-mail classes (`pydantic.networks`): the call renderer writes their values
# (`HttpUrl('https://x/')`), so the scan takes parameters of them as writable (a subclass is not)
PYDANTIC_NETWORK_TYPES = ("AnyUrl", "AnyHttpUrl", "HttpUrl", "AnyWebsocketUrl", "WebsocketUrl", "FileUrl", "FtpUrl",
                          "PostgresDsn", "CockroachDsn", "AmqpDsn", "RedisDsn", "MongoDsn", "KafkaDsn", "NatsDsn",
                          "MySQLDsn", "MariaDBDsn", "ClickHouseDsn", "SnowflakeDsn", "NameEmail")
