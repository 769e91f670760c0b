"""Searches that arrive together go to Milvus together: one call with many query vectors.

A Milvus search costs about 1.5 ms of CPU per call on a small collection, nearly all of it
per call (parsing, planning, merging), not per vector: at 32 concurrent text searches that
was a fifth of the stack's CPU. So while a search of one kind (same collection, filter,
limit and fields) is with Milvus, the next ones of that kind wait and then go as one call
(gateway/shared_calls.py). A lone search goes at once: nothing waits unless Milvus is already
busy with its kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from gateway.shared_calls import SharedCalls

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")
MAX_BATCH = 64  # query vectors per call; far under Milvus' nq limit (16,384)


class SearchBatches(Generic[K, R]):
    """`search(key, vector)` answers through `run(key, vectors)`, which answers every vector
    in order; searches with equal keys that wait meanwhile share one `run`."""

    def __init__(self, run: Callable[[K, list[list[float]]], Awaitable[list[R]]]) -> None:
        # After a failed call what waited fails as it did: it would ask the same Milvus the
        # same thing, and `run` has already retried until its deadline (an outage answers
        # 503 after one deadline, not one more per call in the queue).
        self._calls: SharedCalls[K, list[float], R] = SharedCalls(
            run, most=MAX_BATCH, failure_ends_waiting=True
        )

    async def search(self, key: K, vector: list[float]) -> R:
        return await self._calls.submit(key, vector)
