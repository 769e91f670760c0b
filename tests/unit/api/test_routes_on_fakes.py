"""The HTTP routes on fake backends: statuses, bodies and error codes, the same fakes the
gRPC transport's unit tests use. (The real stack runs in tests/integration.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gateway.config import Settings
from gateway.services.backends import Backends
from tests.fakes import FakeMilvus, FakeTriton
from tests.unit.api.app_on_fakes import http_on_fakes
from tests.unit.images import encode

KEY = "k" * 32


def jpeg(shade: int) -> bytes:
    return encode(Image.new("RGB", (64, 48), (shade, 255 - shade, 90)), "JPEG")


@pytest.fixture
def http(tmp_path: Path) -> Iterator[tuple[TestClient, Backends]]:
    with http_on_fakes(tmp_path) as served:
        yield served


def index(client: TestClient, shades: list[int], metadata: dict[str, object]) -> list[str]:
    files = [("files", (f"{s}.jpg", jpeg(s))) for s in shades]
    response = client.post("/v1/images", files=files, data={"metadata": json.dumps(metadata)})
    assert response.status_code == 201, response.text
    return [r["id"] for r in response.json()["results"]]


def code(response: object) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]  # type: ignore[attr-defined]


def test_ingest_list_get_and_delete_answer_with_their_statuses(
    http: tuple[TestClient, Backends],
) -> None:
    client, _ = http
    ids = index(client, [10, 20], {"album": "a"})
    again = client.post("/v1/images", files=[("files", ("x.jpg", jpeg(10)))])
    assert again.status_code == 201 and again.json()["results"][0]["status"] == "duplicate"
    mixed = client.post(
        "/v1/images", files=[("files", ("y.jpg", jpeg(30))), ("files", ("n.txt", b"text"))]
    )
    assert mixed.status_code == 207
    assert [r["status"] for r in mixed.json()["results"]] == ["created", "rejected"]
    listed = client.get("/v1/images", params={"limit": 10}).json()
    assert len(listed["items"]) == 3 and listed["next_cursor"] is None
    assert client.get(f"/v1/images/{ids[0]}").json()["metadata"] == {"album": "a"}
    assert client.delete(f"/v1/images/{ids[0]}").status_code == 204
    assert code(client.get(f"/v1/images/{ids[0]}")) == (404, "image_not_found")
    assert code(client.delete(f"/v1/images/{ids[0]}")) == (404, "image_not_found")


def test_a_metadata_patch_and_the_exists_call(http: tuple[TestClient, Backends]) -> None:
    client, backends = http
    ids = index(client, [40], {"album": "a"})
    merge = {"Content-Type": "application/merge-patch+json"}
    patched = client.patch(
        f"/v1/images/{ids[0]}", content=b'{"album": null, "k": 1}', headers=merge
    )
    assert patched.status_code == 200 and patched.json()["metadata"] == {"k": 1}
    assert isinstance(backends.vectors, FakeMilvus)
    assert {rows[ids[0]]["metadata"]["k"] for rows in backends.vectors.rows.values()} == {1}
    reserved = client.patch(f"/v1/images/{ids[0]}", content=b'{"tags": "x"}', headers=merge)
    assert code(reserved) == (422, "reserved_metadata_key")
    wrong_type = client.patch(
        f"/v1/images/{ids[0]}", content=b"{}", headers={"Content-Type": "text/csv"}
    )
    assert code(wrong_type) == (415, "unsupported_media_type")
    exists = client.post("/v1/images:exists", json={"ids": ["0" * 64, ids[0]]})
    assert exists.json() == {"existing": [ids[0]]}
    assert code(client.post("/v1/images:exists", json={"ids": ids, "all": True}))[0] == 422


def test_unknown_parameters_are_refused_and_text_search_takes_a_model(
    http: tuple[TestClient, Backends],
) -> None:
    client, _ = http
    index(client, [50, 60], {})
    assert code(client.get("/v1/search/text", params={"q": "x", "modle": "clip"})) == (
        422,
        "unknown_parameter",
    )
    assert code(client.get("/v1/search/text", params={"q": "x", "model": "vgg16"})) == (
        422,
        "no_text_tower",
    )
    found = client.get("/v1/search/text", params={"q": "x", "model": "clip", "top_k": 5})
    assert found.status_code == 200 and len(found.json()["results"]) == 2
    assert code(client.get("/v1/images", params={"filter": '{"album": '})) == (
        422,
        "invalid_filter",
    )


def test_a_bulk_delete_dry_run_shows_a_sample_and_deletes_nothing(
    http: tuple[TestClient, Backends],
) -> None:
    client, _ = http
    ids = index(client, [70, 80, 90], {})
    dry = client.post("/v1/images:delete", json={"ids": ids, "dry_run": True}).json()
    assert (dry["matched"], dry["deleted"]) == (3, 0)
    assert sorted(s["id"] for s in dry["sample"]) == sorted(ids)
    assert {s["filename"] for s in dry["sample"]} == {"70.jpg", "80.jpg", "90.jpg"}
    assert len(client.get("/v1/images").json()["items"]) == 3


def test_admin_calls_need_a_writers_key_and_refuse_an_implausible_repair(tmp_path: Path) -> None:
    with http_on_fakes(tmp_path, api_keys=[KEY]) as (client, backends):
        headers = {"X-API-Key": KEY}
        index_ids = index_with_key(client, headers)
        assert code(client.post("/v1/admin/check", json={})) == (401, "missing_api_key")
        for image_id in index_ids:  # the store emptied under full collections
            client.portal.call(backends.store.delete, image_id)  # type: ignore[union-attr]
        refused = client.post("/v1/admin/check", json={"repair": True}, headers=headers)
        assert code(refused) == (409, "repair_refused")
        report = client.post("/v1/admin/check", json={}, headers=headers).json()
        assert not report["consistent"] and {c["vectors"] for c in report["collections"]} == {2}


def index_with_key(client: TestClient, headers: dict[str, str]) -> list[str]:
    files = [("files", (f"{s}.jpg", jpeg(s))) for s in (1, 2)]
    response = client.post("/v1/images", files=files, headers=headers)
    assert response.status_code == 201, response.text
    return [r["id"] for r in response.json()["results"]]


def test_a_request_over_the_time_bound_gets_504_and_others_are_served(tmp_path: Path) -> None:
    settings = Settings()
    settings.limits.request_timeout_s = 0.2
    with http_on_fakes(tmp_path, settings) as (client, backends):
        assert isinstance(backends.triton, FakeTriton)
        backends.triton.delay_s = 1.0
        slow = client.get("/v1/search/text", params={"q": "slow"})
        assert code(slow) == (504, "deadline_exceeded")
        assert "REQUEST_TIMEOUT_S" in slow.json()["error"]["message"]
        backends.triton.delay_s = 0.0
        assert client.get("/v1/search/text", params={"q": "fast"}).status_code == 200
