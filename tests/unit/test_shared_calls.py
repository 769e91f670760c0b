"""The core of search batches and ingest turns: what waits shares the next call, and nothing
is left hanging when a call fails or the gateway stops."""

from __future__ import annotations

import asyncio

import pytest

from gateway.shared_calls import SharedCalls
from tests.fakes import until_called


class Held:
    """Answers each part with itself, doubled; holds every call until released."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.release = asyncio.Event()

    async def run(self, key: str, parts: list[int]) -> list[int]:
        self.calls.append(parts)
        await self.release.wait()
        return [2 * p for p in parts]


def test_a_part_larger_than_a_call_holds_goes_alone_and_the_rest_follow() -> None:
    async def scenario() -> list[int]:
        held = Held()
        calls: SharedCalls[str, int, int] = SharedCalls(held.run, most=4, size=lambda p: p)
        first = calls.submit("k", 1)
        await until_called(held.calls, 1)
        rest = [calls.submit("k", p) for p in (9, 2, 2)]
        held.release.set()
        answers = [await first, *[await a for a in rest]]
        assert held.calls == [[1], [9], [2, 2]]
        return answers

    assert asyncio.run(scenario()) == [2, 18, 4, 4]


def test_the_gateway_stopping_cancels_the_call_out_and_what_waits_for_the_next() -> None:
    async def scenario() -> None:
        held = Held()
        calls: SharedCalls[str, int, int] = SharedCalls(held.run, most=1)
        out, waiting = calls.submit("k", 1), calls.submit("k", 2)
        await until_called(held.calls, 1)
        senders = [t for t in asyncio.all_tasks() if "SharedCalls._send" in repr(t.get_coro())]
        assert len(senders) == 1
        senders[0].cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert out.cancelled() and waiting.cancelled()  # no caller waits forever
        later = calls.submit("k", 3)  # and the key starts afresh
        held.release.set()
        assert await later == 6

    asyncio.run(scenario())


@pytest.mark.parametrize("ends", [True, False])
def test_a_failed_call_fails_its_parts_and_what_waits_only_when_asked(ends: bool) -> None:
    async def failing(key: str, parts: list[int]) -> list[int]:
        await asyncio.sleep(0.01)
        if parts == [1]:
            raise RuntimeError("down")
        return parts

    async def scenario() -> list[object]:
        calls: SharedCalls[str, int, int] = SharedCalls(failing, most=8, failure_ends_waiting=ends)
        first = calls.submit("k", 1)
        await asyncio.sleep(0)
        second = calls.submit("k", 2)
        return list(await asyncio.gather(first, second, return_exceptions=True))

    first, second = asyncio.run(scenario())
    assert isinstance(first, RuntimeError)
    assert isinstance(second, RuntimeError) if ends else second == 2


def test_without_one_call_per_key_what_arrives_during_a_call_goes_with_the_next_slot() -> None:
    async def scenario() -> list[int]:
        held = Held()
        slots = asyncio.Semaphore(2)
        calls: SharedCalls[str, int, int] = SharedCalls(
            held.run, most=4, slot=lambda: slots, one_call_per_key=False
        )
        first = calls.submit("k", 1)
        await until_called(held.calls, 1)
        second = [calls.submit("k", p) for p in (2, 3)]
        await until_called(held.calls, 2)  # out beside the first, still held
        third = calls.submit("k", 4)  # both slots taken: waits for one
        await asyncio.sleep(0.01)
        assert held.calls == [[1], [2, 3]]
        held.release.set()
        return [await first, *[await a for a in second], await third]

    assert asyncio.run(scenario()) == [2, 4, 6, 8]
