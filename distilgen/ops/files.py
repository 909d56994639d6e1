"""`distilgen files`: upload, list and delete files on an OpenAI-compatible service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .client import ApiSettings, Shape, fetch, fetch_list, make_client

__all__ = ["FileInfo", "FILE_SHAPE", "file_info", "upload_file", "list_files", "delete_file"]

FILE_SHAPE: Shape = {"id": str, "filename?": str, "bytes?": int, "purpose?": str, "created_at?": (int, float),
                     "status?": str}


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


def file_info(obj: dict[str, Any]) -> FileInfo:
    """A file object of the API (checked against FILE_SHAPE)."""
    return FileInfo(obj["id"], obj.get("filename") or "", int(obj.get("bytes") or 0), str(obj.get("purpose") or ""),
                    int(obj.get("created_at") or 0), obj.get("status"))


def upload_file(path: str | Path, *, purpose: str = "fine-tune", settings: ApiSettings = ApiSettings(),
                client: Any = None) -> FileInfo:
    """Upload one file. The client's retries apply: a repeated upload is at worst a spare file."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{path}: no such file")
    client = client or make_client(settings)
    with p.open("rb") as fh:
        return file_info(fetch(f"uploading {path}",
                               lambda: client.files.with_raw_response.create(file=(p.name, fh), purpose=purpose),
                               "a file object", FILE_SHAPE))


def list_files(*, purpose: str | None = None, limit: int = 100, settings: ApiSettings = ApiSettings(),
               client: Any = None) -> list[FileInfo]:
    client = client or make_client(settings)
    kwargs: dict[str, Any] = {"limit": min(limit, 10_000)}
    if purpose:
        kwargs["purpose"] = purpose

    def page(after: str | None) -> Any:
        return client.files.with_raw_response.list(**kwargs, **({"after": after} if after else {}))

    return [file_info(f) for f in fetch_list("listing files", page, "file objects", FILE_SHAPE, limit)]


def delete_file(file_id: str, *, settings: ApiSettings = ApiSettings(), client: Any = None) -> bool:
    client = client or make_client(settings)
    answer = fetch(f"deleting file {file_id}", lambda: client.files.with_raw_response.delete(file_id),
                   "a deletion status", {"deleted": bool})
    return bool(answer["deleted"])
