"""Word search through auto-tags on the project's labeled set: precision@5 and mAP per query.

Each class of the labeled set (gateway/quality/labeled_set.py) that an everyday word names
gets that word as its query (chelsea -> cat); the others are left out. Every labeled photo is
tagged by the label head as ingest tags it (services/tags.py) and ranked for each word as tag
search ranks it (the summed probability of its kept classes under the word's tags), so the
numbers are what `model=tags` answers. A word the vocabulary has no tag for finds nothing and
is reported. CLIP's text tower, on the same photos and words, is the comparison (with seeded
random weights it ranks arbitrarily: that is the point of tags).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.config import LimitSettings
from gateway.models.spec import TritonModelSpec
from gateway.models.tag_vocabulary import vocabulary
from gateway.models.tagging import photo_tags, rank_score
from gateway.quality.labeled import prepared_inputs

# The labeled set's classes and the word a person would type for them; classes no everyday
# word names (immunohistochemistry, lfw_not_face) are left out.
EVERYDAY_WORDS = {
    "astronaut": "astronaut",
    "coffee": "coffee",
    "chelsea": "cat",
    "rocket": "rocket",
    "camera": "camera",
    "coins": "coins",
    "hubble_deep_field": "galaxy",
    "retina": "eye",
    "moon": "moon",
    "page": "book",
    "brick": "brick wall",
    "grass": "grass",
    "gravel": "gravel",
    "china": "palace",
    "flower": "flower",
    "grace_hopper": "uniform",
    "lfw_face": "face",
}
K = 5

Labeller = Callable[
    [TritonModelSpec, npt.NDArray[np.generic]],
    Awaitable[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]],
]
TextRanker = Callable[[str], Awaitable[npt.NDArray[np.float32]]]  # word -> a score per photo


@dataclass(frozen=True)
class WordScore:
    word: str
    label: str
    precision_at_k: float
    average_precision: float
    has_tag: bool


def metrics(
    scores: npt.NDArray[np.float64], relevant: npt.NDArray[np.bool_]
) -> tuple[float, float]:
    """(precision@K, average precision) of ranking every photo by `scores` (ties in index
    order); photos scoring nothing are not returned, as tag search does not return them."""
    order = np.argsort(-scores, kind="stable")
    returned = scores[order] > 0
    hits = relevant[order] & returned
    ranks = np.flatnonzero(hits) + 1
    total = int(relevant.sum())
    ap = float(np.sum(np.arange(1, len(ranks) + 1) / ranks) / total) if total else 0.0
    return float(hits[:K].sum() / K), ap


async def tag_search_quality(
    classes: dict[str, dict[str, bytes]],
    labeller: Labeller,
    spec: TritonModelSpec,
    text_ranker: TextRanker | None = None,
) -> dict[str, Any]:
    """P@5 and mAP of tag search per everyday word and overall, the words without a tag, and
    the same through `text_ranker` (CLIP's text tower) where given."""
    wanted = {label: images for label, images in classes.items() if label in EVERYDAY_WORDS}
    inputs, labels, _ = prepared_inputs(wanted, [spec], LimitSettings())
    _, probabilities = await labeller(spec, inputs[spec.name])
    tagged = [photo_tags(p) for p in probabilities]
    names = np.asarray(labels)
    words = vocabulary()
    per_word: list[WordScore] = []
    clip: list[tuple[float, float]] = []
    for label, word in EVERYDAY_WORDS.items():
        if label not in wanted:
            continue
        query = words.parse(word)
        under = {words.class_names[i] for i in words.classes_under(query.tags)}
        scores = np.asarray(
            [rank_score([c for c, _ in t.classes], [s for _, s in t.classes], under)
             for t in tagged]
        )  # fmt: skip
        p5, ap = metrics(scores, names == label)
        per_word.append(WordScore(word, label, p5, ap, bool(query.tags)))
        if text_ranker is not None:
            clip.append(metrics((await text_ranker(word)).astype(np.float64) + 2.0, names == label))
    result: dict[str, Any] = {
        "photos": len(labels),
        "queries": len(per_word),
        "precision_at_5": _mean([w.precision_at_k for w in per_word]),
        "map": _mean([w.average_precision for w in per_word]),
        "words_without_tag": [w.word for w in per_word if not w.has_tag],
        "with_tag": {
            "precision_at_5": _mean([w.precision_at_k for w in per_word if w.has_tag]),
            "map": _mean([w.average_precision for w in per_word if w.has_tag]),
        },
        "per_word": {w.word: _word_scores(w) for w in per_word},
    }
    if clip:
        result["clip_text"] = {
            "precision_at_5": _mean([p for p, _ in clip]),
            "map": _mean([a for _, a in clip]),
        }
    return result


def _word_scores(w: WordScore) -> dict[str, Any]:
    return {
        "class": w.label,
        "precision_at_5": w.precision_at_k,
        "ap": w.average_precision,
        "has_tag": w.has_tag,
    }


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else 0.0
