"""Real servers for integration tests, one of each per session, on free ports.

Triton and Milvus are started once; gateways are started as `pic-search gateway`
subprocesses pointed at them, so tests talk HTTP over real sockets.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from gateway.models.registry import DEFAULT_ENABLED
from gateway.quality.samples import sample_photos
from gateway.serving.gateway import gateway_process as start_gateway
from gateway.serving.milvus import milvus_process
from gateway.serving.process import ServerProcess, free_port
from gateway.serving.triton import TritonPorts, served_models, triton_process


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@dataclass
class RunningTriton:
    process: ServerProcess
    ports: TritonPorts

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.ports.grpc}"

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.ports.http}"

    def restart(self) -> None:
        self.process.stop()
        self.process.start()
        self.process.wait_ready()


@dataclass
class RunningMilvus:
    process: ServerProcess
    port: int

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class RunningGateway:
    process: ServerProcess
    url: str
    env: dict[str, str] = field(default_factory=dict)
    grpc_target: str = ""  # HOST:PORT of its picsearch.v1 server

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120.0, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def triton(test_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTriton]:
    ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    workdir = tmp_path_factory.mktemp("triton")
    # The default models; the rest of the zoo runs on its own Triton (test_model_zoo.py).
    served = served_models(test_models, list(DEFAULT_ENABLED))
    with triton_process(test_models, workdir, ports, served) as process:
        yield RunningTriton(process, ports)


@pytest.fixture(scope="session")
def milvus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMilvus]:
    port = free_port()
    # test_outages freezes this server (SIGSTOP) for up to a minute; with the default
    # 30 s session lease Milvus would exit on resuming, and every later test with it.
    data = tmp_path_factory.mktemp("milvus")
    with milvus_process("server", data, port, session_ttl_s=600) as process:
        yield RunningMilvus(process, port)


def gateway_process(workdir: Path, env_overrides: dict[str, str]) -> RunningGateway:
    port, grpc_port = free_port(), free_port()
    env = {
        "PIC_SEARCH_STORE__PATH": str(workdir / "images"),
        "PIC_SEARCH_SERVER__LOG_LEVEL": "warning",
        "PIC_SEARCH_GRPC__PORT": str(grpc_port),
        "PIC_SEARCH_GRPC__HEALTH_INTERVAL_S": "0.5",
        # Tests search right after they index: read-your-writes (the default's half-second
        # lag is test_search_freshness.py's subject).
        "PIC_SEARCH_MILVUS__SEARCH_STALENESS_S": "0",
        **env_overrides,
    }
    process = start_gateway(port, env, workdir / "gateway.log", startup_timeout_s=120)
    return RunningGateway(
        process, f"http://127.0.0.1:{port}", {**os.environ, **env}, f"127.0.0.1:{grpc_port}"
    )


@pytest.fixture(scope="session", params=["milvus-server", "milvus-lite"])
def gateway(
    request: pytest.FixtureRequest,
    triton: RunningTriton,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningGateway]:
    """A gateway on the real Triton, against a Milvus server and then a Milvus Lite file."""
    workdir = tmp_path_factory.mktemp(f"gateway-{request.param}")
    if request.param == "milvus-server":
        uri = request.getfixturevalue("milvus").uri
    else:
        uri = str(workdir / "lite.db")
    running = gateway_process(
        workdir, {"PIC_SEARCH_TRITON__URL": triton.grpc_url, "PIC_SEARCH_MILVUS__URI": uri}
    )
    with running.process:
        yield running


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    return sample_photos()


def isolated_gateway(
    name: str,
    triton: RunningTriton,
    milvus: RunningMilvus,
    tmp: pytest.TempPathFactory,
    extra_env: dict[str, str] | None = None,
) -> RunningGateway:
    """A gateway with its own collections and store, so its tests cannot disturb others."""
    return gateway_process(
        tmp.mktemp(f"gateway-{name}"),
        {
            "PIC_SEARCH_TRITON__URL": triton.grpc_url,
            "PIC_SEARCH_MILVUS__URI": milvus.uri,
            "PIC_SEARCH_MILVUS__COLLECTION_PREFIX": f"{name}_",
            **(extra_env or {}),
        },
    )


GatewayFactory = Callable[..., AbstractContextManager[RunningGateway]]


@pytest.fixture(scope="session")
def gateway_factory(
    triton: RunningTriton, milvus: RunningMilvus, tmp_path_factory: pytest.TempPathFactory
) -> GatewayFactory:
    """`with gateway_factory("name", {extra env}) as gateway:` runs an isolated gateway."""

    @contextmanager
    def start(name: str, extra_env: dict[str, str] | None = None) -> Iterator[RunningGateway]:
        running = isolated_gateway(name, triton, milvus, tmp_path_factory, extra_env)
        with running.process:
            yield running

    return start


def gateway_fixture(
    name: str, env: dict[str, str] | None = None, scope: Literal["module", "session"] = "module"
) -> Any:
    """A fixture running an isolated gateway `name` (collections `<name>_*`) with `env`:
    `my_gateway = gateway_fixture("mine", {...})` in a test module."""

    @pytest.fixture(scope=scope)
    def running(gateway_factory: GatewayFactory) -> Iterator[RunningGateway]:
        with gateway_factory(name, env) as gateway:
            yield gateway

    return running


def per_backend_gateway_fixture(name: str) -> Any:
    """A module's own gateway (collections `<name>_*`, its own store), on the Milvus server
    and then on a Milvus Lite file, whose expression grammars differ:
    `gateway = per_backend_gateway_fixture("mine")` in a test module."""

    @pytest.fixture(scope="module", params=["milvus-server", "milvus-lite"])
    def running(
        request: pytest.FixtureRequest,
        triton: RunningTriton,
        milvus: RunningMilvus,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> Iterator[RunningGateway]:
        workdir = tmp_path_factory.mktemp(f"{name}-{request.param}")
        uri = milvus.uri if request.param == "milvus-server" else str(workdir / "lite.db")
        env = {
            "PIC_SEARCH_TRITON__URL": triton.grpc_url,
            "PIC_SEARCH_MILVUS__URI": uri,
            "PIC_SEARCH_MILVUS__COLLECTION_PREFIX": f"{name}_",
        }
        gateway = gateway_process(workdir, env)
        with gateway.process:
            yield gateway

    return running


web_gateway = gateway_fixture("web", scope="session")
cli_gateway = gateway_fixture("cli", scope="session")

PROTECTED_KEY = "reads-key-5c2e91d07a4b"
# A key that protects reads as well as writes (the web page and CLI tests use it), with
# the access log on so tests can check the key never reaches it.
protected_gateway = gateway_fixture(
    "protected",
    {
        "PIC_SEARCH_AUTH__API_KEYS": f'["{PROTECTED_KEY}"]',
        "PIC_SEARCH_AUTH__REQUIRE_FOR_READS": "true",
        "PIC_SEARCH_SERVER__LOG_LEVEL": "info",
    },
    scope="session",
)

# The page tests' Chromium and library, one per session for every page test module.
from tests.integration.web_page import artifacts, browser, library, library_photos, page  # noqa: E402, F401
