"""The ingest report's outcome, and the HTTP statuses DESIGN.md gives it: 201, 207 or the
rejections' own status."""

from __future__ import annotations

import json

from gateway.api.routes.links import ingest_response
from gateway.errors import ErrorKind
from gateway.services.ingest import FileResult, IngestReport


def _ok(status: str = "created") -> FileResult:
    return FileResult("a.jpg", status, "0" * 64)  # type: ignore[arg-type]


def _rejected(kind: ErrorKind) -> FileResult:
    return FileResult("b.jpg", "rejected", None, "x", "why", kind)


def _status(*results: FileResult) -> int:
    return ingest_response(IngestReport(list(results))).status_code


def test_all_created_or_duplicate_is_accepted_and_201() -> None:
    report = IngestReport([_ok(), _ok("duplicate")])
    assert (report.outcome, report.created, report.duplicates) == ("accepted", 1, 1)
    assert _status(_ok(), _ok("duplicate")) == 201


def test_some_rejected_is_partial_and_207() -> None:
    assert IngestReport([_ok(), _rejected(ErrorKind.UNSUPPORTED)]).outcome == "partial"
    assert _status(_ok(), _rejected(ErrorKind.UNSUPPORTED)) == 207


def test_all_rejected_for_one_reason_takes_that_status() -> None:
    report = IngestReport([_rejected(ErrorKind.UNSUPPORTED)] * 2)
    assert (report.outcome, report.rejection_kind) == ("rejected", ErrorKind.UNSUPPORTED)
    assert _status(*report.results) == 415


def test_all_rejected_for_mixed_reasons_is_400() -> None:
    assert _status(_rejected(ErrorKind.UNSUPPORTED), _rejected(ErrorKind.TOO_LARGE)) == 400


def test_rejected_files_carry_their_code_and_http_status_in_the_body() -> None:
    response = ingest_response(IngestReport([_ok(), _rejected(ErrorKind.TOO_LARGE)]))
    body = json.loads(bytes(response.body))
    assert body["results"][1] == {
        "filename": "b.jpg",
        "status": "rejected",
        "code": "x",
        "message": "why",
        "status_code": 413,
    }
    assert "error" not in body
    assert body["rejected"] == 1
