"""Searches on the test models' seeded random weights say so where people read results: the
`notice` of both APIs and the page. The test models are random except EfficientNet-Lite0
(real ImageNet weights from a pip package), whose searches carry no notice.

Runs on the page tests' gateway and library (tests/integration/test_web_page.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from gateway.grpc.client import PicSearchClient
from tests.integration.conftest import RunningGateway
from tests.integration.test_web_page import search_text

TEXT_NOTICE = "Text search needs CLIP's pretrained weights"
HOW = ("`make models WEIGHTS=pretrained`", "`pic-search models build --weights clip=PATH`")


def assert_text_notice(notice: str | None) -> None:
    assert notice is not None and notice.startswith(TEXT_NOTICE), notice
    assert "these results do not match your words" in notice
    assert all(command in notice for command in HOW), notice
    assert "clip_vit_base_patch32" in notice and "docs/weights.md" in notice


@pytest.fixture(scope="module")
def random_clip(web_gateway: RunningGateway) -> None:
    with web_gateway.client() as client:
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    if not models["clip"]["random_weights"]:
        pytest.skip("CLIP has real weights here: nothing to say")


def test_a_text_search_on_random_clip_says_it_needs_pretrained_weights_on_http(
    web_gateway: RunningGateway, library: dict[str, str], random_clip: None
) -> None:
    with web_gateway.client() as client:
        got = client.get("/v1/search/text", params={"q": "a cat on a sofa", "model": "clip"})
        posted = client.post("/v1/search/text", json={"q": "a rocket", "model": "clip"})

    for response in (got, posted):
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["model"], body["random_weights"]) == ("clip", True)
        assert body["results"], "the library is indexed: random CLIP still answers"
        assert_text_notice(body["notice"])


def test_a_text_search_on_random_clip_says_it_on_grpc_too(
    web_gateway: RunningGateway, library: dict[str, str], random_clip: None
) -> None:
    with PicSearchClient(web_gateway.grpc_target) as client:
        result = client.search_by_text("a cat on a sofa", top_k=3, model="clip")

    assert result.random_weights
    assert_text_notice(result.notice)


def test_image_searches_say_near_copies_only_on_random_weights_and_nothing_on_real_ones(
    web_gateway: RunningGateway,
    library: dict[str, str],
    library_photos: dict[str, bytes],
    random_clip: None,
) -> None:
    photo = library_photos["chelsea.jpg"]
    bodies = {}
    with web_gateway.client() as client:
        for model in ("vgg16", "efficientnet_lite0"):
            files = {"file": ("chelsea.jpg", photo, "image/jpeg")}
            response = client.post("/v1/search/image", files=files, data={"model": model})
            assert response.status_code == 200, response.text
            bodies[model] = response.json()

    random, real = bodies["vgg16"], bodies["efficientnet_lite0"]
    assert random["random_weights"] and not real["random_weights"]
    assert random["notice"].startswith("VGG16 has seeded random weights")
    assert "copies and near-copies" in random["notice"]
    assert random["results"][0]["id"] == library["chelsea.jpg"]  # copies still found
    assert real["notice"] is None


# `browser` and `page`: tests/integration/web_page.py (via conftest), one Chromium per module.


def test_the_page_shows_the_notice_above_the_results_and_clears_it_on_real_weights(
    page: Page, random_clip: None, tmp_path: Path
) -> None:
    page.get_by_test_id("model-clip").check()  # else words go through the tags
    search_text(page, "a cat on a sofa")

    notice = page.get_by_test_id("search-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(TEXT_NOTICE)
    expect(notice.locator("code").first).to_have_text("make models WEIGHTS=pretrained")
    first = page.get_by_test_id("result").first
    expect(first).to_be_visible()
    notice_box, first_box = notice.bounding_box(), first.bounding_box()
    assert notice_box is not None and first_box is not None
    assert notice_box["y"] + notice_box["height"] <= first_box["y"], "the notice is not above"
    page.screenshot(path=tmp_path / "notice.png")

    # "Find similar" in its viewer searches by that image with EfficientNet-Lite0, real weights.
    page.get_by_test_id("model-efficientnet_lite0").check()
    first.click()
    page.get_by_test_id("viewer-similar").click()
    expect(page.get_by_test_id("results")).to_have_attribute("data-model", "efficientnet_lite0")
    expect(notice).to_be_hidden()
