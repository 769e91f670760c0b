"""Correcting an image's metadata: an RFC 7396 merge patch, applied to the stored record and
to the image's row in every collection (filters read the rows, the viewer the record).

The record is written first: a crash between the two leaves rows that still match the old
metadata, and repeating the same patch finishes the job (a merge patch is idempotent)."""

from __future__ import annotations

from typing import Any

from gateway.errors import NotFoundError, ValidationError
from gateway.observability import stage
from gateway.services.backends import Backends
from gateway.services.filters import check_sized_object, reject_reserved_keys
from gateway.services.stored import ImageRecord
from gateway.store.base import check_id


def merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 on a flat object of scalars: a null removes the key, anything else sets it."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


async def patch_metadata(backends: Backends, image_id: str, patch: Any) -> ImageRecord:
    """Apply `patch` to the image's metadata; the updated record. Validated as at ingest."""
    check_id(image_id)
    if not isinstance(patch, dict):
        raise ValidationError(
            "a metadata patch must be a JSON object (RFC 7396)", code="invalid_metadata"
        )
    limit = backends.settings.limits.max_metadata_bytes
    check_sized_object(patch, "metadata", limit)
    reject_reserved_keys(patch)
    await backends.ensure_collections()
    with stage("store"):
        stored = ImageRecord.from_json(await backends.store.get(image_id, "record"), image_id)
    metadata = check_sized_object(merge_patch(stored.metadata, patch), "metadata", limit)
    record = stored.with_metadata(metadata)
    with stage("store"):
        await backends.store.put(image_id, "record", record.to_json())
    backends.records.put(image_id, record)
    for model in backends.models:
        with stage("milvus"):
            found = await backends.vectors.set_metadata(
                backends.collection(model), image_id, metadata
            )
        if not found:  # the record exists but this vector does not: `check --repair` mends it
            raise NotFoundError(
                f"image {image_id} has no vector in {backends.collection(model)}; "
                "run `pic-search check --repair`",
                code="image_not_found",
            )
    return record
