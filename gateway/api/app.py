"""The FastAPI application: built by a factory so tests can pass their own settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from gateway.api.docs_pages import install_docs
from gateway.api.errors import install_error_handlers
from gateway.api.middleware import GatewayMiddleware
from gateway.api.routes import admin, images, ops, search, session
from gateway.api.strict import reject_unknown_parameters
from gateway.config import Settings, get_settings
from gateway.services.backends import Backends

log = logging.getLogger("gateway")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys = settings.load_api_keys()
        if not keys:
            log.warning("no API keys configured: anyone who can reach this port can write")
        app.state.api_keys = [key.encode() for key in keys]
        app.state.backends = await Backends.open(settings)
        grpc_server = None
        try:
            if settings.grpc.enabled:
                from gateway.grpc.server import GrpcServer  # only when served: it loads stubs

                grpc_server = GrpcServer(settings, app.state.backends, app.state.api_keys)
                await grpc_server.start()
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop()
            await app.state.backends.close()

    app = FastAPI(
        title="Pic Search",
        version="1.0.0",
        summary="Reverse image search and text-to-image search (VGG16, CLIP) on Triton + Milvus.",
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_parameters)],
        docs_url=None,  # served by install_docs with local assets instead of a CDN's
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_docs(app)
    for router in (images.router, search.router, ops.router, session.router, admin.router):
        app.include_router(router)
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Server-Timing"],
        )
    app.add_middleware(GatewayMiddleware, settings=settings)
    return app
