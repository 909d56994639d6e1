"""`distilgen files`: upload, list and delete files on an OpenAI-compatible service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .client import ApiSettings, api_errors, make_client

__all__ = ["FileInfo", "file_info", "upload_file", "list_files", "delete_file"]


@dataclass(frozen=True)
class FileInfo:
    id: str
    filename: str
    bytes: int
    purpose: str
    created_at: int
    status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def file_info(obj: Any) -> FileInfo:
    return FileInfo(obj.id, getattr(obj, "filename", "") or "", int(getattr(obj, "bytes", 0) or 0),
                    str(getattr(obj, "purpose", "")), int(getattr(obj, "created_at", 0) or 0),
                    getattr(obj, "status", None))


def upload_file(path: str | Path, *, purpose: str = "fine-tune", settings: ApiSettings = ApiSettings(),
                client: Any = None) -> FileInfo:
    """Upload one file. The client's retries apply: a repeated upload is at worst a spare file."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{path}: no such file")
    client = client or make_client(settings)
    with api_errors(f"uploading {path}"), p.open("rb") as fh:
        return file_info(client.files.create(file=(p.name, fh), purpose=purpose))


def list_files(*, purpose: str | None = None, limit: int = 100, settings: ApiSettings = ApiSettings(),
               client: Any = None) -> list[FileInfo]:
    client = client or make_client(settings)
    out: list[FileInfo] = []
    kwargs: dict[str, Any] = {"limit": min(limit, 10_000)}
    if purpose:
        kwargs["purpose"] = purpose
    with api_errors("listing files"):
        for f in client.files.list(**kwargs):
            out.append(file_info(f))
            if len(out) >= limit:
                break
    return out


def delete_file(file_id: str, *, settings: ApiSettings = ApiSettings(), client: Any = None) -> bool:
    client = client or make_client(settings)
    with api_errors(f"deleting file {file_id}"):
        return bool(client.files.delete(file_id).deleted)
