"""Facets: the metadata keys of the library and their most common values, with counts.

Milvus cannot group by a JSON field, so counting means reading every row's metadata: fine
once, not per request. The counts are kept per process and recounted when this process
writes (ingest, delete, metadata patch) or when they are older than `MAX_AGE_S` (another
replica may have written), so a page asking on every load costs a dictionary copy.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gateway.observability import stage
from gateway.services.backends import Backends

TOP_VALUES = 20
MAX_AGE_S = 60.0
_SCAN_LIMIT = 1_000_000


@dataclass
class _Counts:
    keys: dict[str, Counter[str]] = field(default_factory=dict)
    at: float = 0.0
    generation: int = -1


@dataclass
class _State:
    counts: _Counts = field(default_factory=_Counts)
    generation: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_states: dict[int, _State] = {}


def _state(backends: Backends) -> _State:
    return _states.setdefault(id(backends), _State())


def invalidate(backends: Backends) -> None:
    """This process changed the library: the next facets request recounts."""
    _state(backends).generation += 1


def facet_values(value: Any) -> list[str]:
    """The facet values of one metadata value: a scalar as text, each item of a list (tags);
    objects are not facets."""
    if isinstance(value, list):
        return [v for item in value for v in facet_values(item) if not isinstance(item, list)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, str | int | float):
        return [str(value)]
    return []


def count(metadatas: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    keys: dict[str, Counter[str]] = {}
    for metadata in metadatas:
        for key, value in metadata.items():
            values = facet_values(value)
            if values:
                keys.setdefault(key, Counter()).update(set(values))
    return keys


def as_body(keys: dict[str, Counter[str]], top: int = TOP_VALUES) -> dict[str, Any]:
    """`{"keys": [{"key", "count", "values": [{"value", "count"}]}]}`: keys by how many
    photos carry them, each with its `top` commonest values (ties by value)."""
    ordered = sorted(keys.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return {
        "keys": [
            {
                "key": key,
                "values": [
                    {"value": value, "count": n}
                    for value, n in sorted(counter.items(), key=lambda vn: (-vn[1], vn[0]))[:top]
                ],
            }
            for key, counter in ordered
        ]
    }


async def facets(backends: Backends) -> dict[str, Any]:
    state = _state(backends)
    counts = state.counts
    fresh = time.monotonic() - counts.at < MAX_AGE_S
    if counts.generation == state.generation and fresh:
        return as_body(counts.keys)
    async with state.lock:  # one recount at a time; the others take its result
        counts = state.counts
        if counts.generation != state.generation or time.monotonic() - counts.at >= MAX_AGE_S:
            generation = state.generation
            await backends.ensure_collections()
            collection = backends.collection(backends.models[0])
            with stage("milvus"):
                rows = await backends.vectors.newest(collection, None, _SCAN_LIMIT)
            counts = _Counts(count([r.metadata for r in rows]), time.monotonic(), generation)
            state.counts = counts
    return as_body(counts.keys)
