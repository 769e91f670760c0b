"""The grpc.aio server in the gateway process: picsearch.v1, health checking (SERVING only
while the gateway is ready) and server reflection. The app's lifespan starts and stops it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from gateway.config import Settings
from gateway.grpc.calls import CallRules
from gateway.grpc.servicer import PicSearchServicer
from gateway.grpc.stubs import SERVICE_NAME, pb_grpc
from gateway.services import status
from gateway.services.backends import Backends

log = logging.getLogger("gateway")
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def message_limits(settings: Settings) -> tuple[int, int]:
    """(receive, send): one image plus overhead in; an original and a thumbnail out."""
    upload, overhead = settings.limits.max_upload_bytes, settings.grpc.message_overhead_bytes
    return upload + overhead, 2 * upload + overhead


class GrpcServer:
    def __init__(self, settings: Settings, backends: Backends, api_keys: list[bytes]) -> None:
        self.settings = settings
        self.backends = backends
        receive, send = message_limits(settings)
        self.server = aio.server(
            options=[
                ("grpc.max_receive_message_length", receive),
                ("grpc.max_send_message_length", send),
            ]
        )
        rules = CallRules(
            api_keys, settings.auth.require_for_reads, settings.limits.request_timeout_s
        )
        servicer = PicSearchServicer(backends, rules)
        pb_grpc.add_PicSearchServicer_to_server(servicer, self.server)  # type: ignore[no-untyped-call]
        self.health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, HEALTH_SERVICE, reflection.SERVICE_NAME), self.server
        )
        self._watch: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self) -> int:
        host = self.settings.grpc.host or self.settings.server.host
        self.port = self.server.add_insecure_port(f"{host}:{self.settings.grpc.port}")
        if not self.port:
            raise RuntimeError(f"cannot listen for gRPC on {host}:{self.settings.grpc.port}")
        for service in ("", SERVICE_NAME):
            await self.health.set(service, NOT_SERVING)
        await self.server.start()
        self._watch = asyncio.create_task(self._watch_readiness())
        log.info("gRPC (picsearch.v1) listening on %s:%d", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.settings.grpc.grace_s)

    async def _watch_readiness(self) -> None:
        """Health follows readiness: NOT_SERVING while Triton, Milvus or the store is down,
        SERVING again by itself once they are back."""
        current = None
        while True:
            try:
                ready = all((await status.readiness(self.backends)).values())
            except Exception:
                ready = False
            if ready != current:
                for service in ("", SERVICE_NAME):
                    await self.health.set(service, SERVING if ready else NOT_SERVING)
                log.info("gRPC health: %s", "SERVING" if ready else "NOT_SERVING")
                current = ready
            await asyncio.sleep(self.settings.grpc.health_interval_s)
