"""A collection built with other weights: the gateway refuses to start, `pic-search
reindex` re-embeds the stored originals into a new collection and moves the alias."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from pymilvus import MilvusClient

from gateway.clients.milvus import VectorIndex
from gateway.config import MilvusSettings
from gateway.serving.process import venv_bin
from tests.integration import images
from tests.integration.conftest import GatewayFactory, RunningMilvus, RunningTriton


def _point_alias_at_other_weights(uri: str, alias: str) -> str:
    async def run() -> str:
        index = VectorIndex(MilvusSettings(uri=uri))
        other = await index.create_physical(alias, "clip_image@pretrained:someone-else", 512)
        await index.switch_alias(alias, other)
        await index.close()
        return other

    return asyncio.run(run())


def test_a_weights_change_is_refused_until_reindex_rebuilds_the_collection(
    gateway_factory: GatewayFactory, triton: RunningTriton, milvus: RunningMilvus, tmp_path: Path
) -> None:
    env = {"PIC_SEARCH_STORE__PATH": str(tmp_path / "store")}
    files = [images.save(images.photo(n), "JPEG") for n in ("coffee", "moon", "page")]
    with gateway_factory("rx", env) as gateway, gateway.client() as client:
        batch = [("files", (f"{i}.jpg", d)) for i, d in enumerate(files)]
        assert client.post("/v1/images", files=batch).status_code == 201

    other = _point_alias_at_other_weights(milvus.uri, "rx_clip")
    # The gateway exits at startup, saying what to do, instead of mixing vectors.
    with pytest.raises(RuntimeError, match="pic-search reindex"), gateway_factory("rx", env):
        pass

    cli_env = {
        **os.environ,
        **env,
        "PIC_SEARCH_TRITON__URL": triton.grpc_url,
        "PIC_SEARCH_MILVUS__URI": milvus.uri,
        "PIC_SEARCH_MILVUS__COLLECTION_PREFIX": "rx_",
    }
    result = subprocess.run(
        [str(venv_bin() / "pic-search"), "reindex"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rx_clip: now" in result.stdout and "(3 images)" in result.stdout
    assert "rx_vgg16: already built" in result.stdout
    assert other not in MilvusClient(uri=milvus.uri).list_collections()

    with gateway_factory("rx", env) as gateway, gateway.client() as client:
        found = client.post("/v1/search/text", json={"q": "coffee", "top_k": 10}).json()["results"]
        assert {r["id"] for r in found} == {hashlib.sha256(d).hexdigest() for d in files}
