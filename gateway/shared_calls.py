"""Calls that wait share the next one: what Milvus searches and ingest's model calls both do.

Callers with equal keys that arrive while their key's call is out (or waits for a slot) wait,
and the key's next call takes them together, up to `most`; each caller gets its own answer
out of it. A lone caller goes at once. A caller cancelled while it waits is left out, and one
gone while its call runs costs the others nothing. `clients/search_batches.py` and
`services/ingest_turns.py` say why each batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from contextlib import AbstractAsyncContextManager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
P = TypeVar("P")  # a caller's part of a call
R = TypeVar("R")  # a caller's answer
_Waiting = list[tuple[P, asyncio.Future[R]]]


class SharedCalls(Generic[K, P, R]):
    """`submit(key, part)` is answered through `run(key, parts)`, which answers every part in
    order. A call holds parts up to `most` by `size` (at least one part). It first enters
    `slot()` (e.g. a semaphore several SharedCalls share) and takes what waits once inside.
    With `one_call_per_key`, what arrives meanwhile waits until the key's call is back;
    otherwise it waits for the key's next slot. After a failed call, what still waits fails
    as it did when `failure_ends_waiting`."""

    def __init__(
        self,
        run: Callable[[K, list[P]], Awaitable[list[R]]],
        *,
        most: int,
        size: Callable[[P], int] = lambda _: 1,
        slot: Callable[[], AbstractAsyncContextManager[object]] = contextlib.nullcontext,
        one_call_per_key: bool = True,
        failure_ends_waiting: bool = False,
    ) -> None:
        self._run, self._most, self._size, self._slot = run, most, size, slot
        self._one_call_per_key = one_call_per_key
        self._failure_ends_waiting = failure_ends_waiting
        self._waiting: dict[K, _Waiting[P, R]] = {}  # a key here has a sender to take it
        self._senders: set[asyncio.Task[None]] = set()

    def submit(self, key: K, part: P) -> asyncio.Future[R]:
        """The part joins its key's next call; awaiting the answer and being cancelled
        cancels it, which leaves the part out."""
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._wait(key, [(part, answer)])
        return answer

    def _wait(self, key: K, waiting: _Waiting[P, R]) -> None:
        if key not in self._waiting:
            self._waiting[key] = []
            sender = asyncio.get_running_loop().create_task(self._send(key))
            self._senders.add(sender)  # the loop keeps only a weak reference to a task
            sender.add_done_callback(self._senders.discard)
        self._waiting[key].extend(waiting)

    def _take(self, key: K) -> _Waiting[P, R]:
        """The next call's parts: those that wait (but the cancelled), up to `most`."""
        waiting = [(part, answer) for part, answer in self._waiting.pop(key) if not answer.done()]
        taken, total = 0, 0
        while taken < len(waiting) and (
            taken == 0 or total + self._size(waiting[taken][0]) <= self._most
        ):
            total += self._size(waiting[taken][0])
            taken += 1
        if self._one_call_per_key:
            self._waiting[key] = waiting[taken:]  # still this sender's, for its next call
        elif waiting[taken:]:
            self._wait(key, waiting[taken:])  # the key's next sender's
        return waiting[:taken]

    async def _send(self, key: K) -> None:
        """Calls until nothing waits (one call, unless `one_call_per_key`), then leaves."""
        taken: _Waiting[P, R] = []
        owner = True  # whether what waits for the key is this sender's
        try:
            while owner:
                async with self._slot():
                    taken = self._take(key)
                    owner = self._one_call_per_key
                    if not taken:
                        self._waiting.pop(key, None)  # no await since `_take`: none joined
                        return
                    try:
                        answers = await self._run(key, [part for part, _ in taken])
                    except Exception as exc:  # every part of the call fails as it did
                        self._fail(taken, exc)
                        if self._failure_ends_waiting and owner:
                            self._fail(self._waiting[key], exc)
                    else:
                        for (_, answer), result in zip(taken, answers, strict=True):
                            if not answer.done():  # its caller may have gone meanwhile
                                answer.set_result(result)
        except BaseException:  # cancelled (the gateway stopping): so is what waited on it
            for _, answer in [*taken, *(self._waiting.pop(key, []) if owner else [])]:
                answer.cancel()
            raise

    @staticmethod
    def _fail(waiting: _Waiting[P, R], exc: Exception) -> None:
        for _, answer in waiting:
            if not answer.done():
                answer.set_exception(exc)
