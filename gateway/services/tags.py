"""Auto-tags: a photo's ImageNet classes and their WordNet hypernyms, from a label head.

At ingest the label head (an enabled model whose Triton model also outputs ImageNet class
probabilities, with real weights) gives each photo 1,000 probabilities. Kept of them:
- `classes`: the top classes down to `CLASS_FLOOR`, at most `MAX_CLASSES`, with their
  probabilities: what tag search ranks by (the summed probability of the classes under the
  query's words);
- `tags`: what people see and filter by: the classes at or above `TAG_THRESHOLD` and every
  hypernym over them, each scored with the summed probability of the kept classes under it;
  the classes first (the most specific names), then the broader names, each best first.
Both live in the image's record and in its collection rows (schema version 3; see
clients/milvus.py), where Milvus filters on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.clients.base import CLASSES_CAPACITY, TAGS_CAPACITY
from gateway.models.spec import SearchModel, is_random
from gateway.services.backends import Backends
from gateway.services.tag_vocabulary import TagVocabulary, vocabulary

CLASS_FLOOR = 0.005
MAX_CLASSES = CLASSES_CAPACITY
# A class this probable is shown as a tag, with its hypernyms. Set by looking at the bundled
# sample photos, not yet calibrated on a labeled set (tag search ranks by the kept classes, so
# its quality does not depend on it): ImageNet's 1,000 classes split one thing between
# near-synonyms (egyptian cat 0.40, tiger cat 0.23, tabby 0.22), whose common hypernym `cat`
# then scores 0.85, while the wrong classes of a photo ImageNet has no class for mostly stay
# below 0.15.
TAG_THRESHOLD = 0.15
# Stored tags per photo (a class has up to 18 hypernyms; a few classes share most of them).
MAX_TAGS = TAGS_CAPACITY
SCORE_DECIMALS = 4


@dataclass(frozen=True)
class PhotoTags:
    classes: tuple[tuple[str, float], ...]  # (class tag name, probability), best first
    tags: tuple[tuple[str, float], ...]  # (tag name, score): classes, then broader names

    def record_fields(self) -> dict[str, Any]:
        """What the image's stored record keeps."""
        return {
            "classes": [{"name": n, "score": s} for n, s in self.classes],
            "tags": [{"name": n, "score": s} for n, s in self.tags],
        }


def photo_tags(
    probabilities: npt.NDArray[np.float32], words: TagVocabulary | None = None
) -> PhotoTags:
    """One photo's kept classes and shown tags from its label head's probabilities."""
    vocab = words or vocabulary()
    if probabilities.shape != (len(vocab),):
        raise ValueError(
            f"a label head gives {len(vocab)} probabilities, not {probabilities.shape}"
        )
    order = np.argsort(-probabilities, kind="stable")[:MAX_CLASSES]
    kept = [(int(i), float(probabilities[i])) for i in order if probabilities[i] >= CLASS_FLOOR]
    scores: dict[str, float] = {}
    shown = {i for i, p in kept if p >= TAG_THRESHOLD}
    for index, probability in kept:
        for tag in vocab.class_tags[index]:
            scores[tag] = scores.get(tag, 0.0) + probability
    own = {vocab.class_names[index] for index in shown}
    names = {tag for index in shown for tag in vocab.class_tags[index]}
    # The classes first (the most specific names), then the broader ones; each best first.
    tags = sorted(
        ((t, scores[t]) for t in names), key=lambda ts: (ts[0] not in own, -ts[1], ts[0])
    )[:MAX_TAGS]
    return PhotoTags(
        tuple((vocab.class_names[i], round(p, SCORE_DECIMALS)) for i, p in kept),
        tuple((t, round(s, SCORE_DECIMALS)) for t, s in tags),
    )


def label_model(backends: Backends) -> SearchModel | None:
    """The enabled model whose label head tags photos: one with real weights (a random
    classifier's classes would be noise), the best such by quality. Known once Triton
    answered (`ensure_collections`)."""
    heads = [
        m
        for m in backends.models
        if m.label_head and not is_random(backends.provenance.get(m.name, "random"))
    ]
    return max(heads, key=lambda m: m.quality_rank, default=None)


def tag_record(tags: PhotoTags | None) -> dict[str, Any]:
    """The record fields of a photo's tags; none when no label head tagged it."""
    return {} if tags is None else tags.record_fields()


def tag_names(record: dict[str, Any]) -> list[str]:
    """The shown tag names of a stored record ([] for records from before tags)."""
    return [str(t["name"]) for t in record.get("tags") or [] if isinstance(t, dict)]


def tag_columns(record: dict[str, Any]) -> dict[str, Any]:
    """The fields a collection row (schema version 3) keeps of a record's tags."""
    classes = [c for c in record.get("classes") or [] if isinstance(c, dict)]
    return {
        "tags": tag_names(record)[:TAGS_CAPACITY],
        "classes": [str(c["name"]) for c in classes][:MAX_CLASSES],
        "class_scores": [float(c["score"]) for c in classes][:MAX_CLASSES],
    }


def rank_score(classes: list[str], scores: list[float], wanted: set[str]) -> float:
    """A photo's score for a tag query: the summed probability of its classes under it."""
    return float(sum(s for c, s in zip(classes, scores, strict=False) if c in wanted))
