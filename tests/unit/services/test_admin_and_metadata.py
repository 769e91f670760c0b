"""The service side of safe everyday operations, on fakes: which ids exist, metadata
patches, what a bulk delete shows first, and repairs that refuse to empty an index."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.errors import ErrorKind, PicSearchError
from gateway.services import admin, consistency, deletion, images, metadata
from gateway.services.backends import Backends
from tests.fakes import fake_milvus as milvus
from tests.unit.services.test_deletion import index, label


def error_of(call: object) -> PicSearchError:
    with pytest.raises(PicSearchError) as caught:
        asyncio.run(call)  # type: ignore[arg-type]
    return caught.value


def test_exists_answers_the_held_subset_in_the_order_asked(backends: Backends) -> None:
    held = index(backends, 2)
    absent = "0" * 64
    assert asyncio.run(images.existing(backends, [absent, held[1], held[0]])) == held[::-1]
    asyncio.run(deletion.delete_one(backends, held[0]))
    assert asyncio.run(images.existing(backends, held)) == [held[1]]


@pytest.mark.parametrize("ids", [[], ["nothex"], "0" * 64, ["0" * 64] * 10_001])
def test_exists_refuses_what_is_not_a_list_of_ids(backends: Backends, ids: object) -> None:
    assert error_of(images.existing(backends, ids)).code == "invalid_ids"


def test_a_merge_patch_sets_and_removes_keys_in_the_record_and_every_collection(
    backends: Backends,
) -> None:
    image_id = index(backends, 1)[0]
    asyncio.run(metadata.patch_metadata(backends, image_id, {"album": "a", "rating": 3}))
    record = asyncio.run(metadata.patch_metadata(backends, image_id, {"album": None, "x": "y"}))
    assert record.metadata == {"rating": 3, "x": "y"}
    stored = json.loads(asyncio.run(backends.store.get(image_id, "record")))
    assert stored["metadata"] == {"rating": 3, "x": "y"}
    for rows in milvus(backends).rows.values():
        assert rows[image_id]["metadata"] == {"rating": 3, "x": "y"}
        assert rows[image_id]["embedding"]  # the vector is kept


@pytest.mark.parametrize(
    ("patch", "code"),
    [
        ({"taken": "2020-01-01"}, "reserved_metadata_key"),
        ({"camera": None}, "reserved_metadata_key"),
        ({"bad key": 1}, "invalid_metadata"),
        ({"nested": {"a": 1}}, "invalid_metadata"),
        (["album"], "invalid_metadata"),
    ],
)
def test_an_invalid_patch_changes_nothing(backends: Backends, patch: object, code: str) -> None:
    image_id = index(backends, 1)[0]
    asyncio.run(metadata.patch_metadata(backends, image_id, {"album": "kept"}))
    error = error_of(metadata.patch_metadata(backends, image_id, patch))
    assert (error.kind, error.code) == (ErrorKind.INVALID, code)
    record = json.loads(asyncio.run(backends.store.get(image_id, "record")))
    assert record["metadata"] == {"album": "kept"}


def test_patching_an_unknown_image_is_not_found(backends: Backends) -> None:
    assert error_of(metadata.patch_metadata(backends, "a" * 64, {"x": 1})).kind is (
        ErrorKind.NOT_FOUND
    )


def test_a_dry_run_names_a_sample_of_what_it_would_delete(backends: Backends) -> None:
    ids = index(backends, 12)
    label(backends, ids, {"album": "x"})
    report = asyncio.run(deletion.delete_many(backends, None, {"album": "x"}, dry_run=True))
    assert (report.matched, report.deleted, len(report.sample)) == (12, 0, 10)
    assert {ref.id for ref in report.sample} <= set(ids)
    assert all(ref.filename and ref.filename.endswith(".jpg") for ref in report.sample)
    assert sorted(asyncio.run(backends.store.ids())) == sorted(ids)  # nothing deleted


def test_a_repair_that_would_empty_the_index_is_refused_unless_forced(
    backends: Backends, tmp_path: Path
) -> None:
    ids = index(backends, 3)
    for image_id in ids:  # what a gateway pointed at another (empty) store sees
        asyncio.run(backends.store.delete(image_id))
    report = asyncio.run(admin.check(backends, repair=False, force=False))
    assert not report["consistent"] and report["stored_images"] == 0
    error = error_of(admin.check(backends, repair=True, force=False))
    assert (error.kind, error.code) == (ErrorKind.CONFLICT, "repair_refused")
    assert all(len(rows) == 3 for rows in milvus(backends).rows.values())  # nothing deleted
    forced = asyncio.run(admin.check(backends, repair=True, force=True))
    assert forced["consistent"] and forced["repaired"]
    assert all(len(rows) == 0 for rows in milvus(backends).rows.values())


def test_a_repair_deleting_more_than_five_percent_is_refused_a_small_one_runs(
    backends: Backends,
) -> None:
    ids = index(backends, 4)
    asyncio.run(backends.store.delete(ids[0]))  # 1 of 4 vectors per collection: 25 %
    assert error_of(admin.check(backends, repair=True, force=False)).code == "repair_refused"
    report = asyncio.run(consistency.check(backends))
    report.orphan_vectors = {name: [] for name in report.orphan_vectors}
    assert consistency.refusal(report) is None  # only re-embedding: always plausible


def test_refusal_counts_deletes_against_both_limits() -> None:
    def report(stored: int, vectors: int, orphans: int) -> consistency.Report:
        return consistency.Report(
            stored_images=stored,
            vectors={"c": vectors},
            orphan_vectors={"c": [f"{i:064x}" for i in range(orphans)]},
        )

    assert consistency.refusal(report(100, 100, 5)) is None  # exactly 5 %
    assert consistency.refusal(report(100, 100, 6)) is not None
    assert consistency.refusal(report(5000, 5000, 101)) is not None  # 2 %, but over 100
    assert consistency.refusal(report(5000, 5000, 100)) is None
    assert consistency.refusal(report(0, 1, 0)) is not None  # empty store, full collection
