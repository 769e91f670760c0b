"""What the page tests share: one indexed library for the whole session and one Chromium per
module (the fixtures are imported by conftest.py, so every page test module reuses them), and
helpers to open the page and drive it."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image, ImageOps
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from gateway.quality.samples import sample_photos
from tests.imaging import encode

if TYPE_CHECKING:  # conftest.py imports this module's fixtures
    from tests.integration.conftest import RunningGateway

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Indexed through the API before the page is opened; the page's own uploads use photos
# altered so that their bytes (and ids) are their test's alone.
LIBRARY = (
    "astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg", "china.jpg", "flower.jpg",
    "coins.jpg", "camera.jpg", "moon.jpg", "hubble_deep_field.jpg", "brick.jpg", "clock.jpg",
)  # fmt: skip
NEAR_DUPLICATE_OF = "chelsea.jpg"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    return encode(image.convert("RGB"), "JPEG", quality=quality)


def near_duplicate(data: bytes) -> bytes:
    """80% of the size, re-saved at JPEG quality 60."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    size = (int(image.width * 0.8), int(image.height * 0.8))
    return jpeg(image.resize(size, Image.Resampling.BILINEAR), quality=60)


def png(data: bytes) -> bytes:
    return encode(Image.open(io.BytesIO(data)).convert("RGB"), "PNG")


def mirrored(data: bytes) -> bytes:
    return jpeg(ImageOps.mirror(Image.open(io.BytesIO(data))))


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="session")
def library_photos() -> dict[str, bytes]:
    photos = sample_photos()
    return {name: photos[name] for name in LIBRARY}


@pytest.fixture(scope="session")
def library(web_gateway: RunningGateway, library_photos: dict[str, bytes]) -> dict[str, str]:
    """Name -> id of the photos the searches run against."""
    files = [("files", (name, data, "image/jpeg")) for name, data in library_photos.items()]
    with web_gateway.client() as client:
        response = client.post("/v1/images", files=files)
    assert response.status_code == 201, response.text
    return {r["filename"]: r["id"] for r in response.json()["results"]}


# Module scope, not session: while Playwright's sync API is open it leaves its event loop
# marked as running in the main thread, and every later `asyncio.run` in the session fails.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def console_errors(message: ConsoleMessage) -> list[str]:
    """A console error, unless it is Chromium noting the gateway's own error answer (a 4xx
    the page shows and tests check on their own)."""
    if message.type != "error" or "the server responded with a status of 4" in message.text:
        return []
    return [message.text]


@contextmanager
def open_page(browser: Browser, url: str, width: int = 1280, height: int = 860) -> Iterator[Page]:
    """A fresh context (own sessionStorage); any uncaught script error or console error
    fails the test."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.extend(console_errors(message)))
    page.goto(url)
    # The stats line lists a count per collection once the page has talked to the gateway.
    expect(page.get_by_test_id("count-clip")).to_be_visible()
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page threw: {errors}"


@pytest.fixture
def page(browser: Browser, web_gateway: RunningGateway, library: dict[str, str]) -> Iterator[Page]:
    with open_page(browser, web_gateway.url) as page:
        yield page


def result_ids(page: Page) -> list[str]:
    return [str(item.get_attribute("data-id")) for item in page.get_by_test_id("result").all()]


def search_text(page: Page, text: str) -> None:
    page.get_by_test_id("text-query").fill(text)
    page.get_by_test_id("text-query").press("Enter")
    expect(page.get_by_test_id("results")).to_have_attribute("data-query", f"text:{text}")


def wait_for_images(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "[...document.images].filter(i => i.loading !== 'lazy' || i.getBoundingClientRect().top"
        " < innerHeight).every(i => i.complete)"
    )


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots go to a temporary folder, never over the tracked docs/screenshot.png."""
    return tmp_path_factory.mktemp("web-screenshots")


def screenshot(page: Page, directory: Path, name: str, *, full_page: bool = False) -> bytes:
    return page.screenshot(path=directory / name, full_page=full_page)
