"""Filters become Milvus expressions that no input can break out of."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import ErrorKind, ValidationError
from gateway.services.filters import parse_json, parse_json_object, to_expression


def test_equalities_are_joined_with_and_in_key_order() -> None:
    assert to_expression({"b": 2, "a": "x"}) == 'metadata["a"] == "x" and metadata["b"] == 2'


def test_quotes_and_backslashes_are_escaped_and_other_text_stays_utf8() -> None:
    expression = to_expression({"album": 'x" or 1==1 or "\\ é 😀'})
    assert expression == 'metadata["album"] == "x\\" or 1==1 or \\"\\\\ é 😀"'


def test_no_filter_means_no_expression() -> None:
    assert to_expression({}) == ""
    assert to_expression(None) == ""


def test_eq_and_in_operators() -> None:
    assert to_expression({"a": {"eq": True}}) == 'metadata["a"] == true'
    assert to_expression({"a": {"in": ["x", 2, 1.5]}}) == (
        '(metadata["a"] == "x" or metadata["a"] == 2 or metadata["a"] == 1.5)'
    )


def test_numeric_ranges_render_plain_decimals() -> None:
    assert to_expression({"n": {"gte": 3, "lt": 1e15}}) == (
        'metadata["n"] >= 3 and metadata["n"] < 1000000000000000.0'
    )
    assert to_expression({"n": {"gt": -0.25, "lte": 2}}) == (
        'metadata["n"] > -0.25 and metadata["n"] <= 2'
    )


def test_date_ranges_compare_iso_strings_as_written() -> None:
    assert to_expression({"shot_on": {"gte": "2024-01-01", "lt": "2024-07-01T12:00:00Z"}}) == (
        'metadata["shot_on"] >= "2024-01-01" and metadata["shot_on"] < "2024-07-01T12:00:00Z"'
    )


def test_created_at_after_and_before_become_microseconds() -> None:
    expression = to_expression(
        {"created_at": {"after": "1970-01-01T00:00:01Z", "before": "1970-01-02"}}
    )
    assert expression == "created_at > 1000000 and created_at < 86400000000"
    assert to_expression({"created_at": {"after": 5}}) == "created_at > 5"
    assert to_expression({"created_at": {"before": "1970-01-01T01:00:00+01:00"}}) == (
        "created_at < 0"
    )


HOSTILE_KEYS = ['a"] or true or ["', "", "1abc", "a b", "a\u00e9", "x" * 65, "a]", "a\n"]
HOSTILE_FILTERS: list[Any] = [
    *({key: 1} for key in HOSTILE_KEYS),
    *({"a": {key: 1}} for key in ["or", "==", "eq ", "$where", 'gt"]', "after"]),
    {"a": None}, {"a": [1]}, {"a": float("nan")}, {"a": float("inf")}, {"a": 2**60},
    {"a": {}}, {"a": {"b": 1}}, {"a": {"eq": None}}, {"a": {"eq": {"x": 1}}},
    {"a": {"eq": "x" * 1025}}, {"a": "\x00"}, {"a": "a\nb"}, {"a": {"in": ["\u2028"]}},
    {"a": {"in": []}}, {"a": {"in": "x"}},
    {"a": {"in": list(range(17))}}, {"a": {"in": [None]}}, {"a": {"in": [[1]]}},
    {"a": {"gt": "1 or 1==1"}}, {"a": {"gt": '2024-01-01" or "'}}, {"a": {"gt": True}},
    {"a": {"gte": "2024-13-01"}}, {"a": {"gt": 1, "lt": "2024-01-01"}}, {"a": {"lt": None}},
    {"a": {"lt": [1]}}, {"a": {"gt": float("nan")}},
    {"created_at": 5}, {"created_at": "2024"}, {"created_at": {}}, {"created_at": {"gt": 1}},
    {"created_at": {"after": "yesterday"}}, {"created_at": {"after": -1}},
    {"created_at": {"after": True}}, {"created_at": {"before": "1 or 1==1"}},
    {"created_at": {"after": 1.5}}, {f"k{i}": i for i in range(17)}, [], "a == 1", 3,
]  # fmt: skip


@pytest.mark.parametrize("bad", HOSTILE_FILTERS, ids=repr)
def test_hostile_keys_operators_and_values_are_refused(bad: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        to_expression(bad)
    assert caught.value.code == "invalid_filter"
    assert caught.value.kind is ErrorKind.INVALID  # 422 on HTTP


def test_error_messages_do_not_echo_long_hostile_input() -> None:
    with pytest.raises(ValidationError) as caught:
        to_expression({"a" * 5000: 1})
    assert len(caught.value.message) < 200


@pytest.mark.parametrize("raw", ["{album: 1}", "[1]", '"text"', "1"])
def test_a_metadata_field_must_be_a_json_object(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_json_object(raw, "metadata", 4096)
    assert caught.value.code == "invalid_metadata"


def test_metadata_values_stay_scalars_while_filters_may_nest() -> None:
    with pytest.raises(ValidationError):
        parse_json_object('{"a": {"in": [1]}}', "metadata", 4096)
    assert parse_json('{"a": {"in": [1]}}', "filter", 4096) == {"a": {"in": [1]}}


def test_oversized_metadata_has_its_own_code() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_json_object('{"a": "' + "x" * 5000 + '"}', "metadata", 4096)
    assert caught.value.code == "metadata_too_large"
