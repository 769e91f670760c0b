"""Starts a local Milvus: the real standalone server (`milvus` wheel) or Milvus Lite's server.

Only the proxy (client) port is pinned; the wheel's launcher picks free ports for Milvus'
internal services itself, except for its embedded etcd, which would always take 2379/2380:
we give it free ports through its own config file, so two servers never collide.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from gateway.serving.process import ServerProcess, free_port, venv_bin


def milvus_process(
    kind: Literal["server", "lite"],
    data_dir: Path,
    port: int,
    startup_timeout_s: float = 180.0,
    session_ttl_s: int | None = None,
    nice: int = 0,
) -> ServerProcess:
    """`session_ttl_s` replaces the standalone server's etcd session lease (30 s): a server
    paused for longer than its lease finds the lease gone when it resumes, and exits.
    `nice` as in `ServerProcess`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if kind == "server":
        env["ETCD_CONFIG_PATH"] = str(_etcd_config(data_dir.resolve()))
        etcd_port = _etcd_client_port(data_dir)
        argv = [str(venv_bin() / "milvus-server"), "--data", str(data_dir.resolve()),
                "--proxy-port", str(port), "--etcd-port", etcd_port,
                # The launcher takes --*-port as where to start looking: it probes a port
                # without SO_REUSEADDR, so a port the last server left in TIME_WAIT (for a
                # minute after a stop) reads as taken and it moves to the next one, where
                # nothing looks for it. Pinned in the config, Milvus binds them itself.
                "--extra-config", f"proxy.port={port}",
                "--extra-config", f"etcd.endpoints=localhost:{etcd_port}",
                # A standalone query node waits for its segments to move elsewhere before
                # it stops (30 minutes by default); there is nowhere to move them, so it
                # waited the whole timeout on every stop. Rows are safe in the write-ahead
                # log either way (the data node stops after it and closes its flowgraphs).
                "--extra-config", "common.gracefulStopTimeout=1",
                # Milvus 2.6's segment size (2.3 used 512 MB): fewer, larger segments make
                # each search walk fewer HNSW graphs, and local numbers carry over.
                "--extra-config", "dataCoord.segment.maxSize=1024"]  # fmt: skip
        if session_ttl_s is not None:
            argv += ["--extra-config", f"common.session.ttl={session_ttl_s}"]
    else:
        argv = [str(venv_bin() / "milvus-lite"), "server", "--data-dir", str(data_dir.resolve()),
                "--port", str(port)]  # fmt: skip
    return ServerProcess(
        f"milvus-{kind}",
        argv,
        data_dir / f"milvus-{kind}.log",
        ready=lambda: milvus_ready(f"http://127.0.0.1:{port}"),
        env=env,
        startup_timeout_s=startup_timeout_s,
        nice=nice,
    )


def milvus_ready(uri: str) -> bool:
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri, timeout=2)
    try:
        client.list_collections()
        return True
    finally:
        client.close()


def _etcd_config(data_dir: Path) -> Path:
    """The embedded etcd's config; written once, so a restarted server keeps its ports."""
    path = data_dir / "embed-etcd.yaml"
    if not path.exists():
        client, peer = free_port(), free_port()
        path.write_text(
            f"name: default\n"
            f"data-dir: {data_dir / 'etcd-embed'}\n"
            f"listen-client-urls: http://127.0.0.1:{client}\n"
            f"advertise-client-urls: http://127.0.0.1:{client}\n"
            f"listen-peer-urls: http://127.0.0.1:{peer}\n"
            f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
            f"initial-cluster: default=http://127.0.0.1:{peer}\n"
        )
    return path


def _etcd_client_port(data_dir: Path) -> str:
    for line in _etcd_config(data_dir.resolve()).read_text().splitlines():
        if line.startswith("listen-client-urls:"):
            return line.rsplit(":", 1)[1].strip()
    raise RuntimeError("embedded etcd config has no client URL")
