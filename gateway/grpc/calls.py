"""What every gRPC call gets, as the HTTP middleware gives every request: a request id,
the API-key check, a deadline, errors mapped in one place, metrics and an access log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from grpc import aio

from gateway.errors import PicSearchError
from gateway.grpc.errors import status, to_status
from gateway.grpc.stubs import SERVICE_NAME
from gateway.observability import REQUEST_SECONDS, REQUESTS, request_id, start_request_timings
from gateway.services.auth import bearer_token, check_key

log = logging.getLogger("gateway.access")
T = TypeVar("T")


@dataclass(frozen=True)
class CallRules:
    api_keys: list[bytes]
    require_for_reads: bool
    max_call_s: float  # the gateway's own bound when the client sets no shorter deadline


class Call:
    """One RPC in progress: `async with Call(...)` around the method body."""

    def __init__(self, method: str, context: aio.ServicerContext, rules: CallRules, write: bool):
        self.route = f"/{SERVICE_NAME}/{method}"
        self.context = context
        self.rules = rules
        self.write = write
        self.code = grpc.StatusCode.OK
        self.started = time.perf_counter()
        metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        self.metadata = metadata
        self.request_id = request_id(metadata.get("x-request-id"))

    async def __aenter__(self) -> Call:
        start_request_timings()
        await self.context.send_initial_metadata((("x-request-id", self.request_id),))
        if self.write or self.rules.require_for_reads:
            presented = self.metadata.get("x-api-key")
            if presented is None:
                presented = bearer_token(self.metadata.get("authorization"))
            try:
                check_key(self.rules.api_keys, presented, "x-api-key metadata")
            except PicSearchError as exc:
                try:
                    await self._abort(exc)
                finally:
                    self._record()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: Any, tb: Any) -> bool:
        try:
            if isinstance(exc, PicSearchError):
                await self._abort(exc)
            elif isinstance(exc, TimeoutError):
                self.code = grpc.StatusCode.DEADLINE_EXCEEDED
                await self.context.abort_with_status(
                    status(self.code, "deadline_exceeded", "the call ran out of time")
                )
            elif isinstance(exc, asyncio.CancelledError | GeneratorExit):
                self.code = grpc.StatusCode.CANCELLED
            elif exc is not None and not isinstance(exc, aio.AbortError):
                log.exception("unhandled error in %s", self.route, exc_info=exc)
                self.code = grpc.StatusCode.INTERNAL
                await self.context.abort_with_status(
                    status(self.code, "internal_error", "internal error; see the gateway log")
                )
        finally:
            self._record()
        return False

    async def _abort(self, exc: PicSearchError) -> None:
        rich = to_status(exc)
        self.code = rich.code
        if self.code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.FAILED_PRECONDITION):
            log.warning("%s -> %s %s: %s", self.route, self.code.name, exc.code, exc.message)
        await self.context.abort_with_status(rich)

    def timeout_s(self) -> float:
        remaining = self.context.time_remaining()
        bound = self.rules.max_call_s
        return bound if remaining is None else max(0.0, min(bound, remaining))

    async def bounded(self, work: Awaitable[T]) -> T:
        """`work` within the client's deadline (and the gateway's own bound)."""
        return await asyncio.wait_for(work, self.timeout_s())

    def _record(self) -> None:
        seconds = time.perf_counter() - self.started
        REQUESTS.labels(self.route, "gRPC", self.code.name).inc()
        REQUEST_SECONDS.labels(self.route).observe(seconds)
        log.info("%s gRPC %s %s %.1fms", self.request_id, self.route, self.code.name,
                 seconds * 1000)  # fmt: skip
