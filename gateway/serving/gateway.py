"""Starts the gateway (`pic-search gateway`) as a child process and waits for readiness.

The local stack, the tests and the benchmarks all run it this way, over a real socket.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from gateway.serving.process import ServerProcess, venv_bin


def gateway_ready(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
        return bool(response.status == 200)


def gateway_process(
    port: int,
    env: dict[str, str],
    log_path: Path,
    startup_timeout_s: float = 180.0,
    nice: int = 0,
) -> ServerProcess:
    """`env` holds PIC_SEARCH_* settings on top of this process' environment; `nice` as in
    `ServerProcess`."""
    url = f"http://127.0.0.1:{port}"
    return ServerProcess(
        "gateway",
        [str(venv_bin() / "pic-search"), "gateway"],
        log_path,
        ready=lambda: gateway_ready(url),
        env={**os.environ, **env, "PIC_SEARCH_SERVER__PORT": str(port)},
        startup_timeout_s=startup_timeout_s,
        nice=nice,
    )
