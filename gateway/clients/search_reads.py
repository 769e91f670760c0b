"""How fresh a search's Milvus read is: recent enough for users, without waiting on writes.

`Session` reads (the gateway's default for records) wait until Milvus has consumed this
gateway's last write; with uploads streaming in, every search waited for the next time
tick after the latest upload (p90 198 ms on the Milvus stage alone, issue 29). A search
need not see a photo the instant it was written, so it reads as of a moment ago (the
`search_staleness_s` setting, default STALENESS_S)
(Milvus' `guarantee_timestamp`, a hybrid timestamp: Unix milliseconds << 18). The query
node has consumed that far long since, so the search does not wait, and a photo is found
by searches started that long after its 201 (and the clocks' skew, which NTP keeps to
milliseconds). A staleness of 0 gives searches `Session` reads: their own writes at once.

A delete must hold at once: a photo is never found after its 204. So ids this gateway
deleted are excluded by the search's filter for `FORGET_AFTER_S`, longer than any read's
staleness, after which Milvus has applied the delete to every read.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

STALENESS_S = 0.5
FORGET_AFTER_S = 6.0
# A hybrid timestamp's logical counter takes the low 18 bits.
_LOGICAL_BITS = 18


def guarantee_timestamp(seconds_ago: float, now: float | None = None) -> int:
    """Milvus' hybrid timestamp of the wall clock `seconds_ago` ago."""
    wall = time.time() if now is None else now
    return int((wall - seconds_ago) * 1000) << _LOGICAL_BITS


class SearchReads:
    """The consistency and the exclusions of this gateway's searches (thread-safe)."""

    def __init__(self, read_level: str, staleness_s: float = STALENESS_S) -> None:
        self._read_level = read_level
        self._staleness_s = staleness_s
        self._lock = threading.Lock()
        self._deleted: dict[str, dict[str, float]] = {}  # collection -> id -> forget at

    def deleted(self, collection: str, ids: Sequence[str]) -> None:
        until = time.monotonic() + FORGET_AFTER_S
        with self._lock:
            self._deleted.setdefault(collection, {}).update(dict.fromkeys(ids, until))

    def excluded(self, collection: str) -> list[str]:
        now = time.monotonic()
        with self._lock:
            recent = {i: t for i, t in self._deleted.get(collection, {}).items() if t > now}
            self._deleted[collection] = recent
            return sorted(recent)

    def filter(self, collection: str, filter_expr: str) -> str:
        """`filter_expr`, and not one of the ids deleted here lately."""
        gone = self.excluded(collection)
        if not gone:
            return filter_expr
        not_gone = f"id not in {json.dumps(gone)}"
        return f"({filter_expr}) and {not_gone}" if filter_expr else not_gone

    def consistency(self) -> dict[str, Any]:
        """pymilvus' keywords for a search. `Session` (the default) would wait on this
        gateway's uploads, so searches read as of the staleness ago instead; `Strong` and
        `Bounded` (Milvus' own staleness bound, 5 s by default) are the operator's choice."""
        if self._read_level in ("Strong", "Bounded") or self._staleness_s == 0:
            return {"consistency_level": self._read_level}
        return {
            "consistency_level": "Customized",
            "guarantee_timestamp": guarantee_timestamp(self._staleness_s),
        }
