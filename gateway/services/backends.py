"""Everything the services need, opened once by the app's lifespan (or the CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from gateway.clients.milvus import VectorIndex
from gateway.clients.triton import TritonClient
from gateway.config import Settings
from gateway.errors import PicSearchError
from gateway.models.clip_tokenizer import ClipTokenizer
from gateway.models.spec import SEARCH_MODELS, SearchModel
from gateway.store.base import ImageStore
from gateway.store.factory import open_store

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Backends:
    settings: Settings
    triton: TritonClient
    vectors: VectorIndex
    store: ImageStore
    pool: ThreadPoolExecutor
    tokenizer: ClipTokenizer
    # Search model name -> "<triton model>@<weights provenance>", learnt from Triton.
    fingerprints: dict[str, str] = field(default_factory=dict)
    collections_ready: bool = False
    # Vectors a failed ingest may have left: (collection, id) -> sweep until (monotonic s).
    # A write that timed out may still land later, so each is swept for a while.
    pending_deletes: dict[tuple[str, str], float] = field(default_factory=dict)
    _init_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _sweeper: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, settings: Settings, check_collections: bool = True) -> Backends:
        backends = cls(
            settings=settings,
            triton=TritonClient(settings.triton),
            vectors=VectorIndex(settings.milvus),
            store=await open_store(settings.store),
            pool=ThreadPoolExecutor(settings.preprocess_pool_size(), thread_name_prefix="decode"),
            tokenizer=ClipTokenizer.from_package(),
        )
        try:
            if check_collections:
                await backends.ensure_collections()
        except PicSearchError as exc:
            if exc.status != 503:
                await backends.close()
                raise  # e.g. a model mismatch: refuse to start, saying why
            # Triton or Milvus is not up yet: start anyway, stay unready, retry on use.
        backends._sweeper = asyncio.create_task(backends._sweep_forever())
        return backends

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.triton.close()
        await self.vectors.close()
        await self.store.close()
        self.pool.shutdown(wait=True)

    def collection(self, model: SearchModel) -> str:
        return f"{self.settings.milvus.collection_prefix}{model.name}"

    async def ensure_collections(self) -> None:
        """Learn each model's weights from Triton and create or verify its collection."""
        if self.collections_ready:
            return
        async with self._init_lock:
            if self.collections_ready:
                return
            for model in SEARCH_MODELS.values():
                fingerprint = await self.fingerprint(model)
                await self.vectors.ensure_collection(self.collection(model), fingerprint, model.dim)
                self.fingerprints[model.name] = fingerprint
            self.collections_ready = True

    async def fingerprint(self, model: SearchModel) -> str:
        """What the collection's vectors depend on: the Triton model and its weights."""
        provenance = await self.triton.provenance(model.image_model)
        return f"{model.image_model.name}@{provenance}"

    def forget_later(self, collection: str, ids: list[str], for_s: float = 60.0) -> None:
        until = time.monotonic() + for_s
        for image_id in ids:
            self.pending_deletes[(collection, image_id)] = until

    async def sweep_pending_deletes(self) -> None:
        """Remove vectors left by failed ingests, unless the image has since been stored
        (a later ingest of the same bytes succeeded: its vectors are wanted)."""
        for (collection, image_id), until in sorted(self.pending_deletes.items()):
            if not await self.store.exists(image_id, "original"):
                await self.vectors.delete(collection, [image_id])
            if time.monotonic() > until:
                del self.pending_deletes[(collection, image_id)]

    async def _sweep_forever(self, interval_s: float = 2.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            if self.pending_deletes:
                with contextlib.suppress(PicSearchError):
                    await self.sweep_pending_deletes()

    async def run_cpu(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run CPU-bound work (decode, resize) in the pool, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, lambda: fn(*args, **kwargs))
