"""Results people can act on, over HTTP on the real stack (Milvus server and Milvus Lite):
file facts in hits and listings, every filter operator, sorting, and the score cutoff."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from gateway.export.cutoff_rules import rules as cutoff_rules
from tests.integration.conftest import RunningGateway, per_backend_gateway_fixture
from tests.integration.images import photo, save

SUITE = uuid.uuid4().hex  # every image here carries it, so each filter sees only these
SIZES = {"a.jpg": (200, 150), "b.png": (160, 160), "c.jpg": (180, 240), "d.webp": (220, 130),
         "e.jpg": (150, 210)}  # fmt: skip
META: dict[str, dict[str, Any]] = {
    "a.jpg": {"album": "a", "rating": 1, "shot_on": "2024-01-15", "flag": True},
    "b.png": {"album": "b", "rating": 2, "shot_on": "2024-03-01", "flag": False},
    "c.jpg": {"album": "c", "rating": 3.5, "shot_on": "2024-06-30T08:00:00Z"},
    "d.webp": {"album": "a", "rating": 4, "shot_on": "2025-01-01"},
    "e.jpg": {"album": 'b" or 1==1 or "', "rating": 5, "shot_on": "2025-12-31"},
}
FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}


def _bytes(name: str) -> bytes:
    source = ["astronaut", "coffee", "chelsea", "rocket", "camera"][sorted(SIZES).index(name)]
    image = photo(source).convert("RGB").resize(SIZES[name])
    return save(image, FORMATS[name.rsplit(".", 1)[1]])


# Its images would disturb other modules' counts.
gateway = per_backend_gateway_fixture("results")


@pytest.fixture(scope="module")
def indexed(gateway: RunningGateway) -> dict[str, dict[str, Any]]:
    """name -> the image's stored record, each uploaded on its own (own metadata, own time)."""
    records = {}
    with gateway.client() as client:
        for name in sorted(SIZES):
            response = client.post(
                "/v1/images",
                files=[("files", (name, _bytes(name), "application/octet-stream"))],
                data={
                    "metadata": json.dumps({**META[name], "suite": SUITE}),
                    "paths": json.dumps([f"/photos/2024/{name}"]),
                },
            )
            assert response.status_code == 201, response.text
            image_id = response.json()["results"][0]["id"]
            records[name] = client.get(f"/v1/images/{image_id}").json()
    return records


def _search(client: httpx.Client, **body: Any) -> dict[str, Any]:
    body["filter"] = {**body.get("filter", {}), "suite": SUITE}
    # CLIP's text tower, random here: every photo comes back, ranked arbitrarily (the default
    # text search, through tags, would find no photo for these words).
    query = {"q": "a photo", "model": "clip", "top_k": 100, **body}
    response = client.post("/v1/search/text", json=query)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _iso(microseconds: int) -> str:
    return datetime.fromtimestamp(microseconds / 1e6, UTC).isoformat()


Predicate = Callable[[dict[str, Any]], bool]


def _cases(times: list[int]) -> list[tuple[dict[str, Any], Predicate]]:
    """(filter, which records it must return); `times` are the five created_at, in order."""
    return [
        ({"album": "a"}, lambda r: r["metadata"]["album"] == "a"),
        ({"album": {"eq": "b"}}, lambda r: r["metadata"]["album"] == "b"),
        ({"album": {"in": ["a", "c"]}}, lambda r: r["metadata"]["album"] in ("a", "c")),
        ({"rating": {"in": [2, 5]}}, lambda r: r["metadata"]["rating"] in (2, 5)),
        ({"rating": {"in": [2, 5, *range(10, 24)]}}, lambda r: r["metadata"]["rating"] in (2, 5)),
        ({"flag": True}, lambda r: r["metadata"].get("flag") is True),
        ({"rating": {"gte": 2, "lt": 4}}, lambda r: 2 <= r["metadata"]["rating"] < 4),
        ({"rating": {"gt": 3.5}}, lambda r: r["metadata"]["rating"] > 3.5),
        ({"rating": {"lte": 3.5}}, lambda r: r["metadata"]["rating"] <= 3.5),
        ({"rating": {"gt": 1.5, "lte": 4}}, lambda r: 1.5 < r["metadata"]["rating"] <= 4),
        (
            {"shot_on": {"gte": "2024-03-01", "lt": "2025-01-01"}},
            lambda r: "2024-03-01" <= r["metadata"]["shot_on"] < "2025-01-01",
        ),
        ({"shot_on": {"gt": "2025-01-01"}}, lambda r: r["metadata"]["shot_on"] > "2025-01-01"),
        ({"created_at": {"after": times[1]}}, lambda r: r["created_at"] > times[1]),
        ({"created_at": {"before": times[3]}}, lambda r: r["created_at"] < times[3]),
        (
            {"created_at": {"after": _iso(times[0]), "before": _iso(times[4])}},
            lambda r: times[0] < r["created_at"] < times[4],
        ),
        (
            {"album": "a", "created_at": {"after": times[0]}},
            lambda r: r["metadata"]["album"] == "a" and r["created_at"] > times[0],
        ),
        (
            {"album": {"in": ['b" or 1==1 or "']}},
            lambda r: r["metadata"]["album"] == 'b" or 1==1 or "',
        ),
        ({"album": "nobody"}, lambda r: False),
        ({"album": {"in": ["é", "😀 x", "\\"]}}, lambda r: False),  # UTF-8 reaches Milvus
    ]


def test_every_filter_operator_returns_exactly_the_matching_images(
    gateway: RunningGateway, indexed: dict[str, dict[str, Any]]
) -> None:
    records = list(indexed.values())
    times = sorted(r["created_at"] for r in records)
    assert len(set(times)) == 5
    with gateway.client() as client:
        for filters, predicate in _cases(times):
            found = {hit["id"] for hit in _search(client, filter=filters)["results"]}
            expected = {r["id"] for r in records if predicate(r)}
            assert found == expected, filters


HOSTILE: list[Any] = [
    {'album"] or true or ["': 1}, {"album": {"or": 1}}, {"album": {"in": "a"}},
    {"album": {"in": [{"a": 1}]}}, {"rating": {"gt": "1 or 1==1"}}, {"rating": {"gte": None}},
    {"shot_on": {"lt": '2025-01-01" or "'}}, {"created_at": {"after": "1 or true"}},
    {"created_at": {"gt": 1}}, {"created_at": 1}, {"album": None}, {"a b": 1},
]  # fmt: skip


@pytest.mark.parametrize("hostile", HOSTILE, ids=repr)
def test_a_hostile_key_or_value_in_any_operator_gets_422_and_no_results(
    gateway: RunningGateway, indexed: dict[str, dict[str, Any]], hostile: Any
) -> None:
    with gateway.client() as client:
        posted = client.post("/v1/search/text", json={"q": "a photo", "filter": hostile})
        got = client.get("/v1/search/text", params={"q": "x", "filter": json.dumps(hostile)})
        image = client.post(
            "/v1/search/image",
            files={"file": ("q.jpg", _bytes("a.jpg"), "image/jpeg")},
            data={"filter": json.dumps(hostile)},
        )
    for response in (posted, got, image):
        assert response.status_code == 422, response.text
        assert set(response.json()) == {"error"}
        assert response.json()["error"]["code"] == "invalid_filter"


def test_hits_and_listings_say_which_file_they_are(
    gateway: RunningGateway, indexed: dict[str, dict[str, Any]]
) -> None:
    with gateway.client() as client:
        hits = _search(client)["results"]
        listed = client.get("/v1/images", params={"limit": 100}).json()["items"]
    assert {h["filename"] for h in hits} == set(SIZES)
    listed_by_id = {item["id"]: item for item in listed}
    for hit in hits:
        name = hit["filename"]
        data = _bytes(name)
        expected = {
            "filename": name,
            "path": f"/photos/2024/{name}",
            "format": FORMATS[name.rsplit(".", 1)[1]],
            "width": SIZES[name][0],
            "height": SIZES[name][1],
            "bytes": len(data),
            "created_at": indexed[name]["created_at"],
        }
        assert {k: hit[k] for k in expected} == expected
        assert {k: listed_by_id[hit["id"]][k] for k in expected} == expected
        assert {k: indexed[name][k] for k in expected} == expected


@pytest.mark.parametrize("paths", ["[1]", '["a", "b"]', "{}", '["a\\u0000b"]', "not json"])
def test_paths_that_do_not_fit_the_files_get_422_and_index_nothing(
    gateway: RunningGateway, paths: str
) -> None:
    data = _bytes("a.jpg")[:-2] + b"\x00\xff\xd9"
    with gateway.client() as client:
        response = client.post(
            "/v1/images", files=[("files", ("x.jpg", data, "image/jpeg"))], data={"paths": paths}
        )
        image_id = __import__("hashlib").sha256(data).hexdigest()
        missing = client.get(f"/v1/images/{image_id}")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_paths"
    assert missing.status_code == 404


def test_sort_by_date_orders_the_same_results_newest_first(
    gateway: RunningGateway, indexed: dict[str, dict[str, Any]]
) -> None:
    with gateway.client() as client:
        by_score = _search(client, top_k=3)
        by_date = _search(client, top_k=3, sort="date")
        bad = client.post("/v1/search/text", json={"q": "x", "sort": "name"})
    assert by_score["sort"] == "score" and by_date["sort"] == "date"
    assert {h["id"] for h in by_date["results"]} == {h["id"] for h in by_score["results"]}
    created = [h["created_at"] for h in by_date["results"]]
    assert created == sorted(created, reverse=True)
    scores = [h["score"] for h in by_score["results"]]
    assert scores == sorted(scores, reverse=True)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_sort"


def test_min_score_cuts_where_it_says_and_counts_what_it_cut(
    gateway: RunningGateway, indexed: dict[str, dict[str, Any]]
) -> None:
    with gateway.client() as client:
        full = _search(client)["results"]
        threshold = sorted(h["score"] for h in full)[2]  # keeps the best three
        cut = _search(client, min_score=threshold)
        bad = client.post("/v1/search/text", json={"q": "x", "min_score": 2})
        both = client.post("/v1/search/text", json={"q": "x", "min_score": 0, "cutoff": "auto"})
    kept = [h["id"] for h in full if h["score"] >= threshold]
    assert [h["id"] for h in cut["results"]] == kept and len(kept) == 3
    assert cut["cut"] == len(full) - 3
    assert cut["cutoff"] == {"mode": "min_score", "min_score": threshold, "message": None}
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_min_score"
    assert both.status_code == 422 and both.json()["error"]["code"] == "invalid_cutoff"


def test_auto_cutoff_on_random_weights_says_no_meaningful_cutoff_exists(
    gateway: RunningGateway, indexed: dict[str, dict[str, Any]]
) -> None:
    with gateway.client() as client:
        full = _search(client)
        auto = _search(client, cutoff="auto")
    assert full["cut"] == 0 and full["cutoff"]["mode"] == "none"
    assert [h["id"] for h in auto["results"]] == [h["id"] for h in full["results"]]
    assert auto["cut"] == 0 and auto["cutoff"]["min_score"] is None
    assert "no meaningful cutoff" in auto["cutoff"]["message"]
    assert "random" in auto["cutoff"]["message"]


def test_auto_cutoff_on_real_weights_applies_the_rule_chosen_on_the_labeled_set(
    gateway: RunningGateway, indexed: dict[str, dict[str, Any]]
) -> None:
    """EfficientNet-Lite0 holds its real ImageNet weights in the test models too, so the rule
    `python -m bench --only cutoff` chose for those weights applies."""
    [(fingerprint, rule)] = [
        (f, r) for f, r in cutoff_rules().items() if f.startswith("efficientnet_lite0@")
    ]
    query = _bytes("a.jpg")

    def search(**form: str) -> dict[str, Any]:
        with gateway.client() as client:
            response = client.post(
                "/v1/search/image",
                files={"file": ("q.jpg", query, "image/jpeg")},
                data={"model": "efficientnet_lite0", "top_k": "100",
                      "filter": json.dumps({"suite": SUITE}), **form},
            )  # fmt: skip
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    full, auto = search(), search(cutoff="auto")
    assert not auto["random_weights"] and len(full["results"]) == len(SIZES)
    assert auto["cutoff"] == {"mode": "auto", "min_score": rule["min_score"], "message": None}
    kept = [h["id"] for h in full["results"] if h["score"] >= rule["min_score"]]
    assert [h["id"] for h in auto["results"]] == kept
    assert kept[0] == indexed["a.jpg"]["id"]  # the copy of the query passes any sane cutoff
    assert auto["cut"] == len(full["results"]) - len(kept)
    assert fingerprint.endswith(gateway_weights(gateway, "efficientnet_lite0"))


def gateway_weights(gateway: RunningGateway, model: str) -> str:
    with gateway.client() as client:
        models = client.get("/v1/models").json()["models"]
    weights: str = next(m["weights"] for m in models if m["name"] == model)
    return weights


def test_similar_takes_the_same_filter_sort_and_cutoff(
    gateway: RunningGateway, indexed: dict[str, dict[str, Any]]
) -> None:
    source = indexed["a.jpg"]["id"]
    filters = json.dumps({"suite": SUITE, "album": {"in": ["a", "b"]}})
    params = {"top_k": "10", "filter": filters, "sort": "date"}
    with gateway.client() as client:
        response = client.get(f"/v1/images/{source}/similar", params=params)
    assert response.status_code == 200, response.text
    expected = {r["id"] for r in indexed.values() if r["metadata"]["album"] in ("a", "b")}
    found = response.json()["results"]
    assert {h["id"] for h in found} == expected - {source}
    created = [h["created_at"] for h in found]
    assert created == sorted(created, reverse=True)
