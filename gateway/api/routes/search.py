"""/v1/search: by image and by text."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile

from gateway.api.deps import BackendsDep, Reader
from gateway.api.routes.images import ERRORS
from gateway.api.routes.links import MODEL_HELP, search_body
from gateway.api.schemas import SearchResponse, TextQuery
from gateway.services import search
from gateway.services.filters import check_object, parse_json_object

router = APIRouter(prefix="/v1/search", tags=["search"], dependencies=[Reader])


@router.post("/image", response_model=SearchResponse, responses=ERRORS)
async def search_by_image(
    backends: BackendsDep,
    file: Annotated[UploadFile, File(description="The query image.")],
    top_k: Annotated[int | None, Form()] = None,
    model: Annotated[str | None, Form(description=MODEL_HELP)] = None,
    filter: Annotated[str | None, Form(description="JSON object of metadata equalities.")] = None,
) -> dict[str, Any]:
    limits = backends.settings.limits
    filters = parse_json_object(filter, "filter", limits.max_metadata_bytes)
    data = await file.read(limits.max_upload_bytes + 1)  # one byte over: the service says no
    return search_body(backends, await search.by_image(backends, data, model, top_k, filters))


@router.get("/text", response_model=SearchResponse, responses=ERRORS)
async def search_by_text_get(
    backends: BackendsDep,
    q: Annotated[str, Query(description="What to look for.")],
    top_k: Annotated[int | None, Query()] = None,
    filter: Annotated[str | None, Query(description="JSON object of metadata equalities.")] = None,
) -> dict[str, Any]:
    filters = parse_json_object(filter, "filter", backends.settings.limits.max_metadata_bytes)
    return search_body(backends, await search.by_text(backends, q, top_k, filters))


@router.post("/text", response_model=SearchResponse, responses=ERRORS)
async def search_by_text_post(backends: BackendsDep, query: TextQuery) -> dict[str, Any]:
    """Long queries belong here: servers cap URL length long before the text limit."""
    filters = check_object(query.filter or {}, "filter")
    return search_body(backends, await search.by_text(backends, query.q, query.top_k, filters))
