"""Dependencies routes declare: the backends, and write (or read) authorisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.services.auth import bearer_token, check_key
from gateway.services.backends import Backends


def get_backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


def _check_key(request: Request) -> None:
    presented = request.headers.get("x-api-key")
    if presented is None:
        presented = bearer_token(request.headers.get("authorization"))
    check_key(request.app.state.api_keys, presented, "X-API-Key header")


def require_writer(request: Request) -> None:
    _check_key(request)


def require_reader(request: Request) -> None:
    if request.app.state.settings.auth.require_for_reads:
        _check_key(request)


BackendsDep = Annotated[Backends, Depends(get_backends)]
Writer = Depends(require_writer)
Reader = Depends(require_reader)
