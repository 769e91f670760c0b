"""A photo's auto-tags from a label head's probabilities: its ImageNet classes and their
WordNet hypernyms (the vocabulary: gateway/models/tag_vocabulary.py).

Kept of the 1,000 probabilities:
- `classes`: the top classes down to `CLASS_FLOOR`, at most `MAX_CLASSES`, with their
  probabilities: what tag search ranks by (the summed probability of the classes under the
  query's words, `rank_score`);
- `tags`: what people see and filter by: the classes at or above `TAG_THRESHOLD` and every
  hypernym over them, each scored with the summed probability of the kept classes under it;
  the classes first (the most specific names), then the broader names, each best first.
Pure functions: ingest (gateway/services/tags.py) and the quality lab both use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.models.tag_vocabulary import TagVocabulary, vocabulary

# What a collection row's ARRAY fields hold (Milvus needs capacities and a string length).
TAGS_CAPACITY = 64
CLASSES_CAPACITY = 50
TAG_MAX_LENGTH = 128
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


def rank_score(classes: list[str], scores: list[float], wanted: set[str]) -> float:
    """A photo's score for a tag query: the summed probability of its classes under it."""
    return float(sum(s for c, s in zip(classes, scores, strict=False) if c in wanted))
