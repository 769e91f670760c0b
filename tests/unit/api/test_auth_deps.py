"""Write and read authorisation over HTTP, in process: keys in headers, the web page's
session cookie (opened with a key, refused once expired or signed by a removed key)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.api import session
from gateway.api.deps import Reader, Writer
from gateway.api.errors import install_error_handlers
from gateway.api.routes import session as session_routes
from gateway.config import AuthSettings, Settings

KEY = "unit-key-31f0"


def client(require_for_reads: bool = True, keys: tuple[str, ...] = (KEY,)) -> TestClient:
    app = FastAPI()
    app.state.settings = Settings(auth=AuthSettings(require_for_reads=require_for_reads))
    app.state.api_keys = [k.encode() for k in keys]
    install_error_handlers(app)
    app.include_router(session_routes.router)

    @app.get("/read", dependencies=[Reader])
    async def read() -> dict[str, str]:
        return {"ok": "read"}

    @app.post("/write", dependencies=[Writer])
    async def write() -> dict[str, str]:
        return {"ok": "write"}

    return TestClient(app)


def code(response: Any) -> tuple[int, str]:  # the test client's response type
    return response.status_code, response.json().get("error", {}).get("code", "")


def test_keys_in_headers_open_reads_and_writes() -> None:
    c = client()
    assert code(c.get("/read")) == (401, "missing_api_key")
    assert code(c.post("/write", headers={"X-API-Key": "nope"})) == (401, "invalid_api_key")
    assert c.get("/read", headers={"X-API-Key": KEY}).status_code == 200
    assert c.post("/write", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_reads_are_open_unless_configured_and_nothing_needs_a_key_without_keys() -> None:
    assert client(require_for_reads=False).get("/read").status_code == 200
    assert client(keys=()).post("/write").status_code == 200
    assert client(keys=()).post("/v1/session").status_code == 204


def test_a_session_opened_with_a_key_carries_reads_and_writes_without_it() -> None:
    c = client()
    refused = c.post("/v1/session", headers={"X-API-Key": "nope"})
    assert code(refused) == (401, "invalid_api_key") and "set-cookie" not in refused.headers
    opened = c.post("/v1/session", headers={"X-API-Key": KEY})
    assert opened.status_code == 204
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and KEY not in cookie
    assert c.get("/read").status_code == 200
    assert c.post("/write").status_code == 200
    assert c.delete("/v1/session").status_code == 204
    assert code(c.get("/read")) == (401, "missing_api_key")


@pytest.mark.parametrize(
    "token",
    [
        session.issue(KEY.encode(), time.time() - 7200, 60),  # expired
        session.issue(b"a-removed-key", time.time(), 60),  # signed by another key
        "not-a-token",
    ],
    ids=["expired", "other-key", "garbage"],
)
def test_a_bad_session_cookie_is_refused(token: str) -> None:
    c = client()
    c.cookies.set(session.COOKIE, token)
    assert code(c.get("/read")) == (401, "invalid_session")
    # A key in the headers still wins over a stale cookie.
    assert c.get("/read", headers={"X-API-Key": KEY}).status_code == 200
