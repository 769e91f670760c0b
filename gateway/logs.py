"""Log format for the gateway process: one line per event, request ids included by callers."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )
    # pymilvus logs every failed RPC with a traceback; the gateway reports them itself.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
