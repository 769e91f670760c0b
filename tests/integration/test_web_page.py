"""The web page, driven by a real Chromium against a real gateway, Triton and Milvus."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, JSHandle, Page, expect

from gateway.quality.samples import sample_photos
from tests.integration.conftest import RunningGateway
from tests.integration.web_page import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NEAR_DUPLICATE_OF,
    mirrored,
    near_duplicate,
    open_page,
    png,
    result_ids,
    screenshot,
    search_text,
    sha256,
    wait_for_images,
    write,
)

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "open_page", "search_text"]  # other modules use them


def save_docs_screenshot(png: bytes, directory: Path) -> None:
    """A candidate for the README's picture (copy it to docs/screenshot.png by hand): a
    palette PNG when the full-colour one is over 300 KB."""
    if len(png) > 300_000:
        out = io.BytesIO()
        Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256).save(
            out, "PNG", optimize=True
        )
        png = out.getvalue()
    assert len(png) <= 300_000
    (directory / "docs-screenshot.png").write_bytes(png)


def test_the_page_shows_counts_weights_and_says_when_the_weights_are_random(
    page: Page, web_gateway: RunningGateway
) -> None:
    with web_gateway.client() as client:
        stats = client.get("/v1/stats").json()
    banner = page.get_by_test_id("random-weights-banner")
    if stats["random_weights"]:
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("random weights: near-duplicate search only")
    else:
        expect(banner).to_be_hidden()
    expect(page.get_by_test_id("weights")).to_contain_text("clip_text")
    expect(page.get_by_test_id("library-item").first).to_be_visible()


def test_the_model_buttons_come_from_the_api_and_the_banner_names_random_and_real_models(
    page: Page, web_gateway: RunningGateway
) -> None:
    with web_gateway.client() as client:
        models = client.get("/v1/models").json()["models"]
    options = page.get_by_test_id("model-options").locator("input[name=model]")
    expect(options).to_have_count(len(models))
    for model in models:
        radio = page.get_by_test_id(f"model-{model['name']}")
        expect(radio).to_be_checked() if model["default"] else expect(radio).not_to_be_checked()
    # The test models: only EfficientNet-Lite0 holds real weights, so it is the default.
    expect(page.get_by_test_id("model-efficientnet_lite0")).to_be_checked()
    expect(page.get_by_test_id("random-models")).to_have_text("VGG16, CLIP")
    expect(page.get_by_test_id("real-models")).to_contain_text("EfficientNet-Lite0")


def test_uploading_photos_through_the_page_reports_each_file_created_or_rejected(
    page: Page, tmp_path: Path, artifacts: Path
) -> None:
    photos = sample_photos()
    uploads = {
        "coffee-mirrored.jpg": mirrored(photos["coffee.jpg"]),
        "rocket-mirrored.jpg": mirrored(photos["rocket.jpg"]),
    }
    paths = [write(tmp_path, name, data) for name, data in uploads.items()]
    paths.append(write(tmp_path, "notes.txt", b"not a picture at all"))

    page.get_by_test_id("upload-input").set_input_files(paths)

    expect(page.get_by_test_id("upload-progress")).to_have_attribute("data-state", "done")
    results = page.get_by_test_id("upload-result")
    expect(results).to_have_count(3)
    for name, data in uploads.items():
        created = page.locator(f'[data-testid=upload-result][data-filename="{name}"]')
        expect(created).to_have_attribute("data-status", "created")
        expect(created).to_have_attribute("data-id", sha256(data))
    rejected = page.locator('[data-testid=upload-result][data-filename="notes.txt"]')
    expect(rejected).to_have_attribute("data-status", "rejected")
    expect(rejected.get_by_test_id("upload-reason")).to_contain_text(re.compile(r"\w+: \w+"))
    expect(page.get_by_test_id("upload-totals")).to_have_text(
        "2 created · 0 duplicates · 1 rejected"
    )
    # The library shows the new images without a reload.
    new_id = sha256(uploads["coffee-mirrored.jpg"])
    expect(page.locator(f'[data-testid=library-item][data-id="{new_id}"]')).to_be_visible()
    screenshot(page, artifacts, "upload.png", full_page=True)


@pytest.mark.parametrize("model", ["clip", "vgg16"])
def test_searching_with_a_near_duplicate_finds_the_original_first(
    page: Page, tmp_path: Path, library_photos: dict[str, bytes], model: str, artifacts: Path
) -> None:
    original = library_photos[NEAR_DUPLICATE_OF]
    query = write(tmp_path, "smaller-copy.jpg", near_duplicate(original))
    page.get_by_test_id(f"model-{model}").check()

    page.get_by_test_id("search-file").set_input_files(query)

    grid = page.get_by_test_id("results")
    expect(grid).to_have_attribute("data-query", "image:smaller-copy.jpg")
    expect(grid).to_have_attribute("data-model", model)
    expect(page.get_by_test_id("result").first).to_have_attribute("data-id", sha256(original))
    expect(page.get_by_test_id("result-name").first).to_have_text(NEAR_DUPLICATE_OF)
    expect(page.get_by_test_id("status")).to_contain_text(model.upper())
    wait_for_images(page)
    png = screenshot(page, artifacts, f"near-duplicate-{model}.png")
    if model == "clip":
        save_docs_screenshot(png, artifacts)


def test_searching_by_text_shows_results(page: Page, artifacts: Path) -> None:
    # Typed slowly enough to look human but without pausing: the debounce sends one search.
    box = page.get_by_test_id("text-query")
    with page.expect_response(lambda r: r.url.endswith("/v1/search/text")) as answer:
        box.press_sequentially("a cat on a sofa", delay=20)
    sent_body = json.loads(answer.value.request.post_data or "{}")
    assert sent_body["q"] == "a cat on a sofa"
    assert sent_body["cutoff"] == "auto" and sent_body["group"] is True  # the page's defaults

    grid = page.get_by_test_id("results")
    expect(grid).to_have_attribute("data-query", "text:a cat on a sofa")
    # CLIP, or the auto-tags when CLIP holds random weights: the page shows what answered.
    expect(grid).to_have_attribute("data-model", answer.value.json()["model"])
    expect(page.get_by_test_id("result").first).to_be_visible()
    assert len(result_ids(page)) >= 1
    expect(page.get_by_test_id("text-model-note")).to_contain_text("CLIP")
    wait_for_images(page)
    screenshot(page, artifacts, "text-search.png")


def test_find_similar_in_the_viewer_searches_by_the_photo_and_links_to_its_original(
    page: Page, artifacts: Path
) -> None:
    page.get_by_test_id("cutoff").uncheck()  # random weights: every photo, no cutoff
    page.get_by_test_id("model-clip").check()  # CLIP, not the tags: every photo comes back
    search_text(page, "a rocket launch")
    before = result_ids(page)
    clicked = before[1]

    page.locator(f'[data-testid=result][data-id="{clicked}"]').click()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.get_by_test_id("viewer-similar").click()

    grid = page.get_by_test_id("results")
    expect(grid).to_have_attribute("data-query", f"similar:{clicked}")
    after = result_ids(page)
    assert after and after != before
    assert clicked not in after  # the image itself is left out of its own look-alikes
    original = page.get_by_test_id("query-original")
    expect(original).to_have_attribute("href", re.compile(rf"/v1/images/{clicked}/content$"))
    response = page.request.get(original.evaluate("link => link.href"))
    assert response.status == 200
    assert sha256(response.body()) == clicked

    # Enter on a focused result opens it too.
    again = after[0]
    page.locator(f'[data-testid=result][data-id="{again}"]').focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_have_attribute("data-id", again)
    screenshot(page, artifacts, "similar.png")


def test_a_phone_sized_screen_has_no_horizontal_scroll(
    browser: Browser, web_gateway: RunningGateway, library: dict[str, str], artifacts: Path
) -> None:
    with open_page(browser, web_gateway.url, width=375, height=740) as page:
        search_text(page, "cat")
        expect(page.get_by_test_id("result").first).to_be_visible()
        wait_for_images(page)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        columns = page.evaluate(
            "getComputedStyle(document.querySelector('[data-testid=results]'))"
            ".gridTemplateColumns.split(' ').length"
        )
        assert columns >= 2  # still a grid, not one long column of huge pictures
        screenshot(page, artifacts, "phone.png", full_page=True)


def test_the_keyboard_alone_reaches_the_text_box_and_enter_searches(
    page: Page, artifacts: Path
) -> None:
    for _ in range(15):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.dataset.testid || ''")
        if focused == "text-query":
            break
    else:
        pytest.fail("Tab never reached the text box")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible

    page.keyboard.type("coins")
    with page.expect_response(lambda r: r.url.endswith("/v1/search/text")) as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 200
    expect(page.get_by_test_id("results")).to_have_attribute("data-query", "text:coins")
    expect(page.get_by_test_id("status")).to_contain_text("result")
    wait_for_images(page)
    screenshot(page, artifacts, "keyboard.png")


def test_a_search_the_gateway_refuses_shows_its_error(
    page: Page, web_gateway: RunningGateway, tmp_path: Path
) -> None:
    bad = b"GIF89a but not really"
    with web_gateway.client() as client:
        answer = client.post("/v1/search/image", files={"file": ("bad.gif", bad, "image/gif")})
    error = answer.json()["error"]

    page.get_by_test_id("search-file").set_input_files(write(tmp_path, "bad.gif", bad))

    box = page.get_by_test_id("error")
    expect(box).to_be_visible()
    expect(box).to_have_text(f"{error['code']}: {error['message']}")


def file_transfer(page: Page, name: str, data: bytes, mime: str) -> JSHandle:
    """A DataTransfer holding one file, as a drag from the desktop or a clipboard has."""
    return page.evaluate_handle(
        """([name, b64, mime]) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], name, { type: mime }));
          return transfer;
        }""",
        [name, base64.b64encode(data).decode(), mime],
    )


def drop(page: Page, testid: str, name: str, data: bytes) -> None:
    transfer = file_transfer(page, name, data, "image/jpeg")
    zone = page.get_by_test_id(testid)
    for event in ("dragenter", "dragover", "drop"):
        zone.dispatch_event(event, {"dataTransfer": transfer})


def test_dropping_an_image_on_the_search_zone_searches_by_it(
    page: Page, library_photos: dict[str, bytes]
) -> None:
    original = library_photos[NEAR_DUPLICATE_OF]

    drop(page, "search-drop", "dropped-copy.jpg", near_duplicate(original))

    grid = page.get_by_test_id("results")
    expect(grid).to_have_attribute("data-query", "image:dropped-copy.jpg")
    expect(page.get_by_test_id("result").first).to_have_attribute("data-id", sha256(original))


def test_dropping_images_on_the_upload_zone_indexes_them(page: Page) -> None:
    data = mirrored(sample_photos()["moon.jpg"])

    drop(page, "upload-drop", "moon-mirrored.jpg", data)

    expect(page.get_by_test_id("upload-progress")).to_have_attribute("data-state", "done")
    created = page.locator('[data-testid=upload-result][data-filename="moon-mirrored.jpg"]')
    expect(created).to_have_attribute("data-status", "created")
    expect(created).to_have_attribute("data-id", sha256(data))


def test_pasting_an_image_searches_by_it(page: Page, library_photos: dict[str, bytes]) -> None:
    original = library_photos[NEAR_DUPLICATE_OF]
    transfer = file_transfer(page, "image.png", png(near_duplicate(original)), "image/png")

    page.evaluate(
        "(transfer) => document.dispatchEvent(new ClipboardEvent('paste',"
        " { clipboardData: transfer, bubbles: true, cancelable: true }))",
        transfer,
    )

    grid = page.get_by_test_id("results")
    expect(grid).to_have_attribute("data-query", "image:image.png")
    expect(page.get_by_test_id("result").first).to_have_attribute("data-id", sha256(original))


# ---------- a gateway whose reads need the key too ----------
