"""Re-embed every stored original into a new collection, then move the alias to it.

Used when the served weights change: the gateway refuses to start against a collection
built with other weights, and searches keep using the old collection (through the alias)
until the new one is complete, so there are never mixed vectors and no downtime. Also used
when a collection's schema version is older than the gateway's (clients/milvus.py), even
with the same weights: the new fields are filled from the stored originals, whose EXIF is
read again (and written into records that predate the capture facts).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gateway.capture import read_capture
from gateway.clients.base import SCHEMA_VERSION, physical_name
from gateway.errors import PicSearchError
from gateway.models.spec import SearchModel
from gateway.preprocess import prepare_image
from gateway.services.backends import Backends
from gateway.services.records import CAPTURE_FIELDS, vector_fields

BATCH = 16


@dataclass(frozen=True)
class Reindexed:
    name: str  # the alias searches use
    action: str  # "rebuilt" or "current"
    images: int  # rows now in the collection
    target: str  # the physical collection behind the alias


async def reindex(backends: Backends, log: Callable[[str], None]) -> list[Reindexed]:
    """Rebuild every collection whose fingerprint differs from the served model's, or
    whose schema version is older than the gateway's."""
    done: list[Reindexed] = []
    counts: dict[str, int] = {}
    for model in backends.models:
        alias = backends.collection(model)
        fingerprint = await backends.fingerprint(model)
        current = await backends.vectors.target(alias)
        if current == physical_name(alias, fingerprint):
            log(f"{alias}: already built with {fingerprint}")
            done.append(Reindexed(alias, "current", await backends.vectors.count(alias), current))
            continue
        if current in {physical_name(alias, fingerprint, v) for v in range(1, SCHEMA_VERSION)}:
            log(f"{alias}: rebuilding at schema version {SCHEMA_VERSION} (new fields)")
        else:
            log(f"{alias}: re-embedding stored images with {fingerprint}")
        # Not the alias' target, so whatever holds this name is left by an interrupted run.
        await backends.vectors.drop(physical_name(alias, fingerprint))
        target = await backends.vectors.create_physical(alias, fingerprint, model.dim)
        counts[alias] = await _fill(backends, model, target, log)
        # Readers through the alias must never meet a partial collection.
        await backends.vectors.seal(target, counts[alias])
        await backends.vectors.switch_alias(alias, target)
        log(f"{alias}: now {target} ({counts[alias]} images)")
        done.append(Reindexed(alias, "rebuilt", counts[alias], target))
        if current is not None:
            # A read that resolved the alias before it moved still runs on the old
            # collection; dropped under it, Milvus answers it with nothing (seen on 2.3.5).
            # Every read ends within one Milvus deadline, retries included.
            await asyncio.sleep(backends.settings.milvus.timeout_s)
            await backends.vectors.drop(current)
            log(f"{alias}: dropped {current}")
    backends.collections_ready = False
    return done


async def _fill(
    backends: Backends, model: SearchModel, collection: str, log: Callable[[str], None]
) -> int:
    ids = await backends.store.ids()
    done = 0
    for start in range(0, len(ids), BATCH):
        rows, inputs = [], []
        for image_id in ids[start : start + BATCH]:
            data = await backends.store.get(image_id, "original")
            record = json.loads(await backends.store.get(image_id, "record"))
            try:
                image = await backends.run_cpu(
                    prepare_image, data, [model.image_model], backends.settings.limits
                )
            except PicSearchError as exc:
                log(f"  skipped {image_id}: {exc.code}")
                continue
            if not all(name in record for name in CAPTURE_FIELDS):
                record = await _with_capture(backends, image_id, data, record)
            inputs.append(image.inputs[model.image_model.name])
            rows.append({"id": image_id, "created_at": int(record["created_at"]),
                         "metadata": record.get("metadata", {}),
                         **vector_fields(record)})  # fmt: skip
        if not rows:
            continue
        vectors = await backends.triton.embed(model.image_model, np.stack(inputs))
        for row, vector in zip(rows, vectors, strict=True):
            row["embedding"] = vector.tolist()
        await backends.vectors.upsert(collection, rows)
        done += len(rows)
    return done


async def _with_capture(
    backends: Backends, image_id: str, data: bytes, record: dict[str, Any]
) -> dict[str, Any]:
    """A record written before capture facts existed, completed from its original's EXIF
    and stored again, so results show what filters now match."""
    keep_location = backends.settings.privacy.store_location
    capture = await backends.run_cpu(read_capture, data, keep_location)
    completed = {**record, **capture.record_fields(), "metadata": record.get("metadata", {})}
    await backends.store.put(image_id, "record", json.dumps(completed).encode())
    backends.records.put(image_id, completed)
    return completed
