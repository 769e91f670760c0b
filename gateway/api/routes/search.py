"""/v1/search: by image and by text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from gateway.api.deps import BackendsDep, Reader
from gateway.api.routes.images import ERRORS
from gateway.api.routes.links import MODEL_HELP, search_response
from gateway.api.schemas import SearchResponse, TextQuery
from gateway.services import search
from gateway.services.filters import parse_json
from gateway.services.search import SearchOptions

router = APIRouter(prefix="/v1/search", tags=["search"], dependencies=[Reader])
FILTER_HELP = 'JSON filter object (see the README), e.g. {"rating": {"gte": 4}}.'
SORT_HELP = "`score` (default) or `date` (newest first, among the results that pass)."
MIN_SCORE_HELP = "Drop results scoring below this (a cosine similarity, -1..1)."
CUTOFF_HELP = "`auto`: the cutoff chosen for the served model on labeled photos."


@router.post("/image", response_model=SearchResponse, responses=ERRORS)
async def search_by_image(
    backends: BackendsDep,
    file: Annotated[UploadFile, File(description="The query image.")],
    top_k: Annotated[int | None, Form()] = None,
    model: Annotated[str | None, Form(description=MODEL_HELP)] = None,
    filter: Annotated[str | None, Form(description=FILTER_HELP)] = None,
    sort: Annotated[str | None, Form(description=SORT_HELP)] = None,
    min_score: Annotated[float | None, Form(description=MIN_SCORE_HELP)] = None,
    cutoff: Annotated[str | None, Form(description=CUTOFF_HELP)] = None,
) -> Response:
    limits = backends.settings.limits
    options = SearchOptions(
        parse_json(filter, "filter", limits.max_metadata_bytes), sort, min_score, cutoff
    )
    data = await file.read(limits.max_upload_bytes + 1)  # one byte over: the service says no
    return search_response(backends, await search.by_image(backends, data, model, top_k, options))


@router.get("/text", response_model=SearchResponse, responses=ERRORS)
async def search_by_text_get(
    backends: BackendsDep,
    q: Annotated[str, Query(description="What to look for.")],
    top_k: Annotated[int | None, Query()] = None,
    filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
    sort: Annotated[str | None, Query(description=SORT_HELP)] = None,
    min_score: Annotated[float | None, Query(description=MIN_SCORE_HELP)] = None,
    cutoff: Annotated[str | None, Query(description=CUTOFF_HELP)] = None,
) -> Response:
    filters = parse_json(filter, "filter", backends.settings.limits.max_metadata_bytes)
    options = SearchOptions(filters, sort, min_score, cutoff)
    return search_response(backends, await search.by_text(backends, q, top_k, options))


@router.post("/text", response_model=SearchResponse, responses=ERRORS)
async def search_by_text_post(backends: BackendsDep, query: TextQuery) -> Response:
    """Long queries belong here: servers cap URL length long before the text limit."""
    options = SearchOptions(query.filter, query.sort, query.min_score, query.cutoff)
    return search_response(backends, await search.by_text(backends, query.q, query.top_k, options))
