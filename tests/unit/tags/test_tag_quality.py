"""The tag search quality measure: what bench/quality.py reports."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt

from gateway.models.registry import EFFICIENTNET_LITE0
from gateway.models.spec import TritonModelSpec
from gateway.models.tag_vocabulary import vocabulary
from gateway.quality.tag_quality import metrics, tag_search_quality
from tests.unit.images import shade_jpeg as jpeg


def test_unreturned_photos_earn_nothing_even_first_in_index_order() -> None:
    relevant = np.array([True, True, False, False, False, False])
    assert metrics(np.zeros(6), relevant) == (0.0, 0.0)
    p5, ap = metrics(np.array([0.0, 0.9, 0.5, 0.0, 0.0, 0.0]), relevant)
    assert p5 == 0.2 and ap == 0.5  # one of two found, at rank 1


def test_words_are_scored_through_their_tags_and_untagged_words_are_named() -> None:
    cat = vocabulary().class_names.index("tabby")

    async def labeller(
        spec: TritonModelSpec, batch: npt.NDArray[np.generic]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        probabilities = np.zeros((len(batch), 1000), np.float32)
        probabilities[:2, cat] = 0.9  # the two chelsea photos come first
        return np.zeros((len(batch), 4), np.float32), probabilities

    classes = {
        "chelsea": {"c0.jpg": jpeg(1), "c1.jpg": jpeg(2)},
        "astronaut": {"a0.jpg": jpeg(3)},
        "immunohistochemistry": {"i.jpg": jpeg(4)},  # no everyday word: left out
    }
    result = asyncio.run(tag_search_quality(classes, labeller, EFFICIENTNET_LITE0.image_model))
    assert result["photos"] == 3 and result["queries"] == 2
    assert result["per_word"]["cat"]["ap"] == 1.0
    assert result["per_word"]["cat"]["precision_at_5"] == 0.4  # two of five slots
    assert result["words_without_tag"] == ["astronaut"]
