"""API keys: writes need one, reads stay open, keys never reach the log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.api import session
from tests.integration import images
from tests.integration.conftest import PROTECTED_KEY, GatewayFactory, RunningGateway

KEY_FROM_ENV = "env-key-7f3a9c1e55d0"
KEY_FROM_FILE = "file-key-0b8e6d2a4471"


@pytest.fixture(scope="module")
def keyed_gateway(
    gateway_factory: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    keys_file = tmp_path_factory.mktemp("secrets") / "api-keys"
    keys_file.write_text(f"# one key per line\n{KEY_FROM_FILE}\n")
    env = {
        "PIC_SEARCH_AUTH__API_KEYS": f'["{KEY_FROM_ENV}"]',
        "PIC_SEARCH_AUTH__API_KEYS_FILE": str(keys_file),
        "PIC_SEARCH_SERVER__LOG_LEVEL": "info",
    }
    with gateway_factory("auth", env) as running:
        yield running


def _upload(gateway: RunningGateway, headers: dict[str, str], quality: int = 81) -> tuple[int, str]:
    data = images.save(images.photo("clock"), "JPEG", quality=quality)
    with gateway.client() as client:
        response = client.post("/v1/images", files=[("files", ("c.jpg", data))], headers=headers)
    return response.status_code, response.json().get("error", {}).get("code", "")


def test_a_write_without_a_key_gets_401(keyed_gateway: RunningGateway) -> None:
    assert _upload(keyed_gateway, {}) == (401, "missing_api_key")


def test_a_write_with_a_wrong_key_gets_401(keyed_gateway: RunningGateway) -> None:
    assert _upload(keyed_gateway, {"X-API-Key": "not-the-key"}) == (401, "invalid_api_key")
    assert _upload(keyed_gateway, {"X-API-Key": KEY_FROM_ENV[:-1]}) == (401, "invalid_api_key")


def test_writes_with_a_right_key_succeed_from_env_file_or_bearer(
    keyed_gateway: RunningGateway,
) -> None:
    assert _upload(keyed_gateway, {"X-API-Key": KEY_FROM_ENV}, 81)[0] == 201
    assert _upload(keyed_gateway, {"X-API-Key": KEY_FROM_FILE}, 82)[0] == 201
    assert _upload(keyed_gateway, {"Authorization": f"Bearer {KEY_FROM_ENV}"}, 83)[0] == 201


def test_delete_needs_a_key_and_reads_do_not(keyed_gateway: RunningGateway) -> None:
    data = images.save(images.photo("clock"), "JPEG", quality=84)
    with keyed_gateway.client() as client:
        created = client.post(
            "/v1/images", files=[("files", ("c.jpg", data))], headers={"X-API-Key": KEY_FROM_ENV}
        )
        image_id = created.json()["results"][0]["id"]
        assert client.get(f"/v1/images/{image_id}").status_code == 200
        assert client.get("/v1/search/text", params={"q": "clock"}).status_code == 200
        assert client.delete(f"/v1/images/{image_id}").status_code == 401
        assert client.get(f"/v1/images/{image_id}").status_code == 200
        assert (
            client.delete(
                f"/v1/images/{image_id}", headers={"X-API-Key": KEY_FROM_FILE}
            ).status_code
            == 204
        )


def test_keys_never_appear_in_the_log(keyed_gateway: RunningGateway) -> None:
    _upload(keyed_gateway, {"X-API-Key": KEY_FROM_ENV}, 85)
    _upload(keyed_gateway, {"X-API-Key": "wrong-key-value-xyz"}, 86)
    log = Path(keyed_gateway.process.log_path).read_text()
    assert "POST /v1/images 401" in log  # the access log is on
    for secret in (KEY_FROM_ENV, KEY_FROM_FILE, "wrong-key-value-xyz"):
        assert secret not in log


def test_a_session_cookie_opens_protected_reads_and_is_refused_once_expired_or_forged(
    protected_gateway: RunningGateway,
) -> None:
    with protected_gateway.client() as client:
        assert client.get("/v1/stats").json()["error"]["code"] == "missing_api_key"
        wrong = client.post("/v1/session", headers={"X-API-Key": "not-the-key"})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        opened = client.post("/v1/session", headers={"X-API-Key": PROTECTED_KEY})
        assert opened.status_code == 204
        cookie = opened.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=3600" in cookie
        assert PROTECTED_KEY not in cookie
        assert client.get("/v1/stats").status_code == 200  # the client keeps the cookie
        # Protected images may be kept by the browser, never by a shared cache.
        data = images.save(images.photo("clock"), "JPEG", quality=87)
        created = client.post("/v1/images", files=[("files", ("c.jpg", data))])  # by cookie
        assert created.status_code == 201, created.text
        thumbnail = client.get(f"/v1/images/{created.json()['results'][0]['id']}/thumbnail")
        assert thumbnail.status_code == 200
        assert thumbnail.headers["cache-control"].startswith("private,")
        assert client.delete(f"/v1/images/{created.json()['results'][0]['id']}").status_code == 204

    def stats_with(token: str) -> tuple[int, str]:
        with protected_gateway.client(cookies={session.COOKIE: token}) as client:
            response = client.get("/v1/stats")
        return response.status_code, response.json().get("error", {}).get("code", "")

    key = PROTECTED_KEY.encode()
    assert stats_with(session.issue(key, time.time(), 60))[0] == 200
    assert stats_with(session.issue(key, time.time() - 3600, 60)) == (401, "invalid_session")
    assert stats_with(session.issue(b"another-key", time.time(), 60)) == (401, "invalid_session")
    with protected_gateway.client() as client:
        closed = client.delete("/v1/session")
    assert closed.status_code == 204 and "Max-Age=0" in closed.headers["set-cookie"]
