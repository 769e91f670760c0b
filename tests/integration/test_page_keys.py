"""With a key that protects reads too: the page asks for it once, opens a session its
thumbnails and searches use, and never shows the key in a URL or a log."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from playwright.sync_api import Browser, BrowserContext, Page, expect

from gateway.quality.samples import sample_photos
from tests.integration.conftest import PROTECTED_KEY, RunningGateway
from tests.integration.web_page import (
    jpeg,
    screenshot,
    search_text,
    sha256,
    write,
)

PROTECTED_LIBRARY = ("astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg")


@pytest.fixture(scope="module")
def protected_library(protected_gateway: RunningGateway) -> dict[str, str]:
    photos = sample_photos()
    files = [("files", (name, photos[name], "image/jpeg")) for name in PROTECTED_LIBRARY]
    with protected_gateway.client(headers={"X-API-Key": PROTECTED_KEY}) as client:
        response = client.post("/v1/images", files=files)
    assert response.status_code == 201, response.text
    return {r["filename"]: r["id"] for r in response.json()["results"]}


def broken_images(page: Page, selector: str) -> list[str]:
    """Sources of the images under `selector` that finished loading without a picture."""
    page.wait_for_function(
        f"[...document.querySelectorAll({json.dumps(selector)})].length > 0 &&"
        f" [...document.querySelectorAll({json.dumps(selector)})].every(i => i.complete)"
    )
    found: list[str] = page.eval_on_selector_all(
        selector, "images => images.filter(i => i.naturalWidth === 0).map(i => i.src)"
    )
    return found


def enter_key(page: Page, key: str) -> None:
    expect(page.get_by_test_id("key-dialog")).to_be_visible()
    expect(page.get_by_test_id("key-input")).to_be_focused()
    page.get_by_test_id("key-input").fill(key)
    page.get_by_test_id("key-submit").click()


def session_cookie(context: BrowserContext) -> dict[str, object]:
    cookies = [c for c in context.cookies() if c["name"] == "pic_search_session"]
    assert len(cookies) == 1, context.cookies()
    return dict(cookies[0])


def test_with_protected_reads_the_key_prompt_opens_a_session_that_thumbnails_use(
    browser: Browser,
    protected_gateway: RunningGateway,
    protected_library: dict[str, str],
    tmp_path: Path,
    artifacts: Path,
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    urls: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: urls.append(request.url))
    try:
        # The gateway's own 401 on the page's first reads brings up the prompt.
        with page.expect_response(lambda r: r.url.endswith("/v1/stats")) as first:
            page.goto(protected_gateway.url)
        assert first.value.status == 401
        enter_key(page, "not-the-key")
        expect(page.get_by_test_id("key-dialog")).to_be_visible()
        expect(page.locator("#key-why")).to_contain_text("refused the key")
        enter_key(page, PROTECTED_KEY)
        expect(page.get_by_test_id("key-dialog")).to_be_hidden()

        # Stats, the library and its <img> thumbnails, then a search with its thumbnails.
        expect(page.get_by_test_id("count-clip")).to_be_visible()
        # Other tests add to this session's gateway too: each of ours is there.
        for image_id in protected_library.values():
            item = page.locator(f'[data-testid=library-item][data-id="{image_id}"]')
            expect(item).to_be_visible()
        assert broken_images(page, "#library img") == []
        search_text(page, "cat")
        expect(page.get_by_test_id("result").first).to_be_visible()
        assert broken_images(page, "[data-testid=result] img") == []
        screenshot(page, artifacts, "protected-search.png")

        # The credential is an HttpOnly, SameSite=Strict cookie that does not hold the key,
        # and the key is in no URL, no script-readable storage and no log line.
        cookie = session_cookie(context)
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
        assert PROTECTED_KEY not in str(cookie["value"])
        assert page.evaluate("document.cookie") == ""
        stored = page.evaluate("JSON.stringify([{...sessionStorage}, {...localStorage}])")
        assert PROTECTED_KEY not in stored
        assert not [url for url in urls if PROTECTED_KEY in url]

        # A write from the page rides on the same session.
        data = jpeg(ImageOps.flip(Image.open(io.BytesIO(sample_photos()["coffee.jpg"]))))
        page.get_by_test_id("upload-input").set_input_files(write(tmp_path, "flipped.jpg", data))
        expect(page.get_by_test_id("upload-result")).to_have_attribute("data-status", "created")
        expect(page.get_by_test_id("key-dialog")).to_be_hidden()

        # Without the session, the gateway's 401 on an upload asks again and the upload is
        # retried with the new session.
        context.clear_cookies()
        again = jpeg(ImageOps.flip(Image.open(io.BytesIO(sample_photos()["rocket.jpg"]))))
        page.get_by_test_id("upload-input").set_input_files(write(tmp_path, "again.jpg", again))
        expect(page.get_by_test_id("upload-progress")).to_contain_text("Waiting for an API key")
        enter_key(page, PROTECTED_KEY)
        expect(page.get_by_test_id("upload-result")).to_have_attribute("data-status", "created")
        expect(page.get_by_test_id("upload-result")).to_have_attribute("data-id", sha256(again))
    finally:
        context.close()
    assert not errors, f"the page threw: {errors}"
    log = Path(protected_gateway.process.log_path).read_text()
    assert "GET /v1/stats 401" in log  # the access log is on
    assert PROTECTED_KEY not in log
