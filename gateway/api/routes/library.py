"""/v1/facets: what the library's metadata holds, for filter chips."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gateway.api.deps import BackendsDep, Reader
from gateway.api.routes.images import ERRORS
from gateway.api.schemas import FacetList
from gateway.services import facets

router = APIRouter(tags=["images"])


@router.get("/v1/facets", response_model=FacetList, responses=ERRORS, dependencies=[Reader])
async def list_facets(backends: BackendsDep) -> dict[str, Any]:
    """Every metadata key of the indexed photos with its 20 commonest values and how many
    photos carry each (list values such as tags count per item). Counts are kept between
    requests and recounted after a write or within a minute."""
    return await facets.facets(backends)
