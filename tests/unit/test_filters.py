"""Metadata filters become Milvus expressions that no input can break out of."""

from __future__ import annotations

import pytest

from gateway.errors import ValidationError
from gateway.services.filters import parse_json_object, to_expression


def test_equalities_are_joined_with_and_in_key_order() -> None:
    assert to_expression({"b": 2, "a": "x"}) == 'metadata["a"] == "x" and metadata["b"] == 2'


def test_quotes_backslashes_and_unicode_in_values_are_escaped() -> None:
    expression = to_expression({"album": 'x" or 1==1 or "\\ é'})
    assert expression == 'metadata["album"] == "x\\" or 1==1 or \\"\\\\ \\u00e9"'


def test_no_filter_means_no_expression() -> None:
    assert to_expression({}) == ""


@pytest.mark.parametrize(
    "bad",
    [{'a"] or true or ["': 1}, {"": 1}, {"1abc": 1}, {"a": {"b": 1}}, {"a": [1]}, {"a": None},
     {"a": float("nan")}, {f"k{i}": i for i in range(17)}],
)  # fmt: skip
def test_unsafe_keys_and_non_scalar_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as caught:
        to_expression(bad)
    assert caught.value.code == "invalid_filter"


@pytest.mark.parametrize("raw", ["{album: 1}", "[1]", '"text"', "1"])
def test_a_metadata_field_must_be_a_json_object(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_json_object(raw, "metadata", 4096)
    assert caught.value.code == "invalid_metadata"


def test_oversized_metadata_has_its_own_code() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_json_object('{"a": "' + "x" * 5000 + '"}', "metadata", 4096)
    assert caught.value.code == "metadata_too_large"
