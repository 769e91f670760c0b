"""The S3 image store against a real S3 API server (moto in server mode), directly and
behind a gateway: what several gateway replicas share."""

from __future__ import annotations

import asyncio
import hashlib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.config import StoreSettings
from gateway.errors import NotFoundError
from gateway.serving.process import ServerProcess, free_port, venv_bin
from gateway.store.factory import open_store
from tests.integration import images
from tests.integration.conftest import GatewayFactory


def moto_server(directory: Path) -> tuple[ServerProcess, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2) as response:
            return bool(response.status == 200)

    argv = [str(venv_bin() / "moto_server"), "-p", str(port)]
    return ServerProcess("moto", argv, directory / "moto.log", ready), url


@pytest.fixture(scope="module")
def s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = moto_server(tmp_path_factory.mktemp("moto"))
    with process:
        yield url


def _settings(url: str, bucket: str) -> StoreSettings:
    return StoreSettings(
        kind="s3",
        s3_endpoint_url=url,
        s3_bucket=bucket,
        s3_access_key=SecretStr("testing"),
        s3_secret_key=SecretStr("testing"),
    )


def test_the_s3_store_puts_gets_lists_and_deletes(s3_url: str) -> None:
    async def scenario() -> None:
        store = await open_store(_settings(s3_url, "unit"))
        image_id = "a" * 64
        assert not await store.exists(image_id, "original")
        await store.put(image_id, "original", b"bytes")
        await store.put(image_id, "thumbnail", b"thumb")
        assert await store.get(image_id, "original") == b"bytes"
        assert await store.exists(image_id, "thumbnail")
        assert await store.ids() == [image_id]
        await store.delete(image_id)
        assert await store.ids() == []
        with pytest.raises(NotFoundError):
            await store.get(image_id, "original")
        with pytest.raises(NotFoundError):
            await store.get("../../etc/passwd", "original")
        assert await store.ping()

    asyncio.run(scenario())


def _gateway_env(url: str) -> dict[str, str]:
    return {
        "PIC_SEARCH_STORE__KIND": "s3",
        "PIC_SEARCH_STORE__S3_ENDPOINT_URL": url,
        "PIC_SEARCH_STORE__S3_BUCKET": "gateway",
        "PIC_SEARCH_STORE__S3_ACCESS_KEY": "testing",
        "PIC_SEARCH_STORE__S3_SECRET_KEY": "testing",
    }


def test_a_gateway_on_the_s3_store_ingests_serves_and_deletes(
    s3_url: str, gateway_factory: GatewayFactory
) -> None:
    env = _gateway_env(s3_url)
    data = images.save(images.photo("rocket"), "JPEG")
    image_id = hashlib.sha256(data).hexdigest()
    with gateway_factory("s3", env) as gateway, gateway.client() as client:
        assert client.post("/v1/images", files=[("files", ("r.jpg", data))]).status_code == 201
        assert client.get(f"/v1/images/{image_id}/content").content == data
        assert (
            client.get(f"/v1/images/{image_id}/thumbnail").headers["content-type"] == "image/jpeg"
        )
        assert client.delete(f"/v1/images/{image_id}").status_code == 204
        assert client.get(f"/v1/images/{image_id}/content").status_code == 404


def test_a_store_outage_gets_503_store_unavailable_and_changes_nothing(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    process, url = moto_server(tmp_path)
    kept = images.save(images.photo("coffee"), "JPEG")
    refused = images.save(images.photo("chelsea"), "JPEG")
    with (
        process,
        gateway_factory("storeout", _gateway_env(url)) as gateway,
        gateway.client() as client,
    ):
        assert client.post("/v1/images", files=[("files", ("k.jpg", kept))]).status_code == 201
        process.stop()

        answer = client.post("/v1/images", files=[("files", ("r.jpg", refused))])
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "store_unavailable"
        assert answer.headers["retry-after"] == "5"  # the store's (not configurable)
        content = client.get(f"/v1/images/{hashlib.sha256(kept).hexdigest()}/content")
        assert content.status_code == 503
        assert content.json()["error"]["code"] == "store_unavailable"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["store"] is False
        # The refused upload left no vectors behind.
        similar = client.get(f"/v1/images/{hashlib.sha256(refused).hexdigest()}/similar")
        assert similar.status_code == 404
