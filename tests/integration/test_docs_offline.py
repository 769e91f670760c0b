"""/docs and /redoc render in a real Chromium with every request outside the gateway cut off:
their script, style and icon come from the gateway, not a CDN.

The gateway runs alone: the docs need neither Triton nor Milvus, and a gateway whose
backends are down starts anyway (unready), so this costs one process and a browser."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from gateway.serving.process import ServerProcess, free_port, venv_bin

# Nothing listens on these ports: the gateway's backends are down for the whole module.
NOWHERE = "127.0.0.1:{}"
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def alive(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
        return bool(response.status == 200)


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("docs-gateway")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PIC_SEARCH_SERVER__PORT": str(port),
        "PIC_SEARCH_GRPC__PORT": str(free_port()),
        "PIC_SEARCH_TRITON__URL": NOWHERE.format(free_port()),
        "PIC_SEARCH_MILVUS__URI": f"http://{NOWHERE.format(free_port())}",
        "PIC_SEARCH_STORE__PATH": str(workdir / "images"),
        "PIC_SEARCH_SERVER__LOG_LEVEL": "warning",
    }
    process = ServerProcess(
        "gateway",
        [str(venv_bin() / "pic-search"), "gateway"],
        workdir / "gateway.log",
        ready=lambda: alive(url),
        env={**os.environ, **env},
        startup_timeout_s=120,
    )
    with process:
        yield url


class Offline:
    """Aborts every request that is not for the gateway, and remembers it."""

    def __init__(self, gateway_url: str) -> None:
        self.host = urlsplit(gateway_url).netloc
        self.blocked: list[str] = []

    def __call__(self, route: Route) -> None:
        if urlsplit(route.request.url).netloc == self.host:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("internetdisconnected")


# `browser`: the session's one Chromium (tests/integration/web_page.py, via conftest).


@pytest.fixture
def offline_page(browser: Browser, gateway_url: str) -> Iterator[tuple[Page, Offline]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    offline = Offline(gateway_url)
    context.route("**/*", offline)
    page = context.new_page()
    yield page, offline
    context.close()


def test_the_gateway_under_test_has_no_backends(gateway_url: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as unready:
        urllib.request.urlopen(f"{gateway_url}/readyz", timeout=5)
    assert unready.value.code == 503


def test_swagger_ui_renders_the_operations_without_internet(
    offline_page: tuple[Page, Offline], gateway_url: str, tmp_path: Path
) -> None:
    page, offline = offline_page
    page.goto(f"{gateway_url}/docs")

    upload = page.locator(".opblock-post").filter(has=page.get_by_text("/v1/images", exact=True))
    expect(upload).to_be_visible(timeout=30_000)
    expect(upload.locator(".opblock-summary-method")).to_have_text("POST")
    expect(page.locator(".opblock-get").filter(has_text="/v1/search/text").first).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("Pic Search")
    # Styled by the served stylesheet: the method badge is coloured, not plain text.
    badge = upload.locator(".opblock-summary-method")
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    page.screenshot(path=tmp_path / "docs.png")
    assert offline.blocked == [], "the page asked another host for something"


def test_redoc_renders_the_operations_without_internet(
    offline_page: tuple[Page, Offline], gateway_url: str, tmp_path: Path
) -> None:
    page, offline = offline_page
    page.goto(f"{gateway_url}/redoc")

    expect(page.locator("h1").first).to_contain_text("Pic Search", timeout=30_000)
    # ReDoc's menu lists every operation; its body shows each one's method and path.
    expect(page.get_by_role("menuitem").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("/v1/images")
    expect(page.locator("body")).to_contain_text("/v1/search/text")
    page.screenshot(path=tmp_path / "redoc.png")
    # ReDoc always asks for its footer's "by Redocly" logo and drops the image when that
    # fails; nothing else may leave the gateway.
    assert set(offline.blocked) <= {REDOCLY_LOGO}, offline.blocked
    expect(page.locator(f'img[src="{REDOCLY_LOGO}"]')).to_have_count(0)
