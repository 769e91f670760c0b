"""The stored values' types: a record reads back as written, keeps keys a newer version
wrote, knows whether EXIF was read; a row carries what filters match."""

from __future__ import annotations

import json

from gateway.capture import TAKEN_NONE
from gateway.services.stored import ImageRecord, VectorRow

ID = "c" * 64


def test_a_record_reads_back_as_written_and_keeps_unknown_keys() -> None:
    raw = {
        "id": ID, "created_at": 7, "filename": "a.jpg", "metadata": {"album": "x"},
        "taken": "2023-07-14T18:03:11+02:00", "camera": {"make": "Fujifilm", "model": "X100V"},
        "lens": None, "location": {"lat": 48.1, "lon": -2.5}, "from_a_newer_version": [1, 2],
    }  # fmt: skip
    record = ImageRecord.from_json(json.dumps(raw), ID)
    assert record.capture_read and record.metadata == {"album": "x"}
    assert record.extra == {"from_a_newer_version": [1, 2]}
    assert json.loads(record.to_json()) | {"id": ID} == raw | {
        "path": None, "format": None, "width": None, "height": None, "bytes": None
    }  # fmt: skip
    assert record.file_info().taken == "2023-07-14T18:03:11+02:00"


def test_a_record_from_before_capture_facts_says_so_until_they_are_read() -> None:
    old = ImageRecord.from_json('{"created_at": 3, "filename": "b.png"}', ID)
    assert not old.capture_read and old.taken is None and old.metadata == {}
    read = old.with_capture({"taken": "2001-02-03T04:05:06", "camera": None})
    assert read.capture_read and read.taken == "2001-02-03T04:05:06"
    assert ImageRecord.from_json(read.to_json(), ID).capture_read


def test_a_row_carries_the_record_as_filters_match_it() -> None:
    record = ImageRecord(
        ID, 9, {"k": 1}, camera={"make": "Canon", "model": "Canon EOS R5"},
        location={"lat": 1.0, "lon": 2.0},
    )  # fmt: skip
    row = VectorRow.of(record, [0.5, 0.5]).as_fields()
    assert row == {
        "id": ID, "embedding": [0.5, 0.5], "created_at": 9, "metadata": {"k": 1},
        "taken": TAKEN_NONE, "camera": "canon eos r5", "has_location": True,
        "tags": [], "classes": [], "class_scores": [],
    }  # fmt: skip
