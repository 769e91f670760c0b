"""/v1/tags: the auto-tags of the library with their counts, for browsing and tag chips."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gateway.api.deps import BackendsDep, Reader
from gateway.api.routes.images import ERRORS
from gateway.api.schemas import TagList
from gateway.services import tag_counts

router = APIRouter(tags=["images"])


@router.get("/v1/tags", response_model=TagList, responses=ERRORS, dependencies=[Reader])
async def list_tags(
    backends: BackendsDep,
    prefix: Annotated[
        str | None, Query(description="Only tags with a word starting with this.")
    ] = None,
    limit: Annotated[int | None, Query(description="Page size (default 50, max 500).")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the last page.")] = None,
) -> dict[str, Any]:
    """The shown auto-tags of the indexed photos, most frequent first, with how many photos
    carry each. Counts are kept between requests and recounted after a write or within a
    minute."""
    return await tag_counts.list_tags(backends, prefix, limit, cursor)
