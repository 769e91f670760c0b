"""One ASGI middleware for what every request gets: a request id, the body-size limit,
the multipart content-type check, the per-request time bound, `Server-Timing`, Prometheus
metrics and an access log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.errors import error_body, error_response
from gateway.config import Settings
from gateway.observability import (
    IN_FLIGHT,
    REQUEST_SECONDS,
    REQUESTS,
    server_timing_header,
    start_request_timings,
)
from gateway.observability import (
    request_id as make_request_id,
)

log = logging.getLogger("gateway.access")
MULTIPART_ROUTES = {("POST", "/v1/images"), ("POST", "/v1/search/image")}


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_bytes = settings.limits.max_request_bytes
        self.timeout_s = settings.limits.request_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        timings = start_request_timings()
        headers = Headers(scope=scope)
        request_id = make_request_id(headers.get("x-request-id"))
        state: dict[str, Any] = {
            "status": 500, "received": 0, "too_large": False, "started": False
        }  # fmt: skip

        async def send_with_headers(message: Message) -> None:
            if state["too_large"]:
                replacement = _too_large_message(message, self.max_bytes)
                if replacement is None:
                    return
                message = replacement
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
                extra = MutableHeaders(scope=message)
                extra["x-request-id"] = request_id
                extra["server-timing"] = server_timing_header(
                    timings, time.perf_counter() - started
                )
            await send(message)

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    # Chunked uploads have no Content-Length: stop reading and answer 413.
                    state["too_large"] = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        early = self._reject_early(scope, headers)
        api = scope["path"].startswith("/v1/")
        with IN_FLIGHT.track_inprogress() if api else contextlib.nullcontext():
            if early is not None:
                await early(scope, receive, send_with_headers)
            elif api and not scope["path"].startswith("/v1/admin/"):
                await self._bounded(scope, counting_receive, send_with_headers, state)
            else:  # the page, docs, probes; admin calls last as long as the library is large
                await self.app(scope, counting_receive, send_with_headers)
        self._record(scope, request_id, state["status"], time.perf_counter() - started)

    async def _bounded(
        self, scope: Scope, receive: Receive, send: Send, state: dict[str, Any]
    ) -> None:
        """The request within `request_timeout_s`, as gRPC calls are: past it the work is
        cancelled (an interrupted ingest undoes its writes) and the client gets 504."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.app(scope, receive, send)
        except TimeoutError:
            if state["started"]:
                raise  # too late for an error response: the connection is cut instead
            message = (
                f"the request took longer than {self.timeout_s:g} s "
                "(PIC_SEARCH_LIMITS__REQUEST_TIMEOUT_S)"
            )
            await error_response(504, "deadline_exceeded", message)(scope, receive, send)

    def _reject_early(self, scope: Scope, headers: Headers) -> ASGIApp | None:
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return error_response(413, *_too_large(self.max_bytes))
        route = (scope["method"], scope["path"].rstrip("/"))
        content_type = headers.get("content-type", "")
        if route in MULTIPART_ROUTES and not content_type.startswith("multipart/form-data"):
            return error_response(
                415, "unsupported_media_type", "send the image as multipart/form-data"
            )
        return None

    @staticmethod
    def _record(scope: Scope, request_id: str, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        REQUESTS.labels(route, scope["method"], str(status)).inc()
        REQUEST_SECONDS.labels(route).observe(seconds)
        log.info(
            "%s %s %s %d %.1fms", request_id, scope["method"], scope["path"], status, seconds * 1000
        )


def _too_large(max_bytes: int) -> tuple[str, str]:
    return "request_too_large", f"the request body is over {max_bytes} bytes"


def _too_large_message(message: Message, max_bytes: int) -> Message | None:
    """Swap whatever the app answered to a truncated body for a 413 error."""
    body = json.dumps(error_body(*_too_large(max_bytes))).encode()
    if message["type"] == "http.response.start":
        return {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    if message["type"] == "http.response.body" and not message.get("more_body", False):
        return {"type": "http.response.body", "body": body}
    return None
