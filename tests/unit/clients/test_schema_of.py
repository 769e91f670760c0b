"""A collection's schema version comes from the fields it has: Milvus Lite keeps no
collection description, and a wrong version strips fields from every insert."""

from __future__ import annotations

import json

from gateway.clients.milvus_collections import schema_of

BASE = ["id", "embedding", "created_at", "metadata"]


def described(*names: str, description: str = "") -> dict[str, object]:
    return {"description": description, "fields": [{"name": n} for n in names]}


def test_the_fields_decide_even_without_a_description() -> None:
    assert schema_of(described(*BASE)) == 1
    assert schema_of(described(*BASE, "taken", "camera", "has_location")) == 2
    everything = (*BASE, "taken", "camera", "has_location", "tags", "classes", "class_scores")
    assert schema_of(described(*everything)) == 3


def test_the_description_decides_only_where_no_fields_are_listed() -> None:
    assert schema_of({"description": json.dumps({"model": "m", "schema": 2})}) == 2
    assert schema_of({"description": "not json"}) == 1
    assert schema_of({}) == 1
