"""Response bodies built from service results; links are relative unless a public base
URL is configured."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response

from gateway.api.errors import HTTP_STATUS, error_body
from gateway.models.registry import REGISTRY
from gateway.services.backends import Backends
from gateway.services.ingest import FileResult, IngestReport
from gateway.services.records import FileInfo
from gateway.services.search import Match, SearchResult

_INGEST_STATUS = {"accepted": 201, "partial": 207}

MODEL_HELP = (
    f"An enabled model (registry: {', '.join(f'`{name}`' for name in REGISTRY)}; see "
    "`GET /v1/models`); default: the best enabled one with real weights."
)


def image_links(backends: Backends, image_id: str) -> dict[str, str]:
    base = f"{backends.settings.server.public_url.rstrip('/')}/v1/images/{image_id}"
    return {
        "content_url": f"{base}/content",
        "thumbnail_url": f"{base}/thumbnail",
        "display_url": f"{base}/display",
    }


def image_body(
    backends: Backends, image_id: str, file: FileInfo, created_at: int | None
) -> dict[str, Any]:
    """An image as results and listings show it: what the file is, and where to get it."""
    facts = file.as_dict()
    if created_at:  # the collection's own time; a record may predate the field
        facts["created_at"] = created_at
    return {"id": image_id, **facts, **image_links(backends, image_id)}


def hit_body(backends: Backends, match: Match) -> dict[str, Any]:
    hit = match.hit
    return {
        **image_body(backends, hit.id, match.file, hit.created_at),
        "score": hit.score,
        "metadata": hit.metadata,
        "copies": [{"id": c.id, "score": c.score} for c in match.copies],
    }


def search_body(backends: Backends, result: SearchResult) -> dict[str, Any]:
    cutoff = result.cutoff
    return {
        "model": result.model,
        "results": [hit_body(backends, match) for match in result.matches],
        "took_ms": round(result.took_ms, 2),
        "sort": result.sort,
        "cut": cutoff.cut,
        "cutoff": {"mode": cutoff.mode, "min_score": cutoff.min_score, "message": cutoff.message},
        "random_weights": result.random_weights,
        "notice": result.notice,
    }


def search_response(backends: Backends, result: SearchResult) -> Response:
    """The search body as JSON bytes, sent as is. Routes still declare `SearchResponse` for
    the OpenAPI schema, but a returned `Response` skips FastAPI's validation and encoding of
    every hit: about a tenth of a millisecond of the event loop per search, on cores the
    models need (a unit test holds this body to the `SearchResponse` schema instead)."""
    return Response(orjson.dumps(search_body(backends, result)), media_type="application/json")


def _file_body(result: FileResult) -> dict[str, Any]:
    body: dict[str, Any] = {"filename": result.filename, "status": result.status}
    if result.id is not None:
        body["id"] = result.id
    if result.kind is not None:
        body.update(code=result.code, message=result.message, status_code=HTTP_STATUS[result.kind])
    return body


def ingest_response(report: IngestReport) -> JSONResponse:
    """201 when every file is created or a duplicate, 207 when some are rejected, and the
    rejections' own status (400 if they differ) when all are."""
    body: dict[str, Any] = {
        "results": [_file_body(r) for r in report.results],
        "created": report.created,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
    }
    status = _INGEST_STATUS.get(report.outcome) or HTTP_STATUS[report.rejection_kind]
    first = report.first_rejection
    if report.outcome == "rejected" and first is not None:
        message = "no file was accepted: " + (first.message or "")
        body.update(error_body(first.code or "rejected", message))
    return JSONResponse(body, status_code=status)
