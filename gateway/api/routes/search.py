"""/v1/search: by image and by text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from gateway.api.deps import BackendsDep, Reader
from gateway.api.multipart import read_body, read_form
from gateway.api.routes.images import ERRORS
from gateway.api.routes.links import MODEL_HELP, search_response
from gateway.api.schemas import SearchResponse, TextQuery
from gateway.services import search
from gateway.services.filters import parse_json
from gateway.services.search import SearchOptions

router = APIRouter(prefix="/v1/search", tags=["search"], dependencies=[Reader])
FILTER_HELP = 'JSON filter object (see docs/api.md#filters), e.g. {"rating": {"gte": 4}}.'
SORT_HELP = (
    "`score` (default), `date` (newest indexed first) or `taken` (newest photo first by its "
    "EXIF date, undated last), among the results that pass."
)
MIN_SCORE_HELP = "Drop results scoring below this (a cosine similarity, -1..1)."
TEXT_MODEL_HELP = "A model with a text tower; default: the best one enabled."
CUTOFF_HELP = "`auto`: the cutoff chosen for the served model on labeled photos."
GROUP_HELP = "Collapse near-copies into one hit with `copies`; `top_k` counts groups."


# Read by gateway.api.multipart, not by FastAPI's form handling (0.4 ms of CPU per search);
# this model is the form's validation and, through IMAGE_QUERY_BODY, its OpenAPI schema.
class ImageQuery(BaseModel):
    """The query image, and how to shape its results."""

    file: bytes = Field(
        description="The query image.",
        json_schema_extra={"contentMediaType": "application/octet-stream", "format": None},
    )
    top_k: int | None = None
    model: str | None = Field(None, description=MODEL_HELP)
    filter: str | None = Field(None, description=FILTER_HELP)
    sort: str | None = Field(None, description=SORT_HELP)
    min_score: float | None = Field(None, description=MIN_SCORE_HELP)
    cutoff: str | None = Field(None, description=CUTOFF_HELP)
    group: bool = Field(False, description=GROUP_HELP)


IMAGE_QUERY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": ImageQuery.model_json_schema()}},
    }
}


@router.post(
    "/image", response_model=SearchResponse, responses=ERRORS, openapi_extra=IMAGE_QUERY_BODY
)
async def search_by_image(backends: BackendsDep, request: Request) -> Response:
    limits = backends.settings.limits
    body = await read_body(request, limits.max_upload_bytes)
    query = read_form(body, request.headers.get("content-type", ""), ImageQuery)
    options = SearchOptions(
        parse_json(query.filter, "filter", limits.max_metadata_bytes),
        query.sort,
        query.min_score,
        query.cutoff,
        query.group,
    )
    found = await search.by_image(backends, query.file, query.model, query.top_k, options)
    return search_response(backends, found)


@router.get("/text", response_model=SearchResponse, responses=ERRORS)
async def search_by_text_get(
    backends: BackendsDep,
    q: Annotated[str, Query(description="What to look for.")],
    model: Annotated[str | None, Query(description=TEXT_MODEL_HELP)] = None,
    top_k: Annotated[int | None, Query()] = None,
    filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
    sort: Annotated[str | None, Query(description=SORT_HELP)] = None,
    min_score: Annotated[float | None, Query(description=MIN_SCORE_HELP)] = None,
    cutoff: Annotated[str | None, Query(description=CUTOFF_HELP)] = None,
    group: Annotated[bool, Query(description=GROUP_HELP)] = False,
) -> Response:
    filters = parse_json(filter, "filter", backends.settings.limits.max_metadata_bytes)
    options = SearchOptions(filters, sort, min_score, cutoff, group)
    return search_response(backends, await search.by_text(backends, q, top_k, options, model))


@router.post("/text", response_model=SearchResponse, responses=ERRORS)
async def search_by_text_post(backends: BackendsDep, query: TextQuery) -> Response:
    """Long queries belong here: servers cap URL length long before the text limit."""
    options = SearchOptions(query.filter, query.sort, query.min_score, query.cutoff, query.group)
    found = await search.by_text(backends, query.q, query.top_k, options, query.model)
    return search_response(backends, found)
