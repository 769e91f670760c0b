"""Readiness and statistics."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from gateway.config import Settings
from gateway.models.spec import is_random
from gateway.services.backends import Backends


def retry_after_s(settings: Settings) -> int:
    """How long an unready gateway asks clients to wait: the longest dependency's setting."""
    return max(settings.triton.retry_after_s, settings.milvus.retry_after_s)


async def readiness(backends: Backends) -> dict[str, bool]:
    """Each dependency's state; the gateway is ready when all are."""
    triton, milvus, store = await asyncio.gather(
        backends.triton.models_ready([s for m in backends.models for s in m.triton_models]),
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
    for model in backends.models:
        name = backends.collection(model)
        collections[name] = {
            "model": model.name,
            "count": await backends.vectors.count(name),
            "fingerprint": backends.fingerprints.get(model.name),
        }
    models = {}
    for model in backends.models:
        for spec in model.triton_models:
            serving = await backends.triton.serving(spec)
            models[spec.name] = {
                "weights": serving.weights,
                "runtime": serving.runtime,
                "precision": serving.precision,
            }
    identities = [await backends.collections.identity(name) for name in collections]
    return {
        "index_id": hashlib.sha256("|".join(identities).encode()).hexdigest()[:16],
        "collections": collections,
        "models": models,
        "store": backends.settings.store.kind,
        "random_weights": any(is_random(m["weights"]) for m in models.values()),
    }


async def search_models(backends: Backends) -> list[dict[str, Any]]:
    """The enabled models as the web page and clients choose among them (`/v1/models`)."""
    from gateway.services import tag_search  # it imports the search services
    from gateway.services.tags import label_model

    await backends.ensure_collections()
    default = backends.default_model().name
    tags = await tag_search.wants_tags(backends, None)
    towers = [m for m in backends.models if m.text_model is not None]
    text_default = None if tags or not towers else max(towers, key=lambda m: m.quality_rank).name
    listed = [
        {
            "name": model.name,
            "title": model.title,
            "dimension": model.dim,
            "text": model.text_model is not None,
            "weights": backends.provenance.get(model.name, "unknown"),
            "random_weights": backends.random_weights(model),
            "default": model.name == default,
            "text_default": model.name == text_default,
        }
        for model in backends.models
    ]
    labeller = label_model(backends)
    if labeller is not None:  # words through auto-tags: text search with `model=tags`
        listed.append(
            {
                "name": tag_search.TAGS,
                "title": f"Tags ({labeller.title})",
                "dimension": 0,
                "text": True,
                "weights": backends.provenance.get(labeller.name, "unknown"),
                "random_weights": False,
                "default": False,
                "text_default": tags,
            }
        )
    return listed
