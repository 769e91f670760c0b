"""Search results' file facts come from memory once read, and never from a stale entry."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.services.record_cache import RecordCache
from gateway.services.records import file_infos
from gateway.services.stored import ImageRecord
from tests.fakes import fake_backends


def record(created_at: int, filename: str | None = None) -> ImageRecord:
    return ImageRecord("a" * 64, created_at, filename=filename)


def test_an_entry_is_used_only_for_the_same_created_at() -> None:
    cache = RecordCache()
    cache.put("a", record(1, "old.jpg"))
    assert cache.get("a", 1) == record(1, "old.jpg")
    assert cache.get("a", 2) is None  # deleted and indexed again since: read it afresh
    assert cache.get("b", 1) is None


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = RecordCache(size=2)
    cache.put("a", record(1))
    cache.put("b", record(1))
    assert cache.get("a", 1)  # now b is the oldest
    cache.put("c", record(1))
    assert (cache.get("a", 1), cache.get("b", 1), cache.get("c", 1)) == (record(1), None, record(1))
    assert len(cache) == 2


def test_file_infos_read_the_store_once_then_follow_a_new_record(tmp_path: Path) -> None:
    backends = fake_backends(tmp_path)
    store = backends.store
    reads: list[str] = []
    original_get = store.get

    async def counting_get(image_id: str, kind: str) -> bytes:  # type: ignore[no-untyped-def]
        reads.append(image_id)
        return await original_get(image_id, kind)  # type: ignore[arg-type]

    store.get = counting_get  # type: ignore[method-assign]
    image_id = "ab" * 32

    async def scenario() -> list[str | None]:
        await store.put(image_id, "record", b'{"filename": "one.jpg", "created_at": 5}')
        first = await file_infos(backends, [(image_id, 5)])
        again = await file_infos(backends, [(image_id, 5)])
        # Deleted and indexed again under another name: a new created_at.
        await store.put(image_id, "record", b'{"filename": "two.jpg", "created_at": 9}')
        newer = await file_infos(backends, [(image_id, 9)])
        return [first[image_id].filename, again[image_id].filename, newer[image_id].filename]

    assert asyncio.run(scenario()) == ["one.jpg", "one.jpg", "two.jpg"]
    assert reads == [image_id, image_id]  # the second lookup came from memory
    backends.pool.shutdown()
