"""The gateway's memory of photos' classes (tag search): bounded, and blind to untagged rows."""

from __future__ import annotations

from gateway.clients.class_cache import ClassCache


def test_the_least_recently_used_entries_go_first_once_full() -> None:
    cache = ClassCache(capacity=2)
    cache.put("c#1", "a", ["tabby"], [0.5])
    cache.put("c#1", "b", ["lynx"], [0.25])
    assert set(cache.get_many("c#1", ["a"])) == {"a"}  # "a" is now the most recent
    cache.put("c#1", "c", ["tiger_cat"], [0.75])
    assert cache.get_many("c#1", ["a", "b", "c"]) == {
        "a": (("tabby",), (0.5,)),
        "c": (("tiger_cat",), (0.75,)),
    }


def test_photos_without_classes_and_other_collections_are_not_answered() -> None:
    cache = ClassCache()
    cache.put("c#1", "untagged", [], [])  # auto-tags off when written: a later write tags it
    cache.put("c#1", "a", ["tabby"], [0.5])
    assert cache.get_many("c#1", ["untagged"]) == {}
    assert cache.get_many("c#2", ["a"]) == {}  # the same id in a reindexed collection
