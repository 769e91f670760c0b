"""Metadata filters: a JSON object of equalities, translated to a Milvus expression.

Clients never send raw expressions. Keys must look like identifiers and values are
scalars rendered as JSON literals (quotes and backslashes escaped), so no input can
change the expression's structure.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from gateway.errors import ValidationError

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_FILTER_KEYS = 16


def parse_json_object(raw: str | None, what: str, max_bytes: int) -> dict[str, Any]:
    """`raw` as a JSON object of scalar values (empty when absent)."""
    if raw is None or raw.strip() == "":
        return {}
    if len(raw.encode()) > max_bytes:
        raise ValidationError(f"{what} is over {max_bytes} bytes", code=f"{what}_too_large")
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValidationError(f"{what} is not valid JSON: {exc}", code=f"invalid_{what}") from exc
    return check_object(value, what)


def check_sized_object(value: Any, what: str, max_bytes: int) -> dict[str, Any]:
    """An already-decoded object (from gRPC), held to the size limit of its JSON form."""
    if len(json.dumps(value).encode()) > max_bytes:
        raise ValidationError(f"{what} is over {max_bytes} bytes", code=f"{what}_too_large")
    return check_object(value, what)


def check_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be a JSON object", code=f"invalid_{what}")
    if len(value) > MAX_FILTER_KEYS * 4:
        raise ValidationError(f"{what} has too many keys", code=f"invalid_{what}")
    for key, item in value.items():
        if not _KEY.fullmatch(key):
            raise ValidationError(
                f"{what} key {key[:70]!r} must match {_KEY.pattern}", code=f"invalid_{what}"
            )
        if not _is_scalar(item):
            raise ValidationError(
                f"{what} value for {key!r} must be a string, number, boolean or null",
                code=f"invalid_{what}",
            )
    return dict(value)


def _is_scalar(item: Any) -> bool:
    if isinstance(item, float):
        return math.isfinite(item)
    return item is None or isinstance(item, str | int | bool)


def to_expression(filters: dict[str, Any]) -> str:
    """`{"album": "2024", "n": 3}` -> `metadata["album"] == "2024" and metadata["n"] == 3`."""
    filters = check_object(filters, "filter")
    if len(filters) > MAX_FILTER_KEYS:
        raise ValidationError(f"at most {MAX_FILTER_KEYS} filter keys", code="invalid_filter")
    clauses = []
    for key, value in sorted(filters.items()):
        if value is None:
            raise ValidationError(
                f"filter value for {key!r} must not be null", code="invalid_filter"
            )
        # json.dumps escapes quotes, backslashes and control characters; ensure_ascii keeps
        # every byte of the expression printable.
        clauses.append(f'metadata["{key}"] == {json.dumps(value, ensure_ascii=True)}')
    return " and ".join(clauses)
