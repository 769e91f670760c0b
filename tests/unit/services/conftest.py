"""The service tests' backends: fakes of every client (fakes.py), shut down after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.services.backends import Backends
from tests.fakes import fake_backends


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[Backends]:
    made = fake_backends(tmp_path)
    yield made
    made.pool.shutdown()
