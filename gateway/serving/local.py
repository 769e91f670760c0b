"""Milvus, Triton and a gateway as local processes, started in that order and stopped in
reverse (also on failure or Ctrl-C): what `pic-search serve` runs and benchmarks start."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from gateway.serving.gateway import gateway_process
from gateway.serving.milvus import milvus_process
from gateway.serving.process import ServerProcess
from gateway.serving.triton import TritonPorts, served_models, triton_process


@contextmanager
def local_servers(
    data: Path,
    repository: Path,
    enabled: list[str],
    *,
    nice: int,
    say: Callable[[str], None],
    milvus_port: int | None = None,
    triton: TritonPorts | None = None,
    gateway: tuple[int, dict[str, str]] | None = None,
    reindexable: bool = False,
) -> Iterator[ServerProcess | None]:
    """Starts what is asked for under `data`: a Milvus server on `milvus_port`, Triton
    serving `repository`'s `enabled` models, a gateway on (port, PIC_SEARCH_* env); yields the
    gateway's process (None without one). Milvus and the gateway run `nice` below Triton; a
    `reindexable` gateway counts as started when only its collections need a reindex."""
    with ExitStack() as servers:
        started: list[ServerProcess] = []  # the gateway fails at once if one of them exits
        if milvus_port is not None:
            say(f"starting Milvus on :{milvus_port} ...")
            milvus = milvus_process("server", data / "milvus", milvus_port, nice=nice)
            started.append(servers.enter_context(milvus))
        if triton is not None:
            say(f"starting Triton on :{triton.grpc} (gRPC) ...")
            served = served_models(repository, enabled)
            started.append(
                servers.enter_context(triton_process(repository, data / "triton", triton, served))
            )
        process = None
        if gateway is not None:
            port, env = gateway
            say(f"starting the gateway on :{port} ...")
            log = data / "gateway.log"
            process = gateway_process(
                port, env, log, nice=nice, reindexable=reindexable, needs=started
            )
            servers.enter_context(process)
        yield process
