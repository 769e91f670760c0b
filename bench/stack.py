"""The real stack a benchmark run needs: Milvus server, Triton, and a `pic-search gateway`
subprocess, each on free ports, all stopped at the end (also on failure or Ctrl-C)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import ROOT, Stack
from gateway.config import get_settings
from gateway.serving.gateway import gateway_process as start_gateway
from gateway.serving.local import local_servers
from gateway.serving.process import ServerProcess, free_port
from gateway.serving.stack_settings import get_stack_settings
from gateway.serving.triton import TritonPorts


def default_repository() -> Path:
    """`model_repository/` when it has been built, else the seeded random test models."""
    for candidate in (ROOT / "model_repository", ROOT / "build" / "test-models"):
        if (candidate / "vgg16" / "1" / "model.savedmodel").exists():
            return candidate
    raise SystemExit("no models: run `make models` (or `make test-models`) first")


def gateway_env(workdir: Path, triton: str, milvus_uri: str, **settings: str) -> dict[str, str]:
    """A benchmark gateway's settings (gRPC on a free port), PIC_SEARCH_* `settings` override."""
    return {
        "PIC_SEARCH_SERVER__LOG_LEVEL": "warning",
        "PIC_SEARCH_STORE__PATH": str(workdir / "images"),
        "PIC_SEARCH_TRITON__URL": triton,
        "PIC_SEARCH_MILVUS__URI": milvus_uri,
        "PIC_SEARCH_MILVUS__COLLECTION_PREFIX": "bench_",
        "PIC_SEARCH_GRPC__PORT": str(free_port()),
        **settings,
    }


def gateway_process(
    workdir: Path, triton_grpc: str, milvus_uri: str, nice: int, **settings: str
) -> tuple[ServerProcess, str]:
    """One more gateway on the stack's Triton and Milvus, and its URL."""
    port, env = free_port(), gateway_env(workdir, triton_grpc, milvus_uri, **settings)
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
    milvus_uri = f"http://127.0.0.1:{(milvus_port := free_port())}"
    ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    triton = ports if need_triton or need_gateway else None
    triton_grpc = f"127.0.0.1:{triton.grpc}" if triton else ""
    port = free_port()
    env = gateway_env(workdir / "gateway", triton_grpc, milvus_uri)
    gateway = (port, env) if need_gateway else None
    nice = get_stack_settings().nice_below_triton  # as `pic-search serve` runs them
    enabled = get_settings().models.enabled
    with local_servers(workdir, repository, enabled, nice=nice, say=say, milvus_port=milvus_port,
                       triton=triton, gateway=gateway) as process:  # fmt: skip
        pid = process.proc.pid if process and process.proc else None
        triton_http = f"127.0.0.1:{triton.http}" if triton else None
        url = f"http://127.0.0.1:{port}" if gateway else ""
        yield Stack(url, triton_grpc, triton_http, milvus_uri, repository, pid)
