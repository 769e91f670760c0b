"""Concurrent ingests in one gateway: one `created` per image, no needless Milvus read, and
at most `triton.ingest_calls` model calls at once, while searches are not held by them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.errors import TritonUnavailableError
from gateway.services import ingest, search
from gateway.services.backends import Backends
from gateway.services.reembed import reembed
from tests.fakes import FakeMilvus, FakeTriton, fake_backends
from tests.unit.images import shade_jpeg as jpeg


def _settings(ingest_calls: int) -> Settings:
    return Settings.model_validate(
        {"models": {"enabled": ["clip", "vgg16"]}, "triton": {"ingest_calls": ingest_calls}}
    )


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[Backends]:
    # Model calls unbounded: these tests are about the per-image locks, not the CPU.
    made = fake_backends(tmp_path, _settings(ingest_calls=64))
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


@pytest.mark.parametrize("ingest_calls", [1, 3])
def test_ingest_runs_at_most_its_model_calls_at_once_and_searches_are_not_held(
    tmp_path: Path, ingest_calls: int
) -> None:
    backends = fake_backends(tmp_path, _settings(ingest_calls))
    triton = backends.triton
    assert isinstance(triton, FakeTriton)
    triton.delay_s = 0.05

    async def uploads_and_a_search() -> float:
        loop = asyncio.get_running_loop()
        uploading = asyncio.ensure_future(at_once(backends, *[jpeg(s) for s in range(0, 60, 10)]))
        await asyncio.sleep(0.01)  # the uploads' first calls are running
        started = loop.time()
        await search.by_image(backends, jpeg(99), "clip", 3, search.SearchOptions())
        searched = loop.time() - started
        assert statuses(await uploading) == ["created"] * 6
        return searched

    searched = asyncio.run(uploads_and_a_search())
    backends.pool.shutdown()
    # The search's call ran beside ingest's; the uploads that waited for a turn shared it.
    assert triton.most_in_flight == ingest_calls + 1
    assert sum(n for _, n in triton.batches) == 6 * 2 + 1  # each upload's two models; the search
    assert len(triton.batches) < 6 * 2 + 1
    assert searched < 3 * triton.delay_s  # not behind twelve ingest calls


def test_a_reindex_beside_uploads_takes_turns_with_their_model_calls(tmp_path: Path) -> None:
    backends = fake_backends(tmp_path, _settings(ingest_calls=1))
    triton = backends.triton
    assert isinstance(triton, FakeTriton)
    stored = asyncio.run(at_once(backends, *[jpeg(s) for s in range(0, 40, 10)]))
    ids = [str(r.results[0].id) for r in stored if isinstance(r, ingest.IngestReport)]
    assert len(ids) == 4
    triton.delay_s = 0.05
    model = backends.models[0]

    async def reindex_and_uploads() -> int:
        uploading = at_once(backends, *[jpeg(s) for s in range(5, 45, 10)])
        written, reports = await asyncio.gather(
            reembed(backends, model, f"images_{model.name}", ids, lambda i, c: None), uploading
        )
        assert statuses(reports) == ["created"] * 4
        return written

    assert asyncio.run(reindex_and_uploads()) == 4
    backends.pool.shutdown()
    assert triton.most_in_flight == 1  # the reindex's calls waited their turn, too
