"""Re-embedding stored originals into a collection: what `check --repair` does for images
missing a vector and `reindex` does for every image. Both write rows from the stored record,
so a row always carries what its record says (metadata, capture facts). Their model calls
take turns with ingest's (services/ingest_turns.py): background work that searches go ahead
of."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gateway.capture import read_capture
from gateway.errors import PicSearchError
from gateway.models.spec import SearchModel
from gateway.preprocess import prepare_image
from gateway.services.backends import Backends
from gateway.services.stored import ImageRecord, VectorRow
from gateway.services.tags import label_model, photo_tags

BATCH = 16  # images read and upserted per step (their model calls take turns: ingest_turns.py)


async def reembed(
    backends: Backends,
    model: SearchModel,
    collection: str,
    ids: list[str],
    skipped: Callable[[str, str], None],
) -> int:
    """Embed the stored originals of `ids` with `model` and upsert their rows into
    `collection`, BATCH at a time; an original that no longer decodes is reported to
    `skipped(id, code)` and left out. Returns how many rows were written."""
    written = 0
    for start in range(0, len(ids), BATCH):
        records, inputs, originals = [], [], []
        for image_id in ids[start : start + BATCH]:
            data = await backends.store.get(image_id, "original")
            record = ImageRecord.from_json(await backends.store.get(image_id, "record"), image_id)
            try:
                image = await backends.run_cpu(
                    prepare_image, data, [model.image_model], backends.settings.limits
                )
            except PicSearchError as exc:
                skipped(image_id, exc.code)
                continue
            if not record.capture_read:
                record = await _with_capture(backends, record, data)
            records.append(record)
            inputs.append(image.inputs[model.image_model.name])
            originals.append(data)
        if not records:
            continue
        records = await _with_tags(backends, records, originals)
        # A reindex beside uploads takes turns with them: searches go first.
        vectors = await backends.ingest_turns().embed(model.image_model, np.stack(inputs))
        rows = [VectorRow.of(r, v).as_fields() for r, v in zip(records, vectors, strict=True)]
        await backends.vectors.upsert(collection, rows)
        written += len(rows)
    return written


async def _with_capture(backends: Backends, record: ImageRecord, data: bytes) -> ImageRecord:
    """A record written before capture facts existed, completed from its original's EXIF
    and stored again, so results show what filters now match."""
    keep_location = backends.settings.privacy.store_location
    capture = await backends.run_cpu(read_capture, data, keep_location)
    completed = record.with_capture(capture.record_fields())
    await backends.store.put(record.id, "record", completed.to_json())
    backends.records.put(record.id, completed)
    return completed


async def _with_tags(
    backends: Backends, records: list[ImageRecord], originals: list[bytes]
) -> list[ImageRecord]:
    """Records no label head tagged (written before tags, or while none had real weights),
    tagged from their originals and stored again, so every row reindex writes has tags."""
    labeller = label_model(backends)
    untagged = [n for n, r in enumerate(records) if r.tags is None]
    if labeller is None or not untagged:
        return records
    spec = labeller.image_model
    images = [
        await backends.run_cpu(
            prepare_image, originals[n], [spec], backends.settings.limits, thumbnail=False
        )
        for n in untagged
    ]
    _, probabilities = await backends.ingest_turns().embed_with_labels(
        spec, np.stack([image.inputs[spec.name] for image in images])
    )
    tagged = list(records)
    for n, row in zip(untagged, probabilities, strict=True):
        tagged[n] = records[n].with_tags(photo_tags(row).record_fields())
        await backends.store.put(tagged[n].id, "record", tagged[n].to_json())
        backends.records.put(tagged[n].id, tagged[n])
    return tagged
