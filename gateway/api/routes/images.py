"""/v1/images: ingest, list, fetch, delete, similar."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from gateway.api.deps import BackendsDep, Reader, Writer
from gateway.api.routes.links import MODEL_HELP, image_body, ingest_response, search_response
from gateway.api.schemas import (
    BulkDelete,
    BulkDeleteResponse,
    ErrorBody,
    ImageList,
    ImageRecord,
    ImagesExist,
    ImagesExistResponse,
    IngestResponse,
    SearchResponse,
)
from gateway.errors import UnsupportedMediaError, ValidationError
from gateway.services import deletion, display, facets, images, ingest, metadata, search
from gateway.services.backends import Backends
from gateway.services.filters import parse_json, parse_json_object
from gateway.services.stored import ImageRecord as StoredRecord

router = APIRouter(prefix="/v1/images", tags=["images"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 413, 415, 422, 503)
}
_MIME = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
         "WEBP": "image/webp", "BMP": "image/bmp", "TIFF": "image/tiff", "HEIF": "image/heic",
         "AVIF": "image/avif"}  # fmt: skip


def attachment(filename: str) -> str:
    """A Content-Disposition that keeps the file's name: an ASCII fallback and RFC 5987's
    UTF-8 form for browsers that read it."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _immutable(backends: Backends) -> dict[str, str]:
    """Content-addressed: the bytes behind an id never change. Behind a key, only the
    browser may keep them, never a shared cache."""
    scope = "private" if backends.settings.auth.require_for_reads else "public"
    return {"Cache-Control": f"{scope}, max-age=31536000, immutable"}


async def _read(upload: UploadFile, max_bytes: int, path: str | None) -> ingest.Upload:
    # One byte over the limit is enough for the service to reject the file.
    name = (upload.filename or "upload")[:255]
    return ingest.Upload(name, await upload.read(max_bytes + 1), path)


def _json_or_none(raw: str | None) -> Any:
    if raw is None or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValidationError("paths is not valid JSON", code="invalid_paths") from exc


@router.post(
    ":delete",
    response_model=BulkDeleteResponse,
    responses=ERRORS,
    dependencies=[Writer],
    summary="Delete many images, by ids or by a filter",
)
async def delete_images(backends: BackendsDep, request: BulkDelete) -> dict[str, Any]:
    """Removes the images' vectors from every collection and their stored bytes. With
    `dry_run` only counts what would go. Safe to repeat: a second run finishes what a crash
    interrupted, and then matches nothing."""
    report = await deletion.delete_many(backends, request.ids, request.filter, request.dry_run)
    if report.deleted:
        facets.invalidate(backends)
    return {
        "matched": report.matched,
        "deleted": report.deleted,
        "dry_run": report.dry_run,
        "sample": [vars(ref) for ref in report.sample],
    }


@router.post(
    ":exists",
    response_model=ImagesExistResponse,
    responses=ERRORS,
    dependencies=[Reader],
    summary="Which of these ids are indexed",
)
async def images_exist(backends: BackendsDep, request: ImagesExist) -> dict[str, Any]:
    """The subset of `ids` whose image the service holds: a cheap check for a client that
    resumes an interrupted upload (one store lookup per id, no Milvus read)."""
    return {"existing": await images.existing(backends, request.ids)}


@router.post(
    "",
    status_code=201,
    response_model=IngestResponse,
    responses={207: {"model": IngestResponse}, **ERRORS},
    dependencies=[Writer],
    summary="Index one or many images",
)
async def ingest_images(
    backends: BackendsDep,
    files: Annotated[list[UploadFile], File(description="One or more image files.")],
    metadata: Annotated[
        str | None, Form(description="A JSON object stored with every file.")
    ] = None,
    paths: Annotated[
        str | None,
        Form(description="A JSON list: each file's source path (or null), in file order."),
    ] = None,
) -> JSONResponse:
    limits = backends.settings.limits
    meta = parse_json_object(metadata, "metadata", limits.max_metadata_bytes)
    ingest.check_request(len(files), backends)
    sources = ingest.check_paths(_json_or_none(paths), len(files))
    uploads = [
        await _read(f, limits.max_upload_bytes, p) for f, p in zip(files, sources, strict=True)
    ]
    report = await ingest.ingest(backends, uploads, meta)
    facets.invalidate(backends)
    return ingest_response(report)


@router.get("", response_model=ImageList, responses=ERRORS, dependencies=[Reader])
async def list_images(
    backends: BackendsDep,
    cursor: Annotated[str | None, Query(max_length=48)] = None,
    limit: Annotated[int, Query()] = images.DEFAULT_PAGE_SIZE,
    filter: Annotated[str | None, Query(description="JSON filter object, as in search.")] = None,
    sort: Annotated[
        str | None,
        Query(
            description="`indexed` (default: newest indexed first) or `taken` (newest "
            "photo first by its EXIF date, undated last)."
        ),
    ] = None,
) -> dict[str, Any]:
    """Indexed images, newest first; pass `next_cursor` back as `cursor` for the next page
    (with the same `filter` and `sort`)."""
    filters = parse_json(filter, "filter", backends.settings.limits.max_metadata_bytes)
    order = images.check_list_sort(sort)
    items, next_cursor = await images.newest(backends, cursor, limit, filters or None, order)
    return {
        "items": [
            {
                **image_body(backends, item.row.id, item.file, item.row.created_at),
                "metadata": item.row.metadata,
            }
            for item in items
        ],
        "next_cursor": next_cursor,
        "sort": order,
    }


def _record_body(backends: Backends, image_id: str, record: StoredRecord) -> dict[str, Any]:
    body = image_body(backends, image_id, record.file_info(), None)
    return {**body, "metadata": record.metadata}


@router.get("/{image_id}", response_model=ImageRecord, responses=ERRORS, dependencies=[Reader])
async def get_image(backends: BackendsDep, image_id: str) -> dict[str, Any]:
    return _record_body(backends, image_id, await images.record(backends, image_id))


MERGE_PATCH = "application/merge-patch+json"


@router.patch(
    "/{image_id}",
    response_model=ImageRecord,
    responses=ERRORS,
    dependencies=[Writer],
    summary="Correct an image's metadata",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {MERGE_PATCH: {"schema": {"type": "object", "additionalProperties": True}}},
        }
    },
)
async def patch_image(
    backends: BackendsDep,
    image_id: str,
    request: Request,
) -> dict[str, Any]:
    """An RFC 7396 merge patch of the image's `metadata`: keys set to a value are set, keys
    set to `null` are removed, others are kept. Validated as at ingest (reserved keys such
    as `taken` are refused). Updates the record and the image's row in every collection."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in (MERGE_PATCH, "application/json"):
        raise UnsupportedMediaError(
            f"send the patch as {MERGE_PATCH}, not {media_type or 'no content type'}",
            code="unsupported_media_type",
        )
    raw = await request.body()
    patch = parse_json(raw.decode("utf-8", "replace"), "metadata", len(raw) + 1)
    record = await metadata.patch_metadata(backends, image_id, patch)
    facets.invalidate(backends)
    return _record_body(backends, image_id, record)


@router.get(
    "/{image_id}/content",
    responses={200: {"content": {"image/*": {}}}, **ERRORS},
    response_class=Response,
    dependencies=[Reader],
)
async def get_content(
    backends: BackendsDep,
    image_id: str,
    download: Annotated[
        bool, Query(description="Send it as an attachment named as the file was.")
    ] = False,
) -> Response:
    record = await images.record(backends, image_id)
    data = await images.blob(backends, image_id, "original")
    media_type = _MIME.get(record.format or "", "application/octet-stream")
    headers = {**_immutable(backends), "ETag": f'"{image_id}"'}
    if download:
        headers["Content-Disposition"] = attachment(record.filename or image_id)
    return Response(data, media_type=media_type, headers=headers)


@router.get(
    "/{image_id}/display",
    responses={200: {"content": {"image/jpeg": {}}}, 304: {}, **ERRORS},
    response_class=Response,
    dependencies=[Reader],
    summary="A JPEG for viewing, at most 2,048 px",
)
async def get_display(backends: BackendsDep, image_id: str, request: Request) -> Response:
    """Any stored format (HEIC, AVIF, TIFF, 16-bit PNG...) as an upright JPEG of at most
    2,048 px with no EXIF, so no location: what a browser's viewer shows."""
    etag = f'"d{image_id}"'
    headers = {**_immutable(backends), "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        images.check_id(image_id)
        return Response(status_code=304, headers=headers)
    data = await display.display(backends, image_id)
    return Response(data, media_type="image/jpeg", headers=headers)


@router.get(
    "/{image_id}/thumbnail",
    responses={200: {"content": {"image/jpeg": {}}}, **ERRORS},
    response_class=Response,
    dependencies=[Reader],
)
async def get_thumbnail(backends: BackendsDep, image_id: str) -> Response:
    data = await images.blob(backends, image_id, "thumbnail")
    headers = {**_immutable(backends), "ETag": f'"t{image_id}"'}
    return Response(data, media_type="image/jpeg", headers=headers)


@router.get(
    "/{image_id}/similar", response_model=SearchResponse, responses=ERRORS, dependencies=[Reader]
)
async def similar_images(
    backends: BackendsDep,
    image_id: str,
    model: Annotated[str | None, Query(description=MODEL_HELP)] = None,
    top_k: Annotated[int | None, Query()] = None,
    filter: Annotated[str | None, Query(description="JSON filter object.")] = None,
    sort: Annotated[
        str | None, Query(description="`score` (default), `date` (indexed) or `taken` (EXIF).")
    ] = None,
    min_score: Annotated[float | None, Query(description="Drop results below.")] = None,
    cutoff: Annotated[str | None, Query(description="`auto`: the model's cutoff.")] = None,
    group: Annotated[
        bool, Query(description="Collapse near-copies into one hit; `top_k` counts groups.")
    ] = False,
) -> Response:
    """Images like an indexed one, by its stored vector (the image itself is left out)."""
    filters = parse_json(filter, "filter", backends.settings.limits.max_metadata_bytes)
    options = search.SearchOptions(filters, sort, min_score, cutoff, group)
    return search_response(
        backends, await search.similar(backends, image_id, model, top_k, options)
    )


@router.delete("/{image_id}", status_code=204, responses=ERRORS, dependencies=[Writer])
async def delete_image(backends: BackendsDep, image_id: str) -> Response:
    await deletion.delete_one(backends, image_id)
    facets.invalidate(backends)
    return Response(status_code=204)
