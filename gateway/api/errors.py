"""The one HTTP error boundary: domain error kinds become statuses here, and every error
leaves as `{"error": {"code", "message"}}` built by `error_body`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gateway.errors import ErrorKind, PicSearchError, UnavailableError

log = logging.getLogger("gateway")

HTTP_STATUS: dict[ErrorKind, int] = {
    ErrorKind.BAD_REQUEST: 400,
    ErrorKind.UNSUPPORTED: 415,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.CONFLICT: 409,
    ErrorKind.MISCONFIGURED: 500,
    ErrorKind.INTERNAL: 500,
}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "too_large"}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, retry_after: int | None = None
) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def status_of(exc: PicSearchError) -> int:
    return HTTP_STATUS[exc.kind]


async def _pic_search_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PicSearchError)
    status = status_of(exc)
    if status >= 500:
        log.warning(
            "%s %s -> %s %s: %s", request.method, request.url.path, status, exc.code, exc.message
        )
    retry_after = exc.retry_after_s if isinstance(exc, UnavailableError) else None
    return error_response(status, exc.code, exc.message, retry_after)


def validation_problems(errors: Sequence[Any], prefix: tuple[str, ...] = ()) -> str:
    """Pydantic's errors as one message, each naming its field (`body.top_k: ...`)."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in (*prefix, *e.get('loc', ())))}: {e.get('msg', '')}"
        for e in errors
    )
    return problems[:1000]


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = validation_problems(exc.errors())
    return error_response(422, "validation_error", problems or "invalid request")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal error; see the gateway log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PicSearchError, _pic_search_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
