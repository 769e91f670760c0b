"""`GET /v1/tags`: the auto-tags of the library, most frequent first, with counts.

Counts are kept per process, as the facets' are (services/facets.py, whose write generation
they follow): recounted after this process writes (ingest, delete, metadata patch) or once
they are older than `MAX_AGE_S` (another replica may have written), so browsing tags costs
a sort of a kept counter, not a scan of the collection.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gateway.clients.base import TAG_SCHEMA
from gateway.errors import ValidationError
from gateway.observability import stage
from gateway.services import facets
from gateway.services.backends import Backends
from gateway.services.tags import label_model

MAX_AGE_S = 60.0
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_PREFIX_CHARS = 128


@dataclass
class _Kept:
    counts: Counter[str] = field(default_factory=Counter)
    at: float = 0.0
    generation: int = -1
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_kept: dict[int, _Kept] = {}


def _generation(backends: Backends) -> int:
    return facets._state(backends).generation  # the writes both kinds of counts follow


async def _counts(backends: Backends) -> Counter[str]:
    kept = _kept.setdefault(id(backends), _Kept())
    if kept.generation == _generation(backends) and time.monotonic() - kept.at < MAX_AGE_S:
        return kept.counts
    async with kept.lock:  # one recount at a time; the others take its result
        if kept.generation == _generation(backends) and time.monotonic() - kept.at < MAX_AGE_S:
            return kept.counts
        generation = _generation(backends)
        await backends.ensure_collections()
        counts: Counter[str] = Counter()
        model = label_model(backends)
        collection = backends.collection(model) if model else None
        if collection and await backends.vectors.schema_version(collection) >= TAG_SCHEMA:
            with stage("milvus"):
                for tags in await backends.vectors.tag_lists(collection):
                    counts.update(set(tags))
        kept.counts, kept.at, kept.generation = counts, time.monotonic(), generation
    return kept.counts


def check_page(prefix: str | None, limit: int | None, cursor: str | None) -> tuple[str, int, int]:
    """The lower-case prefix, page size and offset asked for; 422 when out of range."""
    size = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= size <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}", code="invalid_limit")
    if prefix is not None and len(prefix) > MAX_PREFIX_CHARS:
        raise ValidationError(
            f"prefix is over {MAX_PREFIX_CHARS} characters", code="query_too_long"
        )
    offset = 0
    if cursor:
        if not cursor.isdigit() or len(cursor) > 9:
            raise ValidationError("cursor is not one this gateway gave", code="invalid_cursor")
        offset = int(cursor)
    return (prefix or "").strip().lower(), size, offset


async def list_tags(
    backends: Backends,
    prefix: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """`{"tags": [{"name", "count"}], "next_cursor"}`: most frequent first (ties by name),
    names starting with `prefix` (or with a word of them starting with it)."""
    wanted, size, offset = check_page(prefix, limit, cursor)
    counts = await _counts(backends)
    names = [
        (name, n)
        for name, n in counts.items()
        if not wanted or name.startswith(wanted) or f" {wanted}" in f" {name}"
    ]
    names.sort(key=lambda nn: (-nn[1], nn[0]))
    page = names[offset : offset + size]
    more = offset + size < len(names)
    return {
        "tags": [{"name": name, "count": n} for name, n in page],
        "next_cursor": str(offset + size) if more else None,
    }
