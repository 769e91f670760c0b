"""A multipart/form-data body read in one pass, for the one-image search route.

Starlette's form parser feeds python-multipart a chunk at a time through coroutines and
spools each file into a temporary file object, and FastAPI then validates every declared
field: 0.4 ms of the event loop's CPU per image search (in-process, against fakes), CPU
that Triton lacks on 2 cores. A one-image body is small (`read_body` caps it at one image
and its fields), so the same parser reads it here at once, in memory. Bad bodies get the
errors FastAPI gave them.
Ingest keeps Starlette's parser: its bodies carry up to 64 files and 200 MB, which that
parser spools to disk past 1 MB each, and a cut of 0.4 ms is small beside its models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from gateway.api.errors import validation_problems
from gateway.errors import BadInputError, TooLargeError, ValidationError

FormModel = TypeVar("FormModel", bound=BaseModel)
BAD = "bad_request"  # the code Starlette's parser errors got
# Room beyond the image for the other fields (a filter is at most a few KiB) and framing.
FIELDS_BYTES = 64 * 1024


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)


async def read_body(request: Request, image_bytes: int) -> bytes:
    """The body of a one-image form, which lives in memory whole: reading stops, with 413,
    once it cannot be one image of at most `image_bytes` and its fields."""
    limit = image_bytes + FIELDS_BYTES
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            message = f"an image search carries one file of at most {image_bytes} bytes"
            raise TooLargeError(message, code="file_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def read_form(body: bytes, content_type: str, model: type[FormModel]) -> FormModel:
    """`body` as `model`, whose `bytes` fields take a part's raw bytes and the others its
    text. As FastAPI reads forms: an empty field counts as absent, a repeated one's last
    value wins, and errors name the field (`body.top_k: ...`). An unknown field is refused
    (422 `unknown_parameter`), as the API's other requests do."""
    values: dict[str, Any] = {}
    parts = parse(body, content_type)
    unknown = sorted(set(parts) - set(model.model_fields))
    if unknown:
        raise ValidationError(
            f"unknown form field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"this endpoint takes: {', '.join(model.model_fields)}",
            code="unknown_parameter",
        )
    for name, data in parts.items():
        declared = model.model_fields[name]
        if not data:
            continue
        values[name] = data if declared.annotation is bytes else data.decode("utf-8", "replace")
    try:
        return model.model_validate(values)
    except PydanticValidationError as exc:
        problems = validation_problems(exc.errors(), prefix=("body",))
        raise ValidationError(problems, code="validation_error") from None


def parse(body: bytes, content_type: str) -> dict[str, bytes]:
    """Every part of `body` by field name; a missing boundary or broken framing is a bad
    request."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadInputError("the multipart body has no boundary", code=BAD)
    parts: dict[str, bytes] = {}
    current = _Part()
    header: list[bytes] = [b"", b""]
    ended = False

    def on_part_begin() -> None:
        nonlocal current
        current = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        current.headers[header[0].lower()] = header[1]
        header[:] = [b"", b""]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current.chunks.append(data[start:end])

    def on_part_end() -> None:
        _, disposition = parse_options_header(current.headers.get(b"content-disposition"))
        name = disposition.get(b"name")
        if name is None:
            raise BadInputError("a multipart part has no field name", code=BAD)
        parts[name.decode("utf-8", "replace")] = b"".join(current.chunks)

    def on_end() -> None:
        nonlocal ended
        ended = True

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_end": on_end,
    }
    parser = MultipartParser(boundary, callbacks)
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise BadInputError(f"the multipart body is malformed: {exc}", code=BAD) from None
    if not ended:  # a truncated upload must not pass as a form without its file
        raise BadInputError("the multipart body ends before its closing boundary", code=BAD)
    return parts
