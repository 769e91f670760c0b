"""What a result is: the file facts kept in each image's stored record.

Ingest writes them (name, source path if the client sent one, size, dimensions, format,
time, and the capture facts EXIF gave: taken, camera, lens, location); search hits and
listings read them back here. Records written before a field
existed simply lack it, and a missing or unreadable record yields no facts rather than
failing the whole search (a store outage still fails it, with 503).
"""

from __future__ import annotations

import asyncio
import contextlib

from gateway.errors import NotFoundError
from gateway.observability import stage
from gateway.services.backends import Backends
from gateway.services.stored import FileInfo, ImageRecord

__all__ = ["FileInfo", "file_infos"]


async def _read(backends: Backends, image_id: str) -> FileInfo:
    """An image's facts from its stored record (then cached); none if it is unreadable."""
    with contextlib.suppress(NotFoundError, ValueError, TypeError):
        record = ImageRecord.from_json(await backends.store.get(image_id, "record"), image_id)
        backends.records.put(image_id, record)
        return record.file_info()
    return FileInfo()


async def file_infos(backends: Backends, rows: list[tuple[str, int]]) -> dict[str, FileInfo]:
    """The stored facts of each (id, created_at), from memory or read concurrently."""
    with stage("store"):
        # Cached records are answered in place: a task per hit (ten per search) costs the
        # event loop more than the lookup, and most hits of a busy gateway are cached.
        infos: dict[str, FileInfo] = {}
        misses: list[str] = []
        for image_id, created_at in rows:
            cached = backends.records.get(image_id, created_at)
            if cached is None:
                misses.append(image_id)
            else:
                infos[image_id] = cached.file_info()
        if misses:
            read = await asyncio.gather(*(_read(backends, i) for i in misses))
            infos.update(zip(misses, read, strict=True))
    return infos
