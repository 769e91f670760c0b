"""/docs and /redoc name only the gateway's own assets, and the gateway serves them.
(tests/integration/test_docs_offline.py renders both in Chromium with the internet cut.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.unit.api.app_on_fakes import http_on_fakes

# Every src= or href= in a page, and every URL its inline script names.
URL = re.compile(r"""(?:src|href|spec-url)=["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with http_on_fakes(tmp_path) as (client, _):
        yield client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_nothing_from_another_host(client: TestClient, page: str) -> None:
    response = client.get(page)

    assert response.status_code == 200
    urls = [a or b for a, b in URL.findall(response.text)]
    assert urls, "the page names no script"
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_the_swagger_ui_page_uses_the_packaged_script_and_style(client: TestClient) -> None:
    html = client.get("/docs").text
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    style = client.get("/docs/assets/swagger-ui.css")

    assert '"/docs/assets/swagger-ui-bundle.js"' in html and "/openapi.json" in html
    assert "SwaggerUIBundle" in script.text and "javascript" in script.headers["content-type"]
    assert ".swagger-ui" in style.text and style.headers["content-type"].startswith("text/css")


def test_the_redoc_page_uses_the_packaged_standalone_script(client: TestClient) -> None:
    html = client.get("/redoc").text
    script = client.get("/docs/assets/redoc.standalone.js")

    assert '"/docs/assets/redoc.standalone.js"' in html and "fonts.googleapis" not in html
    assert "Redoc" in script.text


def test_the_oauth2_redirect_page_is_still_served(client: TestClient) -> None:
    assert "oauth2" in client.get("/docs/oauth2-redirect").text.lower()
