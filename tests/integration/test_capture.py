"""Capture facts on the real stack: crafted photos with different dates, cameras and GPS,
then `taken`, `camera` and `has_location` filters and `sort=taken` over HTTP and gRPC (on a
Milvus server and a Milvus Lite file, whose expression grammars differ), and a collection
built before the capture fields: 409 until `reindex` rebuilds it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymilvus import DataType, MilvusClient

from gateway.clients.milvus_collections import physical_name
from gateway.grpc.client import GrpcApiError, PicSearchClient
from tests.exif_craft import (
    DATE_ORIGINAL,
    LENS_MODEL,
    MAKE,
    MODEL,
    OFFSET_ORIGINAL,
    gps,
    text,
    tiff,
)
from tests.integration.conftest import (
    GatewayFactory,
    RunningGateway,
    RunningMilvus,
    per_backend_gateway_fixture,
)
from tests.integration.images import photo as sample

IPHONE = [text(MAKE, "Apple"), text(MODEL, "iPhone 13")]
# name -> (format, EXIF block or None, sample picture): five different photos.
PHOTOS: dict[str, tuple[str, bytes | None, str]] = {
    "paris": (
        "JPEG",
        tiff(
            [text(MAKE, "FUJIFILM"), text(MODEL, "X100V")],
            [
                text(DATE_ORIGINAL, "2023:07:14 18:03:11"),
                text(OFFSET_ORIGINAL, "+02:00"),
                text(LENS_MODEL, "XF23mmF2 R WR"),
            ],
            gps((48, 51, 30), "N", (2, 17, 40), "E"),
        ),
        "astronaut",
    ),
    "sydney": (
        "HEIF",
        tiff(
            IPHONE,
            [text(DATE_ORIGINAL, "2021:01:02 03:04:05"), text(OFFSET_ORIGINAL, "+11:00")],
            gps((33, 51, 24.5), "S", (151, 12, 55.1), "E"),
        ),
        "coffee",
    ),
    "lima": (
        "WEBP",
        tiff(
            IPHONE,
            [text(DATE_ORIGINAL, "2023:01:05 10:00:00")],
            gps((12, 3, 0), "S", (77, 2, 0), "W"),
        ),
        "chelsea",
    ),
    "eve": (
        "PNG",
        tiff(
            [text(MAKE, "Canon"), text(MODEL, "Canon EOS 5D")],
            [text(DATE_ORIGINAL, "2019:12:31 23:59:59")],
        ),
        "rocket",
    ),
    "bare": ("JPEG", None, "camera"),
}
CAPTURE = ("taken", "camera", "lens", "location")
NEWEST_TAKEN_FIRST = ["paris", "lima", "sydney", "eve", "bare"]


def crafted(name: str) -> bytes:
    fmt, block, source = PHOTOS[name]
    out = io.BytesIO()
    extra = {} if block is None else {"exif": b"Exif\x00\x00" + block}
    sample(source).convert("RGB").resize((160, 120)).save(out, fmt, **extra)
    return out.getvalue()


# Its images would disturb other modules' counts.
gateway = per_backend_gateway_fixture("capture")


@pytest.fixture(scope="module")
def ids(gateway: RunningGateway) -> dict[str, str]:
    files = [
        ("files", (f"{name}.img", crafted(name), "application/octet-stream")) for name in PHOTOS
    ]
    with gateway.client() as client:
        response = client.post("/v1/images", files=files, data={"metadata": '{"album": "x"}'})
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    return {r["filename"][:-4]: r["id"] for r in results}


def names(ids: dict[str, str], hits: list[dict[str, Any]]) -> list[str]:
    by_id = {image_id: name for name, image_id in ids.items()}
    return [by_id[hit["id"]] for hit in hits]


def http_search(gateway: RunningGateway, **fields: Any) -> httpx.Response:
    data = {"top_k": "100", **{k: json.dumps(v) if k == "filter" else v for k, v in fields.items()}}
    query = crafted("bare")
    with gateway.client() as client:
        return client.post(
            "/v1/search/image", files={"file": ("q.jpg", query, "image/jpeg")}, data=data
        )


def test_hits_listings_and_records_carry_the_capture_facts(
    gateway: RunningGateway, ids: dict[str, str]
) -> None:
    with gateway.client() as client:
        record = client.get(f"/v1/images/{ids['paris']}").json()
        listed = {
            i["id"]: i for i in client.get("/v1/images", params={"limit": 10}).json()["items"]
        }
    assert record["taken"] == "2023-07-14T18:03:11+02:00"
    assert record["camera"] == {"make": "FUJIFILM", "model": "X100V"}
    assert record["lens"] == "XF23mmF2 R WR"
    assert record["location"] == {"lat": 48.8583333, "lon": 2.2944444}
    assert listed[ids["lima"]]["location"] == {"lat": -12.05, "lon": -77.0333333}
    assert listed[ids["eve"]]["taken"] == "2019-12-31T23:59:59"
    assert listed[ids["sydney"]]["taken"] == "2021-01-02T03:04:05+11:00"
    assert [listed[ids["bare"]][k] for k in ("taken", "camera", "lens", "location")] == [None] * 4
    hits = {h["id"]: h for h in http_search(gateway).json()["results"]}
    assert hits[ids["paris"]]["camera"] == record["camera"]
    assert hits[ids["paris"]]["location"] == record["location"]


FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    ({"taken": {"after": "2023-01-01"}}, {"paris", "lima"}),
    ({"taken": {"before": "2021-01-02T03:04:06"}}, {"sydney", "eve"}),  # the undated: never
    ({"taken": {"after": "2019-12-31", "before": "2020-01-01"}}, {"eve"}),
    ({"taken": {"after": "2023-07-14T18:03:11"}}, set()),  # after is strict
    ({"camera": "apple iphone 13"}, {"sydney", "lima"}),
    ({"camera": "FUJIFILM X100V"}, {"paris"}),
    ({"camera": {"in": ["canon eos 5d", "fujifilm x100v"]}}, {"eve", "paris"}),
    ({"has_location": True}, {"paris", "sydney", "lima"}),
    ({"has_location": False}, {"eve", "bare"}),
    (
        {"has_location": True, "camera": "apple iphone 13", "taken": {"after": "2022-01-01"}},
        {"lima"},
    ),
    ({"album": "x", "has_location": False}, {"eve", "bare"}),
]


@pytest.mark.parametrize(("filters", "expected"), FILTERS)
def test_capture_filters_return_exactly_the_matching_photos_over_http(
    gateway: RunningGateway, ids: dict[str, str], filters: dict[str, Any], expected: set[str]
) -> None:
    response = http_search(gateway, filter=filters)
    assert response.status_code == 200, response.text
    assert set(names(ids, response.json()["results"])) == expected


def test_sort_taken_orders_newest_photo_first_and_undated_last_over_http(
    gateway: RunningGateway, ids: dict[str, str]
) -> None:
    body = http_search(gateway, sort="taken").json()
    assert body["sort"] == "taken"
    assert names(ids, body["results"]) == NEWEST_TAKEN_FIRST
    located = http_search(gateway, sort="taken", filter={"has_location": True}).json()
    assert names(ids, located["results"]) == ["paris", "lima", "sydney"]


def test_grpc_gives_the_same_facts_filters_and_order(
    gateway: RunningGateway, ids: dict[str, str]
) -> None:
    query = crafted("bare")
    with PicSearchClient(gateway.grpc_target) as client:
        record = client.get_image(ids["sydney"])
        assert record["taken"] == "2021-01-02T03:04:05+11:00"
        assert record["camera"] == {"make": "Apple", "model": "iPhone 13"}
        assert record["location"] == {"lat": -33.8568056, "lon": 151.2153056}
        ordered = client.search_by_image(query, top_k=100, sort="taken")
        assert ordered.sort == "taken"
        assert names(ids, [{"id": h.id} for h in ordered.hits]) == NEWEST_TAKEN_FIRST
        assert ordered.hits[0].file["lens"] == "XF23mmF2 R WR"
        for filters, expected in FILTERS:
            found = client.search_by_image(query, top_k=100, filter=filters)
            assert set(names(ids, [{"id": h.id} for h in found.hits])) == expected, filters


def test_reserved_metadata_keys_are_refused_at_ingest(gateway: RunningGateway) -> None:
    files = [("files", ("x.jpg", crafted("paris"), "image/jpeg"))]
    with gateway.client() as client:
        response = client.post("/v1/images", files=files, data={"metadata": '{"camera": "x"}'})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "reserved_metadata_key"


def _legacy_collections(
    milvus: RunningMilvus, prefix: str, fingerprints: dict[str, tuple[str, int]]
) -> None:
    """Collections as gateways built them before schema versions: no capture fields."""
    client = MilvusClient(uri=milvus.uri)
    try:
        for model, (fingerprint, dim) in fingerprints.items():
            alias = f"{prefix}{model}"
            name = physical_name(alias, fingerprint, 1)
            schema = MilvusClient.create_schema(
                auto_id=False,
                enable_dynamic_field=False,
                description=json.dumps({"model": fingerprint}),
            )
            schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
            schema.add_field("created_at", DataType.INT64)
            schema.add_field("metadata", DataType.JSON)
            index = client.prepare_index_params()
            index.add_index(field_name="embedding", index_type="HNSW", metric_type="IP",
                            params={"M": 16, "efConstruction": 200})  # fmt: skip
            client.create_collection(
                name, schema=schema, index_params=index, consistency_level="Strong"
            )
            client.create_alias(name, alias)
    finally:
        client.close()


def test_a_collection_built_before_the_fields_answers_409_until_reindex(
    gateway: RunningGateway,
    ids: dict[str, str],
    milvus: RunningMilvus,
    gateway_factory: GatewayFactory,
) -> None:
    if "lite.db" in gateway.env["PIC_SEARCH_MILVUS__URI"]:
        pytest.skip("once, on the Milvus server")
    with gateway.client() as client:
        stats = client.get("/v1/stats").json()
        dims = {m["name"]: m["dimension"] for m in client.get("/v1/models").json()["models"]}
    fingerprints = {
        c["model"]: (c["fingerprint"], dims[c["model"]])
        for c in stats["collections"].values()
        if c["model"] == "clip"
    }
    _legacy_collections(milvus, "legacy_", fingerprints)
    # One model: reindex waits a Milvus deadline (10 s) before dropping each old collection.
    env = {"PIC_SEARCH_MODELS__ENABLED": "clip"}
    with gateway_factory("legacy", env) as legacy, legacy.client() as client:
        files = [("files", (f"{n}.img", crafted(n), "image/jpeg")) for n in ("paris", "eve")]
        assert client.post("/v1/images", files=files).status_code == 201
        # Records as gateways wrote them before capture facts: reindex reads the EXIF again.
        store = Path(legacy.env["PIC_SEARCH_STORE__PATH"])
        for name in ("paris", "eve"):
            path = store / ids[name][:2] / ids[name][2:4] / f"{ids[name]}.json"
            record = json.loads(path.read_text())
            path.write_text(json.dumps({k: v for k, v in record.items() if k not in CAPTURE}))
        assert client.get(f"/v1/images/{ids['paris']}").json()["taken"] is None
        assert http_search(legacy).status_code == 200  # served as it is
        for fields in ({"filter": {"camera": "x"}}, {"sort": "taken"}):
            refused = http_search(legacy, **fields)
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"]["code"] == "reindex_required"
            assert "pic-search reindex" in refused.json()["error"]["message"]
        with (
            PicSearchClient(legacy.grpc_target) as grpc_client,
            pytest.raises(GrpcApiError) as caught,
        ):
            grpc_client.search_by_image(crafted("bare"), filter={"has_location": True})
        assert caught.value.code == "reindex_required"

        assert client.post("/v1/admin/reindex", timeout=300).status_code == 200
        body = http_search(legacy, sort="taken", filter={"has_location": True}).json()
        assert names(ids, body["results"]) == ["paris"]
        body = http_search(legacy, sort="taken").json()
        assert names(ids, body["results"]) == ["paris", "eve"]
        record = client.get(f"/v1/images/{ids['paris']}").json()
        assert record["taken"] == "2023-07-14T18:03:11+02:00" and record["lens"] == "XF23mmF2 R WR"
