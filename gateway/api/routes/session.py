"""The web page's session: an API key traded for a short-lived HttpOnly cookie."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from gateway.api import session
from gateway.api.deps import matching_key
from gateway.api.schemas import ErrorBody

router = APIRouter(tags=["session"])


@router.post("/v1/session", status_code=204, responses={401: {"model": ErrorBody}})
async def open_session(request: Request) -> Response:
    """Check the key in `X-API-Key` and answer with a session cookie the page's requests
    (thumbnails included) then carry. Without configured keys there is nothing to open."""
    key = matching_key(request)
    response = Response(status_code=204)
    if key is not None:
        ttl_s = request.app.state.settings.auth.session_ttl_s
        forwarded = request.headers.get("x-forwarded-proto", request.url.scheme)
        response.set_cookie(
            session.COOKIE,
            session.issue(key, time.time(), ttl_s),
            max_age=ttl_s,
            path="/",
            httponly=True,
            samesite="strict",
            secure=forwarded == "https",
        )
    return response


@router.delete("/v1/session", status_code=204)
async def close_session() -> Response:
    """Forget the session cookie (the page's "forget key")."""
    response = Response(status_code=204)
    response.delete_cookie(session.COOKIE, path="/", httponly=True, samesite="strict")
    return response
