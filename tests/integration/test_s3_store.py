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


@pytest.fixture(scope="module")
def s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2) as response:
            return bool(response.status == 200)

    log = Path(tmp_path_factory.mktemp("moto")) / "moto.log"
    with ServerProcess("moto", [str(venv_bin() / "moto_server"), "-p", str(port)], log, ready):
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


def test_a_gateway_on_the_s3_store_ingests_serves_and_deletes(
    s3_url: str, gateway_factory: GatewayFactory
) -> None:
    env = {
        "PIC_SEARCH_STORE__KIND": "s3",
        "PIC_SEARCH_STORE__S3_ENDPOINT_URL": s3_url,
        "PIC_SEARCH_STORE__S3_BUCKET": "gateway",
        "PIC_SEARCH_STORE__S3_ACCESS_KEY": "testing",
        "PIC_SEARCH_STORE__S3_SECRET_KEY": "testing",
    }
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
