"""One contract for the vector store: the unit tests' FakeMilvus and the real adapter on a
real Milvus (Lite, in process) answer the same calls alike, filters above all, so service
tests on the fake say something about the real thing."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.capture import TAKEN_NONE
from gateway.clients import milvus
from gateway.clients.base import Row, VectorStore
from gateway.clients.milvus import VectorIndex
from gateway.config import MilvusSettings
from gateway.services.filters import to_expression
from gateway.services.stored import ImageRecord, VectorRow
from tests.fakes import FakeMilvus

ALIAS = "contract_clip"
DIM = 8
Camera = dict[str, str | None]
CANON: Camera = {"make": "Canon", "model": "R5"}
FUJI: Camera = {"make": "Fujifilm", "model": "X100V"}
CASES: list[tuple[dict[str, Any], str | None, Camera | None, dict[str, float] | None]] = [
    ({"album": "a", "rating": 5}, "2024-05-01T10:00:00", CANON, None),
    ({"album": "a", "rating": 2}, None, None, {"lat": 1.0, "lon": 2.0}),
    ({"album": "b", "rating": 4, "flag": True}, "2019-12-31T23:59:59+01:00", None, None),
    ({"album": "b"}, "2024-01-01T00:00:00", FUJI, None),
    ({"note": "no album"}, None, None, None),
]
RECORDS = [
    ImageRecord(f"{n:064x}", 1_000 + n, metadata, taken=taken, camera=camera, location=where)
    for n, (metadata, taken, camera, where) in enumerate(CASES)
]
FILTERS: list[dict[str, Any]] = [
    {"album": "a"},
    {"album": {"in": ["a", "b"]}},
    {"rating": {"gte": 3}},
    {"rating": {"gt": 2, "lte": 4}},
    {"flag": True},
    {"album": "b", "rating": {"lt": 5}},
    {"taken": {"after": "2020-01-01"}},
    {"taken": {"before": "2024-03-01"}},
    {"camera": "canon r5"},
    {"camera": {"in": ["fujifilm x100v", "nikon z6"]}},
    {"has_location": True},
    {"has_location": False},
    {"created_at": {"after": 1_002}},
]


def _vector(n: int) -> list[float]:
    v = np.random.default_rng(n).standard_normal(DIM)
    return (v / np.linalg.norm(v)).tolist()


async def _answers(store: VectorStore) -> dict[str, Any]:
    await store.ensure_collection(ALIAS, "contract@random", DIM)
    rows = [VectorRow.of(r, _vector(i)).as_fields() for i, r in enumerate(RECORDS)]
    await store.upsert(ALIAS, rows)
    answers: dict[str, Any] = {"count": await store.count(ALIAS)}
    for spec in FILTERS:
        expression = to_expression(spec)
        answers[f"ids {spec}"] = sorted(await store.all_ids(ALIAS, expression))
        newest = await store.newest(ALIAS, None, 10, expression)
        answers[f"newest {spec}"] = [row.id for row in newest]
        hits = await store.search(ALIAS, _vector(0), 10, expression)
        answers[f"search {spec}"] = [hit.id for hit in hits]
    answers["page after 1003"] = [r.id for r in await store.newest(ALIAS, 1_003, 2)]
    by_taken = await store.newest_taken(ALIAS, None, 10)
    answers["by taken"] = [(r.id, r.taken) for r in by_taken]
    cursor = (by_taken[1].taken or 0, by_taken[1].created_at)
    answers["by taken, page 2"] = [r.id for r in await store.newest_taken(ALIAS, cursor, 2)]
    await store.set_metadata(ALIAS, RECORDS[4].id, {"album": "a"})
    answers["after patch"] = sorted(await store.all_ids(ALIAS, to_expression({"album": "a"})))
    await store.delete(ALIAS, [RECORDS[0].id])
    answers["after delete"] = sorted(await store.existing_ids(ALIAS, [r.id for r in RECORDS]))
    return answers


@pytest.fixture
def real(tmp_path: Path) -> Iterator[VectorIndex]:
    index = VectorIndex(MilvusSettings(uri=str(tmp_path / "contract.db")))
    yield index
    asyncio.run(index.close())


def test_the_fake_answers_every_call_as_the_real_adapter_does(real: VectorIndex) -> None:
    expected = asyncio.run(_answers(real))
    assert expected[f"ids {FILTERS[0]}"]  # the filters select something: not vacuous
    assert asyncio.run(_answers(FakeMilvus())) == expected


@pytest.fixture(params=["milvus-lite", "milvus-server"])
def backend_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "milvus-lite":
        return str(tmp_path / "scan.db")
    return str(request.getfixturevalue("milvus").uri)


def test_more_matches_than_one_query_returns_are_read_by_id_prefix(
    backend_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listings, tag search and maintenance read every match even when the matches overflow
    Milvus' query window (16,384 rows; 8 here), on both Milvus kinds; reads by id too, over
    more ids than one `get` asks for (3 here)."""
    monkeypatch.setattr(milvus, "QUERY_WINDOW", 8)
    monkeypatch.setattr(milvus, "GET_CHUNK", 3)
    records = [
        ImageRecord(hashlib.sha256(str(n).encode()).hexdigest(), 5_000 + n, {"n": n})
        for n in range(40)
    ]
    tagged = {r.id for r in records[::3]}

    async def read() -> tuple[list[str], list[str], set[str], dict[str, Row]]:
        store = VectorIndex(MilvusSettings(uri=backend_uri))
        alias = f"scan_{uuid.uuid4().hex[:12]}"  # the session's Milvus server keeps it
        try:
            await store.ensure_collection(alias, "scan@random", DIM)
            rows = []
            for i, record in enumerate(records):
                row = VectorRow.of(record, _vector(i)).as_fields()
                if record.id in tagged:
                    row |= {"tags": ["cat"], "classes": ["tabby"], "class_scores": [0.9]}
                rows.append(row)
            await store.upsert(alias, rows)
            newest = [row.id for row in await store.newest(alias, None, 5)]
            labelled = set((await store.labelled(alias, ["tabby"])).ids)
            by_id = await store.rows_by_id(alias, [r.id for r in records[:10]] + ["f" * 64])
            return newest, sorted(await store.all_ids(alias)), labelled, by_id
        finally:
            await store.close()

    newest, every, labelled, by_id = asyncio.run(read())
    assert newest == [r.id for r in records[::-1][:5]]
    assert every == sorted(r.id for r in records) and labelled == tagged
    assert by_id == {r.id: Row(r.id, r.created_at, r.metadata, TAKEN_NONE) for r in records[:10]}


@pytest.mark.parametrize("get_chunk", [1_000, 2], ids=["few-missing-by-id", "many-by-scan"])
def test_tag_search_classes_are_the_stored_ones_on_every_replica_and_after_a_reindex(
    backend_uri: str, monkeypatch: pytest.MonkeyPatch, get_chunk: int
) -> None:
    """The adapter remembers classes (class_cache.py): a replica that wrote nothing reads
    them from Milvus, by id or by one scan, and an alias moved to a collection of other
    classes (a reindex with new weights) serves the new ones, never the remembered."""
    monkeypatch.setattr(milvus, "GET_CHUNK", get_chunk)
    ids = [hashlib.sha256(f"photo {n}".encode()).hexdigest() for n in range(6)]

    def rows(classes: list[str], scores: list[float]) -> list[dict[str, Any]]:
        return [
            VectorRow.of(ImageRecord(i, 100 + n, {}), _vector(n)).as_fields()
            | {"tags": classes, "classes": classes, "class_scores": scores}
            for n, i in enumerate(ids)
        ]

    async def read() -> tuple[set[tuple[str, float]], ...]:
        writer = VectorIndex(MilvusSettings(uri=backend_uri))
        reader = VectorIndex(MilvusSettings(uri=backend_uri))
        alias = f"classes_{uuid.uuid4().hex[:12]}"
        try:
            await writer.ensure_collection(alias, "old@random", DIM)
            await writer.upsert(alias, rows(["tabby", "tiger_cat"], [0.5, 0.25]))
            await writer.seal(alias, len(ids))  # the reader shares no session with the writer
            answers = []
            for store in (writer, reader, reader):  # remembered, read cold, remembered
                found = await store.labelled(alias, ["tiger_cat", "tabby"])
                answers.append(set(zip(found.ids, found.scores.tolist(), strict=True)))
            moved = await writer.create_physical(alias, "new@random", DIM)
            await writer.upsert(moved, rows(["tiger_cat", "lynx"], [0.375, 0.125]))
            await writer.seal(moved, len(ids))  # as `pic-search reindex` does
            await writer.switch_alias(alias, moved)
            for store in (writer, reader):
                found = await store.labelled(alias, ["tiger_cat", "tabby"])
                answers.append(set(zip(found.ids, found.scores.tolist(), strict=True)))
            return tuple(answers)
        finally:
            await writer.close()
            await reader.close()

    answers = asyncio.run(read())
    before = {(i, 0.75) for i in ids}  # tabby 0.5 + tiger_cat 0.25
    after = {(i, 0.375) for i in ids}  # tiger_cat alone (lynx is not asked for)
    assert answers[:3] == (before, before, before)
    assert answers[3:] == (after, after)
