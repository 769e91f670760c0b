"""Ingest's all-or-nothing rule and its report, against fakes at the client interfaces."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.errors import ErrorKind, MilvusUnavailableError, TritonUnavailableError
from gateway.services import ingest
from gateway.services.backends import Backends
from tests.fakes import FakeMilvus, FakeTriton, fake_backends
from tests.unit.images import shade_jpeg as jpeg


def run(backends: Backends, *files: bytes) -> ingest.IngestReport:
    uploads = [ingest.Upload(f"f{i}.jpg", data) for i, data in enumerate(files)]
    return asyncio.run(ingest.ingest(backends, uploads, {"album": "x"}))


def counts(backends: Backends) -> tuple[int, dict[str, int]]:
    milvus = backends.vectors
    assert isinstance(milvus, FakeMilvus)
    stored = len(asyncio.run(backends.store.ids()))
    return stored, {name: len(rows) for name, rows in milvus.rows.items()}


def test_a_failure_after_a_partial_write_removes_what_was_written(backends: Backends) -> None:
    milvus = backends.vectors
    assert isinstance(milvus, FakeMilvus)
    milvus.fail_upserts_into = {"images_vgg16"}  # clip is written first, then vgg16 fails
    with pytest.raises(MilvusUnavailableError):
        run(backends, jpeg(10), jpeg(20))
    assert counts(backends) == (0, {"images_clip": 0, "images_vgg16": 0})
    # A timed-out write may land late: the ids stay swept for a while.
    assert {c for c, _ in backends.leftovers.pending} == {"images_clip", "images_vgg16"}


def test_a_failed_ingest_keeps_what_was_there_before(backends: Backends) -> None:
    run(backends, jpeg(10))
    milvus = backends.vectors
    assert isinstance(milvus, FakeMilvus)
    milvus.fail_upserts_into = {"images_vgg16"}
    with pytest.raises(MilvusUnavailableError):
        run(backends, jpeg(10), jpeg(20))
    assert counts(backends) == (1, {"images_clip": 1, "images_vgg16": 1})


def test_triton_down_writes_nothing(backends: Backends) -> None:
    triton = backends.triton
    assert isinstance(triton, FakeTriton)
    run(backends, jpeg(5))  # collections learnt
    triton.down = True
    with pytest.raises(TritonUnavailableError):
        run(backends, jpeg(10))
    assert counts(backends) == (1, {"images_clip": 1, "images_vgg16": 1})


def test_the_report_lists_each_file_in_order_with_its_outcome(backends: Backends) -> None:
    report = run(backends, jpeg(10), b"not an image", jpeg(10), jpeg(30))
    assert [r.status for r in report.results] == ["created", "rejected", "duplicate", "created"]
    assert report.results[1].kind is ErrorKind.UNSUPPORTED
    assert (report.created, report.duplicates, report.rejected) == (2, 1, 1)
    assert report.outcome == "partial"
    assert counts(backends) == (2, {"images_clip": 2, "images_vgg16": 2})


def test_indexing_the_same_bytes_again_is_a_duplicate(backends: Backends) -> None:
    run(backends, jpeg(10))
    report = run(backends, jpeg(10))
    assert [r.status for r in report.results] == ["duplicate"]
    assert report.outcome == "accepted"


def test_a_file_over_the_size_limit_is_rejected_as_too_large(tmp_path: Path) -> None:
    made = fake_backends(tmp_path)
    made.settings.limits.max_upload_bytes = 100
    report = run(made, jpeg(10))
    assert (report.outcome, report.rejection_kind) == ("rejected", ErrorKind.TOO_LARGE)
    assert report.results[0].code == "file_too_large"
    assert counts(made)[0] == 0


def test_the_sweeper_removes_late_vectors_of_images_never_stored(backends: Backends) -> None:
    milvus = backends.vectors
    assert isinstance(milvus, FakeMilvus)
    milvus.fail_upserts_into = {"images_vgg16"}
    with pytest.raises(MilvusUnavailableError):
        run(backends, jpeg(10))
    milvus.fail_upserts_into = set()
    # The timed-out upsert lands after the undo.
    (collection, image_id), _ = next(iter(backends.leftovers.pending.items()))
    milvus.rows[collection][image_id] = {"id": image_id}
    asyncio.run(backends.leftovers.sweep())
    assert image_id not in milvus.rows[collection]
