"""Dependencies routes declare: the backends, and write (or read) authorisation.

They are `async def` although nothing in them waits: FastAPI runs a plain `def` dependency
in a worker thread, and two thread hops per request cost the event loop more than the
checks themselves (measured with py-spy under eight concurrent image searches)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from gateway.api import session
from gateway.errors import UnauthorizedError
from gateway.services.auth import bearer_token, check_key
from gateway.services.backends import Backends


async def get_backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


def _presented_key(request: Request) -> str | None:
    presented = request.headers.get("x-api-key")
    if presented is None:
        presented = bearer_token(request.headers.get("authorization"))
    return presented


def matching_key(request: Request) -> bytes | None:
    """The configured key presented in the headers (None when no keys are configured);
    401 when keys are configured and the headers carry none of them."""
    return check_key(request.app.state.api_keys, _presented_key(request), "X-API-Key header")


def _check_key(request: Request) -> None:
    """A key in the headers (API clients, the CLI) or the web page's session cookie."""
    token = request.cookies.get(session.COOKIE)
    keys: list[bytes] = request.app.state.api_keys
    if token is None or not keys or _presented_key(request) is not None:
        matching_key(request)
        return
    if not session.is_valid(token, keys, time.time()):
        raise UnauthorizedError(
            "the browser session has expired; enter the API key again", code="invalid_session"
        )


async def require_writer(request: Request) -> None:
    _check_key(request)


async def require_reader(request: Request) -> None:
    if request.app.state.settings.auth.require_for_reads:
        _check_key(request)


BackendsDep = Annotated[Backends, Depends(get_backends)]
Writer = Depends(require_writer)
Reader = Depends(require_reader)
