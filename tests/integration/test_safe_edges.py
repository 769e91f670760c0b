"""The API's edges a careful client relies on, on a real stack and over both transports:
which ids are indexed, metadata corrections, admin checks run by the service itself, and
parameters the API does not know refused instead of silently dropped."""

from __future__ import annotations

import hashlib
import json

import grpc
import httpx
import pytest

from gateway.grpc.stubs import pb, pb_grpc
from tests.integration import images
from tests.integration.conftest import RunningGateway, gateway_fixture

edges_gateway = gateway_fixture("edges")
MERGE = {"Content-Type": "application/merge-patch+json"}


def _index(client: httpx.Client, names: list[str], metadata: dict[str, object]) -> list[str]:
    files = [images.save(images.photo(n), "JPEG", quality=80) for n in names]
    response = client.post(
        "/v1/images",
        files=[("files", (f"{n}.jpg", d)) for n, d in zip(names, files, strict=True)],
        data={"metadata": json.dumps(metadata)},
    )
    assert response.status_code == 201, response.text
    return [hashlib.sha256(d).hexdigest() for d in files]


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@pytest.fixture(scope="module")
def indexed(edges_gateway: RunningGateway) -> list[str]:
    with edges_gateway.client() as client:
        return _index(client, ["coffee", "rocket", "coins"], {"album": "edges"})


def test_exists_names_the_indexed_ids_and_forgets_deleted_ones(
    edges_gateway: RunningGateway, indexed: list[str]
) -> None:
    absent = "0" * 64
    with edges_gateway.client() as client:
        found = client.post("/v1/images:exists", json={"ids": [absent, *indexed]})
        assert found.status_code == 200 and found.json() == {"existing": indexed}
        assert _error(client.post("/v1/images:exists", json={"ids": ["x"]})) == (
            422,
            "invalid_ids",
        )
        index_id = client.get("/v1/stats").json()["index_id"]
        assert index_id and client.get("/v1/stats").json()["index_id"] == index_id


def test_a_metadata_patch_updates_the_record_and_what_filters_find(
    edges_gateway: RunningGateway, indexed: list[str]
) -> None:
    target = indexed[1]
    with edges_gateway.client() as client:
        patched = client.patch(
            f"/v1/images/{target}", content=b'{"album": null, "trip": "mars"}', headers=MERGE
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["metadata"] == {"trip": "mars"}
        assert client.get(f"/v1/images/{target}").json()["metadata"] == {"trip": "mars"}
        listed = client.get("/v1/images", params={"filter": '{"trip": "mars"}'}).json()
        assert [item["id"] for item in listed["items"]] == [target]
        found = client.post(
            "/v1/search/text", json={"q": "rocket", "filter": {"album": "edges"}, "top_k": 10}
        ).json()
        assert target not in {hit["id"] for hit in found["results"]}

        for body, headers, expected in [
            (b'{"taken": "2020-01-01"}', MERGE, (422, "reserved_metadata_key")),
            (b'{"trip": {"deep": 1}}', MERGE, (422, "invalid_metadata")),
            (b"not json", MERGE, (422, "invalid_metadata")),
            (b'{"trip": "x"}', {"Content-Type": "text/plain"}, (415, "unsupported_media_type")),
        ]:
            assert _error(client.patch(f"/v1/images/{target}", content=body, headers=headers)) == (
                expected
            )
        assert client.get(f"/v1/images/{target}").json()["metadata"] == {"trip": "mars"}
        missing = client.patch(f"/v1/images/{'a' * 64}", content=b"{}", headers=MERGE)
        assert missing.status_code == 404


def test_the_admin_check_runs_in_the_service_and_finds_it_consistent(
    edges_gateway: RunningGateway, indexed: list[str]
) -> None:
    with edges_gateway.client() as client:
        report = client.post("/v1/admin/check", json={})
        assert report.status_code == 200, report.text
        body = report.json()
        assert body["consistent"] and body["stored_images"] == len(indexed)
        assert {c["vectors"] for c in body["collections"]} == {len(indexed)}
        assert _error(client.post("/v1/admin/check", json={"repiar": True})) == (
            422,
            "validation_error",
        )


def test_parameters_the_api_does_not_know_are_refused_and_known_ones_honoured(
    edges_gateway: RunningGateway, indexed: list[str]
) -> None:
    jpeg = images.save(images.photo("moon"), "JPEG")
    with edges_gateway.client() as client:
        assert _error(client.get("/v1/search/text", params={"q": "x", "modle": "clip"})) == (
            422,
            "unknown_parameter",
        )
        assert _error(client.get("/v1/search/text", params={"q": "x", "model": "vgg16"})) == (
            422,
            "no_text_tower",
        )
        named = client.get("/v1/search/text", params={"q": "coffee", "model": "clip"})
        assert named.status_code == 200 and named.json()["model"] == "clip"
        assert _error(client.post("/v1/search/text", json={"q": "x", "topk": 3}))[0] == 422
        assert client.post("/v1/search/text", json={"q": "x", "model": "clip"}).status_code == 200
        assert _error(client.get("/v1/images", params={"limt": 3})) == (422, "unknown_parameter")
        assert _error(
            client.post("/v1/search/image", files={"file": ("q.jpg", jpeg)}, data={"topk": "3"})
        ) == (422, "unknown_parameter")
        assert _error(
            client.post("/v1/images", files={"files": ("q.jpg", jpeg)}, data={"album": "x"})
        ) == (422, "unknown_parameter")
        stats = client.get("/v1/stats").json()
        assert {c["count"] for c in stats["collections"].values()} == {len(indexed)}


def test_the_grpc_twins_answer_as_http_does(
    edges_gateway: RunningGateway, indexed: list[str]
) -> None:
    with grpc.insecure_channel(edges_gateway.grpc_target) as channel:
        stub = pb_grpc.PicSearchStub(channel)  # type: ignore[no-untyped-call]
        exist = stub.ImagesExist(pb.ImagesExistRequest(ids=["0" * 64, indexed[0]]), timeout=30)
        assert list(exist.existing) == [indexed[0]]
        updated = stub.UpdateMetadata(
            pb.UpdateMetadataRequest(id=indexed[2], patch_json='{"grpc": true}'), timeout=30
        )
        assert updated.metadata["grpc"].bool_value and updated.metadata["album"].string_value
        with pytest.raises(grpc.RpcError) as refused:
            stub.UpdateMetadata(
                pb.UpdateMetadataRequest(id=indexed[2], patch_json='{"camera": "x"}'), timeout=30
            )
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        check = stub.CheckConsistency(pb.CheckConsistencyRequest(), timeout=120)
        assert check.consistent and check.stored_images == len(indexed)
        assert stub.Stats(pb.StatsRequest(), timeout=30).index_id
        dry = stub.DeleteImages(
            pb.DeleteImagesRequest(filter_json='{"grpc": true}', dry_run=True), timeout=30
        )
        assert dry.matched == 1 and [s.id for s in dry.sample] == [indexed[2]]
        assert dry.sample[0].filename == "coins.jpg"
