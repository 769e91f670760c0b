"""picsearch.v1 over a real socket against the real stack (Triton, Milvus, a gateway
subprocess): the whole job, results identical to the HTTP API on the same index, health,
reflection and keys."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from gateway.grpc.client import GrpcApiError, ImageToIndex, PicSearchClient, index_summary
from gateway.grpc.stubs import pb
from gateway.serving.process import venv_bin
from tests.integration import images
from tests.integration.conftest import GatewayFactory, RunningGateway

KEY = "grpc-test-key-0123456789abcdef"


def distinct_jpegs(count: int) -> list[bytes]:
    base = images.photo("coffee").resize((192, 192))
    out = []
    for i in range(count):
        variant = base.copy()
        variant.paste((i * 5 % 256, 255 - i * 5 % 256, i * 11 % 256), (0, 0, 16, 16))
        out.append(images.save(variant, "JPEG", quality=92))
    return out


@pytest.fixture(scope="module")
def keyed(gateway_factory: GatewayFactory) -> Iterator[RunningGateway]:
    with gateway_factory("grpcapi", {"PIC_SEARCH_AUTH__API_KEYS": f'["{KEY}"]'}) as running:
        yield running


@pytest.fixture(scope="module")
def indexed(keyed: RunningGateway) -> list[str]:
    """50 images streamed in over gRPC; their ids in order."""
    files = distinct_jpegs(50)
    with PicSearchClient(keyed.grpc_target, api_key=KEY) as client:
        stream = (
            ImageToIndex(f"{i}.jpg", d, {"album": f"a{i % 2}", "n": i}) for i, d in enumerate(files)
        )
        results = list(client.index_images(stream))
    assert [r.index for r in results] == list(range(50))
    assert index_summary(results) == {"created": 50, "duplicate": 0, "rejected": 0}
    assert [r.id for r in results] == [hashlib.sha256(d).hexdigest() for d in files]
    return [r.id for r in results]


def _http_hits(body: dict) -> list[tuple[str, float, dict]]:  # type: ignore[type-arg]
    return [(h["id"], round(h["score"], 4), h["metadata"]) for h in body["results"]]


def _grpc_hits(result) -> list[tuple[str, float, dict]]:  # type: ignore[no-untyped-def, type-arg]
    return [(h.id, round(h.score, 4), h.metadata) for h in result.hits]


def test_fifty_streamed_images_are_counted_and_indexing_again_is_duplicate(
    keyed: RunningGateway, indexed: list[str]
) -> None:
    with PicSearchClient(keyed.grpc_target, api_key=KEY) as client:
        counts = {c["model"]: c["count"] for c in client.stats()["collections"].values()}
        assert set(counts.values()) == {50}
        again = list(client.index_images([ImageToIndex("again.jpg", distinct_jpegs(1)[0])]))
        assert [(r.status, r.id) for r in again] == [("duplicate", indexed[0])]
    with keyed.client() as http:
        assert http.get("/v1/stats").json() == client_stats(keyed)
        with PicSearchClient(keyed.grpc_target, api_key=KEY) as client:
            assert client.models() == http.get("/v1/models").json()["models"]


def client_stats(gateway: RunningGateway) -> dict:  # type: ignore[type-arg]
    with PicSearchClient(gateway.grpc_target, api_key=KEY) as client:
        return client.stats()


@pytest.mark.parametrize("model", ["clip", "vgg16"])
def test_search_by_image_matches_http(
    keyed: RunningGateway, indexed: list[str], model: str
) -> None:
    query = distinct_jpegs(8)[7]
    with PicSearchClient(keyed.grpc_target, api_key=KEY) as client, keyed.client() as http:
        by_grpc = client.search_by_image(query, model=model, top_k=10, filter={"album": "a1"})
        form = {"model": model, "top_k": "10", "filter": '{"album": "a1"}'}
        by_http = http.post("/v1/search/image", files={"file": ("q.jpg", query)}, data=form).json()
    assert by_grpc.model == by_http["model"] == model
    assert by_grpc.random_weights is by_http["random_weights"] is True  # seeded test weights
    assert by_grpc.hits[0].id == indexed[7]
    assert {h.metadata["album"] for h in by_grpc.hits} == {"a1"}
    assert _grpc_hits(by_grpc) == _http_hits(by_http)


def test_search_by_text_similar_and_list_match_http(
    keyed: RunningGateway, indexed: list[str]
) -> None:
    with PicSearchClient(keyed.grpc_target, api_key=KEY) as client, keyed.client() as http:
        text = client.search_by_text("a cup of coffee", top_k=7, model="clip")
        query: dict[str, str | int] = {"q": "a cup of coffee", "top_k": 7, "model": "clip"}
        assert _grpc_hits(text) == _http_hits(http.get("/v1/search/text", params=query).json())
        similar = client.similar_to(indexed[3], model="vgg16", top_k=5)
        assert indexed[3] not in [h.id for h in similar.hits]
        assert _grpc_hits(similar) == _http_hits(
            http.get(
                f"/v1/images/{indexed[3]}/similar", params={"model": "vgg16", "top_k": 5}
            ).json()
        )
        pages, cursor, http_pages, http_cursor = [], "", [], None
        while True:
            items, next_cursor = client.list_images(cursor=cursor, limit=20)
            body = http.get(
                "/v1/images",
                params={"limit": 20, **({"cursor": http_cursor} if http_cursor else {})},
            ).json()
            pages += items
            http_pages += [{k: i[k] for k in items[0]} for i in body["items"]] if items else []
            http_cursor = body["next_cursor"]
            assert next_cursor == http_cursor
            if next_cursor is None:
                break
            cursor = next_cursor
    assert pages == http_pages
    assert sorted(p["id"] for p in pages) == sorted(indexed)


def test_get_returns_the_record_original_and_thumbnail_as_http_does(
    keyed: RunningGateway, indexed: list[str]
) -> None:
    with PicSearchClient(keyed.grpc_target, api_key=KEY) as client, keyed.client() as http:
        record = client.get_image(indexed[5], content=True, thumbnail=True)
        assert record.pop("content") == http.get(f"/v1/images/{indexed[5]}/content").content
        assert record.pop("thumbnail") == http.get(f"/v1/images/{indexed[5]}/thumbnail").content
        http_record = http.get(f"/v1/images/{indexed[5]}").json()
        assert record == {k: http_record[k] for k in record}
        assert record["metadata"] == {"album": "a1", "n": 5}


def test_delete_removes_the_image_everywhere(keyed: RunningGateway, indexed: list[str]) -> None:
    victim = indexed[-1]
    with PicSearchClient(keyed.grpc_target, api_key=KEY) as client, keyed.client() as http:
        client.delete_image(victim)
        assert http.get(f"/v1/images/{victim}").status_code == 404
        with pytest.raises(GrpcApiError) as caught:
            client.similar_to(victim)
        assert (caught.value.status, caught.value.code) == (
            grpc.StatusCode.NOT_FOUND,
            "image_not_found",
        )
        with pytest.raises(GrpcApiError) as caught:
            client.delete_image(victim)
        assert caught.value.status == grpc.StatusCode.NOT_FOUND
        counts = {c["count"] for c in client.stats()["collections"].values()}
        assert counts == {49}


@pytest.mark.parametrize("key", [None, "not-the-key"])
def test_writes_without_the_right_key_are_unauthenticated_and_change_nothing(
    keyed: RunningGateway, indexed: list[str], key: str | None
) -> None:
    before = client_stats(keyed)
    with PicSearchClient(keyed.grpc_target, api_key=key or "") as client:
        for write in (
            lambda: list(client.index_images([ImageToIndex("n.jpg", distinct_jpegs(60)[59])])),
            lambda: client.delete_image(indexed[0]),
        ):
            with pytest.raises(GrpcApiError) as caught:
                write()
            expected = "missing_api_key" if key is None else "invalid_api_key"
            assert (caught.value.status, caught.value.code) == (
                grpc.StatusCode.UNAUTHENTICATED,
                expected,
            )
        assert client.search_by_text("coffee", top_k=1).hits  # reads stay open by default
    assert client_stats(keyed) == before


def test_health_is_serving_and_reflection_lists_the_services(
    keyed: RunningGateway, indexed: list[str]
) -> None:
    with PicSearchClient(keyed.grpc_target) as client:
        assert client.health() == "SERVING"
        assert client.health("") == "SERVING"
        stub = reflection_pb2_grpc.ServerReflectionStub(client.channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        response = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=10)))
        names = {s.name for s in response.list_services_response.service}
        assert {"picsearch.v1.PicSearch", "grpc.health.v1.Health"} <= names
        # A generic client can fetch the schema itself.
        request = reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="picsearch.v1.PicSearch"
        )
        response = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=10)))
        assert response.file_descriptor_response.file_descriptor_proto


def test_a_request_id_is_returned(keyed: RunningGateway, indexed: list[str]) -> None:
    with PicSearchClient(keyed.grpc_target) as client:
        _, call = client.stub.Stats.with_call(
            pb.StatsRequest(), metadata=[("x-request-id", "grpc-req-42")], timeout=30
        )
        assert ("x-request-id", "grpc-req-42") in call.initial_metadata()
        _, call = client.stub.Stats.with_call(pb.StatsRequest(), timeout=30)
        assert len(dict(call.initial_metadata())["x-request-id"]) == 32  # one of its own


def test_an_ingest_past_its_deadline_is_cut_short_and_leaves_only_what_it_acknowledged(
    keyed: RunningGateway, indexed: list[str]
) -> None:
    before = client_stats(keyed)["collections"]
    # 64 new images: seconds of embedding even where the build chose int8 and bf16 models.
    late = [ImageToIndex(f"late{i}.jpg", d) for i, d in enumerate(distinct_jpegs(134)[70:])]
    acknowledged: set[str] = set()
    with PicSearchClient(keyed.grpc_target, api_key=KEY, timeout_s=0.8) as client:
        with pytest.raises(GrpcApiError) as caught:
            for result in client.index_images(late):
                assert result.status == "created"
                acknowledged.add(result.id)
        assert caught.value.status == grpc.StatusCode.DEADLINE_EXCEEDED
    assert len(acknowledged) < len(late)
    # A batch answered before the deadline is indexed; the gateway stops the rest at the
    # deadline and undoes their partial writes (late vectors are swept within seconds).
    expected = {name: c["count"] + len(acknowledged) for name, c in before.items()}

    def counts() -> dict[str, int]:
        return {name: c["count"] for name, c in client_stats(keyed)["collections"].items()}

    deadline = time.monotonic() + 60
    while counts() != expected and time.monotonic() < deadline:
        time.sleep(1)
    assert counts() == expected
    with keyed.client() as http:
        for image in late:
            image_id = hashlib.sha256(image.data).hexdigest()
            status = http.get(f"/v1/images/{image_id}").status_code
            assert status == (200 if image_id in acknowledged else 404), image.filename
    if acknowledged:  # keep the shared index as the other tests expect it
        with keyed.client() as http:
            response = http.post(
                "/v1/images:delete", json={"ids": sorted(acknowledged)}, headers={"X-API-Key": KEY}
            )
            assert response.status_code == 200, response.text


def test_metrics_count_grpc_calls_per_method(keyed: RunningGateway, indexed: list[str]) -> None:
    with PicSearchClient(keyed.grpc_target) as client:
        client.stats()
    with keyed.client() as http:
        metrics = http.get("/metrics").text
    assert (
        'pic_search_requests_total{method="gRPC",route="/picsearch.v1.PicSearch/Stats",status="OK"}'
        in metrics
    )
    assert 'route="/picsearch.v1.PicSearch/IndexImages"' in metrics


def test_the_cli_indexes_searches_and_deletes_over_grpc(
    keyed: RunningGateway, indexed: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    new = distinct_jpegs(53)[50:]
    for i, data in enumerate(new):
        (folder / f"new{i}.jpg").write_bytes(data)
    (folder / "bad.jpg").write_text("not an image")
    env = {**os.environ, "PIC_SEARCH_API_KEY": KEY, "COLUMNS": "200"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(venv_bin() / "pic-search"), *args, "--grpc", keyed.grpc_target]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    before = {c["count"] for c in client_stats(keyed)["collections"].values()}.pop()
    indexing = cli("index", str(folder), "--journal", str(tmp_path / "journal.jsonl"))
    assert indexing.returncode == 1, indexing.stdout + indexing.stderr  # one file rejected
    assert "indexed 3, duplicate 0, rejected 1" in indexing.stdout
    assert "unsupported_image" in indexing.stdout
    counts = {c["count"] for c in json.loads(cli("stats", "--json").stdout)["collections"].values()}
    assert counts == {before + 3}
    found = cli("search", "--text", "coffee", "--top-k", "3", "--model", "clip")
    assert found.returncode == 0 and "clip" in found.stdout, found.stdout + found.stderr
    for data in new:
        gone = cli("delete", hashlib.sha256(data).hexdigest())
        assert gone.returncode == 0, gone.stdout + gone.stderr
    missing = cli("delete", hashlib.sha256(new[0]).hexdigest())
    assert missing.returncode == 1 and "image_not_found" in missing.stdout + missing.stderr


def test_hits_and_listings_say_which_file_they_are_filters_sort_and_cutoff_as_http(
    keyed: RunningGateway, indexed: list[str]
) -> None:
    filters = {"n": {"gte": 10, "lt": 20}, "album": {"in": ["a0"]}}
    with PicSearchClient(keyed.grpc_target, api_key=KEY) as client, keyed.client() as http:
        # CLIP named: the default text search is tags where CLIP's weights are random.
        by_date = client.search_by_text("coffee", 20, filters, "clip", sort="date")
        body = {"q": "coffee", "top_k": 20, "filter": filters, "sort": "date", "model": "clip"}
        http_body = http.post("/v1/search/text", json=body).json()
        full = client.search_by_text("coffee", 20, filters, "clip")
        threshold = sorted(h.score for h in full.hits)[2]
        cut = client.search_by_text("coffee", 20, filters, "clip", min_score=threshold)
        auto = client.search_by_text("coffee", 20, filters, "clip", cutoff="auto")
        items, _ = client.list_images(limit=100)
    assert {h.id for h in by_date.hits} == {indexed[i] for i in range(10, 20, 2)}
    assert by_date.sort == "date"
    created = [h.file["created_at"] for h in by_date.hits]
    assert created == sorted(created, reverse=True)
    for hit, http_hit in zip(by_date.hits, http_body["results"], strict=True):
        assert hit.file == {k: http_hit[k] for k in hit.file}
        number = indexed.index(hit.id)
        assert hit.file["filename"] == f"{number}.jpg"
        assert (hit.file["format"], hit.file["width"], hit.file["height"]) == ("JPEG", 192, 192)
    assert [h.id for h in cut.hits] == [h.id for h in full.hits if h.score >= threshold]
    assert cut.cut == len(full.hits) - len(cut.hits) and cut.cutoff["mode"] == "min_score"
    assert auto.cut == 0 and "no meaningful cutoff" in auto.cutoff["message"]
    assert all(i["filename"] and i["width"] == 192 for i in items)


def test_bulk_delete_by_filter_dry_runs_first_and_by_ids_over_grpc(
    keyed: RunningGateway, indexed: list[str]
) -> None:
    chosen = {"n": {"gte": 44, "lte": 47}}
    with PicSearchClient(keyed.grpc_target, api_key=KEY) as client:
        before = {c["count"] for c in client.stats()["collections"].values()}.pop()
        dry = client.delete_images(filter=chosen, dry_run=True)
        assert (dry["matched"], dry["deleted"], dry["dry_run"]) == (4, 0, True)
        assert len(dry["sample"]) == 4  # a person sees what would go
        done = client.delete_images(filter=chosen)
        assert (done["matched"], done["deleted"], done["dry_run"]) == (4, 4, False)
        assert client.delete_images(filter=chosen)["matched"] == 0
        assert client.delete_images(ids=[indexed[43], "0" * 64])["deleted"] == 1
        after = {c["count"] for c in client.stats()["collections"].values()}
        assert after == {before - 5}
        for bad, code in (({}, "invalid_delete"), ({"ids": ["../x"]}, "invalid_ids"),
                          ({"filter": {"n": {"gt": "1 or 1==1"}}}, "invalid_filter")):  # fmt: skip
            with pytest.raises(GrpcApiError) as caught:
                client.delete_images(**bad)  # type: ignore[arg-type]
            assert (caught.value.status, caught.value.code) == (
                grpc.StatusCode.INVALID_ARGUMENT,
                code,
            )
