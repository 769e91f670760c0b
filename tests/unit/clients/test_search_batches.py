"""Searches of one kind that arrive while Milvus has one of their kind go as one call, and
each gets its own answer."""

from __future__ import annotations

import asyncio

import pytest

from gateway.clients.search_batches import MAX_BATCH, SearchBatches
from tests.fakes import until_called


class FakeMilvus:
    """Answers each vector with its own first value; holds calls until released."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[list[float]]]] = []
        self.release = asyncio.Event()
        self.fail_next = False

    async def run(self, key: str, vectors: list[list[float]]) -> list[str]:
        self.calls.append((key, vectors))
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("milvus down")
        return [f"{key}:{v[0]:g}" for v in vectors]


async def _held(milvus: FakeMilvus, batches: SearchBatches[str, str]) -> asyncio.Task[str]:
    """A first search of kind "a" that Milvus holds: searches of its kind after it wait."""
    first = asyncio.create_task(batches.search("a", [0.0]))
    await until_called(milvus.calls, 1)
    return first


def test_a_lone_search_goes_at_once() -> None:
    async def scenario() -> None:
        milvus = FakeMilvus()
        milvus.release.set()
        batches = SearchBatches(milvus.run)
        assert await batches.search("a", [1.0]) == "a:1"
        assert await batches.search("a", [2.0]) == "a:2"
        assert milvus.calls == [("a", [[1.0]]), ("a", [[2.0]])]

    asyncio.run(scenario())


def test_searches_waiting_on_a_busy_kind_share_one_call_and_keep_their_own_answers() -> None:
    async def scenario() -> None:
        milvus = FakeMilvus()
        batches = SearchBatches(milvus.run)
        first = await _held(milvus, batches)
        rest = [asyncio.create_task(batches.search("a", [float(i)])) for i in range(1, 6)]
        other = asyncio.create_task(batches.search("b", [9.0]))  # another kind: not held
        await until_called(milvus.calls, 2)
        assert milvus.calls[1] == ("b", [[9.0]])
        milvus.release.set()
        assert await first == "a:0"
        assert await asyncio.gather(*rest) == [f"a:{i}" for i in range(1, 6)]
        assert await other == "b:9"
        assert milvus.calls[2] == ("a", [[1.0], [2.0], [3.0], [4.0], [5.0]])
        assert len(milvus.calls) == 3

    asyncio.run(scenario())


def test_a_failed_call_fails_the_searches_waiting_on_it_and_later_ones_run() -> None:
    async def scenario() -> None:
        milvus = FakeMilvus()
        batches = SearchBatches(milvus.run)
        first = await _held(milvus, batches)
        waiting = [asyncio.create_task(batches.search("a", [float(i)])) for i in (1, 2)]
        await asyncio.sleep(0)
        milvus.fail_next = True
        milvus.release.set()
        with pytest.raises(RuntimeError):
            await first
        # They would ask the same of the same Milvus: they fail at once, with no more calls.
        for search in waiting:
            with pytest.raises(RuntimeError):
                await search
        assert len(milvus.calls) == 1
        assert await batches.search("a", [3.0]) == "a:3"

    asyncio.run(scenario())


def test_a_cancelled_search_is_left_out_and_the_others_are_answered() -> None:
    async def scenario() -> None:
        milvus = FakeMilvus()
        batches = SearchBatches(milvus.run)
        first = await _held(milvus, batches)
        gone = asyncio.create_task(batches.search("a", [1.0]))
        kept = asyncio.create_task(batches.search("a", [2.0]))
        await asyncio.sleep(0)
        gone.cancel()
        milvus.release.set()
        assert await first == "a:0"
        assert await kept == "a:2"
        assert milvus.calls[1] == ("a", [[2.0]])

    asyncio.run(scenario())


def test_more_than_a_call_holds_go_in_calls_of_at_most_max_batch() -> None:
    async def scenario() -> None:
        milvus = FakeMilvus()
        batches = SearchBatches(milvus.run)
        first = await _held(milvus, batches)
        n = MAX_BATCH + 3
        rest = [asyncio.create_task(batches.search("a", [float(i)])) for i in range(1, n + 1)]
        await asyncio.sleep(0)
        milvus.release.set()
        await first
        assert await asyncio.gather(*rest) == [f"a:{i}" for i in range(1, n + 1)]
        assert [len(v) for _, v in milvus.calls] == [1, MAX_BATCH, 3]

    asyncio.run(scenario())
