"""What a result is: the file facts kept in each image's stored record.

Ingest writes them (name, source path if the client sent one, size, dimensions, format,
time); search hits and listings read them back here. Records written before a field
existed simply lack it, and a missing or unreadable record yields no facts rather than
failing the whole search (a store outage still fails it, with 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from gateway.errors import NotFoundError
from gateway.observability import stage
from gateway.services.backends import Backends

FIELDS = ("filename", "path", "format", "width", "height", "bytes", "created_at")


@dataclass(frozen=True)
class FileInfo:
    filename: str | None = None
    path: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    created_at: int | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> FileInfo:
        return cls(**{name: record.get(name) for name in FIELDS})

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}


async def _one(backends: Backends, image_id: str) -> FileInfo:
    with contextlib.suppress(NotFoundError, ValueError, TypeError):
        data = await backends.store.get(image_id, "record")
        record = json.loads(data)
        if isinstance(record, dict):
            return FileInfo.from_record(record)
    return FileInfo()


async def file_infos(backends: Backends, ids: list[str]) -> dict[str, FileInfo]:
    """The stored facts of each image, read concurrently."""
    with stage("store"):
        infos = await asyncio.gather(*(_one(backends, image_id) for image_id in ids))
    return dict(zip(ids, infos, strict=True))
