"""The vector store's search port on Milvus: rows in, hits and listings out. Services see it
as `VectorSearch` (clients/base.py); `VectorIndex` also carries the admin port
(milvus_collections.py), since both share one connection."""

from __future__ import annotations

import asyncio
import heapq
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymilvus import MilvusClient

from gateway.clients.base import (
    CAPTURE_COLUMNS,
    CAPTURE_SCHEMA,
    TAG_COLUMNS,
    TAG_SCHEMA,
    Candidates,
    Hit,
    Row,
)
from gateway.clients.class_cache import ClassCache
from gateway.clients.milvus_collections import (
    SCHEMA_CACHE_S,
    MilvusCollections,
    collection_identity,
)
from gateway.clients.search_batches import SearchBatches
from gateway.config import MilvusSettings
from gateway.errors import PicSearchError

STRONG_AFTER_DELETE_S = 6.0  # longer than Milvus' default staleness bound (5 s)
# Ids are sha256 hex, so these split any set of rows about evenly.
ID_HALVES = ('id < "8"', 'id >= "8"')
GET_CHUNK = 1_000  # the most missing ids read by `get`; more are read by one `scan`


@dataclass(frozen=True)
class _SearchKind:
    """What searches must share to go to Milvus as one call."""

    collection: str
    filter: str
    top_k: int
    fields: tuple[str, ...]


class VectorIndex(MilvusCollections):
    """The gateway's view of Milvus: typed, async, and with outages as 503 errors."""

    def __init__(self, settings: MilvusSettings) -> None:
        super().__init__(settings)
        self._classes = ClassCache()  # tag search's candidates' classes (class_cache.py)
        self._targets: dict[str, tuple[str, float]] = {}  # alias -> (name#id, when learnt)
        self._batches = SearchBatches(self._search_many)

    # -- rows -------------------------------------------------------------------------------
    async def upsert(self, collection: str, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        version = await self.schema_version(collection)
        lacking = (CAPTURE_COLUMNS if version < CAPTURE_SCHEMA else ()) + (
            TAG_COLUMNS if version < TAG_SCHEMA else ()
        )
        if lacking:
            rows = [{k: v for k, v in row.items() if k not in lacking} for row in rows]
        else:  # rows written by code that knows no tags still fit the schema
            rows = [{**{key: [] for key in TAG_COLUMNS}, **row} for row in rows]
        try:
            await self._run(lambda c: self._upsert(c, collection, rows))
        except PicSearchError:
            self._schemas.pop(collection, None)  # perhaps rebuilt meanwhile: learn it again
            raise

    def _upsert(
        self, client: MilvusClient, collection: str, rows: Sequence[dict[str, Any]]
    ) -> None:
        client.upsert(collection, list(rows))
        # Remembered at once, so tag search's first broad word does not read them back. Rows
        # written while the alias moved are remembered under the collection they missed,
        # which no read asks for (`labelled` resolves the alias each time).
        physical = self._physical(client, collection, fresh=False)
        for row in rows:
            self._classes.put(
                physical, row["id"], row.get("classes", ()), row.get("class_scores", ())
            )

    def _physical(self, client: MilvusClient, collection: str, fresh: bool) -> str:
        """`collection_identity`; `fresh=False` accepts what was learnt in the last
        SCHEMA_CACHE_S."""
        known = self._targets.get(collection)
        if not fresh and known is not None and time.monotonic() - known[1] < SCHEMA_CACHE_S:
            return known[0]
        physical = collection_identity(client, collection)
        self._targets[collection] = (physical, time.monotonic())
        return physical

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

    async def search(
        self, collection: str, vector: Sequence[float], top_k: int, filter_expr: str = ""
    ) -> list[Hit]:
        fields: tuple[str, ...] = ("metadata", "created_at")
        # As last learnt (searches follow ensure_collection, and the service asks
        # schema_version first when a filter or sort needs the capture fields): no extra call.
        if self._schemas.get(collection, (1, 0.0))[0] >= 2:
            fields += ("taken",)
        # The filter is fixed here, on arrival: it excludes what was deleted before.
        kind = _SearchKind(
            collection, self._searches.filter(collection, filter_expr), top_k, fields
        )
        return await self._batches.search(kind, list(map(float, vector)))

    async def _search_many(self, kind: _SearchKind, vectors: list[list[float]]) -> list[list[Hit]]:
        """One Milvus call for searches of one kind that arrived together (search_batches.py);
        its read timestamp is taken when it is sent, so no search reads older data."""
        params = {"metric_type": "IP", "params": {"ef": max(self.settings.search_ef, kind.top_k)}}
        results = await self._run(
            lambda c: c.search(
                kind.collection,
                data=vectors,
                anns_field="embedding",
                limit=kind.top_k,
                filter=kind.filter,
                search_params=params,
                output_fields=list(kind.fields),
                **self._searches.consistency(),
            )
        )
        return [
            [
                Hit(
                    str(hit["id"]),
                    float(hit["distance"]),
                    dict(hit["entity"].get("metadata") or {}),
                    int(hit["entity"].get("created_at") or 0),
                    _optional_int(hit["entity"].get("taken")),
                )
                for hit in hits
            ]
            for hits in results
        ]

    async def labelled(
        self, collection: str, classes: Sequence[str], filter_expr: str = ""
    ) -> Candidates:
        """Rows holding any of `classes`, with their class probabilities (tag search). Only
        their ids are read from Milvus; the classes come from the gateway's memory where it
        has them (class_cache.py), keyed by the physical collection, so a reindexed alias
        never serves another model's."""
        names = ", ".join(json.dumps(c) for c in classes)
        expr = f"array_contains_any(classes, [{names}])"
        if filter_expr:
            expr = f"{expr} and ({filter_expr})"
        reads = self._reads()

        # The physical collection and the two halves of the ids at once: a broad word reads
        # nearly every row, and Milvus answers two half queries sooner than one (10,000
        # rows: median 40 ms against 54, measured on 2 cores).
        def half_scan(half: str) -> Callable[[MilvusClient], list[str]]:
            where = f"{expr} and {half}"
            return lambda c: [str(r["id"]) for r in scan(c, collection, where, ["id"], reads)]

        physical, halves = await asyncio.gather(
            self._run(lambda c: self._physical(c, collection, fresh=True)),
            asyncio.gather(*(self._run(half_scan(half)) for half in ID_HALVES)),
        )
        ids = [i for half in halves for i in half]

        def score(client: MilvusClient) -> Candidates:
            missing = self._classes.missing(physical, ids)
            if missing:
                self._remember(client, collection, physical, expr, missing, reads)
            scores = self._classes.scores(physical, ids, classes)
            known = ~np.isnan(scores)  # NaN: deleted between the two reads
            if known.all():
                return Candidates(ids, scores)
            return Candidates([i for i, k in zip(ids, known, strict=True) if k], scores[known])

        return await self._run(score)

    def _remember(
        self,
        client: MilvusClient,
        collection: str,
        physical: str,
        expr: str,
        missing: list[str],
        reads: dict[str, Any],
    ) -> None:
        """Reads the classes of `missing` rows into the cache: by id when few are missing
        (another replica's uploads), else all matches at once (a cold gateway; `get` by
        1,000 ids at a time took 5 s for 10,000 rows, one `scan` 0.45 s)."""
        fields = ["id", "classes", "class_scores"]
        if len(missing) <= GET_CHUNK:
            found = client.get(collection, ids=missing, output_fields=fields, **reads)
        else:
            found = scan(client, collection, expr, fields, reads)
        for r in found:
            classes = [str(c) for c in r.get("classes") or ()]
            self._classes.put(physical, str(r["id"]), classes, r.get("class_scores") or ())

    async def rows_by_id(self, collection: str, ids: Sequence[str]) -> dict[str, Row]:
        return await self._run(lambda c: self._rows(c, collection, ids))

    def _rows(
        self, client: MilvusClient, collection: str, ids: Sequence[str], taken: bool = True
    ) -> dict[str, Row]:
        # At the read level of the listing or search it serves: a Strong `get` (the
        # collection's default) waits for Milvus' next time tick, up to 200 ms.
        fields = ["id", "created_at", "metadata", *(["taken"] if taken else [])]
        found: dict[str, Row] = {}
        for start in range(0, len(ids), GET_CHUNK):
            chunk = list(ids[start : start + GET_CHUNK])
            for r in client.get(collection, ids=chunk, output_fields=fields, **self._reads()):
                taken_at = _optional_int(r.get("taken")) if taken else None
                found[str(r["id"])] = Row(
                    str(r["id"]), int(r["created_at"]), dict(r.get("metadata") or {}), taken_at
                )
        return found

    async def tag_lists(self, collection: str) -> list[list[str]]:
        def read(client: MilvusClient) -> list[list[str]]:
            rows = scan(client, collection, "", ["tags"], self._reads())
            return [[str(t) for t in r.get("tags") or []] for r in rows]

        return await self._run(read)

    async def all_ids(self, collection: str, filter_expr: str = "") -> list[str]:
        """Every id in the collection (or those matching `filter_expr`)."""

        def read(client: MilvusClient) -> list[str]:
            # Strong: maintenance must see every other client's writes.
            strong = {"consistency_level": "Strong"}
            return [str(r["id"]) for r in scan(client, collection, filter_expr, ["id"], strong)]

        return await self._run(read)

    async def newest(
        self, collection: str, before: int | None, limit: int, filter_expr: str = ""
    ) -> list[Row]:
        """The `limit` newest rows created before `before` (a cursor), newest first."""
        clauses = [f"created_at < {int(before)}"] if before is not None else []
        return await self._run(lambda c: self._top(c, collection, clauses, filter_expr, limit))

    async def newest_taken(
        self, collection: str, before: tuple[int, int] | None, limit: int, filter_expr: str = ""
    ) -> list[Row]:
        """As `newest`, ordered by the date taken (schema version 2), then by created_at."""
        clauses = []
        if before is not None:
            taken, created = int(before[0]), int(before[1])
            clauses.append(f"(taken < {taken} or (taken == {taken} and created_at < {created}))")
        return await self._run(
            lambda c: self._top(c, collection, clauses, filter_expr, limit, by_taken=True)
        )

    def _top(
        self,
        client: MilvusClient,
        collection: str,
        clauses: list[str],
        filter_expr: str,
        limit: int,
        by_taken: bool = False,
    ) -> list[Row]:
        """The first `limit` matching rows by (taken,) created_at, descending. Milvus has no
        ORDER BY, so this reads the keys of every match (`scan`) and keeps the top in a heap:
        O(rows) per page, about 60 ms for 10,000 photos."""
        expr = " and ".join(clauses + ([f"({filter_expr})"] if filter_expr else []))
        fields = ["id", "created_at", *(["taken"] if by_taken else [])]
        keys = (  # (taken or 0, created_at, id)
            (int(row["taken"]) if by_taken else 0, int(row["created_at"]), str(row["id"]))
            for row in scan(client, collection, expr, fields, self._reads())
        )
        ordered = heapq.nlargest(limit, keys)
        if not ordered:
            return []
        # The keys above are read again with the metadata: `taken` only where the listing
        # is by it (collections before schema version 2 have no such field).
        found = self._rows(client, collection, [i for _, _, i in ordered], taken=False)
        return [
            Row(i, created, found[i].metadata if i in found else {}, taken if by_taken else None)
            for taken, created, i in ordered
        ]


# The most rows one Milvus query returns (its offset + limit window).
QUERY_WINDOW = 16_384
HEX_DIGITS = "0123456789abcdef"


def scan(
    client: MilvusClient,
    collection: str,
    expr: str,
    fields: list[str],
    reads: dict[str, Any],
    prefix: str = "",
) -> list[dict[str, Any]]:
    """Every row matching `expr`, in as few queries as fit: one query while the matches fit
    one window, else one per id prefix (ids are sha256 hex, so prefixes split them evenly).
    pymilvus' query_iterator took 7 s for 10,000 rows against this one query's 60 ms."""
    where = " and ".join(
        [*([f"({expr})"] if expr else []), *([f'id like "{prefix}%"'] if prefix else [])]
    )
    rows: list[dict[str, Any]] = client.query(
        collection, filter=where, output_fields=fields, limit=QUERY_WINDOW, **reads
    )
    if len(rows) < QUERY_WINDOW:
        return rows
    return [
        r for d in HEX_DIGITS for r in scan(client, collection, expr, fields, reads, prefix + d)
    ]


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
