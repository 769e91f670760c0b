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

from collections.abc import Sequence
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
# A class this probable is shown as a tag, with its hypernyms. Calibrated on the labeled set
# (gateway/quality/tag_threshold.py: the best F0.5 of the everyday words' tag filters, checked
# by tests/integration/test_tags.py): at 0.05 the filters return the right class 88 % of the
# time and find 28 % of its photos; at 0.15, the earlier guess, 88 % and 13 %. Tag search
# ranks by the kept classes, so its quality does not depend on this.
TAG_THRESHOLD = 0.05
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


def rank_score(classes: Sequence[str], scores: Sequence[float], wanted: set[str]) -> float:
    """A photo's score for a tag query: the summed probability of its classes under it."""
    return float(sum(s for c, s in zip(classes, scores, strict=False) if c in wanted))
