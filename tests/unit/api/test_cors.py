"""CORS: only the configured origins may call the API from a browser."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from gateway.config import Settings
from tests.unit.api.app_on_fakes import http_on_fakes


def _preflight(client: TestClient, origin: str) -> tuple[int, str | None]:
    response = client.options(
        "/v1/images",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key",
        },
    )
    return response.status_code, response.headers.get("access-control-allow-origin")


def test_a_configured_origin_may_post_with_an_api_key_and_others_may_not(tmp_path: Path) -> None:
    settings = Settings()
    settings.server.cors_origins = ["https://photos.example"]
    with http_on_fakes(tmp_path, settings) as (client, _):
        assert _preflight(client, "https://photos.example") == (200, "https://photos.example")
        status, allowed = _preflight(client, "https://evil.example")
        assert status == 400 and allowed is None


def test_without_configured_origins_no_cors_headers_are_sent(tmp_path: Path) -> None:
    with http_on_fakes(tmp_path) as (client, _):
        response = client.get("/healthz", headers={"Origin": "https://photos.example"})
        assert "access-control-allow-origin" not in response.headers
