"""/v1/images: ingest, list, fetch, delete, similar."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from gateway.api.deps import BackendsDep, Reader, Writer
from gateway.api.routes.links import MODEL_HELP, image_links, ingest_response, search_body
from gateway.api.schemas import ErrorBody, ImageList, ImageRecord, IngestResponse, SearchResponse
from gateway.services import images, ingest, search
from gateway.services.filters import parse_json_object

router = APIRouter(prefix="/v1/images", tags=["images"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 413, 415, 422, 503)
}
_MIME = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
         "WEBP": "image/webp", "BMP": "image/bmp", "TIFF": "image/tiff", "HEIF": "image/heic",
         "AVIF": "image/avif"}  # fmt: skip
# Content-addressed: the bytes behind an id never change.
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}


async def _read(upload: UploadFile, max_bytes: int) -> ingest.Upload:
    # One byte over the limit is enough for the service to reject the file.
    return ingest.Upload((upload.filename or "upload")[:255], await upload.read(max_bytes + 1))


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
) -> JSONResponse:
    limits = backends.settings.limits
    meta = parse_json_object(metadata, "metadata", limits.max_metadata_bytes)
    ingest.check_request(len(files), backends)
    uploads = [await _read(f, limits.max_upload_bytes) for f in files]
    return ingest_response(await ingest.ingest(backends, uploads, meta))


@router.get("", response_model=ImageList, responses=ERRORS, dependencies=[Reader])
async def list_images(
    backends: BackendsDep,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query()] = images.DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """Indexed images, newest first; pass `next_cursor` back as `cursor` for the next page."""
    items, next_cursor = await images.newest(backends, cursor, limit)
    return {
        "items": [{**item, **image_links(backends, item["id"])} for item in items],
        "next_cursor": next_cursor,
    }


@router.get("/{image_id}", response_model=ImageRecord, responses=ERRORS, dependencies=[Reader])
async def get_image(backends: BackendsDep, image_id: str) -> dict[str, Any]:
    record = await images.record(backends, image_id)
    return {**record, **image_links(backends, image_id)}


@router.get(
    "/{image_id}/content",
    responses={200: {"content": {"image/*": {}}}, **ERRORS},
    response_class=Response,
    dependencies=[Reader],
)
async def get_content(backends: BackendsDep, image_id: str) -> Response:
    record = await images.record(backends, image_id)
    data = await images.blob(backends, image_id, "original")
    media_type = _MIME.get(record.get("format", ""), "application/octet-stream")
    return Response(data, media_type=media_type, headers={**_IMMUTABLE, "ETag": f'"{image_id}"'})


@router.get(
    "/{image_id}/thumbnail",
    responses={200: {"content": {"image/jpeg": {}}}, **ERRORS},
    response_class=Response,
    dependencies=[Reader],
)
async def get_thumbnail(backends: BackendsDep, image_id: str) -> Response:
    data = await images.blob(backends, image_id, "thumbnail")
    return Response(data, media_type="image/jpeg", headers={**_IMMUTABLE, "ETag": f'"t{image_id}"'})


@router.get(
    "/{image_id}/similar", response_model=SearchResponse, responses=ERRORS, dependencies=[Reader]
)
async def similar_images(
    backends: BackendsDep,
    image_id: str,
    model: Annotated[str | None, Query(description=MODEL_HELP)] = None,
    top_k: Annotated[int | None, Query()] = None,
) -> dict[str, Any]:
    """Images like an indexed one, by its stored vector (the image itself is left out)."""
    return search_body(backends, await search.similar(backends, image_id, model, top_k))


@router.delete("/{image_id}", status_code=204, responses=ERRORS, dependencies=[Writer])
async def delete_image(backends: BackendsDep, image_id: str) -> Response:
    await images.delete(backends, image_id)
    return Response(status_code=204)
