"""Every configured limit, just under (accepted) and just over (refused with its code), on a
gateway whose limits are all set away from their defaults; and the effect of DEFAULT_TOP_K,
PUBLIC_URL and the HNSW index parameters on the same gateway."""

from __future__ import annotations

import httpx
import pytest
from pymilvus import MilvusClient

from tests.integration import images
from tests.integration.conftest import (
    RunningGateway,
    RunningMilvus,
    gateway_fixture,
)

MAX_PIXELS = 249_999  # 501 x 499: exactly the limit; 500 x 500 is one pixel more
MAX_SIDE = 600
MAX_ASPECT = 5
MIN_SIDE = 20
MAX_UPLOAD = 300_000
MAX_FILES = 3
MAX_REQUEST = 800_000
MAX_TEXT = 20
MAX_TOP_K = 7
DEFAULT_TOP_K = 3
MAX_METADATA = 64
PUBLIC_URL = "https://pics.example.test/base"
HNSW_M, HNSW_EF_CONSTRUCTION = 8, 64


LIMITED_ENV = {
    "PIC_SEARCH_LIMITS__MAX_PIXELS": str(MAX_PIXELS),
    "PIC_SEARCH_LIMITS__MAX_SIDE": str(MAX_SIDE),
    "PIC_SEARCH_LIMITS__MAX_ASPECT_RATIO": str(MAX_ASPECT),
    "PIC_SEARCH_LIMITS__MIN_SIDE": str(MIN_SIDE),
    "PIC_SEARCH_LIMITS__MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
    "PIC_SEARCH_LIMITS__MAX_FILES_PER_REQUEST": str(MAX_FILES),
    "PIC_SEARCH_LIMITS__MAX_REQUEST_BYTES": str(MAX_REQUEST),
    "PIC_SEARCH_LIMITS__MAX_TEXT_CHARS": str(MAX_TEXT),
    "PIC_SEARCH_LIMITS__MAX_TOP_K": str(MAX_TOP_K),
    "PIC_SEARCH_LIMITS__DEFAULT_TOP_K": str(DEFAULT_TOP_K),
    "PIC_SEARCH_LIMITS__MAX_METADATA_BYTES": str(MAX_METADATA),
    "PIC_SEARCH_SERVER__PUBLIC_URL": PUBLIC_URL,
    "PIC_SEARCH_MILVUS__HNSW_M": str(HNSW_M),
    "PIC_SEARCH_MILVUS__HNSW_EF_CONSTRUCTION": str(HNSW_EF_CONSTRUCTION),
}
limited = gateway_fixture("limits", LIMITED_ENV)


def _picture(width: int, height: int, photo: str = "coffee") -> bytes:
    """A picture of exactly this size, well under MAX_UPLOAD (a JPEG, despite the name)."""
    return images.save(images.photo(photo).resize((width, height)), "JPEG", quality=80)


def _jpeg_of_size(size: int, photo: str) -> bytes:
    """A valid JPEG of exactly `size` bytes (zeros after its end marker)."""
    data = images.save(images.photo(photo).resize((320, 240)), "JPEG", quality=90)
    assert len(data) <= size
    return data + b"\x00" * (size - len(data))


def _ingest(client: httpx.Client, *files: bytes, **form: str) -> tuple[int, str]:
    parts = [("files", (f"{i}.img", data)) for i, data in enumerate(files)]
    response = client.post("/v1/images", files=parts, data=form)
    body = response.json()
    return response.status_code, body.get("error", {}).get("code", "")


@pytest.mark.parametrize(
    ("name", "under", "over", "code"),
    [
        ("pixels", (501, 499), (500, 500), "too_many_pixels"),
        ("longest side", (MAX_SIDE, 150), (MAX_SIDE + 1, 150), "image_too_large"),
        ("aspect ratio", (500, 100), (501, 100), "bad_aspect_ratio"),
        ("shortest side", (60, MIN_SIDE), (60, MIN_SIDE - 1), "image_too_small"),
    ],
)
def test_image_limits_accept_the_edge_and_refuse_one_pixel_more(
    limited: RunningGateway,
    name: str,
    under: tuple[int, int],
    over: tuple[int, int],
    code: str,
) -> None:
    with limited.client() as client:
        assert _ingest(client, _picture(*under)) == (201, ""), name
        status, got = _ingest(client, _picture(*over))
        assert got == code and status in (413, 422), name


def test_file_and_files_per_request_limits(limited: RunningGateway) -> None:
    with limited.client() as client:
        assert _ingest(client, _jpeg_of_size(MAX_UPLOAD, "rocket")) == (201, "")
        assert _ingest(client, _jpeg_of_size(MAX_UPLOAD + 1, "rocket")) == (413, "file_too_large")
        search = client.post(
            "/v1/search/image", files={"file": ("q", _jpeg_of_size(MAX_UPLOAD + 1, "rocket"))}
        )
        assert search.json()["error"]["code"] == "file_too_large"
        three = [_picture(64 + i, 64, "moon") for i in range(MAX_FILES)]
        assert _ingest(client, *three) == (201, "")
        four = [_picture(80 + i, 64, "moon") for i in range(MAX_FILES + 1)]
        assert _ingest(client, *four) == (413, "too_many_files")


def _request_of_size(total: int) -> tuple[bytes, str]:
    """A multipart ingest of three files whose body is exactly `total` bytes."""
    files = [_jpeg_of_size(MAX_UPLOAD, "camera"), _jpeg_of_size(MAX_UPLOAD - 1, "camera")]

    def build(last: int) -> httpx.Request:
        parts = [*files, _jpeg_of_size(last, "camera")]
        named = [("files", (f"{i}.jpg", data)) for i, data in enumerate(parts)]
        return httpx.Request("POST", "http://gateway/v1/images", files=named)

    probe = build(100_000)
    request = build(100_000 + total - len(probe.read()))
    body = request.read()
    assert len(body) == total
    return body, request.headers["content-type"]


def test_the_request_size_limit_accepts_exactly_the_limit(limited: RunningGateway) -> None:
    with limited.client() as client:
        for total, status in ((MAX_REQUEST, 201), (MAX_REQUEST + 1, 413)):
            body, content_type = _request_of_size(total)
            response = client.post(
                "/v1/images", content=body, headers={"content-type": content_type}
            )
            assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == "request_too_large"


def test_text_top_k_list_and_json_size_limits(limited: RunningGateway) -> None:
    with limited.client() as client:
        for start in range(3):  # enough images for MAX_TOP_K results
            files = [_picture(100 + start * MAX_FILES + i, 90) for i in range(MAX_FILES)]
            assert _ingest(client, *files) == (201, "")

        def text(**params: str | int) -> httpx.Response:
            # CLIP's text tower: the default text search is tags where CLIP is random.
            return client.get("/v1/search/text", params={"model": "clip", **params})

        assert text(q="é" * MAX_TEXT).status_code == 200
        assert text(q="é" * (MAX_TEXT + 1)).json()["error"]["code"] == "query_too_long"
        assert len(text(q="a cat").json()["results"]) == DEFAULT_TOP_K
        assert len(text(q="a cat", top_k=MAX_TOP_K).json()["results"]) == MAX_TOP_K
        over_k = text(q="a cat", top_k=MAX_TOP_K + 1)
        assert over_k.status_code == 422 and over_k.json()["error"]["code"] == "invalid_top_k", (
            over_k.text
        )
        listed = client.get("/v1/images", params={"limit": MAX_TOP_K}).json()["items"]
        assert len(listed) == MAX_TOP_K
        over = client.get("/v1/images", params={"limit": MAX_TOP_K + 1})
        assert over.json()["error"]["code"] == "invalid_limit"

        # JSON objects of exactly MAX_METADATA bytes pass; one byte more is refused.
        def json_of(size: int) -> str:
            raw = '{"k": "' + "x" * (size - 9) + '"}'
            assert len(raw.encode()) == size
            return raw

        edge = _picture(70, 70, "page")
        assert _ingest(client, edge, metadata=json_of(MAX_METADATA)) == (201, "")
        over_meta = _ingest(client, _picture(71, 70, "page"), metadata=json_of(MAX_METADATA + 1))
        assert over_meta == (422, "metadata_too_large")
        image = {"file": ("q.png", edge)}
        at_limit = client.post(
            "/v1/search/image", files=image, data={"filter": json_of(MAX_METADATA)}
        )
        assert at_limit.status_code == 200, at_limit.text
        over_filter = client.post(
            "/v1/search/image", files=image, data={"filter": json_of(MAX_METADATA + 1)}
        )
        assert over_filter.status_code == 422
        assert over_filter.json()["error"]["code"] == "filter_too_large"


def test_public_url_prefixes_every_link_and_hnsw_settings_build_the_index(
    limited: RunningGateway, milvus: RunningMilvus
) -> None:
    with limited.client() as client:
        assert _ingest(client, _picture(90, 90, "clock")) == (201, "")
        hits = client.get("/v1/search/text", params={"q": "a clock", "model": "clip"})
        hits = hits.json()["results"]
        listed = client.get("/v1/images", params={"limit": 1}).json()["items"]
    for item in [*hits, *listed]:
        assert item["content_url"] == f"{PUBLIC_URL}/v1/images/{item['id']}/content"
        assert item["thumbnail_url"] == f"{PUBLIC_URL}/v1/images/{item['id']}/thumbnail"
    milvus_client = MilvusClient(uri=milvus.uri)
    for collection in ("limits_clip", "limits_vgg16"):
        index = milvus_client.describe_index(collection, "embedding")
        assert (index["index_type"], index["metric_type"]) == ("HNSW", "IP"), index
        assert (int(index["M"]), int(index["efConstruction"])) == (HNSW_M, HNSW_EF_CONSTRUCTION)
