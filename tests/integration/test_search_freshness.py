"""Searches read as of a moment ago (no waiting on uploads), yet a photo is found a second
after its 201 and a deleted photo is never found after its 204, on Milvus server and Lite."""

from __future__ import annotations

import time

import httpx

from tests.imaging import distinct_jpegs
from tests.integration import images
from tests.integration.conftest import RunningGateway, gateway_fixture

# The default staleness (the other tests' gateways read their own writes at once).
fresh_gateway = gateway_fixture("fresh", {"PIC_SEARCH_MILVUS__SEARCH_STALENESS_S": "0.5"})


def _top_ids(client: httpx.Client, data: bytes) -> list[str]:
    response = client.post(
        "/v1/search/image",
        files={"file": ("q.jpg", data, "image/jpeg")},
        data={"model": "clip", "top_k": "5"},
    )
    assert response.status_code == 200, response.text
    return [str(hit["id"]) for hit in response.json()["results"]]


def test_a_photo_is_found_a_second_after_its_201_and_never_after_its_204(
    fresh_gateway: RunningGateway,
) -> None:
    [fresh] = distinct_jpegs(images.photo("coffee"), 1, seed=2929)
    with fresh_gateway.client() as client:
        created = client.post("/v1/images", files=[("files", ("fresh.jpg", fresh, "image/jpeg"))])
        assert created.status_code == 201, created.text
        photo_id = created.json()["results"][0]["id"]
        time.sleep(1.0)
        assert _top_ids(client, fresh)[0] == photo_id
        assert client.delete(f"/v1/images/{photo_id}").status_code == 204
        # At once, and for as long as Milvus may still serve a read from before the delete.
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            assert photo_id not in _top_ids(client, fresh)
