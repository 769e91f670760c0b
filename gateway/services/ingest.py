"""Ingest: validate, embed with every model, store bytes, upsert vectors; all or nothing.

Milvus has no transaction across collections, so the order is: store the bytes, upsert
each collection (idempotent: the id is the content hash), and on any failure remove what
this call wrote before answering. `pic-search check --repair` mends what a crash leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from gateway.capture import Capture, read_capture
from gateway.config import LimitSettings
from gateway.errors import BadInputError, ErrorKind, PicSearchError, TooLargeError, ValidationError
from gateway.models.spec import SearchModel, TritonModelSpec
from gateway.observability import IMAGES_INGESTED, stage
from gateway.preprocess import PreparedImage, prepare_image
from gateway.services.backends import Backends
from gateway.services.filters import reject_reserved_keys
from gateway.services.stored import ImageRecord, VectorRow
from gateway.services.tags import PhotoTags, label_model, photo_tags, tag_record

Status = Literal["created", "duplicate", "rejected"]


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    path: str | None = None  # where the file came from, if the client says (the CLI does)


@dataclass(frozen=True)
class Decoded:
    """What ingest needs of one file: the models' inputs and thumbnail, and its EXIF facts."""

    image: PreparedImage
    capture: Capture


def decode(
    data: bytes, specs: list[TritonModelSpec], limits: LimitSettings, keep_location: bool
) -> Decoded:
    """CPU work for the pool: EXIF is read beside the pixels, never on the event loop."""
    return Decoded(prepare_image(data, specs, limits), read_capture(data, keep_location))


@dataclass(frozen=True)
class FileResult:
    filename: str
    status: Status
    id: str | None = None
    code: str | None = None
    message: str | None = None
    kind: ErrorKind | None = None  # for rejected files: what kind of error


Outcome = Literal["accepted", "partial", "rejected"]


@dataclass(frozen=True)
class IngestReport:
    """Per-file outcomes, in request order, and their summary."""

    results: list[FileResult]

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def rejected(self) -> int:
        return self.count("rejected")

    @property
    def outcome(self) -> Outcome:
        """accepted: every file created or a duplicate; partial: some rejected; rejected:
        all of them."""
        if not self.rejected:
            return "accepted"
        return "partial" if self.rejected < len(self.results) else "rejected"

    @property
    def rejection_kind(self) -> ErrorKind:
        """When every file was rejected: their common kind, or bad request if they differ."""
        kinds = {r.kind or ErrorKind.BAD_REQUEST for r in self.results if r.status == "rejected"}
        return kinds.pop() if len(kinds) == 1 else ErrorKind.BAD_REQUEST

    @property
    def first_rejection(self) -> FileResult | None:
        return next((r for r in self.results if r.status == "rejected"), None)


MAX_PATH_CHARS = 4096


def check_paths(paths: Any, count: int) -> list[str | None]:
    """Source paths sent beside the files: a list (strings or nulls), one per file."""
    if paths is None:
        return [None] * count
    if not isinstance(paths, list) or len(paths) != count:
        raise ValidationError(
            f"paths must be a JSON list with one entry per file ({count})", code="invalid_paths"
        )
    for path in paths:
        if path is not None and (
            not isinstance(path, str)
            or not 0 < len(path) <= MAX_PATH_CHARS
            or not path.isprintable()
        ):
            raise ValidationError(
                f"each path must be printable text of 1 to {MAX_PATH_CHARS} characters, or null",
                code="invalid_paths",
            )
    return list(paths)


def check_request(count: int, backends: Backends) -> None:
    limits = backends.settings.limits
    if not count:
        raise BadInputError("no files in the request", code="no_files")
    if count > limits.max_files_per_request:
        raise TooLargeError(
            f"{count} files is over the limit of {limits.max_files_per_request}",
            code="too_many_files",
        )


async def ingest(
    backends: Backends, uploads: list[Upload], metadata: dict[str, Any]
) -> IngestReport:
    """Index `uploads` with `metadata`; a file over the size limit is rejected (transports
    read at most one byte over it)."""
    check_request(len(uploads), backends)
    reject_reserved_keys(metadata)
    results: list[FileResult | None] = [None] * len(uploads)
    accepted: dict[str, tuple[int, Upload, Decoded]] = {}

    with stage("decode"):
        prepared = await asyncio.gather(*(_prepare(backends, upload) for upload in uploads))
    for index, (upload, outcome) in enumerate(zip(uploads, prepared, strict=True)):
        if isinstance(outcome, PicSearchError):
            results[index] = _rejected(upload, outcome)
            continue
        image_id = hashlib.sha256(upload.data).hexdigest()
        if image_id in accepted:  # the same bytes twice in one request
            results[index] = FileResult(upload.filename, "duplicate", image_id)
        else:
            accepted[image_id] = (index, upload, outcome)

    if accepted:
        await backends.ensure_collections()
        created = await _write(backends, accepted, metadata)
        for image_id, (index, upload, _) in accepted.items():
            status: Status = "created" if image_id in created else "duplicate"
            results[index] = FileResult(upload.filename, status, image_id)
    final = [r for r in results if r is not None]
    for result in final:
        IMAGES_INGESTED.labels(result.status).inc()
    return IngestReport(final)


async def _prepare(backends: Backends, upload: Upload) -> Decoded | PicSearchError:
    limits = backends.settings.limits
    if len(upload.data) > limits.max_upload_bytes:
        return TooLargeError(
            f"the file is over {limits.max_upload_bytes} bytes", code="file_too_large"
        )
    try:
        keep_location = backends.settings.privacy.store_location
        return await backends.run_cpu(
            decode, upload.data, backends.image_specs(), limits, keep_location
        )
    except PicSearchError as exc:
        if not exc.kind.is_client_error:
            raise
        return exc


def _rejected(upload: Upload, error: PicSearchError) -> FileResult:
    return FileResult(upload.filename, "rejected", None, error.code, error.message, error.kind)


async def _write(
    backends: Backends,
    accepted: dict[str, tuple[int, Upload, Decoded]],
    metadata: dict[str, Any],
) -> set[str]:
    """Write every new image to the store and every collection; returns the created ids."""
    ids = list(accepted)
    collections = {m.name: backends.collection(m) for m in backends.models}
    # Held to the end: a concurrent upload of the same bytes waits, then finds them here.
    async with backends.ingests.hold(ids):
        present, stored = await _already_there(backends, ids, collections)
        complete = set.intersection(*present.values()) & stored
        todo = [i for i in ids if i not in complete]
        if not todo:
            return set()

        with stage("triton"):
            vectors, tagged = await _embed(backends, [accepted[i][2].image for i in todo])
        now_us = time.time_ns() // 1000
        records = [
            _record(image_id, *accepted[image_id][1:], metadata, now_us + n, tagged[n])
            for n, image_id in enumerate(todo)
        ]
        written: dict[str, str] = {}  # the collections this ingest sent vectors to
        try:
            with stage("store"):
                await asyncio.gather(*(_store(backends, r, *accepted[r.id][1:]) for r in records))
            with stage("milvus"):
                # One collection after the other: when Milvus is down the first failure
                # ends the write, instead of leaving the other upserts retrying against it.
                for name, collection in collections.items():
                    rows = [
                        VectorRow.of(r, v).as_fields()
                        for r, v in zip(records, vectors[name], strict=True)
                    ]
                    written[name] = collection
                    await backends.vectors.upsert(collection, rows)
        except BaseException:
            await asyncio.shield(_undo(backends, todo, present, stored, written))
            raise
    return set(todo)


async def _already_there(
    backends: Backends, ids: list[str], collections: dict[str, str]
) -> tuple[dict[str, set[str]], set[str]]:
    """Which ids are stored, and which of those each collection holds.

    The store answers first: ingest stores an image before it writes any vector, so an id
    the store lacks is not complete anywhere, and a new image (the common case) costs no
    Milvus read. Only stored ids are looked up in Milvus, with a Strong read (it waits for
    Milvus' next time tick, up to 200 ms, but it counts every replica's writes)."""
    with stage("store"):
        found = await asyncio.gather(*(backends.store.exists(i, "original") for i in ids))
    stored = {image_id for image_id, there in zip(ids, found, strict=True) if there}
    if not stored:
        return {name: set() for name in collections}, stored
    with stage("milvus"):
        held = await asyncio.gather(
            *(backends.vectors.existing_ids(c, sorted(stored)) for c in collections.values())
        )
    return dict(zip(collections, held, strict=True)), stored


async def _embed(
    backends: Backends, images: list[PreparedImage]
) -> tuple[dict[str, npt.NDArray[np.float32]], list[PhotoTags | None]]:
    """One Triton batch per model, taking turns with every other upload's
    (services/ingest_turns.py; searches never wait for a turn). The label model's batch also
    gives each image's tags (services/tags.py), from the same inference."""
    labeller = label_model(backends)

    async def run(model: SearchModel) -> npt.NDArray[np.float32]:
        batch = np.stack([image.inputs[model.image_model.name] for image in images])
        turns = backends.ingest_turns()
        if model is not labeller:
            return await turns.embed(model.image_model, batch)
        vectors, probabilities = await turns.embed_with_labels(model.image_model, batch)
        labels.extend(await backends.run_cpu(lambda: [photo_tags(p) for p in probabilities]))
        return vectors

    labels: list[PhotoTags | None] = []
    outputs = await asyncio.gather(*(run(model) for model in backends.models))
    vectors = {model.name: out for model, out in zip(backends.models, outputs, strict=True)}
    return vectors, labels or [None] * len(images)


def _record(
    image_id: str,
    upload: Upload,
    decoded: Decoded,
    metadata: dict[str, Any],
    created_at: int,
    tags: PhotoTags | None,
) -> ImageRecord:
    image = decoded.image
    record = ImageRecord(
        id=image_id,
        created_at=created_at,
        metadata=metadata,
        filename=upload.filename,
        path=upload.path,
        format=image.format,
        width=image.width,
        height=image.height,
        bytes=len(upload.data),
    )
    return record.with_capture(decoded.capture.record_fields()).with_tags(tag_record(tags))


async def _store(backends: Backends, record: ImageRecord, upload: Upload, decoded: Decoded) -> None:
    thumbnail = decoded.image.thumbnail_jpeg
    if thumbnail is None:  # `_prepare` always asks for it
        raise PicSearchError("ingest prepared an image without its thumbnail")
    await asyncio.gather(
        backends.store.put(record.id, "thumbnail", thumbnail),
        backends.store.put(record.id, "record", record.to_json()),
    )
    # The original last: "the original is stored" then means the whole image is.
    await backends.store.put(record.id, "original", upload.data)


async def _undo(
    backends: Backends,
    todo: list[str],
    present: dict[str, set[str]],
    stored: set[str],
    written: dict[str, str],
) -> None:
    """Remove what this ingest wrote, keeping what was there before it started.

    All at once, so that a failed ingest answers within one deadline even when Milvus
    hangs (the first failed upsert ends the write: only the collections it reached have
    anything to take back)."""

    async def delete_vectors(name: str, collection: str) -> None:
        fresh = [i for i in todo if i not in present[name]]
        # An upsert that timed out may still land after this delete, so the gateway keeps
        # sweeping these ids for a while (and, should it crash first, `pic-search check
        # --repair` removes the leftovers).
        backends.leftovers.forget_later(collection, fresh)
        with contextlib.suppress(PicSearchError):
            await backends.vectors.delete(collection, fresh)

    async def delete_files(image_id: str) -> None:
        with contextlib.suppress(PicSearchError):
            await backends.store.delete(image_id)

    await asyncio.gather(
        *(delete_vectors(name, collection) for name, collection in written.items()),
        *(delete_files(image_id) for image_id in todo if image_id not in stored),
    )
