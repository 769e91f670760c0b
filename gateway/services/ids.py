"""Lists of image ids from clients, and bounded concurrency for per-id store calls."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from typing import Any

from gateway.errors import ValidationError

MAX_IDS = 10_000  # per request (delete, exists); a filter has no such limit
STORE_CONCURRENCY = 16
_ID = re.compile(r"[0-9a-f]{64}")


def checked_ids(ids: Any) -> list[str]:
    """The ids without repeats, in order; 422 `invalid_ids` for anything else."""
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_IDS:
        raise ValidationError(f"give 1 to {MAX_IDS} ids", code="invalid_ids")
    bad = next((i for i in ids if not isinstance(i, str) or not _ID.fullmatch(i)), None)
    if bad is not None:
        raise ValidationError(
            f"{str(bad)[:80]!r} is not an image id (64 hex digits)", code="invalid_ids"
        )
    return list(dict.fromkeys(ids))


async def bounded(calls: Iterable[Any]) -> list[Any]:
    """Await the calls with at most STORE_CONCURRENCY in flight (S3 or a local disk)."""
    gate = asyncio.Semaphore(STORE_CONCURRENCY)

    async def one(call: Any) -> Any:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))
