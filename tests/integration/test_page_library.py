"""The page as a photo app: library, viewer, refine, URL state, upload with metadata, phone
layout, random-weights notice and no third-party requests; a real Chromium against the
session's real gateway, Triton and Milvus (the web page tests' gateway and library)."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, Page, expect

from gateway.quality.samples import sample_photos
from tests.integration.conftest import RunningGateway
from tests.integration.web_page import (
    NEAR_DUPLICATE_OF,
    jpeg,
    mirrored,
    open_page,
    sha256,
    write,
)


def test_the_library_pages_through_every_photo_and_the_viewer_moves_with_arrow_keys(
    browser: Browser, web_gateway: RunningGateway, library: dict[str, str]
) -> None:
    with web_gateway.client() as client:
        listing = client.get("/v1/images", params={"limit": 100}).json()["items"]
    newest = listing[:2]
    with open_page(browser, f"{web_gateway.url}/?page_size=5&library=indexed") as page:
        items = page.get_by_test_id("library-item")
        expect(items.first).to_be_visible()
        # Pages of 5 over the cursor, the next one asked for as the end comes near, until
        # every photo is there, newest first, and no "Load more" is left.
        more = page.get_by_test_id("library-more")
        for _ in range(len(listing)):
            if more.is_hidden():
                break
            more.scroll_into_view_if_needed()
            page.wait_for_timeout(100)
        expect(items).to_have_count(len(listing))
        expect(more).to_be_hidden()
        shown = [item.get_attribute("data-id") for item in items.all()]
        assert shown == [item["id"] for item in listing]
        page.evaluate("scrollTo(0, 0)")

        first = items.first
        first.click()
        dialog = page.get_by_role("dialog", name=newest[0]["filename"])
        expect(dialog).to_be_visible()
        expect(page.get_by_test_id("viewer-img")).to_have_attribute(
            "src", f"/v1/images/{newest[0]['id']}/display"
        )
        page.keyboard.press("ArrowRight")
        expect(page.get_by_role("dialog")).to_have_attribute("data-id", newest[1]["id"])
        assert f"view={newest[1]['id']}" in page.url
        page.keyboard.press("ArrowLeft")
        expect(page.get_by_role("dialog")).to_have_attribute("data-id", newest[0]["id"])
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_be_hidden()
        expect(first).to_be_focused()  # focus returns where it was
        expect(page).not_to_have_url(re.compile("view="))


def test_the_viewer_downloads_edits_metadata_and_deletes_after_confirming(
    page: Page, web_gateway: RunningGateway
) -> None:
    data = mirrored(sample_photos()["clock.jpg"])
    with web_gateway.client() as client:
        sent = client.post("/v1/images", files={"files": ("Horloge été.jpg", data, "image/jpeg")})
    image_id = sent.json()["results"][0]["id"]
    page.goto(f"{page.url.split('?')[0]}?view={image_id}")  # a shared link to the photo
    dialog = page.get_by_role("dialog", name="Horloge été.jpg")
    expect(dialog).to_be_visible()

    link = page.get_by_test_id("viewer-download")
    download = page.request.get(link.evaluate("a => a.href"))
    assert download.status == 200 and sha256(download.body()) == image_id
    assert "Horloge%20%C3%A9t%C3%A9.jpg" in download.headers["content-disposition"]
    assert download.headers["content-disposition"].startswith("attachment")

    page.get_by_test_id("meta-edit").fill("album=clocks\nroom=hall")
    page.get_by_test_id("meta-save").click()
    expect(page.get_by_test_id("meta-status")).to_have_text("Saved.")
    with web_gateway.client() as client:
        assert client.get(f"/v1/images/{image_id}").json()["metadata"] == {
            "album": "clocks",
            "room": "hall",
        }

    page.get_by_test_id("viewer-delete").click()
    expect(page.get_by_test_id("delete-confirm")).to_be_visible()
    page.get_by_test_id("delete-no").click()  # nothing happens without the confirmation
    with web_gateway.client() as client:
        assert client.get(f"/v1/images/{image_id}").status_code == 200
    page.get_by_test_id("viewer-delete").click()
    page.get_by_test_id("delete-yes").click()
    expect(dialog).to_be_hidden()
    with web_gateway.client() as client:
        assert client.get(f"/v1/images/{image_id}").status_code == 404
    expect(page.locator(f'[data-testid=library-item][data-id="{image_id}"]')).to_have_count(0)


def test_filter_chips_and_dates_narrow_the_view_the_url_keeps_it_and_back_returns(
    page: Page, web_gateway: RunningGateway, tmp_path: Path
) -> None:
    photos = sample_photos()
    uploads = {
        "fl-a.jpg": mirrored(photos["flower.jpg"]),
        "fl-b.jpg": mirrored(photos["coins.jpg"]),
    }
    # An upload from the page carries the album and the other pairs to every file.
    page.get_by_test_id("upload-album").fill("garden")
    page.get_by_test_id("upload-meta").fill("place=Nice")
    page.get_by_test_id("upload-input").set_input_files(
        [write(tmp_path, name, data) for name, data in uploads.items()]
    )
    expect(page.get_by_test_id("upload-progress")).to_have_attribute("data-state", "done")
    with web_gateway.client() as client:
        for data in uploads.values():
            record = client.get(f"/v1/images/{sha256(data)}").json()
            assert record["metadata"] == {"album": "garden", "place": "Nice"}

    chip = page.locator('[data-testid=facet-chip][data-key=album][data-value="garden"]')
    expect(chip).to_contain_text("2")
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("library-item")).to_have_count(2)
    assert "f.album=garden" in page.url

    page.get_by_test_id("text-query").fill("flowers")
    page.get_by_test_id("text-query").press("Enter")
    expect(page.get_by_test_id("results")).to_have_attribute("data-query", "text:flowers")
    ids = {r.get_attribute("data-id") for r in page.get_by_test_id("result").all()}
    assert ids <= {sha256(d) for d in uploads.values()}  # the filter holds for searches too

    page.reload()  # the URL restores the search and its filter
    expect(page.get_by_test_id("results")).to_have_attribute("data-query", "text:flowers")
    expect(page.get_by_test_id("text-query")).to_have_value("flowers")
    expect(chip).to_have_attribute("aria-pressed", "true")

    # A date range that no photo of the library was indexed in empties the view.
    page.get_by_test_id("added-to").fill("2001-01-01")
    page.get_by_test_id("added-to").dispatch_event("change")
    expect(page.get_by_test_id("library-item")).to_have_count(0)
    page.go_back()
    expect(page.get_by_test_id("added-to")).to_have_value("")
    expect(page.get_by_test_id("library-item")).to_have_count(2)
    page.go_back()  # before the search
    expect(page.get_by_test_id("results-panel")).to_be_hidden()


def smaller_copy(data: bytes) -> bytes:
    """70% of the size, re-saved at JPEG quality 75."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return jpeg(image.resize((int(image.width * 0.7), int(image.height * 0.7))), quality=75)


def test_near_copies_group_into_one_card_and_cutoff_hides_weaker_results(
    page: Page, web_gateway: RunningGateway, library_photos: dict[str, bytes], tmp_path: Path
) -> None:
    original = library_photos[NEAR_DUPLICATE_OF]
    # A copy of its own (the other page tests search with near_duplicate's bytes).
    copy = smaller_copy(original)
    with web_gateway.client() as client:
        client.post("/v1/images", files={"files": ("cat-copy.jpg", copy, "image/jpeg")})
    query = write(tmp_path, "query.jpg", mirrored(original))
    ids = {sha256(original), sha256(copy)}
    # Searches read Milvus as of half a second ago: wait until the API groups the new copy.
    deadline = time.monotonic() + 10
    while True:
        with web_gateway.client() as client:
            answer = client.post(
                "/v1/search/image",
                files={"file": ("q.jpg", query.read_bytes(), "image/jpeg")},
                data={"group": "true"},
            ).json()
        top = answer["results"][0]
        if {top["id"], *(c["id"] for c in top["copies"])} == ids or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert {top["id"], *(c["id"] for c in top["copies"])} == ids, answer
    page.get_by_test_id("search-file").set_input_files(query)
    first = page.get_by_test_id("result").first
    expect(first.get_by_test_id("copies")).to_have_text("+1 copy")
    assert first.get_attribute("data-id") in ids

    # Grouping off: the copy is a result of its own.
    page.get_by_test_id("group").uncheck()
    expect(page.get_by_test_id("results").get_by_test_id("copies")).to_have_count(0)
    found = [r.get_attribute("data-id") for r in page.get_by_test_id("result").all()]
    assert ids <= set(found)

    # EfficientNet-Lite0 holds real weights: its cutoff hides the unrelated photos.
    note = page.get_by_test_id("hidden-note")
    expect(note).to_be_visible()
    shown = page.get_by_test_id("result").count()
    page.get_by_test_id("show-hidden").click()
    expect(page.get_by_test_id("result")).not_to_have_count(shown)
    assert page.get_by_test_id("result").count() > shown
    assert "cutoff=off" in page.url
    with web_gateway.client() as client:  # the other tests expect no copy of the original
        assert client.delete(f"/v1/images/{sha256(copy)}").status_code == 204


def test_a_random_weight_model_shows_its_notice_and_no_score_bars(page: Page) -> None:
    page.get_by_test_id("model-clip").check()
    expect(page.get_by_test_id("text-model-note")).to_contain_text("random weights")
    page.get_by_test_id("text-query").fill("a cat")
    page.get_by_test_id("text-query").press("Enter")
    expect(page.get_by_test_id("search-notice")).to_be_visible()
    expect(page.get_by_test_id("result").first).to_be_visible()
    expect(page.get_by_test_id("score-bar")).to_have_count(0)


def test_on_a_phone_a_search_brings_its_results_into_view(
    browser: Browser, web_gateway: RunningGateway, library: dict[str, str]
) -> None:
    with open_page(browser, web_gateway.url, width=390, height=844) as page:
        expect(page.get_by_test_id("weights")).to_be_hidden()  # in "About these models"
        page.get_by_test_id("text-query").fill("cat")
        page.get_by_test_id("text-query").press("Enter")
        expect(page.get_by_test_id("result").first).to_be_in_viewport()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0


def test_the_page_loads_nothing_but_its_own_assets(
    browser: Browser, web_gateway: RunningGateway, library: dict[str, str]
) -> None:
    context = browser.new_context()
    elsewhere: list[str] = []

    def block(route: object) -> None:
        elsewhere.append(route.request.url)  # type: ignore[attr-defined]
        route.abort()  # type: ignore[attr-defined]

    context.route(lambda url: not url.startswith(web_gateway.url), block)
    page = context.new_page()
    assets: list[str] = []
    page.on("request", lambda r: assets.append(r.url))
    try:
        page.goto(web_gateway.url)
        expect(page.get_by_test_id("library-item").first).to_be_visible()
        page.wait_for_load_state("networkidle")
    finally:
        context.close()
    assert [u for u in elsewhere if not u.startswith("data:")] == []
    own = [u.removeprefix(web_gateway.url) for u in assets if "/web/" in u or u.endswith("/")]
    assert sorted(json.dumps(own)) and "/web/app.js" in own and "/web/app.css" in own
