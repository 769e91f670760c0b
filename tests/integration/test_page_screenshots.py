"""The README's pictures of the page, regenerated from a real stack rather than drawn by hand:

    PIC_SEARCH_DOCS_SCREENSHOTS=1 flock /tmp/pic-integration.lock \\
        .venv/bin/pytest tests/integration/test_page_screenshots.py -q

writes docs/screenshot.png (desktop, 1280x800) and docs/screenshot-phone.png (390x844): the
sample photos and a few edited copies indexed on a gateway of their own, then a search by words
that EfficientNet-Lite0's real ImageNet weights answer through the auto-tags. Skipped in CI
(it writes tracked files)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from playwright.sync_api import Browser, Page, expect

from gateway.quality.samples import sample_photos
from tests.integration.conftest import RunningGateway, gateway_fixture
from tests.integration.web_page import jpeg, open_page, wait_for_images

pytestmark = pytest.mark.skipif(
    os.environ.get("PIC_SEARCH_DOCS_SCREENSHOTS") != "1",
    reason="writes docs/*.png: set PIC_SEARCH_DOCS_SCREENSHOTS=1 to regenerate them",
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
QUERY = "cat"
MAX_BYTES = 300_000  # kept small: the README loads it

shots_gateway = gateway_fixture("shots")


def edited_copies(photos: dict[str, bytes]) -> dict[str, bytes]:
    """Copies a real library holds: a smaller re-save and a crop, so groups show "+N copies"."""
    copies = {}
    for name in ("chelsea.jpg", "coffee.jpg"):
        image = Image.open(io.BytesIO(photos[name])).convert("RGB")
        w, h = image.size
        stem = name.removesuffix(".jpg")
        copies[f"{stem}-small.jpg"] = jpeg(image.resize((w // 2, h // 2)), quality=70)
        copies[f"{stem}-crop.jpg"] = jpeg(image.crop((w // 20, h // 20, w - w // 20, h - h // 20)))
        copies[f"{stem}-mirror.jpg"] = jpeg(ImageOps.mirror(image))
    return copies


@pytest.fixture(scope="module")
def shots_library(shots_gateway: RunningGateway) -> None:
    photos = sample_photos()
    files = [
        ("files", (name, data, "image/jpeg"))
        for name, data in {**photos, **edited_copies(photos)}.items()
    ]
    with shots_gateway.client() as client:
        response = client.post("/v1/images", files=files, data={"metadata": '{"album": "samples"}'})
    assert response.status_code == 201, response.text


def small_png(png: bytes) -> bytes:
    """A palette PNG when the full-colour one is too heavy for a README."""
    if len(png) <= MAX_BYTES:
        return png
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256).save(out, "PNG", optimize=True)
    return out.getvalue()


def searched(page: Page) -> None:
    page.get_by_test_id("text-query").fill(QUERY)
    page.get_by_test_id("text-query").press("Enter")
    expect(page.get_by_test_id("results")).to_have_attribute("data-query", f"text:{QUERY}")
    expect(page.get_by_test_id("result").first).to_be_visible()
    page.wait_for_timeout(1500)  # searches read as of half a second ago: settle, then look
    wait_for_images(page)


@pytest.mark.parametrize(
    ("name", "width", "height"),
    [("screenshot.png", 1280, 800), ("screenshot-phone.png", 390, 844)],
)
def test_the_docs_screenshots(
    browser: Browser,
    shots_gateway: RunningGateway,
    shots_library: None,
    name: str,
    width: int,
    height: int,
) -> None:
    with open_page(browser, shots_gateway.url, width=width, height=height) as page:
        searched(page)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        ratios = page.eval_on_selector_all(
            "[data-testid=result] img", "images => images.map(i => i.width / i.height)"
        )
        assert ratios and all(abs(r - 1) < 0.02 for r in ratios), ratios  # square thumbnails
        png = small_png(page.screenshot())
    assert len(png) <= MAX_BYTES
    (DOCS / name).write_bytes(png)
