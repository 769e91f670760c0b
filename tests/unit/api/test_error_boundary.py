"""The one error boundary: an unexpected exception leaves as 500 `internal_error`, without
its details, over real HTTP handling (Starlette's test client on the gateway's handlers)."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.api.errors import install_error_handlers


def test_an_unexpected_exception_is_a_500_internal_error_that_hides_its_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail of a bug")

    with caplog.at_level(logging.ERROR, "gateway"):
        response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert "secret detail" not in response.text
    assert "secret detail of a bug" in caplog.text  # the log keeps it for the operator
