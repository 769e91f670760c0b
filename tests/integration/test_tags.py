"""Auto-tags on the real stack: EfficientNet-Lite0's label head (its real ImageNet weights,
served as a second output of the same Triton model) tags every photo at ingest; words find
photos through tags while CLIP holds random weights; tags come back over HTTP, gRPC and the
CLI; the tag filter and GET /v1/tags read the collection's ARRAY field."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from gateway.config import LimitSettings
from gateway.grpc.client import PicSearchClient
from gateway.models.registry import EFFICIENTNET_LITE0
from gateway.models.tagging import TAG_THRESHOLD
from gateway.preprocess import prepare_image
from gateway.quality.labeled import prepared_inputs
from gateway.quality.labeled_set import labeled_images
from gateway.quality.samples import sample_photos
from gateway.quality.tag_threshold import calibrate
from tests.integration.conftest import RunningGateway, RunningTriton, gateway_fixture
from tests.integration.support import pic_search
from tests.torch_reference import REAL_PHOTOS, lite0_reference, photo_jpeg

SPEC = EFFICIENTNET_LITE0.image_model
# The test models: CLIP and VGG16 hold seeded random weights, EfficientNet-Lite0 real ones.
tags_gateway = gateway_fixture("tags")


def test_the_label_head_is_the_reference_classifier_from_one_inference(
    triton: RunningTriton,
) -> None:
    limits = LimitSettings()
    batch = np.stack(
        [prepare_image(photo_jpeg(n), [SPEC], limits).inputs[SPEC.name] for n in REAL_PHOTOS]
    )
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    tensor = grpcclient.InferInput(SPEC.input.name, list(batch.shape), SPEC.input.dtype)
    tensor.set_data_from_numpy(batch)
    result = client.infer(SPEC.name, [tensor])
    probabilities = result.as_numpy("probabilities")
    assert probabilities is not None and probabilities.shape == (len(REAL_PHOTOS), 1000)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    _, labels = lite0_reference(batch)
    assert list(probabilities.argmax(axis=1)) == labels
    assert result.as_numpy("embeddings").shape == (len(REAL_PHOTOS), 1280)  # type: ignore[union-attr]


def test_the_shown_tag_threshold_is_the_calibrated_one(triton: RunningTriton) -> None:
    """Recomputes the calibration (gateway/quality/tag_threshold.py) on the whole labeled set
    through Triton's label head: the threshold in use is within 0.01 of the best F0.5, and
    beats the earlier guess of 0.15."""
    inputs, labels, _ = prepared_inputs(labeled_images(), [SPEC], LimitSettings())
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    batches = []
    for start in range(0, len(labels), 32):
        batch = inputs[SPEC.name][start : start + 32]
        tensor = grpcclient.InferInput(SPEC.input.name, list(batch.shape), SPEC.input.dtype)
        tensor.set_data_from_numpy(batch)
        batches.append(client.infer(SPEC.name, [tensor]).as_numpy("probabilities"))
    probabilities = np.concatenate(batches)
    calibrated = calibrate(probabilities, labels)
    in_use = calibrated["curve"][TAG_THRESHOLD]
    assert in_use["f_beta"] >= calibrated["f_beta"] - 0.01, calibrated["threshold"]
    assert in_use["f_beta"] > calibrated["curve"][0.15]["f_beta"]


@pytest.fixture(scope="module")
def ids(tags_gateway: RunningGateway) -> dict[str, str]:
    files = [
        ("files", (name, data, "image/jpeg")) for name, data in sorted(sample_photos().items())
    ]
    with tags_gateway.client() as client:
        response = client.post("/v1/images", files=files)
    assert response.status_code == 201, response.text
    return {r["filename"].removesuffix(".jpg"): r["id"] for r in response.json()["results"]}


def text(gateway: RunningGateway, q: str, **params: Any) -> dict[str, Any]:
    with gateway.client() as client:
        response = client.get("/v1/search/text", params={"q": q, "top_k": 100, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def first(ids: dict[str, str], body: dict[str, Any]) -> str:
    by_id = {image_id: name for name, image_id in ids.items()}
    return by_id[body["results"][0]["id"]]


def test_words_find_photos_through_tags_where_clip_has_random_weights(
    tags_gateway: RunningGateway, ids: dict[str, str]
) -> None:
    cat = text(tags_gateway, "cat")
    assert cat["model"] == "tags" and cat["notice"] is None and not cat["random_weights"]
    assert first(ids, cat) == "chelsea"
    assert first(ids, text(tags_gateway, "Espresso")) == "coffee"
    assert first(ids, text(tags_gateway, "a rocket", model="tags")) == "rocket"
    named = text(tags_gateway, "a zzyzx cat")
    assert first(ids, named) == "chelsea" and "'zzyzx'" in named["notice"]
    nothing = text(tags_gateway, "zzyzx")
    assert nothing["results"] == [] and "'zzyzx'" in nothing["notice"]
    clip = text(tags_gateway, "cat", model="clip")
    assert clip["model"] == "clip" and clip["random_weights"]
    with tags_gateway.client() as client:
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["tags"]["text_default"] and not models["clip"]["text_default"]


def test_tags_come_back_in_hits_and_listings_over_http_grpc_and_the_cli(
    tags_gateway: RunningGateway, ids: dict[str, str]
) -> None:
    hit = text(tags_gateway, "cat")["results"][0]
    names = [t["name"] for t in hit["tags"]]
    assert {"cat", "feline", "animal"} <= set(names) and names[0] in {
        "tabby", "tiger cat", "egyptian cat",
    }  # fmt: skip
    with tags_gateway.client() as client:
        listed = {i["id"]: i for i in client.get("/v1/images?limit=100").json()["items"]}
        record = client.get(f"/v1/images/{ids['chelsea']}").json()
    assert listed[ids["chelsea"]]["tags"] == hit["tags"] == record["tags"]
    with PicSearchClient(tags_gateway.grpc_target) as grpc:
        found = grpc.search_by_text("cat", top_k=3)
        assert found.model == "tags" and found.hits[0].id == ids["chelsea"]
        assert found.hits[0].file["tags"] == hit["tags"]
        assert grpc.get_image(ids["chelsea"])["tags"] == hit["tags"]
        assert "cat" in [t["name"] for t in grpc.tags(prefix="cat")["tags"]]
    cli = pic_search("search", "--text", "cat", "--json", "--url", tags_gateway.url)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["results"][0]["tags"] == hit["tags"]
    table = pic_search("tags", "--url", tags_gateway.url)
    assert table.returncode == 0 and "animal" in table.stdout


def test_a_tag_filter_returns_exactly_the_tagged_photos(
    tags_gateway: RunningGateway, ids: dict[str, str]
) -> None:
    with tags_gateway.client() as client:
        listed = client.get("/v1/images?limit=100").json()["items"]
        counts = {t["name"]: t["count"] for t in client.get("/v1/tags?limit=500").json()["tags"]}
        for tag in ("cat", "animal", "espresso"):
            tagged = {i["id"] for i in listed if tag in [t["name"] for t in i["tags"] or []]}
            assert tagged and counts[tag] == len(tagged), tag
            response = client.post(
                "/v1/search/image",
                files={"file": ("q.jpg", photo_jpeg("astronaut"), "image/jpeg")},
                data={"top_k": "100", "filter": json.dumps({"tags": {"in": [tag]}})},
            )
            assert response.status_code == 200, response.text
            assert {h["id"] for h in response.json()["results"]} == tagged, tag
        refused = client.get("/v1/search/text", params={"q": "cat", "filter": '{"tags": "kat"}'})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_filter"
    cli = pic_search(
        "search", "--text", "animal", "--tag", "cat", "--json", "--url", tags_gateway.url
    )
    assert cli.returncode == 0, cli.stderr
    assert [h["id"] for h in json.loads(cli.stdout)["results"]] == [ids["chelsea"]]
