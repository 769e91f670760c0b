"""Indexed images: records, bytes, listing, deletion."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from gateway.capture import TAKEN_NONE
from gateway.clients.base import Row
from gateway.errors import ValidationError
from gateway.observability import stage
from gateway.services.backends import Backends
from gateway.services.filters import to_expression
from gateway.services.ids import bounded, checked_ids
from gateway.services.records import FileInfo, file_infos
from gateway.services.schema import SORT_TAKEN, check_filter_fields, require
from gateway.services.stored import ImageRecord
from gateway.store.base import Kind, check_id

__all__ = ["Listed", "blob", "check_id", "check_list_sort", "existing", "newest", "record"]

DEFAULT_PAGE_SIZE = 24


async def record(backends: Backends, image_id: str) -> ImageRecord:
    check_id(image_id)
    with stage("store"):
        data = await backends.store.get(image_id, "record")
    return ImageRecord.from_json(data, image_id)


async def blob(backends: Backends, image_id: str, kind: Kind) -> bytes:
    check_id(image_id)
    with stage("store"):
        return await backends.store.get(image_id, kind)


@dataclass(frozen=True)
class Listed:
    row: Row
    file: FileInfo


async def existing(backends: Backends, ids: Any) -> list[str]:
    """Which of `ids` the service holds (its stored original), in the order given."""
    wanted = checked_ids(ids)
    with stage("store"):
        present = await bounded(backends.store.exists(i, "original") for i in wanted)
    return [i for i, held in zip(wanted, present, strict=True) if held]


async def newest(
    backends: Backends,
    cursor: str | None,
    limit: int,
    filters: Any = None,
    sort: str | None = None,
) -> tuple[list[Listed], str | None]:
    """A page of images that match `filters` (a filter object), newest first: by when they
    were indexed (`sort` "indexed", the default) or taken ("taken": by EXIF date, undated
    last), and the cursor of the next page (None at the end). A cursor belongs to its sort
    and filter."""
    order = check_list_sort(sort)
    if order == "taken":
        return await _newest_taken(backends, cursor, limit, filters)
    if not 1 <= limit <= backends.settings.limits.max_top_k:
        raise ValidationError(
            f"limit must be between 1 and {backends.settings.limits.max_top_k}",
            code="invalid_limit",
        )
    before: int | None = None
    if cursor:
        if not cursor.isdigit() or len(cursor) > 20:
            raise ValidationError("cursor is not one this API returned", code="invalid_cursor")
        before = int(cursor)
    await backends.ensure_collections()
    # Every collection holds every image; the first enabled one serves the listing.
    collection = backends.collection(backends.models[0])
    await check_filter_fields(backends, filters, [collection])
    with stage("milvus"):
        rows = await backends.vectors.newest(
            collection, before, limit + 1, to_expression(filters) if filters else ""
        )
    page, more = rows[:limit], len(rows) > limit
    files = await file_infos(backends, [(r.id, r.created_at) for r in page])
    items = [Listed(r, files[r.id]) for r in page]
    return items, (str(page[-1].created_at) if more and page else None)


ListSort = Literal["indexed", "taken"]
_TAKEN_CURSOR = re.compile(r"(-?\d{1,19})_(\d{1,20})")


def check_list_sort(sort: str | None) -> ListSort:
    if sort in (None, "", "indexed", "date"):
        return "indexed"
    if sort == "taken":
        return "taken"
    raise ValidationError(
        "sort must be `indexed` (newest indexed first) or `taken` (newest photo first)",
        code="invalid_sort",
    )


def _check_limit(backends: Backends, limit: int) -> None:
    if not 1 <= limit <= backends.settings.limits.max_top_k:
        raise ValidationError(
            f"limit must be between 1 and {backends.settings.limits.max_top_k}",
            code="invalid_limit",
        )


async def _newest_taken(
    backends: Backends, cursor: str | None, limit: int, filters: Any
) -> tuple[list[Listed], str | None]:
    _check_limit(backends, limit)
    before: tuple[int, int] | None = None
    if cursor:
        found = _TAKEN_CURSOR.fullmatch(cursor)
        if not found:
            raise ValidationError("cursor is not one this API returned", code="invalid_cursor")
        before = (int(found[1]), int(found[2]))
    await backends.ensure_collections()
    collection = backends.collection(backends.models[0])
    await check_filter_fields(backends, filters, [collection])
    await require(backends, [collection], [SORT_TAKEN])
    with stage("milvus"):
        rows = await backends.vectors.newest_taken(
            collection, before, limit + 1, to_expression(filters) if filters else ""
        )
    page, more = rows[:limit], len(rows) > limit
    files = await file_infos(backends, [(r.id, r.created_at) for r in page])
    items = [Listed(r, files[r.id]) for r in page]
    last = page[-1] if more and page else None
    return items, (
        f"{last.taken if last.taken is not None else TAKEN_NONE}_{last.created_at}"
        if last
        else None
    )
