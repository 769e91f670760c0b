"""Deleting images: one by id, or many by ids or by a filter, with a dry run first.

Order matters because Milvus has no transaction: the stored bytes go first and the vectors
last, so whatever a crash leaves behind is still found by repeating the same request (a
filter or id still matches the vectors) and `pic-search check --repair` sees only orphan
vectors, which it removes (never stored originals without vectors, which it would
re-embed, resurrecting the image). Every step is idempotent: repeating a delete after a
crash finishes it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.errors import NotFoundError, ValidationError
from gateway.observability import stage
from gateway.services.backends import Backends
from gateway.services.filters import to_expression
from gateway.store.base import check_id

MAX_IDS = 10_000  # per request; a filter has no such limit
MILVUS_BATCH = 1000  # ids per Milvus delete call
STORE_CONCURRENCY = 16
_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class DeleteReport:
    matched: int  # images found (in the store or in any collection)
    deleted: int  # 0 on a dry run
    dry_run: bool


async def delete_one(backends: Backends, image_id: str) -> None:
    """Remove one image; NotFoundError when nothing of it exists anywhere."""
    check_id(image_id)
    await backends.ensure_collections()
    with stage("store"):
        found = await backends.store.exists(image_id, "original")
    if not found:  # maybe vectors a crash left: look, without waiting for a time tick
        found = any(await asyncio.gather(*(
            backends.vectors.existing_ids(collection, [image_id], strong=False)
            for collection in _collections(backends)
        )))  # fmt: skip
    if not found:
        raise NotFoundError(f"no image with id {image_id}", code="image_not_found")
    await _remove(backends, [image_id])


async def delete_many(
    backends: Backends, ids: list[str] | None, filters: Any, dry_run: bool
) -> DeleteReport:
    """Delete by a list of ids or by a filter (exactly one), or only count on a dry run."""
    if (ids is None) == (filters is None):
        raise ValidationError("give either `ids` or `filter`", code="invalid_delete")
    await backends.ensure_collections()
    if ids is not None:
        matched = await _existing(backends, _checked_ids(ids))
    else:
        if not filters:
            raise ValidationError(
                "an empty filter would match every image; name what to delete",
                code="invalid_delete",
            )
        matched = await _matching(backends, to_expression(filters))
    if dry_run:
        return DeleteReport(len(matched), 0, True)
    await _remove(backends, sorted(matched))
    return DeleteReport(len(matched), len(matched), False)


def _collections(backends: Backends) -> list[str]:
    return [backends.collection(model) for model in backends.models]


def _checked_ids(ids: list[str]) -> list[str]:
    if not 1 <= len(ids) <= MAX_IDS:
        raise ValidationError(f"give 1 to {MAX_IDS} ids", code="invalid_ids")
    bad = next((i for i in ids if not isinstance(i, str) or not _ID.fullmatch(i)), None)
    if bad is not None:
        raise ValidationError(
            f"{str(bad)[:80]!r} is not an image id (64 hex digits)", code="invalid_ids"
        )
    return list(dict.fromkeys(ids))


async def _existing(backends: Backends, ids: list[str]) -> set[str]:
    with stage("store"):
        stored = await _bounded(backends.store.exists(i, "original") for i in ids)
    found = {i for i, present in zip(ids, stored, strict=True) if present}
    for collection in _collections(backends):
        for start in range(0, len(ids), MILVUS_BATCH):
            with stage("milvus"):
                found |= await backends.vectors.existing_ids(
                    collection, ids[start : start + MILVUS_BATCH]
                )
    return found


async def _matching(backends: Backends, expression: str) -> set[str]:
    """Ids whose vectors match, in any collection (a crash may have left them in one)."""
    found: set[str] = set()
    for collection in _collections(backends):
        with stage("milvus"):
            found.update(await backends.vectors.all_ids(collection, expression))
    return found


async def _remove(backends: Backends, ids: list[str]) -> None:
    """Stored bytes first, then every collection's vectors (see the module's docstring)."""
    with stage("store"):
        await _bounded(backends.store.delete(i) for i in ids)
    for start in range(0, len(ids), MILVUS_BATCH):
        batch = ids[start : start + MILVUS_BATCH]
        with stage("milvus"):
            await asyncio.gather(
                *(
                    backends.vectors.delete(collection, batch)
                    for collection in _collections(backends)
                )
            )


async def _bounded(calls: Iterable[Any]) -> list[Any]:
    """Await the calls with at most STORE_CONCURRENCY in flight (S3 or a local disk)."""
    gate = asyncio.Semaphore(STORE_CONCURRENCY)

    async def one(call: Any) -> Any:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))
