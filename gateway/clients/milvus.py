"""Milvus access for the gateway: one collection per search model, reached by an alias.

Each collection's physical name carries a hash of the model fingerprint (Triton model +
weights provenance) and the public alias (`images_clip`) points at it. A gateway serving
other weights than the collection was built with therefore sees a different name and
refuses to start; `pic-search reindex` builds the new collection and moves the alias.

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
pymilvus is synchronous, so every call runs in a worker thread with a timeout.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pymilvus import DataType, MilvusClient
from pymilvus.client.types import LoadState
from pymilvus.exceptions import MilvusException, ParamError

from gateway.clients.base import (
    CAPTURE_COLUMNS,
    CLASSES_CAPACITY,
    SCHEMA_VERSION,
    TAG_COLUMNS,
    TAG_MAX_LENGTH,
    TAG_SCHEMA,
    TAGS_CAPACITY,
    Hit,
    Labelled,
    Row,
    physical_name,
)
from gateway.clients.retry import with_retries
from gateway.clients.search_reads import SearchReads
from gateway.config import MilvusSettings
from gateway.errors import MilvusUnavailableError, ModelMismatchError, PicSearchError

T = TypeVar("T")
ID_MAX_LENGTH = 64  # sha256 hex
STRONG_AFTER_DELETE_S = 6.0  # longer than Milvus' default staleness bound (5 s)
SEAL_TIMEOUT_S = 3600.0  # an HNSW build of 1M vectors took 34 min here
CAMERA_MAX_LENGTH = 256
SCHEMA_CACHE_S = 30.0  # another replica's reindex may move an alias meanwhile


def schema_of(description: str) -> int:
    """The schema version a collection's description records (1 when it names none)."""
    try:
        recorded = json.loads(description or "{}")
    except ValueError:
        return 1
    version = recorded.get("schema", 1) if isinstance(recorded, dict) else 1
    return version if isinstance(version, int) else 1


NOT_LOADED = 101  # Milvus' "collection not loaded" error code


def _is_transient(exc: BaseException) -> bool:
    return not isinstance(exc, ParamError | PicSearchError)


# Enough for every call a frozen server can hold while its deadlines pass (they return 503).
MILVUS_THREADS = 32


class VectorIndex:
    """The gateway's view of Milvus: typed, async, and with outages as 503 errors."""

    def __init__(self, settings: MilvusSettings) -> None:
        self.settings = settings
        self._client: MilvusClient | None = None
        self._connecting = threading.Lock()
        # Milvus Lite rewrites one aliases.json per change without a lock of its own: two
        # aliases created at once (collections are ensured concurrently) lost one and left
        # the file unreadable at its next start. Alias changes are rare, so they go one by one.
        self._alias_writes = threading.Lock()
        # Milvus calls block in threads of their own: a frozen server keeps each one until it
        # answers, and in the loop's default pool they would starve the image store's I/O.
        self._pool = ThreadPoolExecutor(MILVUS_THREADS, thread_name_prefix="milvus")
        # "Session": this gateway reads its own writes at once, without waiting for Milvus'
        # next time tick as "Strong" does (about 200 ms per search, measured by bench/).
        self._read_level = settings.read_consistency
        # pymilvus' session tracks inserts and upserts but not deletes: after a delete,
        # reads are Strong for a few seconds so a deleted image is never found again.
        self._strong_until = 0.0
        # Searches: read as of a moment ago, never a photo deleted here (search_reads.py).
        self._searches = SearchReads(settings.read_consistency)
        # Collection or alias -> (schema version, when it was learnt).
        self._schemas: dict[str, tuple[int, float]] = {}

    # -- plumbing ---------------------------------------------------------------------------
    def _reads(self) -> dict[str, Any]:
        strong = time.monotonic() < self._strong_until
        return {"consistency_level": "Strong" if strong else self._read_level}

    def _connect(self) -> MilvusClient:
        with self._connecting:
            if self._client is None:
                # Dedicated: pymilvus otherwise shares one channel per URI across clients,
                # and _call() must be able to replace a broken one.
                self._client = MilvusClient(
                    uri=self.settings.uri,
                    token=self.settings.token.get_secret_value(),
                    timeout=self.settings.timeout_s,
                    dedicated=True,
                )
            return self._client

    def _call(self, work: Callable[[MilvusClient], T]) -> T:
        """Run `work` on the client (in a worker thread). After a connection failure the
        client is replaced: pymilvus does not always recover a channel that broke while
        the server restarted (measured: still failing 50 s after Milvus was back)."""
        client = self._connect()
        try:
            return work(client)
        except Exception as exc:
            if isinstance(exc, MilvusException) and exc.code == NOT_LOADED:
                self._load_ours(client)  # then retried by _run
            elif _is_transient(exc):
                with self._connecting:
                    if self._client is client:
                        self._client = None
                client.close()
            raise

    def _load_ours(self, client: MilvusClient) -> None:
        """A restarted Milvus Lite server forgets which collections were loaded."""
        for name in client.list_collections():
            if name.startswith(self.settings.collection_prefix):
                client.load_collection(name)

    async def _run(self, work: Callable[[MilvusClient], T]) -> T:
        async def attempt() -> T:
            # pymilvus has no deadline on most calls: a frozen server would block forever.
            # (`asyncio.timeout`, not `wait_for`: no extra task per call.)
            async with asyncio.timeout(self.settings.timeout_s):
                return await self._in_thread(work)

        try:
            return await with_retries(attempt, _is_transient, self.settings.timeout_s)
        except PicSearchError:
            raise
        except ParamError as exc:
            raise PicSearchError(f"invalid Milvus request: {exc}") from exc
        except Exception as exc:
            raise MilvusUnavailableError(
                f"Milvus is unavailable: {exc}", retry_after_s=self.settings.retry_after_s
            ) from exc

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.get_running_loop().run_in_executor(self._pool, client.close)

    async def _in_thread(self, work: Callable[[MilvusClient], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, work)

    async def ping(self) -> bool:
        try:
            await asyncio.wait_for(self._in_thread(lambda c: c.list_collections()), timeout=3.0)
            return True
        except Exception:
            return False

    # -- collections ------------------------------------------------------------------------
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
        version = schema_of(str(info.get("description", "")))
        self._schemas[collection] = (version, time.monotonic())
        return version

    # -- rows -------------------------------------------------------------------------------
    async def upsert(self, collection: str, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        version = await self.schema_version(collection)
        lacking = (CAPTURE_COLUMNS if version < 2 else ()) + (
            TAG_COLUMNS if version < TAG_SCHEMA else ()
        )
        if lacking:
            rows = [{k: v for k, v in row.items() if k not in lacking} for row in rows]
        else:  # rows written by code that knows no tags still fit the schema
            rows = [{**{key: [] for key in TAG_COLUMNS}, **row} for row in rows]
        try:
            await self._run(lambda c: c.upsert(collection, list(rows)))
        except PicSearchError:
            self._schemas.pop(collection, None)  # perhaps rebuilt meanwhile: learn it again
            raise

    async def delete(self, collection: str, ids: Sequence[str]) -> None:
        if ids:
            self._strong_until = time.monotonic() + STRONG_AFTER_DELETE_S
            self._searches.deleted(collection, ids)
            await self._run(lambda c: c.delete(collection, ids=list(ids)))
            self._strong_until = time.monotonic() + STRONG_AFTER_DELETE_S

    async def existing_ids(
        self, collection: str, ids: Sequence[str], strong: bool = True
    ) -> set[str]:
        """Which of `ids` the collection holds. Strong by default: "already there" must count
        every client's writes; `strong=False` reads as this gateway's other reads do (no wait
        for Milvus' next time tick)."""
        if not ids:
            return set()
        level = {"consistency_level": "Strong"} if strong else self._reads()
        rows = await self._run(
            lambda c: c.get(collection, ids=list(ids), output_fields=["id"], **level)
        )
        return {str(row["id"]) for row in rows}

    async def get(
        self, collection: str, id_: str, with_vector: bool = False
    ) -> dict[str, Any] | None:
        fields = ["id", "created_at", "metadata"] + (["embedding"] if with_vector else [])
        rows = await self._run(
            lambda c: c.get(collection, ids=[id_], output_fields=fields, **self._reads())
        )
        return dict(rows[0]) if rows else None

    async def set_metadata(self, collection: str, id_: str, metadata: dict[str, Any]) -> bool:
        def update(client: MilvusClient) -> bool:
            rows = client.get(
                collection, ids=[id_], output_fields=["*", "embedding"], consistency_level="Strong"
            )
            if not rows:
                return False
            client.upsert(collection, [{**rows[0], "metadata": metadata}])
            return True

        return await self._run(update)

    async def identity(self, alias: str) -> str:
        def describe(client: MilvusClient) -> str:
            info = client.describe_collection(alias)
            return f"{info.get('collection_name')}#{info.get('collection_id')}"

        return await self._run(describe)

    async def count(self, collection: str) -> int:
        rows = await self._run(
            lambda c: c.query(  # Strong: a count must include every replica's writes and deletes
                collection, filter="", output_fields=["count(*)"], consistency_level="Strong"
            )
        )
        return int(rows[0]["count(*)"])

    async def search(
        self, collection: str, vector: Sequence[float], top_k: int, filter_expr: str = ""
    ) -> list[Hit]:
        params = {"metric_type": "IP", "params": {"ef": max(self.settings.search_ef, top_k)}}
        fields = ["metadata", "created_at"]
        # As last learnt (searches follow ensure_collection, and the service asks
        # schema_version first when a filter or sort needs the capture fields): no extra call.
        if self._schemas.get(collection, (1, 0.0))[0] >= 2:
            fields.append("taken")
        results = await self._run(
            lambda c: c.search(
                collection,
                data=[list(vector)],
                anns_field="embedding",
                limit=top_k,
                filter=self._searches.filter(collection, filter_expr),
                search_params=params,
                output_fields=fields,
                **self._searches.consistency(),
            )
        )
        return [
            Hit(
                str(hit["id"]),
                float(hit["distance"]),
                dict(hit["entity"].get("metadata") or {}),
                int(hit["entity"].get("created_at") or 0),
                _optional_int(hit["entity"].get("taken")),
            )
            for hit in results[0]
        ]

    async def labelled(
        self, collection: str, classes: Sequence[str], filter_expr: str = ""
    ) -> list[Labelled]:
        """Rows holding any of `classes`, with their class probabilities (tag search)."""
        names = ", ".join(json.dumps(c) for c in classes)
        expr = f"array_contains_any(classes, [{names}])"
        if filter_expr:
            expr = f"{expr} and ({filter_expr})"
        fields = ["id", "created_at", "taken", "metadata", "classes", "class_scores"]

        def scan(client: MilvusClient) -> list[Labelled]:
            iterator = client.query_iterator(
                collection, batch_size=1000, filter=expr, output_fields=fields, **self._reads()
            )
            rows: list[Labelled] = []
            try:
                while batch := iterator.next():
                    rows += [
                        Labelled(
                            str(r["id"]),
                            int(r["created_at"]),
                            dict(r.get("metadata") or {}),
                            [str(c) for c in r.get("classes") or []],
                            [float(s) for s in r.get("class_scores") or []],
                            _optional_int(r.get("taken")),
                        )
                        for r in batch
                    ]
            finally:
                iterator.close()
            return rows

        return await self._run(scan)

    async def tag_lists(self, collection: str) -> list[list[str]]:
        def scan(client: MilvusClient) -> list[list[str]]:
            iterator = client.query_iterator(
                collection,
                batch_size=1000,
                filter="",
                output_fields=["tags"],
                **self._reads(),
            )
            lists: list[list[str]] = []
            try:
                while batch := iterator.next():
                    lists += [[str(t) for t in r.get("tags") or []] for r in batch]
            finally:
                iterator.close()
            return lists

        return await self._run(scan)

    async def all_ids(self, collection: str, filter_expr: str = "") -> list[str]:
        """Every id in the collection (or those matching `filter_expr`)."""

        def scan(client: MilvusClient) -> list[str]:
            iterator = client.query_iterator(
                collection,
                batch_size=1000,
                filter=filter_expr,
                output_fields=["id"],
                consistency_level="Strong",  # maintenance: see every other client's writes
            )
            ids: list[str] = []
            try:
                while batch := iterator.next():
                    ids += [str(row["id"]) for row in batch]
            finally:
                iterator.close()
            return ids

        return await self._run(scan)

    async def newest(
        self, collection: str, before: int | None, limit: int, filter_expr: str = ""
    ) -> list[Row]:
        """The `limit` newest rows created before `before` (a cursor), newest first.

        Milvus has no ORDER BY, so this scans (id, created_at) pairs with an iterator and
        keeps the newest in a heap: O(rows) per page, fine for a personal library.
        """
        clauses = [f"created_at < {int(before)}"] if before is not None else []
        expr = " and ".join(clauses + ([f"({filter_expr})"] if filter_expr else []))

        def scan(client: MilvusClient) -> list[Row]:
            iterator = client.query_iterator(
                collection,
                batch_size=1000,
                filter=expr,
                output_fields=["id", "created_at"],
                **self._reads(),
            )
            best: list[tuple[int, str]] = []
            try:
                while batch := iterator.next():
                    for row in batch:
                        item = (int(row["created_at"]), str(row["id"]))
                        if len(best) < limit:
                            heapq.heappush(best, item)
                        else:
                            heapq.heappushpop(best, item)
            finally:
                iterator.close()
            ordered = sorted(best, reverse=True)
            if not ordered:
                return []
            metadata = {
                str(r["id"]): r.get("metadata") or {}
                for r in client.get(
                    collection, ids=[i for _, i in ordered], output_fields=["id", "metadata"]
                )
            }
            return [Row(i, ts, dict(metadata.get(i, {}))) for ts, i in ordered]

        return await self._run(scan)

    async def newest_taken(
        self, collection: str, before: tuple[int, int] | None, limit: int, filter_expr: str = ""
    ) -> list[Row]:
        """As `newest`, ordered by the date taken (schema version 2), then by created_at."""
        clauses = []
        if before is not None:
            taken, created = int(before[0]), int(before[1])
            clauses.append(f"(taken < {taken} or (taken == {taken} and created_at < {created}))")
        expr = " and ".join(clauses + ([f"({filter_expr})"] if filter_expr else []))

        def scan(client: MilvusClient) -> list[Row]:
            iterator = client.query_iterator(
                collection,
                batch_size=1000,
                filter=expr,
                output_fields=["id", "created_at", "taken"],
                **self._reads(),
            )
            best: list[tuple[int, int, str]] = []
            try:
                while batch := iterator.next():
                    for row in batch:
                        item = (int(row["taken"]), int(row["created_at"]), str(row["id"]))
                        if len(best) < limit:
                            heapq.heappush(best, item)
                        else:
                            heapq.heappushpop(best, item)
            finally:
                iterator.close()
            ordered = sorted(best, reverse=True)
            if not ordered:
                return []
            metadata = {
                str(r["id"]): r.get("metadata") or {}
                for r in client.get(
                    collection, ids=[i for _, _, i in ordered], output_fields=["id", "metadata"]
                )
            }
            return [Row(i, ts, dict(metadata.get(i, {})), tk) for tk, ts, i in ordered]

        return await self._run(scan)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _indexed_and_loaded(client: MilvusClient, collection: str) -> bool:
    index = client.describe_index(collection, "embedding")
    if index.get("state") == "Failed":
        reason = index.get("index_state_fail_reason")
        raise PicSearchError(f"indexing {collection} failed: {reason}")
    indexed = index.get("state") == "Finished" and int(index.get("pending_index_rows", 0)) == 0
    return indexed and client.get_load_state(collection)["state"] == LoadState.Loaded


def _alias_target(client: MilvusClient, alias: str) -> str | None:
    # Ask for the list first: describing a missing alias makes pymilvus log an ERROR.
    listed = client.list_aliases()
    names = listed.get("aliases", []) if isinstance(listed, dict) else listed
    if alias not in names:
        return None
    target = client.describe_alias(alias).get("collection_name")
    return str(target) if target else None
