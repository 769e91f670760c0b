"""A collection built with other weights: the gateway serves nothing from it (unready,
every use answers model_mismatch) but stays up, and `pic-search reindex`, through the
service's admin API, re-embeds the stored originals into a new collection and moves the
alias."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pymilvus import MilvusClient

from gateway.clients.base import Hit
from gateway.clients.milvus import VectorIndex
from gateway.config import MilvusSettings
from gateway.serving.milvus import milvus_process
from gateway.serving.process import free_port
from tests.integration import images
from tests.integration.conftest import (
    GatewayFactory,
    RunningMilvus,
    RunningTriton,
    isolated_gateway,
)
from tests.integration.support import pic_search, wait_until

ALIAS = "rx_clip"
FIELDS = ["id", "embedding", "created_at", "metadata", "taken", "camera", "has_location"]


def _point_alias_at_other_weights(uri: str, alias: str) -> str:
    async def run() -> str:
        index = VectorIndex(MilvusSettings(uri=uri))
        other = await index.create_physical(alias, "clip_image@pretrained:someone-else", 512)
        await index.switch_alias(alias, other)
        await index.close()
        return other

    return asyncio.run(run())


def _rows(client: MilvusClient, collection: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = client.query(
        collection, filter=f"id in {ids!r}".replace("'", '"'), output_fields=FIELDS,
        consistency_level="Strong",
    )  # fmt: skip
    return {row["id"]: row for row in rows}


def _replace_with_other_weights(uri: str, rows: dict[str, dict[str, Any]]) -> str:
    """What a weights change leaves: the alias on a collection of other vectors for the same
    images (here random unit vectors), and the collection of the served weights gone, so
    only a real re-embed can bring those vectors back."""

    async def run() -> str:
        index = VectorIndex(MilvusSettings(uri=uri))
        original = await index.target(ALIAS)
        assert original is not None
        other = await index.create_physical(ALIAS, "clip_image@pretrained:someone-else", 512)
        rng = np.random.default_rng(7)
        fake = []
        for row in rows.values():
            vector = rng.standard_normal(512)
            fake.append({**row, "embedding": (vector / np.linalg.norm(vector)).tolist()})
        await index.upsert(other, fake)
        await index.switch_alias(ALIAS, other)
        await index.drop(original)
        await index.close()
        return other

    return asyncio.run(run())


class AliasWatcher(threading.Thread):
    """Searches through the alias until stopped, as the gateway searches (its Milvus client,
    retries and read consistency): which vectors each answer came from, told apart by the
    scores the known vectors give the query."""

    def __init__(
        self, uri: str, consistency: str, ids: list[str], known: dict[str, dict[str, np.ndarray]]
    ) -> None:
        super().__init__(daemon=True)
        self.uri, self.consistency, self.ids, self.known = uri, consistency, ids, known
        self.query = known["rebuilt"][ids[0]]
        self.seen: list[str] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def _which(self, hits: list[Hit]) -> str:
        scores = {hit.id: hit.score for hit in hits}
        if set(scores) != set(self.ids):
            return f"{len(scores)} rows"
        for name, vectors in self.known.items():
            if all(abs(scores[i] - float(vectors[i] @ self.query)) < 1e-3 for i in self.ids):
                return name
        return "mixed"

    def run(self) -> None:
        asyncio.run(self._watch())

    async def _watch(self) -> None:
        settings = MilvusSettings(uri=self.uri, read_consistency=self.consistency)
        index = VectorIndex(settings)
        while not self.stop.is_set():
            try:
                snapshot = self._which(await index.search(ALIAS, self.query.tolist(), 10))
            except Exception as exc:  # recorded: an assertion here would only end the thread
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            else:
                if not self.seen or self.seen[-1] != snapshot:
                    self.seen.append(snapshot)
            await asyncio.sleep(0.01)
        await index.close()


def test_a_weights_change_is_refused_until_reindex_rebuilds_the_collection(
    gateway_factory: GatewayFactory,
    triton: RunningTriton,
    milvus: RunningMilvus,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> None:
    env = {"PIC_SEARCH_STORE__PATH": str(tmp_path_factory.mktemp("rx-store") / "store")}
    files = [images.save(images.photo(n), "JPEG") for n in ("coffee", "moon", "page")]
    ids = [hashlib.sha256(d).hexdigest() for d in files]
    with gateway_factory("rx", env) as gateway, gateway.client() as client:
        batch = [("files", (f"{i}.jpg", d)) for i, d in enumerate(files)]
        created = client.post("/v1/images", files=batch, data={"metadata": '{"album": "rx"}'})
        assert created.status_code == 201
    milvus_client = MilvusClient(uri=milvus.uri)
    built = _rows(milvus_client, ALIAS, ids)
    assert set(built) == set(ids)

    other = _replace_with_other_weights(milvus.uri, built)
    other_rows = _rows(milvus_client, ALIAS, ids)
    # The gateway stays up to be reindexed, but unready and serving nothing of the other
    # weights' vectors, saying what to do.
    gateway = isolated_gateway("rx", triton, milvus, tmp_path_factory, env)
    gateway.process.start()

    known = {
        "other weights": {i: np.array(r["embedding"]) for i, r in other_rows.items()},
        "rebuilt": {i: np.array(r["embedding"]) for i, r in built.items()},
    }
    # Session (the gateway's default) reads what the query node has consumed so far: they
    # would see a collection the alias reached too early. Strong reads wait a time tick:
    # they would see the old collection dropped under them.
    watchers = [AliasWatcher(milvus.uri, level, ids, known) for level in ("Session", "Strong")]
    for watcher in watchers:
        watcher.start()
    try:
        with gateway.client() as client:
            wait_until(lambda: _answers(client))
            assert client.get("/readyz").status_code == 503
            refused = client.get("/v1/search/text", params={"q": "coffee"})
            assert refused.json()["error"]["code"] == "model_mismatch", refused.text
            assert "pic-search reindex" in refused.json()["error"]["message"]
            # From another folder, as a person would run it: only the URL says where.
            result = pic_search("reindex", "--url", gateway.url, cwd=tmp_path)
    finally:
        gateway.process.stop()
        for watcher in watchers:
            watcher.stop.set()
            watcher.join(timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{ALIAS}: now" in result.stdout and "(3 images)" in result.stdout
    assert "rx_vgg16: already built" in result.stdout
    assert other not in milvus_client.list_collections()
    assert list(tmp_path.iterdir()) == []  # the CLI created nothing where it ran

    # Reads through the alias never failed and never saw a mix: the other weights' vectors
    # until the alias moved, then the re-embedded ones.
    for watcher in watchers:
        assert watcher.errors == [], watcher.consistency
        assert watcher.seen == ["other weights", "rebuilt"], (watcher.consistency, watcher.seen)
    rebuilt = _rows(milvus_client, ALIAS, ids)
    for image_id in ids:
        assert np.allclose(rebuilt[image_id]["embedding"], built[image_id]["embedding"], atol=1e-4)
        assert rebuilt[image_id]["created_at"] == built[image_id]["created_at"]
        assert rebuilt[image_id]["metadata"] == built[image_id]["metadata"] == {"album": "rx"}

    with gateway_factory("rx", env) as gateway, gateway.client() as client:
        query = {"q": "coffee", "top_k": 10, "model": "clip"}  # the default would be tags
        found = client.post("/v1/search/text", json=query).json()["results"]
        assert {r["id"] for r in found} == set(ids)


def test_a_gateway_that_started_without_milvus_reports_a_model_mismatch_on_first_use(
    triton: RunningTriton,
    milvus: RunningMilvus,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> None:
    # Its own Milvus (Lite's server), not running when the gateway starts: the gateway
    # starts unready, and meets the other weights' collection only once Milvus is back.
    # The alias is pointed before the gateway can ever reach this Milvus (its health
    # loop would otherwise create the served weights' collection first).
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    with milvus_process("lite", tmp_path / "milvus", port):
        _point_alias_at_other_weights(uri, "mm_clip")
    env = {"PIC_SEARCH_MILVUS__URI": uri, "PIC_SEARCH_MILVUS__TIMEOUT_S": "2"}
    gateway = isolated_gateway("mm", triton, milvus, tmp_path_factory, env)
    gateway.process.start()  # not waiting for readiness: it has no Milvus yet
    try:
        with gateway.client() as client:
            deadline = time.monotonic() + 120
            while not _answers(client) and time.monotonic() < deadline:
                time.sleep(0.5)
            with milvus_process("lite", tmp_path / "milvus", port):
                refused = client.get("/v1/search/text", params={"q": "coffee"})
    finally:
        gateway.process.stop()
    assert refused.status_code == 500, refused.text
    assert refused.json()["error"]["code"] == "model_mismatch"
    assert "pic-search reindex" in refused.json()["error"]["message"]


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False
