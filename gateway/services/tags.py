"""Auto-tags at ingest: the label head (an enabled model whose Triton model also outputs
ImageNet class probabilities, with real weights) gives each photo 1,000 probabilities, and
gateway/models/tagging.py turns them into kept classes and shown tags. Both live in the
image's record and in its collection rows (schema version 3; see clients/milvus.py), where
Milvus filters on them.
"""

from __future__ import annotations

from typing import Any

from gateway.models.spec import SearchModel, is_random
from gateway.models.tagging import (
    CLASS_FLOOR,
    MAX_CLASSES,
    TAG_THRESHOLD,
    PhotoTags,
    photo_tags,
)
from gateway.services.backends import Backends

__all__ = [
    "CLASS_FLOOR",
    "MAX_CLASSES",
    "TAG_THRESHOLD",
    "PhotoTags",
    "label_model",
    "photo_tags",
    "tag_record",
]


def label_model(backends: Backends) -> SearchModel | None:
    """The enabled model whose label head tags photos: one with real weights (a random
    classifier's classes would be noise), the best such by quality; none where auto-tags are
    turned off. Known once Triton answered (`ensure_collections`)."""
    if not backends.settings.models.auto_tags:
        return None
    heads = [
        m
        for m in backends.models
        if backends.label_heads.get(m.name)
        and not is_random(backends.provenance.get(m.name, "random"))
    ]
    return max(heads, key=lambda m: m.quality_rank, default=None)


def tag_record(tags: PhotoTags | None) -> dict[str, Any]:
    """The record fields of a photo's tags; none when no label head tagged it."""
    return {} if tags is None else tags.record_fields()
