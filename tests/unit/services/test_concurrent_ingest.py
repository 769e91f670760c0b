"""Concurrent ingests in one gateway: one `created` per image, and no needless Milvus read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import TritonUnavailableError
from gateway.services import ingest
from gateway.services.backends import Backends
from tests.fakes import FakeMilvus, FakeTriton, fake_backends
from tests.unit.images import shade_jpeg as jpeg


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[Backends]:
    made = fake_backends(tmp_path)
    assert isinstance(made.triton, FakeTriton)
    made.triton.delay_s = 0.05  # long enough for every upload below to be in flight at once
    yield made
    made.pool.shutdown()


def upload(name: str, data: bytes) -> list[ingest.Upload]:
    return [ingest.Upload(name, data)]


async def at_once(backends: Backends, *files: bytes) -> list[ingest.IngestReport | BaseException]:
    calls = [ingest.ingest(backends, upload(f"f{i}.jpg", d), {}) for i, d in enumerate(files)]
    return await asyncio.gather(*calls, return_exceptions=True)


def statuses(reports: list[ingest.IngestReport | BaseException]) -> list[str]:
    return [r.results[0].status if isinstance(r, ingest.IngestReport) else "error" for r in reports]


def test_eight_uploads_of_the_same_new_image_create_it_once(backends: Backends) -> None:
    reports = asyncio.run(at_once(backends, *[jpeg(7)] * 8))
    assert sorted(statuses(reports)) == ["created"] + ["duplicate"] * 7
    milvus = backends.vectors
    assert isinstance(milvus, FakeMilvus)
    assert {name: len(rows) for name, rows in milvus.rows.items()} == {
        "images_clip": 1,
        "images_vgg16": 1,
    }
    assert len(backends.ingests) == 0  # every per-id lock is gone again


def test_distinct_images_do_not_wait_for_each_other(backends: Backends) -> None:
    async def timed() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        reports = await at_once(backends, *[jpeg(shade) for shade in range(0, 80, 10)])
        assert statuses(reports) == ["created"] * 8
        return loop.time() - started

    # Eight images, one after the other, would need at least 8 x 50 ms of inference.
    assert asyncio.run(timed()) < 8 * 0.05


def test_when_the_first_upload_fails_a_waiting_one_creates_the_image(backends: Backends) -> None:
    triton = backends.triton
    assert isinstance(triton, FakeTriton)
    asyncio.run(at_once(backends, jpeg(1)))  # collections learnt; the next embed calls fail
    triton.fail_next = 2  # the first upload's two models
    reports = asyncio.run(at_once(backends, jpeg(9), jpeg(9)))
    # Whichever got the image's lock first failed (and undid its writes); the other waited,
    # found nothing, and created it.
    assert sorted(statuses(reports)) == ["created", "error"]
    assert any(isinstance(r, TritonUnavailableError) for r in reports)


def test_a_new_image_costs_no_milvus_read_and_a_stored_one_is_checked(backends: Backends) -> None:
    milvus = backends.vectors
    assert isinstance(milvus, FakeMilvus)
    asyncio.run(at_once(backends, jpeg(3)))
    assert milvus.existence_reads == 0  # the store said "not there": nothing to ask Milvus
    reports = asyncio.run(at_once(backends, jpeg(3)))
    assert statuses(reports) == ["duplicate"]
    assert milvus.existence_reads == 2  # one Strong read per collection


def test_a_stored_image_missing_from_a_collection_is_written_again(backends: Backends) -> None:
    milvus = backends.vectors
    assert isinstance(milvus, FakeMilvus)
    reports = asyncio.run(at_once(backends, jpeg(4)))
    image_id = reports[0].results[0].id if isinstance(reports[0], ingest.IngestReport) else None
    del milvus.rows["images_vgg16"][str(image_id)]  # a crash between the two upserts
    assert statuses(asyncio.run(at_once(backends, jpeg(4)))) == ["created"]
    assert str(image_id) in milvus.rows["images_vgg16"]
