"""The FastAPI application, built by a factory from settings and backends (the composition
root, gateway/server.py, opens the real ones; tests pass fakes)."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from gateway.api.docs_pages import install_docs
from gateway.api.errors import install_error_handlers
from gateway.api.middleware import GatewayMiddleware
from gateway.api.routes import admin, images, library, ops, search, session, tags
from gateway.api.strict import reject_unknown_parameters
from gateway.config import Settings
from gateway.services.backends import Backends


def create_app(
    settings: Settings, backends: Backends, api_keys: list[bytes] | None = None
) -> FastAPI:
    """The HTTP API on backends built elsewhere (gateway/server.py, or fakes in tests);
    `api_keys` as Settings.load_api_keys() gives them, encoded."""
    app = FastAPI(
        title="Pic Search",
        version="1.0.0",
        summary="Reverse image search and text-to-image search (VGG16, CLIP) on Triton + Milvus.",
        dependencies=[Depends(reject_unknown_parameters)],
        docs_url=None,  # served by install_docs with local assets instead of a CDN's
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.backends = backends
    app.state.api_keys = api_keys or []
    install_error_handlers(app)
    install_docs(app)
    for router in (
        images.router,
        library.router,
        tags.router,
        search.router,
        ops.router,
        session.router,
        admin.router,
    ):
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
