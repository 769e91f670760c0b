"""Vectors a failed ingest may have left behind, swept for a while.

An upsert that timed out may still land after ingest's undo deleted it, so each id is
deleted again every few seconds until its deadline, unless the image has since been stored
(a later ingest of the same bytes succeeded: its vectors are wanted).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from gateway.clients.base import VectorStore
from gateway.errors import PicSearchError
from gateway.store.base import ImageStore


@dataclass
class Leftovers:
    vectors: VectorStore
    store: ImageStore
    # (collection, id) -> sweep until (monotonic s)
    pending: dict[tuple[str, str], float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def forget_later(self, collection: str, ids: list[str], for_s: float = 60.0) -> None:
        until = time.monotonic() + for_s
        for image_id in ids:
            self.pending[(collection, image_id)] = until

    async def sweep(self) -> None:
        for (collection, image_id), until in sorted(self.pending.items()):
            if not await self.store.exists(image_id, "original"):
                await self.vectors.delete(collection, [image_id])
            if time.monotonic() > until:
                del self.pending[(collection, image_id)]

    def start(self, interval_s: float = 2.0) -> None:
        self._task = asyncio.create_task(self._sweep_forever(interval_s))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sweep_forever(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            if self.pending:
                with contextlib.suppress(PicSearchError):
                    await self.sweep()
