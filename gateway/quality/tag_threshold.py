"""Calibrating the shown-tag threshold (`TAG_THRESHOLD`, gateway/models/tagging.py) on the
labeled set: shown tags are what people filter by, so for each everyday word with a tag
(tag_quality.EVERYDAY_WORDS) the filter `{"tags": {"in": <the word's tags>}}` should return
that word's class. Per threshold, every labeled photo's shown tags are formed as ingest forms
them, and precision and recall of the filter are counted over all words and photos. People
read shown tags and filter by them, so a wrong tag costs more than a missing one: the
threshold with the best F0.5 (precision weighted twice) is the calibrated one (ties: the
lowest, which shows more)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.models.tag_vocabulary import vocabulary
from gateway.quality.tag_quality import EVERYDAY_WORDS

THRESHOLDS = np.round(np.arange(0.01, 0.805, 0.01), 2)
BETA = 0.5


def filter_quality(
    probabilities: npt.NDArray[np.float32], labels: list[str], threshold: float
) -> dict[str, float]:
    """Precision, recall and F0.5 of the words' tag filters when classes at or above
    `threshold` (and their hypernyms) are shown."""
    words = vocabulary()
    shown = [
        {tag for i in np.flatnonzero(p >= threshold) for tag in words.class_tags[int(i)]}
        for p in probabilities
    ]
    hits = returned = relevant = 0
    for label, word in EVERYDAY_WORDS.items():
        wanted = set(words.parse(word).tags)
        if not wanted or label not in labels:
            continue  # no tag can name it: the filter is not for this word
        for photo_tags, photo_label in zip(shown, labels, strict=True):
            found = bool(wanted & photo_tags)
            hits += found and photo_label == label
            returned += found
            relevant += photo_label == label
    precision = hits / returned if returned else 1.0
    recall = hits / relevant if relevant else 0.0
    weighted = BETA**2 * precision + recall
    f_beta = (1 + BETA**2) * precision * recall / weighted if weighted else 0.0
    return {"precision": precision, "recall": recall, "f_beta": f_beta}


def calibrate(probabilities: npt.NDArray[np.float32], labels: list[str]) -> dict[str, Any]:
    """The threshold with the best F0.5, and the quality at every threshold tried."""
    curve = {float(t): filter_quality(probabilities, labels, float(t)) for t in THRESHOLDS}
    best = max(curve, key=lambda t: (curve[t]["f_beta"], -t))
    return {"threshold": best, **curve[best], "curve": curve}
