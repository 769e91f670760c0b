"""Dependencies routes declare: the backends, and write (or read) authorisation."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from gateway.errors import UnauthorizedError
from gateway.services.backends import Backends


def get_backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token if scheme.lower() == "bearer" and token else None
    return key


def _check_key(request: Request) -> None:
    keys: list[bytes] = request.app.state.api_keys
    if not keys:
        return  # no keys configured: open (the local default, bound to 127.0.0.1)
    presented = _presented_key(request)
    if presented is None:
        raise UnauthorizedError(
            "this endpoint needs an API key (X-API-Key header)", code="missing_api_key"
        )
    candidate = presented.encode()
    # Compare with every key, without stopping early, in constant time per key.
    matches = [hmac.compare_digest(candidate, key) for key in keys]
    if not any(matches):
        raise UnauthorizedError("the API key is not valid", code="invalid_api_key")


def require_writer(request: Request) -> None:
    _check_key(request)


def require_reader(request: Request) -> None:
    if request.app.state.settings.auth.require_for_reads:
        _check_key(request)


BackendsDep = Annotated[Backends, Depends(get_backends)]
Writer = Depends(require_writer)
Reader = Depends(require_reader)
