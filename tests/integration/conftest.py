"""Real servers for integration tests, one of each per session, on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.serving.process import ServerProcess, free_port
from gateway.serving.triton import TritonPorts, triton_process


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


@pytest.fixture(scope="session")
def triton(test_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTriton]:
    ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    workdir = tmp_path_factory.mktemp("triton")
    with triton_process(test_models, workdir, ports) as process:
        yield RunningTriton(process, ports)
