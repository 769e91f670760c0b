"""Everything the services need, opened once by the app's lifespan (or the CLI).

The clients sit behind the interfaces of clients/base.py and store/base.py: `open()` wires
the real ones, unit tests build a `Backends` from fakes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from gateway.clients.base import Embedder, VectorStore
from gateway.config import Settings
from gateway.errors import ErrorKind, PicSearchError
from gateway.models.clip_tokenizer import ClipTokenizer
from gateway.models.spec import SEARCH_MODELS, SearchModel
from gateway.services.leftovers import Leftovers
from gateway.store.base import ImageStore

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Backends:
    settings: Settings
    triton: Embedder
    vectors: VectorStore
    store: ImageStore
    pool: ThreadPoolExecutor
    tokenizer: ClipTokenizer
    leftovers: Leftovers
    # Search model name -> "<triton model>@<weights provenance>", learnt from Triton.
    fingerprints: dict[str, str] = field(default_factory=dict)
    collections_ready: bool = False
    _init_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def create(
        cls, settings: Settings, triton: Embedder, vectors: VectorStore, store: ImageStore
    ) -> Backends:
        return cls(
            settings=settings,
            triton=triton,
            vectors=vectors,
            store=store,
            pool=ThreadPoolExecutor(settings.preprocess_pool_size(), thread_name_prefix="decode"),
            tokenizer=ClipTokenizer.from_package(),
            leftovers=Leftovers(vectors, store),
        )

    @classmethod
    async def open(cls, settings: Settings, check_collections: bool = True) -> Backends:
        # Imported here: only the real wiring needs the client libraries.
        from gateway.clients.milvus import VectorIndex
        from gateway.clients.triton import TritonClient
        from gateway.store.factory import open_store

        backends = cls.create(
            settings,
            TritonClient(settings.triton),
            VectorIndex(settings.milvus),
            await open_store(settings.store),
        )
        try:
            if check_collections:
                await backends.ensure_collections()
        except PicSearchError as exc:
            if exc.kind is not ErrorKind.UNAVAILABLE:
                await backends.close()
                raise  # e.g. a model mismatch: refuse to start, saying why
            # Triton or Milvus is not up yet: start anyway, stay unready, retry on use.
        backends.leftovers.start()
        return backends

    async def close(self) -> None:
        await self.leftovers.stop()
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

    async def run_cpu(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run CPU-bound work (decode, resize) in the pool, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, lambda: fn(*args, **kwargs))
