"""The HTTP app on fake backends (tests/fakes.py), as gRPC's unit tests use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.services.backends import Backends
from tests.fakes import fake_backends


@contextmanager
def http_on_fakes(
    tmp_path: Path, settings: Settings | None = None, api_keys: list[str] | None = None
) -> Iterator[tuple[TestClient, Backends]]:
    backends = fake_backends(tmp_path, settings)
    app = create_app(backends.settings, backends, [k.encode() for k in api_keys or []])
    try:
        with TestClient(app) as client:
            yield client, backends
    finally:
        backends.pool.shutdown()
