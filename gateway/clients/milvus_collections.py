"""The vector store's admin port on Milvus: collections, their names and schema versions,
aliases, sealing and dropping. Services see it as `CollectionAdmin` (clients/base.py).

Each collection's physical name carries a hash of the model fingerprint (Triton model +
weights provenance) and the public alias (`images_clip`) points at it. A gateway serving
other weights than the collection was built with therefore sees a different name and
reports a model mismatch; `pic-search reindex` builds the new collection and moves the alias.

Collections also carry a schema version (in the physical name from version 2 on, and in the
description beside the fingerprint). Milvus 2.3.5 can neither add a field to a collection
nor make one nullable, so new fields mean a new collection: a gateway keeps serving one of an
older version (rows written to it drop the fields it lacks, and the service answers filters
on them with 409), and `pic-search reindex` rebuilds it at the current version.
  1: id, embedding, created_at, metadata
  2: + taken (INT64), camera (VARCHAR), has_location (BOOL), the EXIF facts filters and
     sorting read (see gateway/capture.py for their stored forms)
  3: + tags, classes (ARRAY of VARCHAR), class_scores (ARRAY of FLOAT): the auto-tags filters
     read and the label-head classes tag search ranks by (see gateway/services/tags.py)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

from pymilvus import DataType, MilvusClient
from pymilvus.client.types import LoadState

from gateway.clients.base import (
    CAPTURE_COLUMNS,
    CAPTURE_SCHEMA,
    CLASSES_CAPACITY,
    SCHEMA_VERSION,
    TAG_COLUMNS,
    TAG_MAX_LENGTH,
    TAG_SCHEMA,
    TAGS_CAPACITY,
    BuildState,
)
from gateway.clients.milvus_connection import MilvusConnection
from gateway.errors import ModelMismatchError, PicSearchError

ID_MAX_LENGTH = 64  # sha256 hex
SEAL_TIMEOUT_S = 3600.0  # an HNSW build of 1M vectors took 34 min here
CAMERA_MAX_LENGTH = 256
SCHEMA_CACHE_S = 30.0  # another replica's reindex may move an alias meanwhile


def physical_name(alias: str, fingerprint: str, version: int = SCHEMA_VERSION) -> str:
    """The collection holding `fingerprint`'s vectors at schema `version` behind `alias`
    (version 1, from before versions, keeps the name it always had)."""
    key = fingerprint if version == 1 else f"{fingerprint}|schema={version}"
    return f"{alias}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def schema_of(info: dict[str, Any]) -> int:
    """A collection's schema version, from the fields it has (Milvus Lite keeps no collection
    description); from its description's record where the fields are not listed."""
    fields = {f.get("name") for f in info.get("fields", []) if isinstance(f, dict)}
    if fields:
        if set(TAG_COLUMNS) <= fields:
            return TAG_SCHEMA
        return CAPTURE_SCHEMA if set(CAPTURE_COLUMNS) <= fields else 1
    try:
        recorded = json.loads(str(info.get("description") or "{}"))
    except ValueError:
        return 1
    version = recorded.get("schema", 1) if isinstance(recorded, dict) else 1
    return version if isinstance(version, int) else 1


class MilvusCollections(MilvusConnection):
    async def ensure_collection(self, alias: str, fingerprint: str, dim: int) -> None:
        """Create the collection and its alias if missing; refuse another model's vectors."""
        await self._run(lambda c: self._ensure(c, alias, fingerprint, dim))

    def _ensure(self, client: MilvusClient, alias: str, fingerprint: str, dim: int) -> None:
        wanted = physical_name(alias, fingerprint)
        current = _alias_target(client, alias)
        version = SCHEMA_VERSION
        older = {physical_name(alias, fingerprint, v): v for v in range(1, SCHEMA_VERSION)}
        if current in older:
            # Same vectors, fewer fields: served as it is until `pic-search reindex`.
            wanted, version = current, older[current]
        if current is not None and current != wanted:
            raise ModelMismatchError(
                f"collection {alias} ({current}) was built with another model than "
                f"{fingerprint!r}; run `pic-search reindex` to re-embed the stored images"
            )
        if not client.has_collection(wanted):
            self._create(client, wanted, fingerprint, dim)
        client.load_collection(wanted)
        # After a Milvus restart the query node replays its log in the background; one
        # Strong read waits for that, so later Session reads see every row from before.
        client.query(wanted, filter="", output_fields=["count(*)"], consistency_level="Strong")
        if current is None:
            with self._alias_writes:
                client.create_alias(wanted, alias)
        self._schemas[alias] = (version, time.monotonic())

    def _create(self, client: MilvusClient, name: str, fingerprint: str, dim: int) -> None:
        schema = MilvusClient.create_schema(
            auto_id=False,
            enable_dynamic_field=False,
            description=json.dumps({"model": fingerprint, "schema": SCHEMA_VERSION}),
        )
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_MAX_LENGTH)
        schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("created_at", DataType.INT64)
        schema.add_field("metadata", DataType.JSON)
        # Never null (2.3.5 has no nullable fields): "none" is a sentinel, "" or false.
        schema.add_field("taken", DataType.INT64)
        schema.add_field("camera", DataType.VARCHAR, max_length=CAMERA_MAX_LENGTH)
        schema.add_field("has_location", DataType.BOOL)
        # Empty for photos no label head tagged; array_contains_any filters on them.
        for field_name, capacity in (("tags", TAGS_CAPACITY), ("classes", CLASSES_CAPACITY)):
            schema.add_field(
                field_name,
                DataType.ARRAY,
                element_type=DataType.VARCHAR,
                max_capacity=capacity,
                max_length=TAG_MAX_LENGTH,
            )
        schema.add_field(
            "class_scores",
            DataType.ARRAY,
            element_type=DataType.FLOAT,
            max_capacity=CLASSES_CAPACITY,
        )
        index = client.prepare_index_params()
        index.add_index(
            field_name="embedding",
            index_type="HNSW",
            metric_type="IP",  # vectors are L2-normalised, so IP is cosine similarity
            params={
                "M": self.settings.hnsw_m,
                "efConstruction": self.settings.hnsw_ef_construction,
            },
        )
        # Strong consistency: a client reads its own writes (search right after ingest).
        client.create_collection(
            name, schema=schema, index_params=index, consistency_level="Strong"
        )

    async def create_physical(self, alias: str, fingerprint: str, dim: int) -> str:
        name = physical_name(alias, fingerprint)

        def create(client: MilvusClient) -> None:
            if not client.has_collection(name):
                self._create(client, name, fingerprint, dim)
            client.load_collection(name)

        await self._run(create)
        return name

    async def switch_alias(self, alias: str, target: str) -> str | None:
        """Point `alias` at `target` atomically; returns the previous target."""

        def switch(client: MilvusClient) -> str | None:
            with self._alias_writes:
                previous = _alias_target(client, alias)
                if previous is None:
                    client.create_alias(target, alias)
                else:
                    client.alter_alias(target, alias)
                self._schemas.pop(alias, None)
            return previous

        return await self._run(switch)

    async def seal(self, collection: str, rows: int) -> None:
        """Return once `collection` is whole for every reader: flushed, indexed, loaded, and
        a Strong count finds exactly `rows`. An alias moved any earlier shows readers an empty
        or partial collection: Session and Eventually reads are served from what the query
        node has consumed so far (measured on Milvus 2.3.5: 200 ms of empty reads)."""
        await self._run(lambda c: c.flush(collection))
        deadline = time.monotonic() + SEAL_TIMEOUT_S
        while not await self._run(lambda c: _indexed_and_loaded(c, collection)):
            if time.monotonic() > deadline:
                raise PicSearchError(f"{collection} was not indexed within {SEAL_TIMEOUT_S} s")
            await asyncio.sleep(0.5)
        found = await self.count(collection)  # Strong: waits until every write is consumed
        if found != rows:
            raise PicSearchError(f"{collection} holds {found} rows, expected {rows}")

    async def drop(self, name: str) -> None:
        await self._run(lambda c: c.drop_collection(name) if c.has_collection(name) else None)

    async def target(self, alias: str) -> str | None:
        return await self._run(lambda c: _alias_target(c, alias))

    async def schema_version(self, collection: str) -> int:
        """The schema version of a collection (or of the one an alias points at)."""
        known = self._schemas.get(collection)
        if known is not None and time.monotonic() - known[1] < SCHEMA_CACHE_S:
            return known[0]
        info = await self._run(lambda c: c.describe_collection(collection))
        version = schema_of(info)
        self._schemas[collection] = (version, time.monotonic())
        return version

    async def build_state(self, alias: str, fingerprint: str) -> BuildState:
        """How the alias' collection relates to `fingerprint` at the current schema."""
        current = await self.target(alias)
        if current is None:
            return "missing"
        if current == physical_name(alias, fingerprint):
            return "current"
        older = {physical_name(alias, fingerprint, v) for v in range(1, SCHEMA_VERSION)}
        return "older_schema" if current in older else "other"

    async def create_fresh(self, alias: str, fingerprint: str, dim: int) -> str:
        """An empty collection for `fingerprint` at the current schema, to fill and then
        point the alias at; whatever held its name (an interrupted run's) is dropped."""
        name = physical_name(alias, fingerprint)
        if await self.target(alias) == name:
            raise PicSearchError(f"{name} is what {alias} serves: it cannot be rebuilt in place")
        await self.drop(name)
        return await self.create_physical(alias, fingerprint, dim)

    async def identity(self, alias: str) -> str:
        return await self._run(lambda c: collection_identity(c, alias))

    async def count(self, collection: str) -> int:
        rows = await self._run(
            lambda c: c.query(  # Strong: a count must include every replica's writes and deletes
                collection, filter="", output_fields=["count(*)"], consistency_level="Strong"
            )
        )
        return int(rows[0]["count(*)"])


def _indexed_and_loaded(client: MilvusClient, collection: str) -> bool:
    index = client.describe_index(collection, "embedding")
    if index.get("state") == "Failed":
        reason = index.get("index_state_fail_reason")
        raise PicSearchError(f"indexing {collection} failed: {reason}")
    indexed = index.get("state") == "Finished" and int(index.get("pending_index_rows", 0)) == 0
    return indexed and client.get_load_state(collection)["state"] == LoadState.Loaded


def collection_identity(client: MilvusClient, collection: str) -> str:
    """The collection a name or alias points at, as name#id (a re-created name gets a new id)."""
    info = client.describe_collection(collection)
    return f"{info.get('collection_name')}#{info.get('collection_id')}"


def _alias_target(client: MilvusClient, alias: str) -> str | None:
    # Ask for the list first: describing a missing alias makes pymilvus log an ERROR.
    listed = client.list_aliases()
    names = listed.get("aliases", []) if isinstance(listed, dict) else listed
    if alias not in names:
        return None
    target = client.describe_alias(alias).get("collection_name")
    return str(target) if target else None
