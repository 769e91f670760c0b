"""Operations: liveness, readiness, statistics, Prometheus metrics, the web page."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.deps import BackendsDep, Reader
from gateway.api.routes.images import ERRORS
from gateway.api.schemas import ModelList, Readiness
from gateway.errors import NotFoundError
from gateway.services import status

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(backends: BackendsDep) -> JSONResponse:
    """Readiness: Triton's models are ready, Milvus and the image store answer."""
    checks = await status.readiness(backends)
    ready = all(checks.values())
    return JSONResponse(
        {"ready": ready, "checks": checks},
        status_code=200 if ready else 503,
        headers=None if ready else {"Retry-After": str(status.retry_after_s(backends.settings))},
    )


@router.get("/v1/stats", responses=ERRORS, dependencies=[Reader])
async def stats(backends: BackendsDep) -> dict[str, Any]:
    """Counts per collection, the models and which weights they hold."""
    return await status.stats(backends)


@router.get("/v1/models", response_model=ModelList, responses=ERRORS, dependencies=[Reader])
async def models(backends: BackendsDep) -> dict[str, Any]:
    """The enabled models: the `model=` values, dimensions, weights, which is the default."""
    return {"models": await status.search_models(backends)}


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# The page's own assets, and nothing else of the package: no CDN, no build step.
_SCRIPTS = ("api.js", "app.js", "controls.js", "library.js", "viewer.js", "upload.js", "start.js")
_ASSETS = {"app.css": "text/css", **dict.fromkeys(_SCRIPTS, "text/javascript")}


def _asset(name: str) -> bytes:
    return resources.files("gateway").joinpath(f"web/{name}").read_bytes()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index_page() -> HTMLResponse:
    page = _asset("index.html").decode("utf-8")
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


@router.get("/web/{name}", include_in_schema=False)
async def web_asset(name: str, request: Request) -> Response:
    """The page's CSS and scripts; revalidated by ETag so an upgrade shows at once."""
    if name not in _ASSETS:
        raise NotFoundError(f"no page asset {name[:80]!r}", code="not_found")
    data = _asset(name)
    etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
    headers = {"Cache-Control": "no-cache", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=_ASSETS[name], headers=headers)
