"""Everything the services need, built once by the composition root (gateway/server.py).

The clients sit behind the interfaces of clients/base.py and store/base.py: the root wires
the real ones, unit tests build a `Backends` from fakes.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from gateway.clients.base import CollectionAdmin, Embedder, VectorSearch, VectorStore
from gateway.config import Settings
from gateway.errors import ErrorKind, PicSearchError, ValidationError
from gateway.models.clip_tokenizer import ClipTokenizer
from gateway.models.registry import search_models
from gateway.models.spec import SearchModel, TritonModelSpec, is_random
from gateway.services.ingest_turns import IngestTurns
from gateway.services.leftovers import Leftovers
from gateway.services.record_cache import RecordCache
from gateway.services.single_flight import SingleFlight
from gateway.store.base import ImageStore

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Backends:
    settings: Settings
    triton: Embedder
    vectors: VectorSearch  # the search port: rows, hits, listings
    collections: CollectionAdmin  # the admin port: collections and their aliases
    store: ImageStore
    pool: ThreadPoolExecutor
    tokenizer: ClipTokenizer
    leftovers: Leftovers
    # The enabled registry models, in registry order.
    models: list[SearchModel] = field(default_factory=list)
    # Search model name -> "<triton model>@<weights provenance>", learnt from Triton.
    fingerprints: dict[str, str] = field(default_factory=dict)
    # Search model name -> the weights provenance of its image model.
    provenance: dict[str, str] = field(default_factory=dict)
    # Search model name -> its `cutoff=auto` threshold, as the model's Triton config records it.
    cutoffs: dict[str, float | None] = field(default_factory=dict)
    # Search model name -> its copy threshold for `group=true`, from the same config.
    copy_thresholds: dict[str, float | None] = field(default_factory=dict)
    # Search model name -> whether its Triton config serves its label head (real weights).
    label_heads: dict[str, bool] = field(default_factory=dict)
    collections_ready: bool = False
    # Image ids being ingested by this gateway: one ingest per id at a time.
    ingests: SingleFlight = field(default_factory=SingleFlight)
    # Image records that search results and listings read, by id.
    records: RecordCache = field(default_factory=RecordCache)
    _init_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Each event loop's turns for ingest's model calls (see `ingest_turns`).
    _ingest_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IngestTurns] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    @classmethod
    def create(
        cls, settings: Settings, triton: Embedder, vectors: VectorStore, store: ImageStore
    ) -> Backends:
        return cls(
            settings=settings,
            triton=triton,
            vectors=vectors,
            collections=vectors,
            store=store,
            pool=ThreadPoolExecutor(settings.preprocess_pool_size(), thread_name_prefix="decode"),
            tokenizer=ClipTokenizer.from_package(),
            leftovers=Leftovers(vectors, store),
            models=search_models(settings.models.enabled),
        )

    async def close(self) -> None:
        await self.leftovers.stop()
        await self.triton.close()
        await self.vectors.close()
        await self.store.close()
        self.pool.shutdown(wait=True)

    def ingest_turns(self) -> IngestTurns:
        """What ingest, reindex and repair call Triton through: settings.triton.ingest_calls
        calls at once (services/ingest_turns.py). One per event loop, since a semaphore
        belongs to the loop it first waited in (tests run several loops)."""
        loop = asyncio.get_running_loop()
        if loop not in self._ingest_turns:
            turns = IngestTurns(self.triton, self.settings.triton.ingest_calls)
            self._ingest_turns[loop] = turns
        return self._ingest_turns[loop]

    def collection(self, model: SearchModel) -> str:
        return f"{self.settings.milvus.collection_prefix}{model.name}"

    async def ensure_collections(self) -> None:
        """Learn each model's weights from Triton and create or verify its collection."""
        if self.collections_ready:
            return
        async with self._init_lock:
            if self.collections_ready:
                return
            # All at once: creating, indexing and loading a collection is mostly waiting on
            # Milvus (about 3 s each), so three models start in the time of one.
            results = await asyncio.gather(
                *(self._ensure_collection(model) for model in self.models),
                return_exceptions=True,
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                # A collection of other weights says more than a sibling's timeout (which
                # the concurrent work itself may cause), so it is the one reported.
                raise min(failures, key=_is_unavailable)
            self.collections_ready = True

    async def _ensure_collection(self, model: SearchModel) -> None:
        fingerprint = await self.fingerprint(model)
        await self.collections.ensure_collection(self.collection(model), fingerprint, model.dim)
        self.fingerprints[model.name] = fingerprint

    async def fingerprint(self, model: SearchModel) -> str:
        """What the collection's vectors depend on: the Triton model, its weights and, when
        reduced, the precision it runs at (a build that changes it reindexes rather than mix
        vectors; fp32 names none, so collections from before precision counted stay valid)."""
        serving = await self.triton.serving(model.image_model)
        self.provenance[model.name] = serving.weights
        self.cutoffs[model.name] = serving.cutoff
        self.copy_thresholds[model.name] = serving.copy_threshold
        self.label_heads[model.name] = serving.labels
        reduced = "" if serving.precision in ("fp32", "unknown") else f"|{serving.precision}"
        return f"{model.image_model.name}@{serving.weights}{reduced}"

    def image_specs(self) -> list[TritonModelSpec]:
        return [model.image_model for model in self.models]

    def model(self, name: str | None) -> SearchModel:
        """An enabled model by name, or the default search model when `name` is None."""
        if name is None:
            return self.default_model()
        for model in self.models:
            if model.name == name:
                return model
        raise ValidationError(
            f"unknown model {name!r}; choose one of {[m.name for m in self.models]}",
            code="unknown_model",
        )

    def default_model(self) -> SearchModel:
        """The best enabled model with real weights (the best random one if none has)."""
        real = [m for m in self.models if not self.random_weights(m)]
        return max(real or self.models, key=lambda m: m.quality_rank)

    def text_model(self, name: str | None = None) -> SearchModel:
        """The named model if it has a text tower, else the best enabled one that has."""
        if name is not None:
            model = self.model(name)
            if model.text_model is None:
                towers = [m.name for m in self.models if m.text_model is not None]
                raise ValidationError(
                    f"model {name!r} has no text tower; text search takes {towers}",
                    code="no_text_tower",
                )
            return model
        for model in sorted(self.models, key=lambda m: -m.quality_rank):
            if model.text_model is not None:
                return model
        raise ValidationError(
            "no enabled model has a text tower (enable `clip` for text search)",
            code="unknown_model",
        )

    def random_weights(self, model: SearchModel) -> bool:
        """True when the model's weights are seeded random (known once Triton answered)."""
        return is_random(self.provenance.get(model.name, "random"))

    async def run_cpu(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run CPU-bound work (decode, resize) in the pool, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, lambda: fn(*args, **kwargs))


def _is_unavailable(error: BaseException) -> bool:
    return isinstance(error, PicSearchError) and error.kind is ErrorKind.UNAVAILABLE
