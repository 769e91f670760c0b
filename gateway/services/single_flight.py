"""One ingest at a time per image id, inside one gateway.

Two requests carrying the same bytes (the same id) would otherwise both find the image
missing and both report `created`. The second now waits for the first and then sees its
writes. Locks exist only while someone holds or waits for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class SingleFlight:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        """Ids held or waited for (zero when idle: nothing leaks)."""
        return len(self._entries)

    @asynccontextmanager
    async def hold(self, keys: Iterable[str]) -> AsyncIterator[None]:
        """Hold every key's lock. Sorted order: two requests sharing several ids cannot
        each hold one the other waits for."""
        ordered = sorted(set(keys))
        entries = [self._entries.setdefault(key, _Entry()) for key in ordered]
        for entry in entries:
            entry.users += 1
        held: list[_Entry] = []
        try:
            for entry in entries:
                await entry.lock.acquire()
                held.append(entry)
            yield
        finally:
            for entry in held:
                entry.lock.release()
            for key, entry in zip(ordered, entries, strict=True):
                entry.users -= 1
                if not entry.users:
                    del self._entries[key]
