"""The image search form's reader: what a browser, httpx or curl sends comes out as sent,
and a broken body is a bad request, never a form that silently lacks its file."""

from __future__ import annotations

import httpx
import pytest
from pydantic import BaseModel

from gateway.api.multipart import parse, read_form
from gateway.errors import BadInputError, ValidationError

# Bytes that look like framing inside the file: a CRLF, a dash run, a fake boundary.
TRICKY = b"\xff\xd8\xff\r\n--\r\n--boundary\r\n" + bytes(range(256)) * 4


class Query(BaseModel):
    file: bytes
    top_k: int | None = None
    min_score: float | None = None
    model: str | None = None


def encoded(files: dict[str, tuple[str, bytes]], data: dict[str, str]) -> tuple[bytes, str]:
    """The body and Content-Type httpx sends for this form."""
    request = httpx.Request("POST", "http://x/", files=files, data=data)
    return request.read(), request.headers["content-type"]


def test_a_form_from_httpx_reads_back_exactly() -> None:
    body, content_type = encoded(
        {"file": ("q.jpg", TRICKY)}, {"top_k": "7", "min_score": "0.25", "model": "clip"}
    )
    query = read_form(body, content_type, Query)
    assert query == Query(file=TRICKY, top_k=7, min_score=0.25, model="clip")


def test_empty_fields_are_absent_and_the_last_repeat_wins() -> None:
    def part(name: str, value: bytes) -> bytes:
        return b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (
            name.encode(),
            value,
        )

    body = part("file", b"first") + part("file", b"second") + part("model", b"")
    query = read_form(body + b"--B--\r\n", "multipart/form-data; boundary=B", Query)
    assert query == Query(file=b"second")
    # A field the form does not take is refused, not dropped (a typo would change nothing).
    with pytest.raises(ValidationError, match="unknown form field other") as caught:
        read_form(
            body + part("other", b"x") + b"--B--\r\n", "multipart/form-data; boundary=B", Query
        )
    assert caught.value.code == "unknown_parameter"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"--b\r\n", "multipart/form-data", "no boundary"),
        (b"garbage", "multipart/form-data; boundary=b", "malformed"),
        (b"", "multipart/form-data; boundary=b", "ends before its closing boundary"),
    ],
)
def test_broken_framing_is_a_bad_request(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message) as caught:
        parse(body, content_type)
    assert caught.value.code == "bad_request"


def test_a_truncated_upload_is_a_bad_request_not_a_form_without_its_file() -> None:
    body, content_type = encoded({"file": ("q.jpg", TRICKY)}, {"top_k": "3"})
    for cut in (len(body) - 3, len(body) // 2, 60):
        with pytest.raises(BadInputError, match="closing boundary"):
            parse(body[:cut], content_type)


@pytest.mark.parametrize(
    ("files", "data", "named"),
    [
        ({"file": ("a.jpg", b"")}, {}, "body.file: Field required"),
        ({"file": ("a.jpg", b"x")}, {"top_k": "ten"}, "body.top_k: Input should be a valid int"),
        ({"file": ("a.jpg", b"x")}, {"min_score": "high"}, "body.min_score: Input should be"),
    ],
)
def test_invalid_fields_are_validation_errors_naming_the_field(
    files: dict[str, tuple[str, bytes]], data: dict[str, str], named: str
) -> None:
    body, content_type = encoded(files, data)
    with pytest.raises(ValidationError, match=named) as caught:
        read_form(body, content_type, Query)
    assert caught.value.code == "validation_error"
