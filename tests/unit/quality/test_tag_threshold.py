"""The shown-tag calibration on probabilities whose outcome is known by hand."""

from __future__ import annotations

import numpy as np

from gateway.models.tag_vocabulary import vocabulary
from gateway.quality.tag_threshold import calibrate, filter_quality


def photo(**classes: float) -> np.ndarray:
    row = np.zeros(1000, np.float32)
    for name, p in classes.items():
        row[vocabulary().class_names.index(name.replace("_", " "))] = p
    return row


def test_the_filters_count_right_and_wrong_tags_over_every_word() -> None:
    probabilities = np.stack(
        [
            photo(tabby=0.6),  # a cat, tagged cat at any threshold up to 0.6
            photo(tabby=0.04, espresso=0.5),  # coffee, with a doubtful cat below 0.05
            photo(espresso=0.03),  # coffee, tagged coffee only below 0.03
        ]
    )
    labels = ["chelsea", "coffee", "coffee"]
    low = filter_quality(probabilities, labels, 0.02)  # cat: 2 returned, 1 right; coffee: 2 of 2
    assert (low["precision"], low["recall"]) == (0.75, 1.0)
    mid = filter_quality(probabilities, labels, 0.05)  # cat 1 of 1; coffee 1 of the 2
    assert mid["precision"] == 1.0 and mid["recall"] == 2 / 3
    best = calibrate(probabilities, labels)
    assert best["threshold"] == 0.05  # the lowest threshold that drops the wrong cat
    assert best["f_beta"] == max(q["f_beta"] for q in best["curve"].values())
