"""Starts the gateway (`pic-search gateway`) as a child process and waits for readiness.

The local stack, the tests and the benchmarks all run it this way, over a real socket.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from gateway.serving.process import ServerProcess, venv_bin


def gateway_ready(url: str, reindexable: bool = False) -> bool:
    """`/readyz` answers 200; with `reindexable`, a 503 whose one failing check is the
    collections counts too (built with other weights or another precision: the gateway is up
    to be reindexed, which `pic-search serve` then does)."""
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as exc:
        if exc.code != 503:
            raise
        failing = [name for name, ok in json.loads(exc.read())["checks"].items() if not ok]
        return reindexable and failing == ["collections"]


def gateway_process(
    port: int,
    env: dict[str, str],
    log_path: Path,
    startup_timeout_s: float = 180.0,
    nice: int = 0,
    reindexable: bool = False,
    needs: Sequence[ServerProcess] = (),
) -> ServerProcess:
    """`env` holds PIC_SEARCH_* settings on top of this process' environment; `nice` and
    `needs` as in `ServerProcess`; `reindexable` as in `gateway_ready`."""
    url = f"http://127.0.0.1:{port}"
    return ServerProcess(
        "gateway",
        [str(venv_bin() / "pic-search"), "gateway"],
        log_path,
        ready=lambda: gateway_ready(url, reindexable),
        env={**os.environ, **env, "PIC_SEARCH_SERVER__PORT": str(port)},
        startup_timeout_s=startup_timeout_s,
        nice=nice,
        needs=needs,
    )
