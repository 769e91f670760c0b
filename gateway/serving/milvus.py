"""Starts a local Milvus: the real standalone server (`milvus` wheel) or Milvus Lite's server.

Only the proxy (client) port is pinned; the wheel's launcher picks free ports for Milvus'
internal services itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from gateway.serving.process import ServerProcess, venv_bin


def milvus_process(
    kind: Literal["server", "lite"],
    data_dir: Path,
    port: int,
    startup_timeout_s: float = 180.0,
) -> ServerProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    if kind == "server":
        argv = [str(venv_bin() / "milvus-server"), "--data", str(data_dir.resolve()),
                "--proxy-port", str(port)]  # fmt: skip
    else:
        argv = [str(venv_bin() / "milvus-lite"), "server", "--data-dir", str(data_dir.resolve()),
                "--port", str(port)]  # fmt: skip
    return ServerProcess(
        f"milvus-{kind}",
        argv,
        data_dir / f"milvus-{kind}.log",
        ready=lambda: milvus_ready(f"http://127.0.0.1:{port}"),
        startup_timeout_s=startup_timeout_s,
    )


def milvus_ready(uri: str) -> bool:
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri, timeout=2)
    try:
        client.list_collections()
        return True
    finally:
        client.close()
