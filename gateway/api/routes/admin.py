"""/v1/admin: consistency check and repair, and reindex, run by the service itself.

They act on the service's own store and collections, so a client (the CLI) cannot point them
at the wrong ones; they need a writer's key, like every write."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gateway.api.deps import BackendsDep, Writer
from gateway.api.routes.images import ERRORS
from gateway.api.schemas import ConsistencyCheck, ConsistencyReport, ReindexReport
from gateway.services import admin

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Writer])


@router.post("/check", response_model=ConsistencyReport, responses={409: ERRORS[422], **ERRORS})
async def check(backends: BackendsDep, request: ConsistencyCheck) -> dict[str, Any]:
    """Compare the image store with every collection. With `repair`, re-embed stored images
    that lack a vector and delete vectors without an image; a repair that looks like a
    misconfiguration (an empty store beside full collections, or deleting more than 5 % or
    100 of the vectors) answers 409 `repair_refused` and changes nothing, unless `force`."""
    return await admin.check(backends, request.repair, request.force)


@router.post("/reindex", response_model=ReindexReport, responses=ERRORS)
async def reindex(backends: BackendsDep) -> dict[str, Any]:
    """Re-embed the stored originals into a new collection for every model whose weights
    changed, then move its alias (searches keep the old one until then). Takes as long as
    embedding every image once."""
    return await admin.reindex(backends)
