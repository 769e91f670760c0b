"""In-memory stand-ins for Triton and Milvus at the service layer's interfaces
(gateway/clients/base.py), to test service logic without servers."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence, Sized
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.capture import TAKEN_NONE
from gateway.clients.base import (
    SCHEMA_VERSION,
    BuildState,
    Candidates,
    Hit,
    ModelServing,
    Row,
)
from gateway.config import Settings
from gateway.errors import MilvusUnavailableError, TritonUnavailableError
from gateway.models.spec import TritonModelSpec, is_random
from gateway.models.tagging import rank_score
from gateway.services.backends import Backends
from gateway.store.local import LocalImageStore
from tests.milvus_expressions import matches


async def until_called(calls: Sized, n: int) -> None:
    """Lets the loop run until a fake's `calls` holds `n` (a held call is then out)."""
    for _ in range(100):
        if len(calls) >= n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(calls)} calls, expected {n}")


class FakeTriton:
    """Deterministic unit vectors from each input row's bytes."""

    def __init__(self) -> None:
        self.down = False
        self.delay_s = 0.0  # how long an inference takes: lets concurrent requests overlap
        self.weights = "random:seed=0"  # what every model's config records
        self.model_weights: dict[str, str] = {}  # Triton model -> its own, where set
        # A label head's probabilities: class index -> probability for every row (else each
        # row's own peaked distribution, from its bytes).
        self.classes: dict[int, float] | None = None
        self.fail_next = 0  # how many of the next embed calls fail as an outage
        self.in_flight = 0  # embed calls running now, and the most there ever were
        self.most_in_flight = 0
        self.batches: list[tuple[str, int]] = []  # each embed call's model and rows

    async def embed(
        self, spec: TritonModelSpec, batch: npt.NDArray[np.generic]
    ) -> npt.NDArray[np.float32]:
        self.batches.append((spec.name, len(batch)))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if self.down or self.fail_next > 0:
            self.fail_next -= 1
            raise TritonUnavailableError("Triton is down (fake)")
        rows = []
        for row in batch:
            seed = int.from_bytes(hashlib.sha256(spec.name.encode() + row.tobytes()).digest()[:4])
            vector = np.random.default_rng(seed).standard_normal(spec.output.dims[0])
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, np.float32)

    async def embed_with_labels(
        self, spec: TritonModelSpec, batch: npt.NDArray[np.generic]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        assert spec.labels is not None, f"{spec.name} has no label head"
        vectors = await self.embed(spec, batch)
        rows = []
        for row in batch:
            probabilities = np.zeros(spec.labels.dims[0], np.float32)
            if self.classes is None:
                seed = int.from_bytes(hashlib.sha256(row.tobytes()).digest()[:4])
                top = np.random.default_rng(seed).choice(len(probabilities), 3, replace=False)
                probabilities[top] = (0.6, 0.3, 0.1)
            else:
                for index, p in self.classes.items():
                    probabilities[index] = p
            rows.append(probabilities)
        return vectors, np.asarray(rows, np.float32)

    async def models_ready(self, specs: list[TritonModelSpec]) -> bool:
        return not self.down

    async def provenance(self, spec: TritonModelSpec) -> str:
        if self.down:
            raise TritonUnavailableError("Triton is down (fake)")
        return self.model_weights.get(spec.name, self.weights)

    async def serving(self, spec: TritonModelSpec) -> ModelServing:
        weights = await self.provenance(spec)
        # As the exporter builds: a label head is served with real weights only.
        labels = spec.labels is not None and not is_random(weights)
        return ModelServing(weights, "openvino", "fp32", copy_threshold=0.95, labels=labels)

    async def close(self) -> None:
        pass


class FakeMilvus:
    """Collections as dicts; `fail_upserts_into` makes upserts into a collection fail after
    the others succeeded (a partial write)."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # alias -> the collection it points at
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}
        self.fail_upserts_into: set[str] = set()
        self.fail_deletes_from: set[str] = set()
        self.existence_reads = 0  # existing_ids calls: the "already there" reads
        self.schema_versions: dict[str, int] = {}  # collection -> version (default: current)

    def _collection(self, name: str) -> dict[str, dict[str, Any]]:
        return self.rows.setdefault(self.aliases.get(name, name), {})

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        pass

    async def ensure_collection(self, alias: str, fingerprint: str, dim: int) -> None:
        self._collection(alias)

    async def build_state(self, alias: str, fingerprint: str) -> BuildState:
        older = self.schema_versions.get(alias, SCHEMA_VERSION) < SCHEMA_VERSION
        return "older_schema" if older else "current"

    async def create_fresh(self, alias: str, fingerprint: str, dim: int) -> str:
        name = f"{alias}@{fingerprint}"
        self.rows[name] = {}
        return name

    async def seal(self, collection: str, rows: int) -> None:
        assert len(self._collection(collection)) == rows

    async def switch_alias(self, alias: str, target: str) -> str | None:
        previous = self.aliases.get(alias)
        self.aliases[alias] = target
        self.schema_versions.pop(alias, None)
        return previous

    async def drop(self, name: str) -> None:
        self.rows.pop(name, None)

    async def target(self, alias: str) -> str | None:
        return self.aliases.get(alias, alias)

    async def schema_version(self, collection: str) -> int:
        return self.schema_versions.get(collection, SCHEMA_VERSION)

    async def upsert(self, collection: str, rows: Sequence[dict[str, Any]]) -> None:
        if collection in self.fail_upserts_into:
            raise MilvusUnavailableError("Milvus is down (fake)")
        for row in rows:
            self._collection(collection)[row["id"]] = dict(row)

    async def delete(self, collection: str, ids: Sequence[str]) -> None:
        if collection in self.fail_deletes_from:
            raise MilvusUnavailableError("Milvus is down (fake)")
        for image_id in ids:
            self._collection(collection).pop(image_id, None)

    async def existing_ids(
        self, collection: str, ids: Sequence[str], strong: bool = True
    ) -> set[str]:
        self.existence_reads += 1
        return set(ids) & set(self._collection(collection))

    async def get(
        self, collection: str, id_: str, with_vector: bool = False
    ) -> dict[str, Any] | None:
        return self._collection(collection).get(id_)

    async def count(self, collection: str) -> int:
        return len(self._collection(collection))

    async def set_metadata(self, collection: str, id_: str, metadata: dict[str, Any]) -> bool:
        row = self._collection(collection).get(id_)
        if row is None:
            return False
        row["metadata"] = dict(metadata)
        return True

    async def identity(self, alias: str) -> str:
        return f"{alias}#{id(self._collection(alias))}"

    async def search(
        self, collection: str, vector: Sequence[float], top_k: int, filter_expr: str = ""
    ) -> list[Hit]:
        query = np.asarray(vector)
        scored = [
            Hit(
                i,
                float(np.dot(query, row["embedding"])),
                row["metadata"],
                row.get("created_at", 0),
                row.get("taken"),
            )
            for i, row in self._collection(collection).items()
            if matches(row, filter_expr)
        ]
        return sorted(scored, key=lambda h: -h.score)[:top_k]

    async def all_ids(self, collection: str, filter_expr: str = "") -> list[str]:
        return [i for i, row in self._collection(collection).items() if matches(row, filter_expr)]

    async def newest(
        self, collection: str, before: int | None, limit: int, filter_expr: str = ""
    ) -> list[Row]:
        rows = [
            Row(i, r["created_at"], r["metadata"])
            for i, r in self._collection(collection).items()
            if (before is None or r["created_at"] < before) and matches(r, filter_expr)
        ]
        return sorted(rows, key=lambda r: -r.created_at)[:limit]

    async def newest_taken(
        self, collection: str, before: tuple[int, int] | None, limit: int, filter_expr: str = ""
    ) -> list[Row]:
        rows = [
            Row(i, r["created_at"], r["metadata"], r.get("taken", TAKEN_NONE))
            for i, r in self._collection(collection).items()
            if matches(r, filter_expr)
        ]
        rows = [r for r in rows if before is None or (r.taken or 0, r.created_at) < before]
        return sorted(rows, key=lambda r: (-(r.taken or 0), -r.created_at))[:limit]

    async def labelled(
        self, collection: str, classes: Sequence[str], filter_expr: str = ""
    ) -> Candidates:
        wanted = set(classes)
        found = [
            (i, rank_score(r["classes"], r["class_scores"], wanted))
            for i, r in self._collection(collection).items()
            if wanted & set(r.get("classes", [])) and matches(r, filter_expr)
        ]
        return Candidates([i for i, _ in found], np.array([s for _, s in found], np.float32))

    async def tag_lists(self, collection: str) -> list[list[str]]:
        return [list(r.get("tags", [])) for r in self._collection(collection).values()]

    async def rows_by_id(self, collection: str, ids: Sequence[str]) -> dict[str, Row]:
        rows = self._collection(collection)
        return {
            i: Row(i, rows[i]["created_at"], dict(rows[i]["metadata"]), rows[i].get("taken"))
            for i in ids
            if i in rows
        }


def fake_backends(tmp_path: Path, settings: Settings | None = None) -> Backends:
    # Two models, CLIP first: the order ingest writes their collections in.
    settings = settings or Settings.model_validate({"models": {"enabled": ["clip", "vgg16"]}})
    return Backends.create(
        settings, FakeTriton(), FakeMilvus(), LocalImageStore(tmp_path / "store")
    )


def fake_milvus(backends: Backends) -> FakeMilvus:
    """The fake behind `backends.vectors`, to look at or break its rows."""
    assert isinstance(backends.vectors, FakeMilvus)
    return backends.vectors
