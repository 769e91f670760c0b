"""What the served collections can answer. Collections built at an older schema version (see
clients/milvus_collections.py) lack later fields: the capture fields (taken, camera,
has_location) came with version 2, the tag fields with version 3.

Such a collection keeps serving searches; a filter, sort or search that reads a field it
lacks gets 409 `reindex_required`, naming the command that rebuilds it, instead of Milvus'
"field not found"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from gateway.clients.base import CAPTURE_SCHEMA, TAG_SCHEMA
from gateway.errors import ConflictError
from gateway.services.backends import Backends
from gateway.services.filters import CAPTURE_FILTER_KEYS, TAGS


@dataclass(frozen=True)
class Needs:
    """A schema version some request needs, and what in the request needs it."""

    version: int
    fields: str
    what: str


SORT_TAKEN = Needs(CAPTURE_SCHEMA, "the capture fields (taken, camera, has_location)", "sort=taken")
TAG_SEARCH = Needs(TAG_SCHEMA, "the tag fields", "model=tags")


def filter_needs(filters: Any) -> list[Needs]:
    """The schema versions a filter object reads fields of."""
    if not isinstance(filters, dict):
        return []
    out: list[Needs] = []
    if any(key in filters for key in CAPTURE_FILTER_KEYS):
        out.append(replace(SORT_TAKEN, what="a filter on taken, camera or has_location"))
    if TAGS in filters:
        out.append(replace(TAG_SEARCH, what="a filter on tags"))
    return out


async def require(backends: Backends, collections: Iterable[str], needs: list[Needs]) -> None:
    """409 `reindex_required` when one of `collections` is older than one of `needs`."""
    if not needs:
        return
    for collection in collections:
        version = await backends.vectors.schema_version(collection)
        for need in needs:
            if version < need.version:
                raise ConflictError(
                    f"{need.what} needs {need.fields}, which collection {collection} was built "
                    "without; run `pic-search reindex` to rebuild it from the stored originals",
                    code="reindex_required",
                )


async def check_filter_fields(backends: Backends, filters: Any, collections: Iterable[str]) -> None:
    """409 when `filters` reads fields that one of `collections` lacks."""
    await require(backends, collections, filter_needs(filters))
