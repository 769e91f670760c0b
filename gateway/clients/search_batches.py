"""Searches that arrive together go to Milvus together: one call with many query vectors.

A Milvus search costs about 1.5 ms of CPU per call on a small collection, nearly all of it
per call (parsing, planning, merging), not per vector: at 32 concurrent text searches that
was a fifth of the stack's CPU. So while a search of one kind (same collection, filter,
limit and fields) is with Milvus, the next ones of that kind wait and then go as one call.
A lone search goes at once: nothing waits unless Milvus is already busy with its kind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")
MAX_BATCH = 64  # query vectors per call; far under Milvus' nq limit (16,384)


@dataclass
class _Kind(Generic[R]):
    busy: bool = False
    waiting: list[tuple[list[float], asyncio.Future[R]]] = field(default_factory=list)


class SearchBatches(Generic[K, R]):
    """`search(key, vector)` answers through `run(key, vectors)`, which answers every vector
    in order; searches with equal keys that wait meanwhile share one `run`."""

    def __init__(self, run: Callable[[K, list[list[float]]], Awaitable[list[R]]]) -> None:
        self._run = run
        self._kinds: dict[K, _Kind[R]] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def search(self, key: K, vector: list[float]) -> R:
        kind = self._kinds.setdefault(key, _Kind())
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        kind.waiting.append((vector, answer))
        if not kind.busy:  # a lone search goes at once
            kind.busy = True
            self._next(key, kind, None)
        return await answer

    def _next(self, key: K, kind: _Kind[R], failed: Exception | None) -> None:
        """Sends what waited (but searches cancelled meanwhile), or marks the kind idle.
        After a failed call, what waited fails as it did: it would ask the same Milvus the
        same thing, and `run` has already retried until its deadline (an outage answers
        503 after one deadline, not one more per call in the queue)."""
        kind.waiting = [(v, f) for v, f in kind.waiting if not f.done()]
        if failed is not None:
            for _, answer in kind.waiting:
                answer.set_exception(failed)
            kind.waiting = []
        if not kind.waiting:
            kind.busy = False
            self._kinds.pop(key, None)
            return
        batch, kind.waiting = kind.waiting[:MAX_BATCH], kind.waiting[MAX_BATCH:]
        task = asyncio.get_running_loop().create_task(self._send(key, kind, batch))
        self._sending.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._sending.discard)

    async def _send(
        self, key: K, kind: _Kind[R], batch: list[tuple[list[float], asyncio.Future[R]]]
    ) -> None:
        failed: Exception | None = None
        try:
            results = await self._run(key, [v for v, _ in batch])
        except Exception as exc:  # every search of the call fails as the call did
            failed = exc
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
        else:
            for (_, answer), result in zip(batch, results, strict=True):
                if not answer.done():
                    answer.set_result(result)
        finally:
            self._next(key, kind, failed)
