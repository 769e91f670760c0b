"""CORS: only the configured origins may call the API from a browser."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.config import Settings


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


def test_a_configured_origin_may_post_with_an_api_key_and_others_may_not() -> None:
    settings = Settings()
    settings.server.cors_origins = ["https://photos.example"]
    # No `with`: the lifespan (Triton, Milvus) is not started; preflights never reach it.
    client = TestClient(create_app(settings))
    assert _preflight(client, "https://photos.example") == (200, "https://photos.example")
    status, allowed = _preflight(client, "https://evil.example")
    assert status == 400 and allowed is None


def test_without_configured_origins_no_cors_headers_are_sent() -> None:
    client = TestClient(create_app(Settings()))
    response = client.get("/healthz", headers={"Origin": "https://photos.example"})
    assert "access-control-allow-origin" not in response.headers
