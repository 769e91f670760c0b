"""Finds and repairs inconsistencies between the image store and the collections.

Ingest undoes its own partial writes, but a crash (or an outage during the undo) can
still leave an image in one collection and not the other, vectors without stored bytes,
or bytes without vectors. `check` lists them; `repair` re-embeds stored originals that
lack a vector and removes vectors or files that have nothing to belong to.

Both run in the service, against its own store and collections (never a path guessed from
a client's folder), and a repair that looks like a misconfiguration rather than leftovers is
refused unless forced: an empty store beside full collections, or deleting more than
MAX_DELETE_FRACTION (or MAX_DELETES) of the vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.errors import ConflictError
from gateway.services.backends import Backends
from gateway.services.reembed import reembed

MAX_DELETE_FRACTION = 0.05
MAX_DELETES = 100


@dataclass
class Report:
    stored_images: int = 0
    vectors: dict[str, int] = field(default_factory=dict)  # collection -> rows
    missing_vectors: dict[str, list[str]] = field(default_factory=dict)  # collection -> ids
    orphan_vectors: dict[str, list[str]] = field(default_factory=dict)  # collection -> ids
    unreadable: list[str] = field(default_factory=list)  # stored originals that fail to decode

    @property
    def clean(self) -> bool:
        return not any(self.missing_vectors.values()) and not any(self.orphan_vectors.values())

    def lines(self) -> list[str]:
        out = []
        for collection, ids in self.missing_vectors.items():
            out += [f"missing vector in {collection}: {i}" for i in ids]
        for collection, ids in self.orphan_vectors.items():
            out += [f"vector without stored image in {collection}: {i}" for i in ids]
        out += [f"stored original cannot be decoded: {i}" for i in self.unreadable]
        return out


async def check(backends: Backends) -> Report:
    await backends.ensure_collections()
    stored = set(await backends.store.ids())
    report = Report(stored_images=len(stored))
    for model in backends.models:
        collection = backends.collection(model)
        indexed = set(await backends.vectors.all_ids(collection))
        report.vectors[collection] = len(indexed)
        report.missing_vectors[collection] = sorted(stored - indexed)
        report.orphan_vectors[collection] = sorted(indexed - stored)
    return report


def refusal(report: Report) -> str | None:
    """Why repairing `report` looks like pointing at the wrong store; None when plausible."""
    vectors = sum(report.vectors.values())
    doomed = sum(len(ids) for ids in report.orphan_vectors.values())
    if report.stored_images == 0 and vectors:
        return (
            f"the image store holds no images while the collections hold {vectors} vectors; "
            "a repair would delete them all. Check the gateway's store settings "
            "(PIC_SEARCH_STORE__*) before forcing it"
        )
    if doomed > MAX_DELETES or doomed > MAX_DELETE_FRACTION * vectors:
        return (
            f"a repair would delete {doomed} of {vectors} vectors (more than "
            f"{MAX_DELETE_FRACTION:.0%} or {MAX_DELETES})"
        )
    return None


async def checked_repair(backends: Backends, report: Report, force: bool) -> Report:
    """Repair unless it looks implausible (409 `repair_refused`, nothing changed)."""
    reason = None if force else refusal(report)
    if reason is not None:
        raise ConflictError(reason, code="repair_refused")
    return await repair(backends, report)


async def repair(backends: Backends, report: Report) -> Report:
    """Delete orphan vectors, re-embed missing ones; the state after, with the stored
    originals that no longer decode (left as they are: a person decides)."""
    for collection, ids in report.orphan_vectors.items():
        await backends.vectors.delete(collection, ids)
    unreadable: set[str] = set()
    for model in backends.models:
        collection = backends.collection(model)
        missing = report.missing_vectors.get(collection, [])
        await reembed(backends, model, collection, missing, lambda i, _: unreadable.add(i))
    after = await check(backends)
    after.unreadable = sorted(unreadable)
    return after
