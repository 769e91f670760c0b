"""Each stored photo's kept classes, remembered by the gateway for tag search.

Tag search scores every candidate by its classes, and a broad word (*animal*) makes nearly
every photo a candidate. Milvus 2.3 returns ARRAY fields slowly: 10,000 rows of 50 classes
took 450 ms, against 45 ms for the same rows' ids and dates. A row's classes are its label
head's output for its content, and a collection's name carries the model's fingerprint, so
an entry never goes stale while its collection lives: entries need no invalidation, only a
bound on memory. Photos without classes (auto-tags off when written) are never remembered,
so a later tagged write of the same photo is read from Milvus.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

Classes = tuple[tuple[str, ...], tuple[float, ...]]  # (class names, their probabilities)

# About 1 KB per photo at 50 classes: at most about 200 MB, for 200,000 photos per gateway.
CAPACITY = 200_000


class ClassCache:
    """A least-recently-used map (collection, id) -> classes; safe across Milvus' threads."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], Classes] = OrderedDict()
        self._lock = threading.Lock()

    def put(
        self, collection: str, id_: str, classes: Iterable[str], scores: Iterable[float]
    ) -> None:
        entry = (tuple(str(c) for c in classes), tuple(float(s) for s in scores))
        if not entry[0]:
            return
        with self._lock:
            self._entries[(collection, id_)] = entry
            self._entries.move_to_end((collection, id_))
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def get_many(self, collection: str, ids: Iterable[str]) -> dict[str, Classes]:
        """The remembered entries among `ids` (the others are missing)."""
        found: dict[str, Classes] = {}
        with self._lock:
            for id_ in ids:
                entry = self._entries.get((collection, id_))
                if entry is not None:
                    self._entries.move_to_end((collection, id_))
                    found[id_] = entry
        return found
