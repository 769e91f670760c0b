"""Bad input gets its documented status and code, changes nothing, and the gateway stays
healthy; unusual but valid images are accepted and indexed correctly."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import httpx
import pytest

from bench.uploads import one_image
from tests.integration import images
from tests.integration.conftest import GatewayFactory, RunningGateway
from tests.integration.support import collection_counts

MAX_UPLOAD = 2 * 1024 * 1024
MAX_FILES = 8
MAX_REQUEST = 24 * 1024 * 1024


@pytest.fixture(scope="module")
def strict_gateway(gateway_factory: GatewayFactory) -> Iterator[RunningGateway]:
    env = {
        "PIC_SEARCH_LIMITS__MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        "PIC_SEARCH_LIMITS__MAX_FILES_PER_REQUEST": str(MAX_FILES),
        "PIC_SEARCH_LIMITS__MAX_REQUEST_BYTES": str(MAX_REQUEST),
        "PIC_SEARCH_LIMITS__MAX_PIXELS": str(40_000_000),
    }
    with gateway_factory("bad", env) as running, running.client() as client:
        # One good image, so searches have something to find.
        good = images.save(images.photo("chelsea"), "JPEG")
        assert client.post("/v1/images", files=[("files", ("g.jpg", good))]).status_code == 201
        yield running


Call = Callable[[httpx.Client], httpx.Response]


@dataclass(frozen=True)
class Case:
    name: str
    call: Call
    status: int
    code: str


def ingest(data: bytes, filename: str = "x.jpg", ctype: str = "image/jpeg", **form: str) -> Call:
    return lambda c: c.post("/v1/images", files=[("files", (filename, data, ctype))], data=form)


def search_image(data: bytes, **form: str) -> Call:
    return lambda c: c.post(
        "/v1/search/image", files={"file": ("q.jpg", data, "image/jpeg")}, data=form
    )


GOOD = images.save(images.photo("astronaut"), "JPEG")
UNKNOWN = "0" * 64
TEXT_10KB = "a cat " * 1700
_QUERY = one_image("file", GOOD, "q.jpg", top_k="3")
TRUNCATED_QUERY = replace(_QUERY, body=_QUERY.body[: len(_QUERY.body) // 2])

CASES = [
    Case("truncated jpeg", ingest(GOOD[: len(GOOD) // 3]), 400, "corrupt_image"),
    Case("jpeg header only", ingest(GOOD[:200]), 400, "corrupt_image"),
    Case("truncated png", ingest(images.save(images.photo("coins"), "PNG")[:3000], "t.png"), 400, "corrupt_image"),
    Case("corrupt png", ingest(images.corrupt_png(), "c.png"), 400, "corrupt_image"),
    Case("text renamed .jpg", ingest(b"hello, I am plain text\n" * 20), 415, "unsupported_image"),
    Case("svg", ingest(b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "a.svg", "image/svg+xml"), 415, "unsupported_image"),
    Case("pdf", ingest(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "a.pdf", "application/pdf"), 415, "unsupported_image"),
    Case("html", ingest(b"<!doctype html><html><body>hi</body></html>", "a.html", "text/html"), 415, "unsupported_image"),
    Case("zip", ingest(b"PK\x03\x04" + b"\x00" * 100, "a.zip", "application/zip"), 415, "unsupported_image"),
    Case("random bytes", ingest(bytes(range(256)) * 8), 415, "unsupported_image"),
    Case("zero bytes", ingest(b""), 400, "empty_file"),
    Case("1x1 png", ingest(images.save(images.photo().resize((1, 1)), "PNG"), "1.png"), 422, "image_too_small"),
    Case("30000x1 png", ingest(images.png_bomb(30000, 1), "w.png"), 422, "bad_aspect_ratio"),
    Case("decompression bomb", ingest(images.png_bomb(), "bomb.png"), 413, "too_many_pixels"),
    Case("9000x9000 over max pixels", ingest(images.png_bomb(9000, 9000), "big.png"), 413, "too_many_pixels"),
    Case("file over max upload", ingest(GOOD + b"\x00" * MAX_UPLOAD), 413, "file_too_large"),
    Case("too many files", lambda c: c.post("/v1/images", files=[("files", (f"{i}.jpg", GOOD)) for i in range(MAX_FILES + 1)]), 413, "too_many_files"),
    Case("files sent under another name", lambda c: c.post("/v1/images", files={"other": ("a.jpg", GOOD)}), 422, "unknown_parameter"),
    Case("json body to ingest", lambda c: c.post("/v1/images", json={"files": []}), 415, "unsupported_media_type"),
    Case("multipart without a boundary", lambda c: c.post("/v1/images", content=b"--b\r\n", headers={"content-type": "multipart/form-data"}), 400, "bad_request"),
    Case("garbled multipart", lambda c: c.post("/v1/images", content=b"garbage", headers={"content-type": "multipart/form-data; boundary=b"}), 400, "bad_request"),
    # The image search form has a reader of its own (gateway/api/multipart.py).
    Case("search multipart without a boundary", lambda c: c.post("/v1/search/image", content=b"--b\r\n", headers={"content-type": "multipart/form-data"}), 400, "bad_request"),
    Case("garbled search multipart", lambda c: c.post("/v1/search/image", content=b"garbage", headers={"content-type": "multipart/form-data; boundary=b"}), 400, "bad_request"),
    Case("truncated search multipart", lambda c: c.post("/v1/search/image", content=TRUNCATED_QUERY.body, headers={"content-type": TRUNCATED_QUERY.content_type}), 400, "bad_request"),
    Case("query file sent under another name", lambda c: c.post("/v1/search/image", files={"other": ("a.jpg", GOOD)}), 422, "unknown_parameter"),
    Case("query file over max upload", search_image(GOOD + b"\x00" * MAX_UPLOAD), 413, "file_too_large"),
    Case("search top_k not a number", search_image(GOOD, top_k="ten"), 422, "validation_error"),
    Case("raw bytes to search", lambda c: c.post("/v1/search/image", content=GOOD, headers={"content-type": "image/jpeg"}), 415, "unsupported_media_type"),
    Case("metadata not json", ingest(GOOD, metadata="{album: 2024"), 422, "invalid_metadata"),
    Case("metadata is a list", ingest(GOOD, metadata='["a"]'), 422, "invalid_metadata"),
    Case("metadata key injection", ingest(GOOD, metadata='{"a\\"] or true or [\\"": 1}'), 422, "invalid_metadata"),
    Case("metadata nested value", ingest(GOOD, metadata='{"a": {"b": 1}}'), 422, "invalid_metadata"),
    Case("metadata too large", ingest(GOOD, metadata='{"a": "' + "x" * 5000 + '"}'), 422, "metadata_too_large"),
    Case("negative top_k", search_image(GOOD, top_k="-1"), 422, "invalid_top_k"),
    Case("zero top_k", search_image(GOOD, top_k="0"), 422, "invalid_top_k"),
    Case("huge top_k", search_image(GOOD, top_k="1000000"), 422, "invalid_top_k"),
    Case("top_k not a number", lambda c: c.get("/v1/search/text", params={"q": "x", "top_k": "ten"}), 422, "validation_error"),
    Case("unknown model", search_image(GOOD, model="resnet"), 422, "unknown_model"),
    Case("corrupt query image", search_image(GOOD[:500]), 400, "corrupt_image"),
    Case("pdf query image", search_image(b"%PDF-1.4 nothing"), 415, "unsupported_image"),
    Case("filter not json", search_image(GOOD, filter="album == 2024"), 422, "invalid_filter"),
    Case("filter raw expression string", lambda c: c.post("/v1/search/text", json={"q": "x", "filter": "id != ''"}), 422, "validation_error"),
    Case("filter key injection", lambda c: c.post("/v1/search/text", json={"q": "x", "filter": {'a"] or 1==1 or ["': 1}}), 422, "invalid_filter"),
    Case("empty text query", lambda c: c.get("/v1/search/text", params={"q": "   "}), 422, "empty_query"),
    Case("10 KB text query", lambda c: c.post("/v1/search/text", json={"q": TEXT_10KB}), 422, "query_too_long"),
    Case("1001 character query", lambda c: c.get("/v1/search/text", params={"q": "é" * 1001}), 422, "query_too_long"),
    Case("text query missing", lambda c: c.post("/v1/search/text", json={"top_k": 3}), 422, "validation_error"),
    Case("text body not json", lambda c: c.post("/v1/search/text", content=b"q=cat", headers={"content-type": "application/x-www-form-urlencoded"}), 422, "validation_error"),
    Case("bad id", lambda c: c.get("/v1/images/not-an-id"), 404, "image_not_found"),
    Case("uppercase id", lambda c: c.get(f"/v1/images/{'A' * 64}"), 404, "image_not_found"),
    Case("unknown id", lambda c: c.get(f"/v1/images/{UNKNOWN}"), 404, "image_not_found"),
    # Encoded slashes decode before routing: no route matches, nothing is read.
    Case("path traversal", lambda c: c.get("/v1/images/..%2F..%2Fetc%2Fpasswd/content"), 404, "not_found"),
    Case("dot-dot id", lambda c: c.get("/v1/images/../thumbnail"), 404, "not_found"),
    Case("traversal thumbnail", lambda c: c.get("/v1/images/%2e%2e%2fsecret/thumbnail"), 404, "not_found"),
    Case("dotted id", lambda c: c.get("/v1/images/..%2e/content"), 404, "image_not_found"),
    Case("delete unknown", lambda c: c.delete(f"/v1/images/{UNKNOWN}"), 404, "image_not_found"),
    Case("delete traversal", lambda c: c.delete("/v1/images/..%2F..%2Ftmp"), 404, "not_found"),
    Case("similar unknown", lambda c: c.get(f"/v1/images/{UNKNOWN}/similar"), 404, "image_not_found"),
    Case("list limit zero", lambda c: c.get("/v1/images", params={"limit": 0}), 422, "invalid_limit"),
    Case("list bad cursor", lambda c: c.get("/v1/images", params={"cursor": "abc"}), 422, "invalid_cursor"),
    Case("oversized multipart", lambda c: c.post("/v1/images", files=[("files", ("big.jpg", b"\xff" * (MAX_REQUEST + 10)))]), 413, "request_too_large"),
    Case("unknown route", lambda c: c.get("/v2/nothing"), 404, "not_found"),
    Case("wrong method", lambda c: c.put("/v1/images"), 405, "method_not_allowed"),
]  # fmt: skip


_counts = collection_counts


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_its_status_and_code_and_changes_nothing(
    strict_gateway: RunningGateway, case: Case
) -> None:
    with strict_gateway.client() as client:
        before = _counts(client)
        response = case.call(client)
        assert response.status_code == case.status, response.text
        body = response.json()
        assert body["error"]["code"] == case.code, body
        assert body["error"]["message"]
        assert client.get("/healthz").status_code == 200
        assert _counts(client) == before


def test_there_are_at_least_forty_bad_input_cases() -> None:
    assert len(CASES) >= 40


def test_a_request_with_good_and_bad_files_answers_207_and_indexes_only_the_good(
    strict_gateway: RunningGateway,
) -> None:
    good = images.save(images.photo("rocket"), "JPEG", quality=77)
    with strict_gateway.client() as client:
        before = _counts(client)
        response = client.post(
            "/v1/images",
            files=[("files", ("good.jpg", good)), ("files", ("bad.jpg", b"not an image"))],
        )
        assert response.status_code == 207
        results = response.json()["results"]
        assert [r["status"] for r in results] == ["created", "rejected"]
        assert results[1]["code"] == "unsupported_image"
        assert _counts(client) == {k: v + 1 for k, v in before.items()}


def test_unusual_but_valid_images_are_accepted_and_found_by_themselves(
    strict_gateway: RunningGateway,
) -> None:
    files = images.valid_unusual()
    with strict_gateway.client() as client:
        items = list(files.items())
        for start in range(0, len(items), MAX_FILES):
            batch = [("files", item) for item in items[start : start + MAX_FILES]]
            response = client.post("/v1/images", files=batch)
            assert response.status_code == 201, response.text
            assert {r["status"] for r in response.json()["results"]} == {"created"}
        for name, data in files.items():
            found = client.post(
                "/v1/search/image",
                files={"file": (name, data)},
                data={"model": "vgg16", "top_k": "1"},
            ).json()["results"]
            assert found[0]["id"] == hashlib.sha256(data).hexdigest(), name
            assert found[0]["score"] > 0.99, name
            record = client.get(f"/v1/images/{found[0]['id']}").json()
            assert record["filename"] == name


def test_a_unicode_query_is_accepted(strict_gateway: RunningGateway) -> None:
    with strict_gateway.client() as client:
        query = {"q": "猫 🐱 café «ballon» ß", "model": "clip"}  # tags know English words only
        response = client.get("/v1/search/text", params=query)
        assert response.status_code == 200
        assert response.json()["results"]
