"""The gateway's memory of photos' classes (tag search): sums over the asked classes, bounded,
and blind to untagged rows and to other collections."""

from __future__ import annotations

import numpy as np

from gateway.clients.class_cache import ClassCache


def test_each_row_scores_the_summed_probability_of_its_asked_classes() -> None:
    cache = ClassCache()
    cache.put("c#1", "a", ["tabby", "tiger_cat", "lynx"], [0.5, 0.25, 0.125])
    cache.put("c#1", "b", ["lynx"], [0.75])
    cache.put("c#1", "a", ["tabby"], [0.375])  # rewritten: the new classes replace the old
    scores = cache.scores("c#1", ["a", "b", "gone"], ["tabby", "lynx", "unseen"])
    np.testing.assert_array_equal(scores[:2], [0.375, 0.75])
    assert np.isnan(scores[2])  # not remembered: the caller reads it from Milvus
    assert cache.missing("c#1", ["a", "b", "gone"]) == ["gone"]


def test_photos_without_classes_and_other_collections_are_not_answered() -> None:
    cache = ClassCache()
    cache.put("c#1", "untagged", [], [])  # auto-tags off when written: a later write tags it
    cache.put("c#1", "a", ["tabby"], [0.5])
    assert cache.missing("c#1", ["untagged", "a"]) == ["untagged"]
    assert cache.missing("c#2", ["a"]) == ["a"]  # the same id in a reindexed collection


def test_memory_is_bounded_and_grows_past_its_first_arrays() -> None:
    cache = ClassCache(capacity=100)
    for n in range(100):
        cache.put("c#1", f"id{n}", ["tabby"], [n / 100])
    assert cache.missing("c#1", [f"id{n}" for n in range(100)]) == []
    np.testing.assert_allclose(cache.scores("c#1", ["id99"], ["tabby"]), [0.99])
    cache.put("c#1", "one more", ["tabby"], [0.5])  # over the bound: starts again
    assert cache.missing("c#1", ["id0", "one more"]) == ["id0"]
