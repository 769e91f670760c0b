"""Each stored photo's kept classes, remembered by the gateway for tag search.

Tag search scores every candidate by its classes, and a broad word (*animal*) makes nearly
every photo a candidate. Milvus 2.3 returns ARRAY fields slowly: 10,000 rows of 50 classes
took 450 ms, against 45 ms for the same rows' ids and dates. A row's classes are its label
head's output for its content, and a collection's name carries the model's fingerprint, so
an entry never goes stale while its collection lives: entries need no invalidation, only a
bound on memory. Photos without classes (auto-tags off when written) are never remembered,
so a later tagged write of the same photo is read from Milvus.

Rows are kept as padded arrays (class codes, probabilities), so scoring 10,000 candidates
is one gather and one sum (a few ms) instead of a Python loop over every class of every row.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from gateway.clients.base import CLASSES_CAPACITY

# About 400 bytes per photo (codes, probabilities, the id's slot): 1,000,000 is ~400 MB.
CAPACITY = 1_000_000
_PAD = 0  # the code of "no class": its weight in every mask is 0


class _Rows:
    """One collection's remembered rows."""

    def __init__(self) -> None:
        self.slots: dict[str, int] = {}
        self.codes = np.zeros((0, CLASSES_CAPACITY), np.int32)
        self.probabilities = np.zeros((0, CLASSES_CAPACITY), np.float32)

    def put(self, id_: str, codes: list[int], probabilities: list[float]) -> None:
        slot = self.slots.get(id_)
        if slot is None:
            slot = len(self.slots)
            if slot == len(self.codes):  # full: double (amortised O(1) per row)
                grown = max(64, 2 * slot)
                self.codes = np.resize(self.codes, (grown, CLASSES_CAPACITY))
                self.probabilities = np.resize(self.probabilities, (grown, CLASSES_CAPACITY))
            self.slots[id_] = slot
        kept = min(len(codes), CLASSES_CAPACITY)
        self.codes[slot] = _PAD
        self.probabilities[slot] = 0.0
        self.codes[slot, :kept] = codes[:kept]
        self.probabilities[slot, :kept] = probabilities[:kept]


class ClassCache:
    """(collection, id) -> the row's classes; safe across Milvus' worker threads."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._collections: dict[str, _Rows] = {}
        self._codes: dict[str, int] = {}  # class name -> code (1, 2, ...; 0 pads)
        self._lock = threading.Lock()

    def put(
        self, collection: str, id_: str, classes: Sequence[str], scores: Sequence[float]
    ) -> None:
        if not classes:
            return
        with self._lock:
            if sum(len(r.slots) for r in self._collections.values()) >= self._capacity:
                self._collections.clear()  # over the bound: start again, rebuilt from Milvus
            codes = [self._codes.setdefault(str(c), len(self._codes) + 1) for c in classes]
            rows = self._collections.setdefault(collection, _Rows())
            rows.put(id_, codes, [float(s) for s in scores])

    def missing(self, collection: str, ids: Iterable[str]) -> list[str]:
        with self._lock:
            slots = self._collections.get(collection, _Rows()).slots
            return [i for i in ids if i not in slots]

    def scores(
        self, collection: str, ids: Sequence[str], classes: Iterable[str]
    ) -> npt.NDArray[np.float32]:
        """Each row's summed probability over `classes`; NaN for a row not remembered."""
        with self._lock:
            rows = self._collections.get(collection, _Rows())
            mask = np.zeros(len(self._codes) + 1, np.float32)
            mask[[self._codes[c] for c in classes if c in self._codes]] = 1.0
            slots = np.fromiter((rows.slots.get(i, -1) for i in ids), np.int64, len(ids))
            known = slots >= 0
            found = slots[known]
            summed = (mask[rows.codes[found]] * rows.probabilities[found]).sum(axis=1)
        result = np.full(len(ids), np.nan, np.float32)
        result[known] = summed
        return result
