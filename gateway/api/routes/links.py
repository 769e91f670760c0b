"""Links the API hands out; relative unless a public base URL is configured."""

from __future__ import annotations

from typing import Any

from gateway.clients.milvus import Hit
from gateway.services.backends import Backends
from gateway.services.search import SearchResult


def image_links(backends: Backends, image_id: str) -> dict[str, str]:
    base = f"{backends.settings.server.public_url.rstrip('/')}/v1/images/{image_id}"
    return {"content_url": f"{base}/content", "thumbnail_url": f"{base}/thumbnail"}


def hit_body(backends: Backends, hit: Hit) -> dict[str, Any]:
    return {
        "id": hit.id,
        "score": hit.score,
        "metadata": hit.metadata,
        **image_links(backends, hit.id),
    }


def search_body(backends: Backends, result: SearchResult) -> dict[str, Any]:
    return {
        "model": result.model,
        "results": [hit_body(backends, hit) for hit in result.hits],
        "took_ms": round(result.took_ms, 2),
    }
