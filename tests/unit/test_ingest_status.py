"""The ingest status code follows DESIGN.md: 201, 207 or the rejection's own status."""

from __future__ import annotations

from gateway.services.ingest import FileResult, ingest_status_code


def _ok(status: str = "created") -> FileResult:
    return FileResult("a.jpg", status, "0" * 64)  # type: ignore[arg-type]


def _rejected(status_code: int) -> FileResult:
    return FileResult("b.jpg", "rejected", None, "x", "why", status_code)


def test_all_created_or_duplicate_is_201() -> None:
    assert ingest_status_code([_ok(), _ok("duplicate")]) == 201


def test_some_rejected_is_207() -> None:
    assert ingest_status_code([_ok(), _rejected(415)]) == 207


def test_all_rejected_for_one_reason_takes_that_status() -> None:
    assert ingest_status_code([_rejected(415), _rejected(415)]) == 415


def test_all_rejected_for_mixed_reasons_is_400() -> None:
    assert ingest_status_code([_rejected(415), _rejected(413)]) == 400
