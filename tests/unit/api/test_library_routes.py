"""The page's routes on fake backends: display, download names, facets, listing sorts,
grouped search."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gateway.services.backends import Backends
from tests.exif_craft import DATE_ORIGINAL, photo, text, tiff
from tests.unit.api.app_on_fakes import http_on_fakes


@pytest.fixture
def http(tmp_path: Path) -> Iterator[tuple[TestClient, Backends]]:
    with http_on_fakes(tmp_path) as served:
        yield served


def index(client: TestClient, files: dict[str, bytes], metadata: object = None) -> list[str]:
    data = {"metadata": json.dumps(metadata)} if metadata is not None else {}
    response = client.post("/v1/images", files=[("files", f) for f in files.items()], data=data)
    assert response.status_code == 201, response.text
    return [r["id"] for r in response.json()["results"]]


def dated(day: int, shade: int) -> bytes:
    block = tiff([], [text(DATE_ORIGINAL, f"2023:07:{day:02d} 12:00:00")], None)
    return photo(block, color=(shade, 80, 80))


def test_display_is_a_jpeg_with_an_etag_that_answers_304(
    http: tuple[TestClient, Backends],
) -> None:
    client, _ = http
    [image_id] = index(client, {"tiny.png": photo(None, "PNG")})
    shown = client.get(f"/v1/images/{image_id}/display")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(shown.content)).format == "JPEG"
    again = client.get(
        f"/v1/images/{image_id}/display", headers={"If-None-Match": shown.headers["etag"]}
    )
    assert again.status_code == 304
    assert client.get(f"/v1/images/{'0' * 64}/display").status_code == 404
    listed = client.get("/v1/images").json()["items"][0]
    assert listed["display_url"].endswith(f"/v1/images/{image_id}/display")


def test_download_sends_the_file_name_as_an_attachment(
    http: tuple[TestClient, Backends],
) -> None:
    client, _ = http
    [image_id] = index(client, {"Été à Nice.jpg": photo(None)})
    plain = client.get(f"/v1/images/{image_id}/content")
    assert "content-disposition" not in plain.headers
    sent = client.get(f"/v1/images/{image_id}/content", params={"download": 1})
    disposition = sent.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert "filename*=UTF-8''%C3%89t%C3%A9%20%C3%A0%20Nice.jpg" in disposition


def test_facets_count_values_and_follow_a_metadata_patch(
    http: tuple[TestClient, Backends],
) -> None:
    client, _ = http
    first = index(client, {"a.jpg": photo(None, color=(1, 2, 3))}, {"album": "trip"})
    index(client, {"b.jpg": photo(None, color=(4, 5, 6))}, {"album": "trip"})
    body = client.get("/v1/facets").json()
    assert body == {"keys": [{"key": "album", "values": [{"value": "trip", "count": 2}]}]}
    patched = client.patch(
        f"/v1/images/{first[0]}",
        content=json.dumps({"album": "home"}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200
    values = client.get("/v1/facets").json()["keys"][0]["values"]
    assert values == [{"value": "home", "count": 1}, {"value": "trip", "count": 1}]


def test_listing_by_date_taken_pages_with_its_own_cursor(
    http: tuple[TestClient, Backends],
) -> None:
    client, _ = http
    # Indexed oldest photo last, so the two orders differ.
    ids = [index(client, {f"{day}.jpg": dated(day, day * 10)})[0] for day in (20, 10, 30)]
    by_taken: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"sort": "taken", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/images", params=params).json()
        assert page["sort"] == "taken"
        by_taken += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert by_taken == [ids[2], ids[0], ids[1]]
    indexed = [i["id"] for i in client.get("/v1/images").json()["items"]]
    assert indexed == list(reversed(ids))
    bad = client.get("/v1/images", params={"sort": "size"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_sort"


def test_a_grouped_search_gives_each_hit_its_copies(http: tuple[TestClient, Backends]) -> None:
    client, _ = http
    ids = index(client, {f"{s}.jpg": photo(None, color=(s, 9, 9)) for s in (10, 20, 30)})
    body = client.get(f"/v1/images/{ids[0]}/similar", params={"group": "true"}).json()
    assert all(isinstance(hit["copies"], list) for hit in body["results"])
    listed = [hit["id"] for hit in body["results"]] + [
        c["id"] for hit in body["results"] for c in hit["copies"]
    ]
    assert sorted(listed) == sorted(ids[1:])
