"""What the served collections can answer: the capture fields (taken, camera, has_location)
exist in collections built at schema version 2 or later (see clients/milvus.py).

A collection built before them keeps serving searches; a filter or sort that reads them
gets 409 `reindex_required`, naming the command that rebuilds it, instead of Milvus'
"field not found"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.errors import ConflictError
from gateway.services.backends import Backends
from gateway.services.filters import needs_capture_fields

CAPTURE_SCHEMA = 2


async def require_capture_fields(backends: Backends, collections: Iterable[str], what: str) -> None:
    for collection in collections:
        if await backends.vectors.schema_version(collection) < CAPTURE_SCHEMA:
            raise ConflictError(
                f"{what} needs the capture fields (taken, camera, has_location), which "
                f"collection {collection} was built without; run `pic-search reindex` to "
                "rebuild it from the stored originals",
                code="reindex_required",
            )


async def check_filter_fields(backends: Backends, filters: Any, collections: Iterable[str]) -> None:
    """409 when `filters` reads capture fields that one of `collections` lacks."""
    if needs_capture_fields(filters):
        await require_capture_fields(
            backends, collections, "a filter on taken, camera or has_location"
        )
