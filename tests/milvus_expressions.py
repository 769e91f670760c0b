"""Milvus boolean expressions, as gateway/services/filters.py writes them, evaluated over a
fake's rows, so the fake honours filters instead of answering what a test primed. The
shared contract test (tests/integration/test_vector_store_contract.py) holds it to the real
adapter's answers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_JSON_LITERALS = re.compile(r"\b(true|false)\b")


class _Missing:
    """A metadata key the row lacks: Milvus matches no comparison with it."""

    def _no(self, other: object) -> bool:
        return False

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _no  # type: ignore[assignment]
    __hash__ = None  # type: ignore[assignment]


class _Metadata(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        return _Missing()


def _array_contains_any(values: Sequence[Any] | None, wanted: Sequence[Any]) -> bool:
    return bool(set(values or ()) & set(wanted))


def matches(row: dict[str, Any], expression: str) -> bool:
    """Whether `row` (the fields a collection holds) passes `expression` ("" passes all)."""
    if not expression:
        return True
    scope = {**row, "metadata": _Metadata(row.get("metadata") or {})}
    names = {"__builtins__": {}, "true": True, "false": False}
    names["array_contains_any"] = _array_contains_any
    try:
        return bool(eval(_JSON_LITERALS.sub(lambda m: m.group(1), expression), names, scope))
    except TypeError:  # a comparison across types (a string against a number): no match
        return False
