"""Ingest's model calls take turns (at most `slots` at once), and the calls for one model that
wait for a turn share it as one batch, each answered with its own rows."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest

from gateway.errors import TritonUnavailableError
from gateway.models.registry import EFFICIENTNET_LITE0, VGG16
from gateway.models.spec import TritonModelSpec
from gateway.services import ingest_turns
from gateway.services.ingest_turns import IngestTurns
from tests.fakes import FakeTriton

SPEC, LABELLED = VGG16.image_model, EFFICIENTNET_LITE0.image_model


def rows(seed: int, n: int = 1, spec: TritonModelSpec = SPEC) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).random((n, *spec.input.dims), np.float32)


def triton(delay_s: float = 0.02) -> FakeTriton:
    fake = FakeTriton()
    fake.delay_s = delay_s
    return fake


def test_a_lone_call_goes_at_once_with_its_rows() -> None:
    fake = triton()

    async def one() -> npt.NDArray[np.float32]:
        return await IngestTurns(fake, slots=1).embed(SPEC, rows(1, 2))

    got = asyncio.run(one())
    assert fake.batches == [(SPEC.name, 2)]
    np.testing.assert_array_equal(got, asyncio.run(FakeTriton().embed(SPEC, rows(1, 2))))


def test_calls_that_wait_for_a_turn_share_it_and_each_gets_its_own_rows() -> None:
    fake = triton()
    batches = [rows(seed, n) for seed, n in ((1, 1), (2, 2), (3, 1))]

    async def together() -> list[npt.NDArray[np.float32]]:
        turns = IngestTurns(fake, slots=1)
        return list(await asyncio.gather(*(turns.embed(SPEC, b) for b in batches)))

    got = asyncio.run(together())
    assert fake.batches == [(SPEC.name, 4)]  # one call for all three
    for batch, answer in zip(batches, got, strict=True):
        np.testing.assert_array_equal(answer, asyncio.run(FakeTriton().embed(SPEC, batch)))


def test_calls_arriving_during_a_turn_go_together_in_the_next() -> None:
    fake = triton()

    async def staggered() -> None:
        turns = IngestTurns(fake, slots=1)
        first = asyncio.ensure_future(turns.embed(SPEC, rows(1)))
        await asyncio.sleep(0.005)  # the first call is with Triton
        await asyncio.gather(first, *(turns.embed(SPEC, rows(s)) for s in range(2, 6)))

    asyncio.run(staggered())
    assert fake.batches == [(SPEC.name, 1), (SPEC.name, 4)]


def test_a_turn_holds_at_most_max_rows_and_a_larger_call_takes_several() -> None:
    fake = triton()
    sizes = (1, 2, 1, 1, 10, 1)

    async def many() -> list[npt.NDArray[np.float32]]:
        turns = IngestTurns(fake, slots=1)
        busy = asyncio.ensure_future(turns.embed(SPEC, rows(0)))
        await asyncio.sleep(0.005)  # the rest wait for the next turn
        waiting = [turns.embed(SPEC, rows(seed, n)) for seed, n in enumerate(sizes, 1)]
        return [await busy, *await asyncio.gather(*waiting)]

    got = asyncio.run(many())
    assert ingest_turns.MAX_ROWS == 4
    # In the order they waited (none overtakes): 1 + 2 + 1, then 1, then the 10 rows as
    # 4, 4 and 2, the last part with the call after it.
    assert [n for _, n in fake.batches] == [1, 4, 1, 4, 4, 2 + 1]
    assert [len(answer) for answer in got] == [1, *sizes]
    large = rows(5, 10)
    np.testing.assert_array_equal(got[5], asyncio.run(FakeTriton().embed(SPEC, large)))


@pytest.mark.parametrize("slots", [1, 2])
def test_models_take_separate_turns_at_most_slots_at_once(slots: int) -> None:
    fake = triton()

    async def both() -> None:
        turns = IngestTurns(fake, slots)
        await asyncio.gather(
            turns.embed(SPEC, rows(1)),
            turns.embed_with_labels(LABELLED, rows(2, spec=LABELLED)),
            turns.embed(SPEC, rows(3)),
        )

    asyncio.run(both())
    assert sorted(fake.batches) == [(LABELLED.name, 1), (SPEC.name, 2)]
    assert fake.most_in_flight == slots


def test_labels_are_split_per_call_like_the_embeddings() -> None:
    fake = triton()
    batches = [rows(1, 2, LABELLED), rows(2, 1, LABELLED)]

    async def labelled() -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]:
        turns = IngestTurns(fake, slots=1)
        return list(await asyncio.gather(*(turns.embed_with_labels(LABELLED, b) for b in batches)))

    got = asyncio.run(labelled())
    assert fake.batches == [(LABELLED.name, 3)]
    for batch, (vectors, probabilities) in zip(batches, got, strict=True):
        alone = asyncio.run(FakeTriton().embed_with_labels(LABELLED, batch))
        np.testing.assert_array_equal(vectors, alone[0])
        np.testing.assert_array_equal(probabilities, alone[1])


def test_a_failed_turn_fails_its_calls_and_the_next_turn_runs() -> None:
    fake = triton()
    fake.fail_next = 1

    async def failing_then_fine() -> list[object]:
        turns = IngestTurns(fake, slots=1)
        failed = await asyncio.gather(
            turns.embed(SPEC, rows(1)), turns.embed(SPEC, rows(2)), return_exceptions=True
        )
        return [*failed, await turns.embed(SPEC, rows(3))]

    first, second, third = asyncio.run(failing_then_fine())
    assert isinstance(first, TritonUnavailableError) and isinstance(second, TritonUnavailableError)
    assert isinstance(third, np.ndarray) and third.shape == (1, SPEC.output.dims[0])


def test_a_call_cancelled_while_it_waits_is_left_out_of_the_turn() -> None:
    fake = triton()

    async def one_gives_up() -> None:
        turns = IngestTurns(fake, slots=1)
        busy = asyncio.ensure_future(turns.embed(SPEC, rows(1)))
        await asyncio.sleep(0.005)
        leaving = asyncio.ensure_future(turns.embed(SPEC, rows(2, 5)))
        staying = asyncio.ensure_future(turns.embed(SPEC, rows(3)))
        await asyncio.sleep(0)
        leaving.cancel()
        await asyncio.gather(busy, staying)

    asyncio.run(one_gives_up())
    assert fake.batches == [(SPEC.name, 1), (SPEC.name, 1)]  # the 5 rows never went


def test_a_caller_gone_during_its_turn_leaves_the_others_their_answers() -> None:
    fake = triton()

    async def one_leaves_mid_turn() -> npt.NDArray[np.float32]:
        turns = IngestTurns(fake, slots=1)
        busy = asyncio.ensure_future(turns.embed(SPEC, rows(1)))
        await asyncio.sleep(0.005)
        leaving = asyncio.ensure_future(turns.embed(SPEC, rows(2)))
        staying = asyncio.ensure_future(turns.embed(SPEC, rows(3)))
        await busy
        await asyncio.sleep(0.005)  # their shared turn is with Triton now
        leaving.cancel()
        return await staying

    got = asyncio.run(one_leaves_mid_turn())
    assert fake.batches == [(SPEC.name, 1), (SPEC.name, 2)]
    np.testing.assert_array_equal(got, asyncio.run(FakeTriton().embed(SPEC, rows(3))))
