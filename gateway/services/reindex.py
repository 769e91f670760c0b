"""Re-embed every stored original into a new collection, then move the alias to it.

Used when the served weights change: a gateway on a collection built with other weights
serves nothing from it (model_mismatch) until this rebuilds it, and readers through the
alias keep the old collection until the new one is complete, so there are never mixed
vectors and no downtime. Also used when a collection's schema version is older than the
gateway's (clients/milvus.py), even with the same weights: the new fields are filled from
the stored originals, whose EXIF is read again (and written into records that predate the
capture facts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from gateway.services.backends import Backends
from gateway.services.reembed import reembed


@dataclass(frozen=True)
class Reindexed:
    name: str  # the alias searches use
    action: str  # "rebuilt" or "current"
    images: int  # rows now in the collection
    target: str  # the physical collection behind the alias


async def reindex(backends: Backends, log: Callable[[str], None]) -> list[Reindexed]:
    """Rebuild every collection whose fingerprint differs from the served model's, or
    whose schema version is older than the gateway's."""
    done: list[Reindexed] = []
    counts: dict[str, int] = {}
    for model in backends.models:
        alias = backends.collection(model)
        fingerprint = await backends.fingerprint(model)
        collections = backends.collections
        current = await collections.target(alias)
        state = await collections.build_state(alias, fingerprint)
        if state == "current" and current is not None:
            log(f"{alias}: already built with {fingerprint}")
            done.append(Reindexed(alias, "current", await backends.vectors.count(alias), current))
            continue
        if state == "older_schema":
            log(f"{alias}: rebuilding at the current schema version (new fields)")
        else:
            log(f"{alias}: re-embedding stored images with {fingerprint}")
        target = await collections.create_fresh(alias, fingerprint, model.dim)
        ids = await backends.store.ids()

        def skipped(image_id: str, code: str) -> None:
            log(f"  skipped {image_id}: {code}")

        counts[alias] = await reembed(backends, model, target, ids, skipped)
        # Readers through the alias must never meet a partial collection.
        await collections.seal(target, counts[alias])
        await collections.switch_alias(alias, target)
        log(f"{alias}: now {target} ({counts[alias]} images)")
        done.append(Reindexed(alias, "rebuilt", counts[alias], target))
        if current is not None:
            # A read that resolved the alias before it moved still runs on the old
            # collection; dropped under it, Milvus answers it with nothing (seen on 2.3.5).
            # Every read ends within one Milvus deadline, retries included.
            await asyncio.sleep(backends.settings.milvus.timeout_s)
            await collections.drop(current)
            log(f"{alias}: dropped {current}")
    backends.collections_ready = False
    return done
