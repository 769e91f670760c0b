"""Every bad input of the HTTP suite (test_bad_input.py) has a gRPC counterpart with its
documented status code and the same error code, and changes nothing. Per-image problems in
an IndexImages stream come back as REJECTED results with the code (the stream goes on)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from gateway.grpc.client import GrpcApiError, ImageToIndex, PicSearchClient
from tests.integration import images
from tests.integration.conftest import RunningGateway
from tests.integration.test_bad_input import CASES, GOOD, MAX_UPLOAD, TEXT_10KB, UNKNOWN
from tests.integration.test_bad_input import strict_gateway as strict_gateway

INVALID, TOO_LARGE, NOT_FOUND = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.NOT_FOUND,
)
Call = Callable[[PicSearchClient], Any]


@dataclass(frozen=True)
class GrpcCase:
    name: str  # the HTTP case it mirrors
    call: Call
    status: grpc.StatusCode | None  # None: a REJECTED result in IndexImages' stream
    code: str


def index(data: bytes, filename: str = "x.jpg", **metadata: Any) -> Call:
    return lambda c: list(c.index_images([ImageToIndex(filename, data, metadata)]))


def image(data: bytes, **kwargs: Any) -> Call:
    return lambda c: c.search_by_image(data, **kwargs)


def text(query: str, **kwargs: Any) -> Call:
    # CLIP's text tower named: the default text search is tags where CLIP is random.
    return lambda c: c.search_by_text(query, model="clip", **kwargs)


def unknown_method(c: PicSearchClient) -> Any:
    call = c.channel.unary_unary("/picsearch.v1.PicSearch/Nothing")
    try:
        return call(b"", timeout=30)
    except grpc.RpcError as exc:
        raise GrpcApiError(exc.code(), exc.code().name.lower(), str(exc.details())) from exc  # type: ignore[attr-defined]


GRPC_CASES = [
    GrpcCase("truncated jpeg", index(GOOD[: len(GOOD) // 3]), None, "corrupt_image"),
    GrpcCase("jpeg header only", index(GOOD[:200]), None, "corrupt_image"),
    GrpcCase("truncated png", index(images.save(images.photo("coins"), "PNG")[:3000], "t.png"), None, "corrupt_image"),
    GrpcCase("corrupt png", index(images.corrupt_png(), "c.png"), None, "corrupt_image"),
    GrpcCase("text renamed .jpg", index(b"hello, I am plain text\n" * 20), None, "unsupported_image"),
    GrpcCase("svg", index(b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "a.svg"), None, "unsupported_image"),
    GrpcCase("pdf", index(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "a.pdf"), None, "unsupported_image"),
    GrpcCase("html", index(b"<!doctype html><html><body>hi</body></html>", "a.html"), None, "unsupported_image"),
    GrpcCase("zip", index(b"PK\x03\x04" + b"\x00" * 100, "a.zip"), None, "unsupported_image"),
    GrpcCase("random bytes", index(bytes(range(256)) * 8), None, "unsupported_image"),
    GrpcCase("zero bytes", index(b""), None, "empty_file"),
    GrpcCase("1x1 png", index(images.save(images.photo().resize((1, 1)), "PNG"), "1.png"), None, "image_too_small"),
    GrpcCase("30000x1 png", index(images.png_bomb(30000, 1), "w.png"), None, "bad_aspect_ratio"),
    GrpcCase("decompression bomb", index(images.png_bomb(), "bomb.png"), None, "too_many_pixels"),
    GrpcCase("9000x9000 over max pixels", index(images.png_bomb(9000, 9000), "big.png"), None, "too_many_pixels"),
    GrpcCase("file over max upload", index(GOOD + b"\x00" * MAX_UPLOAD), None, "file_too_large"),
    GrpcCase("files sent under another name", lambda c: list(c.index_images([])), INVALID, "no_files"),
    GrpcCase("metadata key injection", lambda c: list(c.index_images([ImageToIndex("m.jpg", GOOD, {'a"] or true or ["': 1})])), INVALID, "invalid_metadata"),
    GrpcCase("metadata too large", index(GOOD, a="x" * 5000), INVALID, "metadata_too_large"),
    GrpcCase("negative top_k", image(GOOD, top_k=-1), INVALID, "invalid_top_k"),
    GrpcCase("zero top_k", image(GOOD, top_k=0), INVALID, "invalid_top_k"),
    GrpcCase("huge top_k", image(GOOD, top_k=1_000_000), INVALID, "invalid_top_k"),
    GrpcCase("unknown model", image(GOOD, model="resnet"), INVALID, "unknown_model"),
    GrpcCase("corrupt query image", image(GOOD[:500]), INVALID, "corrupt_image"),
    GrpcCase("query file over max upload", image(GOOD + b"\x00" * MAX_UPLOAD), TOO_LARGE, "file_too_large"),
    GrpcCase("pdf query image", image(b"%PDF-1.4 nothing"), INVALID, "unsupported_image"),
    GrpcCase("filter key injection", text("x", filter={'a"] or 1==1 or ["': 1}), INVALID, "invalid_filter"),
    GrpcCase("empty text query", text("   "), INVALID, "empty_query"),
    GrpcCase("10 KB text query", text(TEXT_10KB), INVALID, "query_too_long"),
    GrpcCase("1001 character query", text("é" * 1001), INVALID, "query_too_long"),
    GrpcCase("text query missing", lambda c: c.search_by_text(""), INVALID, "empty_query"),
    GrpcCase("bad id", lambda c: c.get_image("not-an-id"), NOT_FOUND, "image_not_found"),
    GrpcCase("uppercase id", lambda c: c.get_image("A" * 64), NOT_FOUND, "image_not_found"),
    GrpcCase("unknown id", lambda c: c.get_image(UNKNOWN), NOT_FOUND, "image_not_found"),
    GrpcCase("path traversal", lambda c: c.get_image("../../etc/passwd", content=True), NOT_FOUND, "image_not_found"),
    GrpcCase("dot-dot id", lambda c: c.get_image("..", thumbnail=True), NOT_FOUND, "image_not_found"),
    GrpcCase("traversal thumbnail", lambda c: c.get_image("%2e%2e%2fsecret", thumbnail=True), NOT_FOUND, "image_not_found"),
    GrpcCase("dotted id", lambda c: c.get_image("..%2e", content=True), NOT_FOUND, "image_not_found"),
    GrpcCase("delete unknown", lambda c: c.delete_image(UNKNOWN), NOT_FOUND, "image_not_found"),
    GrpcCase("delete traversal", lambda c: c.delete_image("../../tmp"), NOT_FOUND, "image_not_found"),
    GrpcCase("similar unknown", lambda c: c.similar_to(UNKNOWN), NOT_FOUND, "image_not_found"),
    GrpcCase("list limit zero", lambda c: c.list_images(limit=0), INVALID, "invalid_limit"),
    GrpcCase("list bad cursor", lambda c: c.list_images(cursor="abc"), INVALID, "invalid_cursor"),
    # Over the message limit (one image + overhead): gRPC's own check, before any handler.
    GrpcCase("oversized multipart", index(b"\xff" * (MAX_UPLOAD + 2 * 1024 * 1024)), TOO_LARGE, "resource_exhausted"),
    GrpcCase("unknown route", unknown_method, grpc.StatusCode.UNIMPLEMENTED, "unimplemented"),
]  # fmt: skip

# HTTP cases the typed proto cannot express: there is nothing to send.
NOT_EXPRESSIBLE = {
    "too many files": "a stream has no file limit: the gateway batches it itself",
    "json body to ingest": "messages are typed; there is no other body",
    "raw bytes to search": "messages are typed; there is no other body",
    "metadata not json": "metadata is a typed map, not JSON text",
    "metadata is a list": "metadata is a typed map",
    "metadata nested value": "Value holds scalars only",
    "top_k not a number": "top_k is an int32",
    "filter not json": "filter is a typed map, not JSON text",
    "filter raw expression string": "filter is a typed map",
    "text body not json": "messages are typed",
    "wrong method": "gRPC has no HTTP methods",
    "multipart without a boundary": "gRPC has no multipart body: each image is its own message",
    "garbled multipart": "gRPC has no multipart body: protobuf framing is the transport's",
    "search multipart without a boundary": "gRPC has no multipart body",
    "garbled search multipart": "gRPC has no multipart body",
    "truncated search multipart": "gRPC has no multipart body: a cut message fails to decode",
    "query file sent under another name": "the image is a field of the message; absent is empty bytes",
    "search top_k not a number": "top_k is an int32",
}


def test_every_http_bad_input_has_a_grpc_counterpart_or_cannot_be_sent() -> None:
    assert sorted(c.name for c in CASES) == sorted(
        [c.name for c in GRPC_CASES] + list(NOT_EXPRESSIBLE)
    )


def _counts(client: PicSearchClient) -> dict[str, int]:
    return {name: c["count"] for name, c in client.stats()["collections"].items()}


@pytest.fixture(scope="module")
def grpc_client(strict_gateway: RunningGateway) -> Iterator[PicSearchClient]:
    with PicSearchClient(strict_gateway.grpc_target, timeout_s=120) as client:
        yield client


@pytest.mark.parametrize("case", GRPC_CASES, ids=[c.name for c in GRPC_CASES])
def test_bad_input_gets_its_grpc_status_and_code_and_changes_nothing(
    grpc_client: PicSearchClient, case: GrpcCase
) -> None:
    before = _counts(grpc_client)
    if case.status is None:
        (result,) = case.call(grpc_client)
        assert (result.status, result.code) == ("rejected", case.code), result
        assert result.message and not result.id
    else:
        with pytest.raises(GrpcApiError) as caught:
            case.call(grpc_client)
        assert (caught.value.status, caught.value.code) == (case.status, case.code)
        assert caught.value.message
    assert grpc_client.health() == "SERVING"
    assert _counts(grpc_client) == before


def test_a_stream_with_good_and_bad_images_indexes_only_the_good(
    grpc_client: PicSearchClient,
) -> None:
    good = images.save(images.photo("rocket"), "JPEG", quality=71)
    before = _counts(grpc_client)
    results = list(
        grpc_client.index_images(
            [ImageToIndex("good.jpg", good), ImageToIndex("bad.jpg", b"not an image")]
        )
    )
    assert [(r.index, r.status) for r in results] == [(0, "created"), (1, "rejected")]
    assert results[1].code == "unsupported_image"
    assert _counts(grpc_client) == {k: v + 1 for k, v in before.items()}
