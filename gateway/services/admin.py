"""Admin operations as both transports answer them: check and repair, reindex."""

from __future__ import annotations

import logging
from typing import Any

from gateway.services import consistency
from gateway.services import reindex as reindexing
from gateway.services.backends import Backends

log = logging.getLogger("gateway.admin")


def report_body(report: consistency.Report, repaired: bool) -> dict[str, Any]:
    return {
        "consistent": report.clean,
        "stored_images": report.stored_images,
        "collections": [
            {
                "name": name,
                "vectors": count,
                "missing": report.missing_vectors.get(name, []),
                "orphans": report.orphan_vectors.get(name, []),
            }
            for name, count in report.vectors.items()
        ],
        "unreadable": report.unreadable,
        "repaired": repaired,
    }


async def check(backends: Backends, repair: bool, force: bool) -> dict[str, Any]:
    report = await consistency.check(backends)
    if not repair or report.clean:
        return report_body(report, False)
    for line in report.lines():
        log.info("repairing: %s", line)
    return report_body(await consistency.checked_repair(backends, report, force), True)


async def reindex(backends: Backends) -> dict[str, Any]:
    done = await reindexing.reindex(backends, log.info)
    return {"collections": [vars(item) for item in done]}
