"""The real stack a benchmark run needs: Milvus server, Triton, and a `pic-search gateway`
subprocess, each on free ports, all stopped at the end (also on failure or Ctrl-C)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.common import ROOT, Stack
from gateway.config import get_settings
from gateway.serving.gateway import gateway_process as start_gateway
from gateway.serving.milvus import milvus_process
from gateway.serving.process import ServerProcess, free_port
from gateway.serving.stack_settings import get_stack_settings
from gateway.serving.triton import TritonPorts, served_models, triton_process

COLLECTION_PREFIX = "bench_"


def default_repository() -> Path:
    """`model_repository/` when it has been built, else the seeded random test models."""
    for candidate in (ROOT / "model_repository", ROOT / "build" / "test-models"):
        if (candidate / "vgg16" / "1" / "model.savedmodel").exists():
            return candidate
    raise SystemExit("no models: run `make models` (or `make test-models`) first")


def gateway_process(
    workdir: Path, triton_grpc: str, milvus_uri: str, nice: int
) -> tuple[ServerProcess, str]:
    """The gateway (its gRPC API on a free port too) and its URL."""
    port = free_port()
    env = {
        "PIC_SEARCH_SERVER__LOG_LEVEL": "warning",
        "PIC_SEARCH_STORE__PATH": str(workdir / "images"),
        "PIC_SEARCH_TRITON__URL": triton_grpc,
        "PIC_SEARCH_MILVUS__URI": milvus_uri,
        "PIC_SEARCH_MILVUS__COLLECTION_PREFIX": COLLECTION_PREFIX,
        "PIC_SEARCH_GRPC__PORT": str(free_port()),
    }
    return start_gateway(port, env, workdir / "gateway.log", nice=nice), f"http://127.0.0.1:{port}"


@contextmanager
def local_stack(
    workdir: Path,
    repository: Path,
    need_triton: bool,
    need_gateway: bool,
    say: Callable[[str], None] = print,
) -> Iterator[Stack]:
    """Starts Milvus, then (if needed) Triton and the gateway; yields where they listen."""
    with ExitStack() as servers:
        milvus_port = free_port()
        say(f"starting Milvus server on {milvus_port}")
        nice = get_stack_settings().nice_below_triton  # as `pic-search serve` runs them
        servers.enter_context(milvus_process("server", workdir / "milvus", milvus_port, nice=nice))
        milvus_uri = f"http://127.0.0.1:{milvus_port}"
        triton_grpc, triton_http = "", None
        if need_triton or need_gateway:
            ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
            say(f"starting Triton on {repository} (gRPC {ports.grpc})")
            servers.enter_context(
                triton_process(
                    repository,
                    workdir / "triton",
                    ports,
                    served_models(repository, get_settings().models.enabled),
                )
            )
            triton_grpc, triton_http = f"127.0.0.1:{ports.grpc}", f"127.0.0.1:{ports.http}"
        gateway_url, gateway_pid = "", None
        if need_gateway:
            gateway, gateway_url = gateway_process(
                workdir / "gateway", triton_grpc, milvus_uri, nice
            )
            say("starting the gateway")
            servers.enter_context(gateway)
            gateway_pid = gateway.proc.pid if gateway.proc else None
        yield Stack(gateway_url, triton_grpc, triton_http, milvus_uri, repository, gateway_pid)
