"""Settings that change behaviour without a server to show it: each one's effect, checked
at the client it configures (real clients against closed ports, or a fake MilvusClient)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import SecretStr

from gateway.cli.serve import gateway_env
from gateway.clients import milvus_connection as milvus_module
from gateway.clients.milvus import VectorIndex
from gateway.clients.triton import TritonClient
from gateway.config import MilvusSettings, ServerSettings, Settings, TritonSettings
from gateway.errors import MilvusUnavailableError, TritonUnavailableError
from gateway.models.registry import CLIP
from gateway.serving.process import free_port
from gateway.serving.stack_settings import StackSettings


@pytest.mark.parametrize("timeout_s", [0.5, 2.0])
def test_triton_timeout_bounds_a_call_to_an_unreachable_triton(timeout_s: float) -> None:
    async def call() -> float:
        client = TritonClient(TritonSettings(url=f"127.0.0.1:{free_port()}", timeout_s=timeout_s))
        started = time.monotonic()
        with pytest.raises(TritonUnavailableError):
            await client.embed(CLIP.image_model, np.zeros((1, 224, 224, 3), np.uint8))
        await client.close()
        return time.monotonic() - started

    elapsed = asyncio.run(call())
    assert 0.5 * timeout_s <= elapsed <= timeout_s + 1.5


@pytest.mark.parametrize("timeout_s", [0.5, 2.0])
def test_milvus_timeout_bounds_a_call_to_an_unreachable_milvus(timeout_s: float) -> None:
    async def call() -> float:
        closed = f"http://127.0.0.1:{free_port()}"
        index = VectorIndex(MilvusSettings(uri=closed, timeout_s=timeout_s))
        started = time.monotonic()
        with pytest.raises(MilvusUnavailableError):
            await index.count("images_clip")
        return time.monotonic() - started

    elapsed = asyncio.run(call())
    assert 0.5 * timeout_s <= elapsed <= 2 * timeout_s + 1.5


class FakeMilvusClient:
    """Records what VectorIndex hands to pymilvus' MilvusClient."""

    made: ClassVar[list[dict[str, Any]]] = []
    searches: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        FakeMilvusClient.made.append(kwargs)

    def search(self, collection: str, **kwargs: Any) -> list[list[dict[str, Any]]]:
        FakeMilvusClient.searches.append(kwargs)
        return [[]]


@pytest.fixture
def fake_milvus(monkeypatch: pytest.MonkeyPatch) -> type[FakeMilvusClient]:
    FakeMilvusClient.made, FakeMilvusClient.searches = [], []
    monkeypatch.setattr(milvus_module, "MilvusClient", FakeMilvusClient)
    return FakeMilvusClient


def test_milvus_token_timeout_search_ef_and_read_consistency_reach_pymilvus(
    fake_milvus: type[FakeMilvusClient],
) -> None:
    settings = MilvusSettings(
        uri="http://milvus:19530",
        token=SecretStr("root:s3cret"),
        timeout_s=7.0,
        search_ef=40,
        read_consistency="Bounded",
    )
    index = VectorIndex(settings)
    asyncio.run(index.search("images_clip", [0.0] * 512, top_k=5))
    asyncio.run(index.search("images_clip", [0.0] * 512, top_k=64))
    assert fake_milvus.made == [
        {"uri": "http://milvus:19530", "token": "root:s3cret", "timeout": 7.0, "dedicated": True}
    ]
    first, second = fake_milvus.searches
    assert first["search_params"]["params"] == {"ef": 40}
    assert second["search_params"]["params"] == {"ef": 64}  # ef may not be below top_k
    assert first["consistency_level"] == second["consistency_level"] == "Bounded"


def test_preprocess_workers_sets_the_pool_size_and_zero_means_usable_cores() -> None:
    assert Settings(server=ServerSettings(preprocess_workers=3)).preprocess_pool_size() == 3
    assert Settings().preprocess_pool_size() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("kind", ["server", "lite"])
def test_the_stacks_milvus_choice_picks_the_gateways_milvus_uri(tmp_path: Path, kind: str) -> None:
    stack = StackSettings(data_dir=tmp_path, milvus=kind, milvus_port=19999)  # type: ignore[arg-type]
    uri = gateway_env(stack)["PIC_SEARCH_MILVUS__URI"]
    if kind == "server":
        assert uri == "http://127.0.0.1:19999"
    else:  # a Milvus Lite file: the gateway opens it itself, no server runs
        assert uri == str(tmp_path.resolve() / "milvus-lite" / "pic-search.db")
