"""`pic-search`: build models, run the stack, index folders, search, inspect."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli import models

app = typer.Typer(help="Pic Search: reverse image and text-to-image search.", no_args_is_help=True)
app.add_typer(models.app, name="models")


@app.command()
def gateway() -> None:
    """Run only the gateway HTTP server (what containers run); settings from PIC_SEARCH_*."""
    import uvicorn

    from gateway.api.app import create_app
    from gateway.config import get_settings

    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        log_level=settings.server.log_level,
        timeout_graceful_shutdown=int(settings.limits.request_timeout_s),
    )


@app.command()
def serve(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where Milvus, images and logs live.")
    ] = None,
) -> None:
    """Start Milvus, Triton and the gateway locally, index the samples, stop all on Ctrl-C."""
    from gateway.cli.serve import run_stack
    from gateway.config import get_settings

    settings = get_settings()
    if data_dir is not None:
        settings.stack.data_dir = data_dir
    run_stack(settings)
