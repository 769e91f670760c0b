"""Filters: a small typed grammar in a JSON object, compiled to a Milvus expression.

Clients never send raw expressions. A filter maps metadata keys (identifiers) to a value
(equality) or to an object of operators, and the reserved keys to the facts the gateway
stores itself:

    {"album": "2024",                          equality
     "lens_kit": {"in": ["x100", "gr3"]},      one of (1..16 scalars)
     "rating": {"gte": 3, "lt": 5},            numeric range: gt, gte, lt, lte
     "shot_on": {"gte": "2024-01-01"},         date range on ISO 8601 strings
     "created_at": {"after": "2025-06-01T00:00:00Z", "before": 1767225600000000},
     "taken": {"after": "2023-07-01", "before": "2023-08-01T12:00:00"},
     "camera": "fujifilm x100v",               or {"in": ["apple iphone 13", "canon eos r5"]}
     "has_location": true,
     "tags": "cat"}                            or {"in": ["cat", "dog"]}: any of these tags

`created_at` is the indexing time (UTC when a bound names no zone). `taken` is when the
photo was taken (EXIF), compared as the local time on the photo, so its bounds name no
zone; an undated photo matches no `taken` range. `camera` is the lower-case "make model"
(the model alone when it starts with the make), matched without regard to case.
`taken`, `camera` and `has_location` are fields of collections built since schema version
2 (services/schema.py tells a caller to check). `tags` are a photo's shown auto-tags
(services/tags.py; collections of schema version 3), each name checked against the tag
vocabulary. The reserved keys, with `lens`, are refused as metadata keys
(`reject_reserved_keys`).

Every key is checked against an identifier pattern, every operator against a fixed list,
and every value is rendered by this module alone (strings as escaped JSON literals,
numbers as plain decimals, dates re-formatted after parsing), so no input can change the
expression's structure. Anything else is a ValidationError (422, `invalid_filter`).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from gateway.capture import CAMERA_MAX_CHARS, TAKEN_NONE
from gateway.errors import ValidationError

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_FILTER_KEYS = 16
MAX_IN_VALUES = 16  # a disjunction (see below); the Milvus server rejects deep ones
MAX_STRING_CHARS = 1024
MAX_ABS_NUMBER = 2**53  # beyond this, JSON numbers lose integer precision
CREATED_AT = "created_at"
TAKEN, CAMERA, HAS_LOCATION = "taken", "camera", "has_location"
CAPTURE_FILTER_KEYS = (TAKEN, CAMERA, HAS_LOCATION)
TAGS = "tags"
RANGE_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
VALUE_OPERATORS = {"eq", "in", *RANGE_OPERATORS}
TIME_OPERATORS = {"after": ">", "before": "<"}
_CODE = "invalid_filter"
_ISO_CHARS = re.compile(r"[0-9][0-9T:.+Z-]{9,34}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_json_object(raw: str | None, what: str, max_bytes: int) -> dict[str, Any]:
    """`raw` as a JSON object of scalar values (empty when absent)."""
    return check_object(parse_json(raw, what, max_bytes), what)


def parse_json(raw: str | None, what: str, max_bytes: int) -> dict[str, Any]:
    """`raw` as a JSON object (empty when absent); its contents are checked by the caller."""
    if raw is None or raw.strip() == "":
        return {}
    if len(raw.encode()) > max_bytes:
        raise ValidationError(f"{what} is over {max_bytes} bytes", code=f"{what}_too_large")
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValidationError(f"{what} is not valid JSON: {exc}", code=f"invalid_{what}") from exc
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be a JSON object", code=f"invalid_{what}")
    return value


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
        _check_key(key, what)
        if not _is_scalar(item):
            raise ValidationError(
                f"{what} value for {key!r} must be a string, number, boolean or null",
                code=f"invalid_{what}",
            )
    return dict(value)


# Filter keys for stored facts (EXIF, tags, indexing time): metadata may not shadow them.
RESERVED_KEYS = ("taken", "camera", "lens", "has_location", "tags", "created_at")


def reject_reserved_keys(metadata: dict[str, Any]) -> None:
    """422 `reserved_metadata_key` when metadata uses a key that names a stored fact."""
    clash = sorted(set(metadata) & set(RESERVED_KEYS))
    if clash:
        raise ValidationError(
            f"metadata key{'s' if len(clash) > 1 else ''} {', '.join(clash)} "
            f"{'are' if len(clash) > 1 else 'is'} reserved for stored facts "
            f"({', '.join(RESERVED_KEYS)}); choose another name",
            code="reserved_metadata_key",
        )


def _check_key(key: Any, what: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValidationError(
            f"{what} key {str(key)[:70]!r} must match {_KEY.pattern}", code=f"invalid_{what}"
        )
    return key


def _is_scalar(item: Any) -> bool:
    if isinstance(item, float):
        return math.isfinite(item)
    return item is None or isinstance(item, str | int | bool)


def to_expression(filters: Any) -> str:
    """The Milvus expression for a filter object ("" for none), clauses joined with `and`."""
    if filters is None:
        return ""
    if not isinstance(filters, dict):
        raise ValidationError("filter must be a JSON object", code=_CODE)
    if len(filters) > MAX_FILTER_KEYS:
        raise ValidationError(f"at most {MAX_FILTER_KEYS} filter keys", code=_CODE)
    clauses: list[str] = []
    for key in sorted(filters, key=str):
        value = filters[key]
        if key == CREATED_AT:
            clauses += _time_clauses(value)
        elif key == TAKEN:
            clauses += _taken_clauses(value)
        elif key == CAMERA:
            clauses += _camera_clauses(value)
        elif key == HAS_LOCATION:
            clauses += _has_location_clauses(value)
        elif key == TAGS:
            clauses.append(_tags_clause(value))
        else:
            clauses += _metadata_clauses(_check_key(key, "filter"), value)
    return " and ".join(clauses)


def _metadata_clauses(key: str, value: Any) -> list[str]:
    field = f'metadata["{key}"]'
    if not isinstance(value, dict):
        return [f"{field} == {_scalar(key, value)}"]
    operators = _operators(key, value, VALUE_OPERATORS)
    clauses = []
    if "eq" in operators:
        clauses.append(f"{field} == {_scalar(key, operators['eq'])}")
    if "in" in operators:
        choices = operators["in"]
        if not isinstance(choices, list) or not 1 <= len(choices) <= MAX_IN_VALUES:
            raise ValidationError(
                f"filter `in` for {key!r} must be a list of 1 to {MAX_IN_VALUES} values",
                code=_CODE,
            )
        # A disjunction, not `in [...]`: Milvus Lite's grammar has no `in` on JSON paths.
        either = " or ".join(f"{field} == {_scalar(key, c)}" for c in choices)
        clauses.append(f"({either})")
    bounds = {op: v for op, v in operators.items() if op in RANGE_OPERATORS}
    kinds = {_bound_kind(key, op, v) for op, v in bounds.items()}
    if len(kinds) > 1:
        raise ValidationError(f"filter range for {key!r} mixes numbers and dates", code=_CODE)
    for op, bound in sorted(bounds.items()):
        clauses.append(f"{field} {RANGE_OPERATORS[op]} {_bound(bound)}")
    return clauses


def _time_clauses(value: Any) -> list[str]:
    if not isinstance(value, dict):
        raise ValidationError(
            'filter `created_at` must be an object like {"after": "2025-01-01T00:00:00Z"}',
            code=_CODE,
        )
    operators = _operators(CREATED_AT, value, set(TIME_OPERATORS))
    return [
        f"{CREATED_AT} {TIME_OPERATORS[op]} {_microseconds(op, bound)}"
        for op, bound in sorted(operators.items())
    ]


def _taken_clauses(value: Any) -> list[str]:
    if not isinstance(value, dict):
        raise ValidationError(
            'filter `taken` must be an object like {"after": "2023-07-01", "before": "2023-08-01"}',
            code=_CODE,
        )
    operators = _operators(TAKEN, value, set(TIME_OPERATORS))
    bounds = [
        f"{TAKEN} {TIME_OPERATORS[op]} {_taken_microseconds(op, bound)}"
        for op, bound in sorted(operators.items())
    ]
    return [f"{TAKEN} != {TAKEN_NONE}", *bounds]  # undated photos are in no date range


def _taken_microseconds(op: str, value: Any) -> int:
    """A `taken` bound: the photo's local time, so a bound with a zone is refused rather
    than silently read one way or the other."""
    if isinstance(value, str):
        parsed = _iso_date(value)
        if isinstance(parsed, datetime) and parsed.tzinfo is not None:
            raise ValidationError(
                f"filter taken `{op}` is the local time on the photo: give it without a zone "
                f"(e.g. {parsed.replace(tzinfo=None).isoformat()!r})",
                code=_CODE,
            )
    return _microseconds(op, value, TAKEN)


def _camera_clauses(value: Any) -> list[str]:
    if not isinstance(value, dict):
        return [f"{CAMERA} == {_camera_name(value)}"]
    operators = _operators(CAMERA, value, {"eq", "in"})
    clauses = []
    if "eq" in operators:
        clauses.append(f"{CAMERA} == {_camera_name(operators['eq'])}")
    if "in" in operators:
        choices = operators["in"]
        if not isinstance(choices, list) or not 1 <= len(choices) <= MAX_IN_VALUES:
            raise ValidationError(
                f"filter `in` for 'camera' must be a list of 1 to {MAX_IN_VALUES} names",
                code=_CODE,
            )
        clauses.append(f"{CAMERA} in [{', '.join(_camera_name(c) for c in choices)}]")
    return clauses


def _camera_name(value: Any) -> str:
    if not isinstance(value, str) or len(value) > CAMERA_MAX_CHARS:
        raise ValidationError(
            f"filter camera must be a camera name of at most {CAMERA_MAX_CHARS} characters, "
            'such as "apple iphone 13"',
            code=_CODE,
        )
    return _scalar(CAMERA, " ".join(value.split()).lower())


def _tags_clause(value: Any) -> str:
    """Photos with any of the tags: one name, or {"in": [1..16 names]}."""
    from gateway.models.tag_vocabulary import vocabulary  # read on first use only

    names = [value] if isinstance(value, str) else None
    if isinstance(value, dict):
        operators = _operators(TAGS, value, {"in"})
        choices = operators.get("in")
        if isinstance(choices, list) and 1 <= len(choices) <= MAX_IN_VALUES:
            names = choices
    if not names or not all(isinstance(n, str) for n in names):
        raise ValidationError(
            f'filter tags must be a tag name or {{"in": [1 to {MAX_IN_VALUES} tag names]}}',
            code=_CODE,
        )
    known = vocabulary().tag_classes
    unknown = [n for n in names if n not in known]
    if unknown:
        shown = ", ".join(repr(n[:70]) for n in unknown[:3])
        raise ValidationError(
            f"filter tags: no tag {shown}; GET /v1/tags lists the tags in use", code=_CODE
        )
    return f"array_contains_any(tags, [{', '.join(json.dumps(n) for n in names)}])"


def _has_location_clauses(value: Any) -> list[str]:
    if not isinstance(value, bool):
        raise ValidationError("filter has_location must be true or false", code=_CODE)
    return [f"{HAS_LOCATION} == {'true' if value else 'false'}"]


def _operators(key: str, value: dict[Any, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = [op for op in value if op not in allowed]
    if unknown or not value:
        raise ValidationError(
            f"filter operators for {key!r} must be some of {sorted(allowed)}"
            + (f", not {str(unknown[0])[:40]!r}" if unknown else ""),
            code=_CODE,
        )
    return {str(op): v for op, v in value.items()}


def _scalar(key: str, value: Any) -> str:
    """A string, number or boolean as an expression literal."""
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS or not value.isprintable():
            raise ValidationError(
                f"filter value for {key!r} must be printable text of at most "
                f"{MAX_STRING_CHARS} characters",
                code=_CODE,
            )
        # With control characters refused, json.dumps escapes only quotes and backslashes;
        # other characters stay UTF-8, since neither Milvus Lite (no \u escapes at all) nor
        # the server (no surrogate pairs) reads every \u escape.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(key, value)
    raise ValidationError(
        f"filter value for {key!r} must be a string, number or boolean", code=_CODE
    )


def _number(key: str, value: float) -> str:
    if not math.isfinite(value) or abs(value) > MAX_ABS_NUMBER:
        raise ValidationError(
            f"filter number for {key!r} must be finite and at most 2**53", code=_CODE
        )
    if isinstance(value, int):
        return str(int(value))
    # Positional, never `1e+20`: Milvus' expression grammar has no exponents.
    return str(np.format_float_positional(value, unique=True, trim="0"))


def _bound_kind(key: str, op: str, value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        _number(key, value)
        return "number"
    if isinstance(value, str) and _iso_date(value) is not None:
        return "date"
    raise ValidationError(
        f"filter `{op}` for {key!r} must be a number or an ISO 8601 date", code=_CODE
    )


def _bound(value: Any) -> str:
    if isinstance(value, str):
        # Kept as written (compared as text with dates stored the same way); _iso_date
        # let through only digits, '-', ':', '.', '+', 'T' and 'Z'.
        return json.dumps(value)
    return _number("", value)


def _iso_date(text: str) -> date | datetime | None:
    if not _ISO_CHARS.fullmatch(text):
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _microseconds(op: str, value: Any, key: str = CREATED_AT) -> int:
    """`created_at` (and `taken`) bounds: an ISO 8601 time (UTC when it names no zone) or
    microseconds since the epoch, as `created_at` is stored and returned."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**62:
        return value
    if isinstance(value, str):
        parsed = _iso_date(value)
        if isinstance(parsed, date) and not isinstance(parsed, datetime):
            parsed = datetime(parsed.year, parsed.month, parsed.day)
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return (parsed - _EPOCH) // timedelta(microseconds=1)
    raise ValidationError(
        f"filter {key} `{op}` must be an ISO 8601 time or microseconds since the epoch",
        code=_CODE,
    )
