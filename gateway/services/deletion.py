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
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import NotFoundError, ValidationError
from gateway.observability import stage
from gateway.services.backends import Backends
from gateway.services.filters import to_expression
from gateway.services.ids import bounded, checked_ids
from gateway.services.schema import check_filter_fields
from gateway.services.stored import ImageRecord
from gateway.store.base import check_id

MILVUS_BATCH = 1000  # ids per Milvus delete call
SAMPLE_SIZE = 10  # matched images shown before a bulk delete


@dataclass(frozen=True)
class ImageRef:
    """Enough of an image for a person to recognise it in a list."""

    id: str
    filename: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class DeleteReport:
    matched: int  # images found (in the store or in any collection)
    deleted: int  # 0 on a dry run
    dry_run: bool
    sample: list[ImageRef] = field(default_factory=list)  # up to SAMPLE_SIZE matched images


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
        matched = await _existing(backends, checked_ids(ids))
    else:
        if not filters:
            raise ValidationError(
                "an empty filter would match every image; name what to delete",
                code="invalid_delete",
            )
        expression = to_expression(filters)
        await check_filter_fields(backends, filters, map(backends.collection, backends.models))
        matched = await _matching(backends, expression)
    sample = await _sample(backends, sorted(matched)[:SAMPLE_SIZE])
    if dry_run:
        return DeleteReport(len(matched), 0, True, sample)
    await _remove(backends, sorted(matched))
    return DeleteReport(len(matched), len(matched), False, sample)


async def _sample(backends: Backends, ids: list[str]) -> list[ImageRef]:
    """File name and path from each record; a vector a crash left has no record: id only."""

    async def one(image_id: str) -> ImageRef:
        try:
            record = ImageRecord.from_json(await backends.store.get(image_id, "record"), image_id)
        except (NotFoundError, ValueError):
            return ImageRef(image_id)
        return ImageRef(image_id, record.filename, record.path)

    with stage("store"):
        return list(await bounded(one(i) for i in ids))


def _collections(backends: Backends) -> list[str]:
    return [backends.collection(model) for model in backends.models]


async def _existing(backends: Backends, ids: list[str]) -> set[str]:
    with stage("store"):
        stored = await bounded(backends.store.exists(i, "original") for i in ids)
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
        await bounded(backends.store.delete(i) for i in ids)
    for start in range(0, len(ids), MILVUS_BATCH):
        batch = ids[start : start + MILVUS_BATCH]
        with stage("milvus"):
            await asyncio.gather(
                *(
                    backends.vectors.delete(collection, batch)
                    for collection in _collections(backends)
                )
            )
