"""Readiness and statistics."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.config import Settings
from gateway.models.spec import SEARCH_MODELS, TRITON_MODELS
from gateway.services.backends import Backends


def retry_after_s(settings: Settings) -> int:
    """How long an unready gateway asks clients to wait: the longest dependency's setting."""
    return max(settings.triton.retry_after_s, settings.milvus.retry_after_s)


async def readiness(backends: Backends) -> dict[str, bool]:
    """Each dependency's state; the gateway is ready when all are."""
    triton, milvus, store = await asyncio.gather(
        backends.triton.models_ready(list(TRITON_MODELS)),
        backends.vectors.ping(),
        backends.store.ping(),
    )
    checks = {"triton": triton, "milvus": milvus, "store": store}
    if all(checks.values()):
        try:
            await backends.ensure_collections()
        except Exception:
            checks["collections"] = False
        else:
            checks["collections"] = True
    return checks


async def stats(backends: Backends) -> dict[str, Any]:
    await backends.ensure_collections()
    collections = {}
    for model in SEARCH_MODELS.values():
        name = backends.collection(model)
        collections[name] = {
            "model": model.name,
            "count": await backends.vectors.count(name),
            "fingerprint": backends.fingerprints.get(model.name),
        }
    models = {}
    for spec in TRITON_MODELS:
        models[spec.name] = {"weights": await backends.triton.provenance(spec)}
    return {
        "collections": collections,
        "models": models,
        "store": backends.settings.store.kind,
        "random_weights": any(m["weights"].startswith("random") for m in models.values()),
    }
