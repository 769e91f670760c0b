"""Bulk and single deletes against fakes: dry runs change nothing, a crash midway is
finished by repeating the request, and bad requests are refused before anything changes."""

from __future__ import annotations

import asyncio

import pytest
from PIL import Image

from gateway.errors import ErrorKind, MilvusUnavailableError, PicSearchError
from gateway.services import deletion, ingest
from gateway.services.backends import Backends
from tests.fakes import fake_milvus as milvus
from tests.unit.images import encode


def index(backends: Backends, count: int) -> list[str]:
    images = [encode(Image.new("RGB", (64, 48), (i, 255 - i, 90)), "JPEG") for i in range(count)]
    uploads = [ingest.Upload(f"f{i}.jpg", data) for i, data in enumerate(images)]
    report = asyncio.run(ingest.ingest(backends, uploads, {}))
    return [str(r.id) for r in report.results]


def label(backends: Backends, ids: list[str], metadata: dict[str, object]) -> None:
    """Give these images `metadata` in every collection (what filters read)."""
    for rows in milvus(backends).rows.values():
        for image_id in ids:
            rows[image_id]["metadata"] = dict(metadata)


def counted(report: deletion.DeleteReport) -> tuple[int, int, bool]:
    return report.matched, report.deleted, report.dry_run


def left(backends: Backends, ids: list[str]) -> tuple[int, int, int]:
    """How many of `ids` the store and each collection still hold."""
    stored = set(asyncio.run(backends.store.ids()))
    rows = milvus(backends).rows
    return (
        len(stored & set(ids)),
        len(rows["images_clip"].keys() & set(ids)),
        len(rows["images_vgg16"].keys() & set(ids)),
    )


def many(backends: Backends, **kwargs: object) -> deletion.DeleteReport:
    kwargs.setdefault("ids", None)
    kwargs.setdefault("filters", None)
    kwargs.setdefault("dry_run", False)
    return asyncio.run(deletion.delete_many(backends, **kwargs))  # type: ignore[arg-type]


def test_a_dry_run_counts_and_changes_nothing(backends: Backends) -> None:
    ids = index(backends, 4)
    report = many(backends, ids=[*ids[:3], "0" * 64], dry_run=True)
    assert counted(report) == (3, 0, True) and len(report.sample) == 3
    assert left(backends, ids) == (4, 4, 4)


def test_delete_by_ids_removes_bytes_and_every_collections_vectors(backends: Backends) -> None:
    ids = index(backends, 4)
    assert counted(many(backends, ids=ids[:3] * 2)) == (3, 3, False)
    assert left(backends, ids) == (1, 1, 1)
    assert counted(many(backends, ids=ids[:3])) == (0, 0, False)


def test_delete_by_filter_uses_the_compiled_expression(backends: Backends) -> None:
    ids = index(backends, 3)
    label(backends, ids[:2], {"album": "x"})
    assert many(backends, filters={"album": "x"}, dry_run=True).matched == 2
    assert many(backends, filters={"album": "x"}).deleted == 2
    assert left(backends, ids) == (1, 1, 1)


def test_a_crash_midway_is_finished_by_repeating_the_same_request(backends: Backends) -> None:
    ids = index(backends, 3)
    fake = milvus(backends)
    label(backends, ids, {"album": "x"})
    fake.fail_deletes_from = {"images_vgg16"}
    with pytest.raises(MilvusUnavailableError):
        many(backends, filters={"album": "x"})
    # Bytes went first and the clip vectors too; the vgg16 vectors still match the filter.
    assert left(backends, ids) == (0, 0, 3)
    fake.fail_deletes_from = set()
    assert counted(many(backends, filters={"album": "x"})) == (3, 3, False)
    assert left(backends, ids) == (0, 0, 0)


def test_single_delete_finds_leftover_vectors_and_404s_when_nothing_is_left(
    backends: Backends,
) -> None:
    ids = index(backends, 2)
    asyncio.run(backends.store.delete(ids[0]))  # as a crash after the first step leaves it
    asyncio.run(deletion.delete_one(backends, ids[0]))
    assert left(backends, ids) == (1, 1, 1)
    with pytest.raises(PicSearchError) as caught:
        asyncio.run(deletion.delete_one(backends, ids[0]))
    assert caught.value.code == "image_not_found"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [({}, "invalid_delete"), ({"ids": ["a" * 64], "filters": {"a": 1}}, "invalid_delete"),
     ({"filters": {}}, "invalid_delete"), ({"ids": []}, "invalid_ids"),
     ({"ids": ["../etc/passwd"]}, "invalid_ids"), ({"ids": ["A" * 64]}, "invalid_ids"),
     ({"ids": ["a" * 64] * 10_001}, "invalid_ids"), ({"filters": {"a b": 1}}, "invalid_filter")],
)  # fmt: skip
def test_bad_requests_are_refused_and_change_nothing(
    backends: Backends, kwargs: dict[str, object], code: str
) -> None:
    ids = index(backends, 2)
    with pytest.raises(PicSearchError) as caught:
        many(backends, **kwargs)
    assert caught.value.code == code and caught.value.kind is ErrorKind.INVALID
    assert left(backends, ids) == (2, 2, 2)
