"""Capture facts through the service layer, on fakes: what ingest stores in records and
rows, the privacy switch, reserved keys, sort=taken, and collections built before the
capture fields."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.capture import TAKEN_NONE, taken_key
from gateway.config import Settings
from gateway.errors import ErrorKind, PicSearchError
from gateway.services import deletion, images, ingest, search
from gateway.services.backends import Backends
from gateway.services.stored import ImageRecord
from tests.exif_craft import DATE_ORIGINAL, MAKE, MODEL, OFFSET_ORIGINAL, gps, photo, text, tiff
from tests.fakes import fake_backends
from tests.fakes import fake_milvus as milvus

OLD = tiff(
    [text(MAKE, "Canon"), text(MODEL, "Canon EOS 5D")], [text(DATE_ORIGINAL, "2010:05:01 09:00:00")]
)
NEW = tiff(
    [text(MAKE, "FUJIFILM"), text(MODEL, "X100V")],
    [text(DATE_ORIGINAL, "2023:07:14 18:03:11"), text(OFFSET_ORIGINAL, "+02:00")],
    gps((48, 51, 30), "N", (2, 17, 40), "E"),
)


def index(backends: Backends, **files: bytes) -> dict[str, str]:
    uploads = [ingest.Upload(f"{name}.jpg", data) for name, data in files.items()]
    report = asyncio.run(ingest.ingest(backends, uploads, {"album": "trip"}))
    return {r.filename[:-4]: r.id for r in report.results if r.id is not None}


def record(backends: Backends, image_id: str) -> dict[str, Any]:
    return dict(json.loads(asyncio.run(backends.store.get(image_id, "record"))))


def test_ingest_stores_the_facts_in_the_record_and_the_rows(backends: Backends) -> None:
    ids = index(backends, new=photo(NEW, color=(1, 2, 3)), bare=photo(None, color=(9, 9, 9)))
    stored = record(backends, ids["new"])
    assert stored["taken"] == "2023-07-14T18:03:11+02:00"
    assert stored["camera"] == {"make": "FUJIFILM", "model": "X100V"}
    assert stored["location"] == {"lat": 48.8583333, "lon": 2.2944444}
    assert stored["lens"] is None and stored["metadata"] == {"album": "trip"}
    bare = record(backends, ids["bare"])
    assert [bare[k] for k in ("taken", "camera", "lens", "location")] == [None] * 4
    for rows in milvus(backends).rows.values():
        assert {k: rows[ids["new"]][k] for k in ("taken", "camera", "has_location")} == {
            "taken": taken_key("2023-07-14T18:03:11"),
            "camera": "fujifilm x100v",
            "has_location": True,
        }
        assert (rows[ids["bare"]]["taken"], rows[ids["bare"]]["camera"]) == (TAKEN_NONE, "")
        assert rows[ids["bare"]]["has_location"] is False


def test_the_privacy_switch_keeps_gps_out_of_records_and_rows(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {"models": {"enabled": ["clip"]}, "privacy": {"store_location": False}}
    )
    made = fake_backends(tmp_path, settings)
    try:
        image_id = index(made, new=photo(NEW))["new"]
        assert record(made, image_id)["location"] is None
        assert record(made, image_id)["taken"] == "2023-07-14T18:03:11+02:00"
        assert milvus(made).rows["images_clip"][image_id]["has_location"] is False
    finally:
        made.pool.shutdown()


def test_reserved_metadata_keys_are_refused_before_anything_is_stored(backends: Backends) -> None:
    upload = ingest.Upload("a.jpg", photo(NEW))
    with pytest.raises(PicSearchError) as caught:
        asyncio.run(ingest.ingest(backends, [upload], {"taken": "2020"}))
    assert (caught.value.code, caught.value.kind) == ("reserved_metadata_key", ErrorKind.INVALID)
    assert asyncio.run(backends.store.ids()) == []


def test_listings_carry_the_facts_and_older_records_have_none(backends: Backends) -> None:
    ids = index(backends, new=photo(NEW))
    legacy = record(backends, ids["new"])
    for name in ("taken", "camera", "lens", "location"):
        legacy.pop(name)
    asyncio.run(backends.store.put(ids["new"], "record", json.dumps(legacy).encode()))
    backends.records.put(ids["new"], ImageRecord.from_json(json.dumps(legacy), ids["new"]))
    listed, _ = asyncio.run(images.newest(backends, None, 10))
    assert listed[0].file.taken is None and listed[0].file.camera is None


def test_sort_taken_puts_the_newest_photo_first_and_undated_ones_last(backends: Backends) -> None:
    ids = index(
        backends,
        old=photo(OLD, color=(10, 10, 10)),
        bare=photo(None, color=(20, 20, 20)),
        new=photo(NEW, color=(30, 30, 30)),
    )
    options = search.SearchOptions(sort="taken")
    result = asyncio.run(search.similar(backends, ids["old"], "clip", 10, options))
    assert result.sort == "taken"
    # `similar` leaves the query itself out: of the other two, the dated one comes first.
    assert [m.hit.id for m in result.matches] == [ids["new"], ids["bare"]]
    result = asyncio.run(search.similar(backends, ids["bare"], "clip", 10, options))
    assert [m.hit.id for m in result.matches] == [ids["new"], ids["old"]]
    assert result.matches[0].file.taken == "2023-07-14T18:03:11+02:00"


def test_an_unknown_sort_names_the_three_choices(backends: Backends) -> None:
    with pytest.raises(PicSearchError) as caught:
        search.check_sort("when")
    assert caught.value.code == "invalid_sort" and "taken" in caught.value.message


@pytest.mark.parametrize(
    "options",
    [
        search.SearchOptions(filters={"taken": {"after": "2020-01-01"}}),
        search.SearchOptions(filters={"camera": "x100v"}),
        search.SearchOptions(filters={"has_location": True}),
        search.SearchOptions(sort="taken"),
    ],
)
def test_a_collection_built_before_the_capture_fields_answers_409_naming_reindex(
    backends: Backends, options: search.SearchOptions
) -> None:
    image_id = index(backends, new=photo(NEW))["new"]
    milvus(backends).schema_versions = {"images_clip": 1, "images_vgg16": 1}
    with pytest.raises(PicSearchError) as caught:
        asyncio.run(search.similar(backends, image_id, "clip", 10, options))
    assert caught.value.code == "reindex_required"
    assert caught.value.kind is ErrorKind.CONFLICT
    assert "pic-search reindex" in caught.value.message


def test_a_collection_built_before_the_tag_fields_answers_409_to_a_tag_filter_only(
    backends: Backends,
) -> None:
    image_id = index(backends, new=photo(NEW))["new"]
    milvus(backends).schema_versions = {"images_clip": 2, "images_vgg16": 2}
    captured = search.SearchOptions(filters={"camera": "x100v"})
    asyncio.run(search.similar(backends, image_id, "clip", 10, captured))  # version 2 has it
    for call in (
        search.similar(
            backends, image_id, "clip", 10, search.SearchOptions(filters={"tags": "cat"})
        ),
        images.newest(backends, None, 10, {"tags": {"in": ["cat"]}}),
        deletion.delete_many(backends, None, {"tags": "cat"}, True),
    ):
        with pytest.raises(PicSearchError) as caught:
            asyncio.run(call)
        assert caught.value.code == "reindex_required"
        assert "tags" in caught.value.message and "pic-search reindex" in caught.value.message


def test_an_old_collection_still_serves_other_filters_listings_and_deletes(
    backends: Backends,
) -> None:
    ids = index(backends, new=photo(NEW), old=photo(OLD))
    milvus(backends).schema_versions = {"images_clip": 1, "images_vgg16": 1}
    options = search.SearchOptions(filters={"album": "trip"}, sort="date")
    assert asyncio.run(search.similar(backends, ids["new"], "clip", 10, options)).matches
    for call in (
        images.newest(backends, None, 10, {"camera": "x100v"}),
        deletion.delete_many(backends, None, {"has_location": True}, True),
    ):
        with pytest.raises(PicSearchError) as caught:
            asyncio.run(call)
        assert caught.value.code == "reindex_required"
