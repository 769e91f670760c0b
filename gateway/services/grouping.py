"""Near-copies collapse into one result: a photo and its resized, re-encoded or lightly
edited copies are one card with "+N copies", and `top_k` counts such groups.

Two hits are copies when the cosine similarity of their stored vectors reaches the model's
copy threshold, measured on the copy-detection set when the model was built and carried in its
Triton config (export/copy_threshold.py). Groups form greedily in rank order: each hit joins
the best-ranked group whose first hit it copies, else starts a group, so the group's face is
its best hit. A model built without a threshold is not grouped, and its searches say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gateway.clients.base import Hit
from gateway.models.spec import SearchModel
from gateway.observability import stage
from gateway.services.backends import Backends
from gateway.services.ids import bounded

# How many candidates a grouped search reads per group asked for: enough for a few copies
# of each photo without reading the whole collection.
FETCH_FACTOR = 4


@dataclass(frozen=True)
class Group:
    hit: Hit
    copies: list[Hit] = field(default_factory=list)


def unavailable(backends: Backends, model: SearchModel) -> str | None:
    """What a `group=true` search on `model` says when it cannot group (else None)."""
    if backends.copy_thresholds.get(model.name) is not None:
        return None
    return (
        f"Near-copies are not grouped: {model.title}'s build found no similarity that tells "
        "copies from distinct photos on the copy-detection set (rebuild it with "
        "`pic-search models build` to measure again)."
    )


def fetch_size(top_k: int, limit: int) -> int:
    return min(max(top_k * FETCH_FACTOR, top_k), limit)


def group_vectors(
    hits: list[Hit], vectors: dict[str, npt.NDArray[np.float32]], min_similarity: float
) -> list[Group]:
    """Groups of `hits` (kept in their order); a hit without a vector stands alone."""
    leaders: list[tuple[Group, npt.NDArray[np.float32]]] = []
    for hit in hits:
        vector = vectors.get(hit.id)
        if vector is not None:
            home = next((g for g, v in leaders if float(np.dot(v, vector)) >= min_similarity), None)
            if home is not None:
                home.copies.append(hit)
                continue
        group = Group(hit, [])
        leaders.append((group, vector if vector is not None else np.zeros(1, np.float32)))
    return [g for g, _ in leaders]


async def stored_vectors(
    backends: Backends, collection: str, ids: list[str]
) -> dict[str, npt.NDArray[np.float32]]:
    with stage("milvus"):
        rows = await bounded(backends.vectors.get(collection, id_, with_vector=True) for id_ in ids)
    return {
        id_: _unit(np.asarray(row["embedding"], np.float32))
        for id_, row in zip(ids, rows, strict=True)
        if row is not None
    }


def _unit(vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


async def group_hits(
    backends: Backends, collection: str, model: SearchModel, hits: list[Hit]
) -> list[Group]:
    """`hits` grouped at `model`'s copy threshold; each alone when it has none."""
    threshold = backends.copy_thresholds.get(model.name)
    if threshold is None:
        return [Group(hit, []) for hit in hits]
    vectors = await stored_vectors(backends, collection, [h.id for h in hits])
    return group_vectors(hits, vectors, threshold)


async def collapse(
    backends: Backends, collection: str, model: SearchModel, hits: list[Hit], top_k: int
) -> tuple[list[Hit], dict[str, tuple[Hit, ...]]]:
    """The first `top_k` groups of `hits`: their leading hits, and each leader's copies."""
    groups = (await group_hits(backends, collection, model, hits))[:top_k]
    return [g.hit for g in groups], {g.hit.id: tuple(g.copies) for g in groups}
