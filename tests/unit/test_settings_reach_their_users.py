"""Settings whose effect shows where they are handed on: to uvicorn, to the logging tree, to
the S3 requests on the wire, and to the local stack. No server runs; each test fakes only
the receiver at its interface."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from botocore.awsrequest import AWSResponse, HTTPHeaders
from pydantic import SecretStr
from typer.testing import CliRunner

from gateway import server
from gateway.cli import main, serve
from gateway.config import Settings, StoreSettings, get_settings
from gateway.errors import NotFoundError
from gateway.logs import configure_logging
from gateway.services.backends import Backends
from gateway.serving.stack_settings import StackSettings, get_stack_settings
from gateway.store.s3 import S3ImageStore
from tests.fakes import fake_backends


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """The CLI reads the settings once per process (cached) and `serve` edits them."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_uvicorn_gets_the_shutdown_grace_keep_alive_and_log_level_settings(
    monkeypatch: pytest.MonkeyPatch, restored_logging: None, tmp_path: Path
) -> None:
    handed: dict[str, Any] = {}

    async def fake_serve(self: uvicorn.Server, sockets: object = None) -> None:
        handed.update(vars(self.config))

    async def fake_open(settings: Settings) -> Backends:
        return fake_backends(tmp_path, settings)

    monkeypatch.setattr(uvicorn.Server, "serve", fake_serve)
    monkeypatch.setattr(server, "open_backends", fake_open)
    monkeypatch.setenv("PIC_SEARCH_SERVER__SHUTDOWN_GRACE_S", "7")
    monkeypatch.setenv("PIC_SEARCH_SERVER__LOG_LEVEL", "error")
    monkeypatch.setenv("PIC_SEARCH_SERVER__KEEP_ALIVE_S", "90")
    monkeypatch.setenv("PIC_SEARCH_GRPC__ENABLED", "false")
    result = CliRunner().invoke(main.app, ["gateway"])
    assert result.exit_code == 0, result.output
    assert handed["timeout_graceful_shutdown"] == 7
    assert handed["timeout_keep_alive"] == 90
    assert handed["log_level"] == "error"


@pytest.mark.parametrize(
    ("level", "shown", "hidden"),
    [("warning", logging.WARNING, logging.INFO), ("debug", logging.DEBUG, None)],
)
def test_log_level_decides_what_the_gateways_loggers_emit(
    restored_logging: None, level: str, shown: int, hidden: int | None
) -> None:
    configure_logging(level)
    access = logging.getLogger("gateway.access")  # the access log is at info
    assert access.isEnabledFor(shown)
    if hidden is not None:
        assert not access.isEnabledFor(hidden)


def test_the_s3_region_signs_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = StoreSettings(
        kind="s3",
        s3_endpoint_url="http://s3.invalid:9000",
        s3_region="eu-west-3",
        s3_access_key=SecretStr("key"),
        s3_secret_key=SecretStr("secret"),
    )
    store = S3ImageStore(settings)
    sent: list[str] = []

    class NoBody:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield b""

    def answer(request: Any, **_: Any) -> AWSResponse:  # the wire, not a server
        sent.append(request.headers["Authorization"].decode())
        return AWSResponse(request.url, 404, HTTPHeaders(), NoBody())

    store._s3.meta.events.register("before-send.s3", answer)
    with pytest.raises(NotFoundError):
        asyncio.run(store.get("a" * 64, "original"))
    assert sent and all("/eu-west-3/s3/aws4_request" in header for header in sent)


@pytest.mark.parametrize(
    ("env", "flags", "indexes"),
    [
        ({}, [], True),
        ({"PIC_SEARCH_STACK__INDEX_SAMPLES": "false"}, [], False),
        ({}, ["--no-samples"], False),
        ({"PIC_SEARCH_STACK__INDEX_SAMPLES": "false"}, ["--samples"], True),
    ],
)
def test_index_samples_decides_whether_serve_indexes_the_samples(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], flags: list[str], indexes: bool
) -> None:
    ran: list[StackSettings] = []
    monkeypatch.setattr(serve, "run_stack", lambda settings, stack, console: ran.append(stack))
    get_stack_settings.cache_clear()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main.app, ["serve", *flags])
    assert result.exit_code == 0, result.output
    assert [stack.index_samples for stack in ran] == [indexes]
    get_stack_settings.cache_clear()
