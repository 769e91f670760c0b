"""The gRPC transport on fake clients: status codes, error details, keys, health. (The
real stack runs in tests/integration/test_grpc_api.py.)"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from PIL import Image

from gateway.config import Settings
from gateway.grpc.client import GrpcApiError, ImageToIndex, PicSearchClient
from gateway.grpc.server import GrpcServer
from gateway.models.registry import search_models
from gateway.services.backends import Backends
from gateway.serving.process import free_port
from tests.fakes import FakeTriton, fake_backends
from tests.unit.images import encode

KEY = "k" * 32
T = TypeVar("T")


class Served:
    def __init__(self, backends: Backends, keys: list[str]) -> None:
        self.backends = backends
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self._run(self._start([k.encode() for k in keys]))
        self.port = self.server.port

    async def _start(self, keys: list[bytes]) -> GrpcServer:
        server = GrpcServer(self.backends.settings, self.backends, keys)  # on the server's loop
        await server.start()
        return server

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def client(self, key: str | None = KEY) -> PicSearchClient:
        return PicSearchClient(f"127.0.0.1:{self.port}", api_key=key or "", timeout_s=30)

    def stop(self) -> None:
        self._run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.backends.pool.shutdown()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = Settings()
    settings.grpc.port = free_port()
    settings.grpc.health_interval_s = 0.1
    running = Served(fake_backends(tmp_path, settings), [KEY])
    yield running
    running.stop()


def jpeg(shade: int) -> bytes:
    return encode(Image.new("RGB", (64, 48), (shade, 30, 200 - shade)), "JPEG")


def test_index_then_search_get_list_and_delete(served: Served) -> None:
    with served.client() as client:
        images = [ImageToIndex(f"{i}.jpg", jpeg(i * 20), {"n": i}) for i in range(5)]
        results = list(client.index_images([*images, ImageToIndex("x.txt", b"hello")]))
        assert [r.status for r in results] == ["created"] * 5 + ["rejected"]
        assert results[-1].code == "unsupported_image"
        found = client.search_by_image(jpeg(40), top_k=3)
        assert found.hits[0].id == results[2].id and found.hits[0].metadata == {"n": 2}
        assert len(client.similar_to(results[0].id, top_k=10).hits) == 4
        record = client.get_image(results[1].id, content=True)
        assert record["content"] == images[1].data and record["metadata"] == {"n": 1}
        page, cursor = client.list_images(limit=2)
        assert [p["id"] for p in page] == [results[4].id, results[3].id] and cursor
        client.delete_image(results[0].id)
        with pytest.raises(GrpcApiError) as caught:
            client.get_image(results[0].id)
        assert (caught.value.status, caught.value.code) == (
            grpc.StatusCode.NOT_FOUND,
            "image_not_found",
        )


def test_list_models_names_each_enabled_model_and_the_default(served: Served) -> None:
    with served.client() as client:
        models = client.models()
    enabled = search_models(served.backends.settings.models.enabled)
    assert [(m["name"], m["dimension"], m["text"]) for m in models] == [
        (m.name, m.dim, m.text_model is not None) for m in enabled
    ]
    assert {(m["weights"], m["random_weights"]) for m in models} == {("random:seed=0", True)}
    best = max(enabled, key=lambda m: m.quality_rank).name  # all random: the best of them
    assert [m["name"] for m in models if m["default"]] == [best]


@pytest.mark.parametrize(
    ("call", "status", "code"),
    [
        (lambda c: c.search_by_text(""), grpc.StatusCode.INVALID_ARGUMENT, "empty_query"),
        (lambda c: c.search_by_text("x", top_k=0), grpc.StatusCode.INVALID_ARGUMENT, "invalid_top_k"),
        (lambda c: c.search_by_image(b"nope"), grpc.StatusCode.INVALID_ARGUMENT, "unsupported_image"),
        (lambda c: c.search_by_image(jpeg(1), model="nope"), grpc.StatusCode.INVALID_ARGUMENT, "unknown_model"),
        (lambda c: c.search_by_text("x", filter={"a b": 1}), grpc.StatusCode.INVALID_ARGUMENT, "invalid_filter"),
        (lambda c: c.list_images(cursor="x"), grpc.StatusCode.INVALID_ARGUMENT, "invalid_cursor"),
        (lambda c: c.similar_to("../etc"), grpc.StatusCode.NOT_FOUND, "image_not_found"),
        (lambda c: list(c.index_images([])), grpc.StatusCode.INVALID_ARGUMENT, "no_files"),
    ],
)  # fmt: skip
def test_bad_input_gets_its_status_and_code(served: Served, call, status, code) -> None:  # type: ignore[no-untyped-def]
    with served.client() as client, pytest.raises(GrpcApiError) as caught:
        call(client)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_writes_need_a_key(served: Served) -> None:
    for key, code in ((None, "missing_api_key"), ("wrong", "invalid_api_key")):
        with served.client(key) as client:
            with pytest.raises(GrpcApiError) as caught:
                list(client.index_images([ImageToIndex("a.jpg", jpeg(3))]))
            assert (caught.value.status, caught.value.code) == (
                grpc.StatusCode.UNAUTHENTICATED,
                code,
            )
            client.stats()  # reads stay open by default


def test_triton_down_is_unavailable_and_health_follows(served: Served) -> None:
    triton = served.backends.triton
    assert isinstance(triton, FakeTriton)
    with served.client() as client:
        assert _eventually(lambda: client.health() == "SERVING")
        triton.down = True
        with pytest.raises(GrpcApiError) as caught:
            client.search_by_text("a cat")
        assert (caught.value.status, caught.value.code) == (
            grpc.StatusCode.UNAVAILABLE,
            "triton_unavailable",
        )
        assert _eventually(lambda: client.health() == "NOT_SERVING")
        triton.down = False
        assert _eventually(lambda: client.health() == "SERVING")


def _eventually(check, timeout_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_reads_need_a_key_when_configured(tmp_path: Path) -> None:
    settings = Settings()
    settings.grpc.port = free_port()
    settings.auth.require_for_reads = True
    running = Served(fake_backends(tmp_path, settings), [KEY])
    try:
        with running.client(None) as client, pytest.raises(GrpcApiError) as caught:
            client.search_by_text("a cat")
        assert caught.value.status == grpc.StatusCode.UNAUTHENTICATED
        with running.client() as client:
            assert client.search_by_text("a cat").hits == []  # nothing indexed yet
    finally:
        running.stop()
