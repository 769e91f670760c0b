"""The capture filters (taken, camera, has_location) and the reserved metadata keys."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.capture import TAKEN_NONE
from gateway.errors import ValidationError
from gateway.services.filters import reject_reserved_keys, to_expression
from gateway.services.schema import filter_needs

DAY_US = 86_400 * 1_000_000
JULY_2023_US = 1_688_169_600 * 1_000_000  # 2023-07-01T00:00:00 on the wall clock


def test_a_taken_range_compares_wall_clock_microseconds_and_leaves_out_undated_photos() -> None:
    expression = to_expression({"taken": {"after": "2023-07-01", "before": "2023-07-02T00:00:00"}})
    assert expression == (
        f"taken != {TAKEN_NONE} and taken > {JULY_2023_US} and taken < {JULY_2023_US + DAY_US}"
    )


def test_a_taken_bound_may_be_microseconds_as_created_at_takes_them() -> None:
    assert to_expression({"taken": {"before": JULY_2023_US}}) == (
        f"taken != {TAKEN_NONE} and taken < {JULY_2023_US}"
    )


@pytest.mark.parametrize(
    "value",
    [
        {"after": "2023-07-01T00:00:00Z"},  # a zone: the photo's local time has none
        {"after": "2023-07-01T00:00:00+02:00"},
        {"after": "July 2023"},
        {"since": "2023-07-01"},
        {},
        "2023-07-01",
        {"after": True},
        {"after": -5},
    ],
)
def test_bad_taken_filters_are_refused(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        to_expression({"taken": value})
    assert caught.value.code == "invalid_filter"


def test_camera_equality_and_in_are_case_insensitive_names() -> None:
    assert to_expression({"camera": "FUJIFILM  X100V"}) == 'camera == "fujifilm x100v"'
    assert to_expression({"camera": {"eq": "x100v"}}) == 'camera == "x100v"'
    assert to_expression({"camera": {"in": ["Apple iPhone 13", 'a" or 1==1']}}) == (
        'camera in ["apple iphone 13", "a\\" or 1==1"]'
    )


@pytest.mark.parametrize(
    "value", [3, None, True, {"in": []}, {"in": "x"}, {"gte": "a"}, "x" * 257, {"in": ["a"] * 17}]
)
def test_bad_camera_filters_are_refused(value: Any) -> None:
    with pytest.raises(ValidationError):
        to_expression({"camera": value})


def test_has_location_is_a_boolean() -> None:
    assert to_expression({"has_location": True}) == "has_location == true"
    assert to_expression({"has_location": False}) == "has_location == false"
    for value in ("true", 1, None, {"eq": True}):
        with pytest.raises(ValidationError):
            to_expression({"has_location": value})


def test_capture_filters_combine_with_metadata_ones() -> None:
    assert to_expression({"album": "trip", "has_location": True}) == (
        'metadata["album"] == "trip" and has_location == true'
    )


def test_only_capture_and_tag_keys_need_a_newer_schema() -> None:
    def versions(filters: object) -> list[int]:
        return [n.version for n in filter_needs(filters)]

    assert versions({"camera": "x"}) == [2]
    assert versions({"album": "a", "taken": {"after": "2020-01-01"}}) == [2]
    assert versions({"tags": "cat", "has_location": True}) == [2, 3]
    assert versions({"album": "a", "created_at": {"after": "2020-01-01"}}) == []
    assert versions(None) == []


@pytest.mark.parametrize("key", ["taken", "camera", "lens", "has_location", "tags", "created_at"])
def test_reserved_keys_are_refused_as_metadata(key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        reject_reserved_keys({"album": "x", key: "y"})
    assert caught.value.code == "reserved_metadata_key"
    assert key in caught.value.message


def test_other_keys_pass() -> None:
    reject_reserved_keys({"album": "x", "camera_bag": "y", "Taken": 1})
