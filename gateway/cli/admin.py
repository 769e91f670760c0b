"""Server-side maintenance commands: they open Milvus, Triton and the store directly
(with the gateway's settings), not through the HTTP API."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from gateway.config import get_settings
from gateway.services import consistency, reindex
from gateway.services.backends import Backends

app = typer.Typer()


@app.command()
def check(
    repair: Annotated[bool, typer.Option(help="Fix what is found.")] = False,
) -> None:
    """Compare the image store with every collection; exit 1 when they disagree."""

    async def run() -> bool:
        backends = await Backends.open(get_settings())
        try:
            report = await consistency.check(backends)
            for line in report.lines():
                typer.echo(line)
            if repair and not report.clean:
                report = await consistency.repair(backends, report)
                typer.echo(
                    "repaired; now: " + ("consistent" if report.clean else "still inconsistent")
                )
            elif report.clean:
                typer.echo("consistent")
            return report.clean
        finally:
            await backends.close()

    if not asyncio.run(run()):
        raise typer.Exit(1)


@app.command(name="reindex")
def reindex_command() -> None:
    """Re-embed stored originals for models whose weights changed; switch aliases after."""

    async def run() -> None:
        backends = await Backends.open(get_settings(), check_collections=False)
        try:
            await reindex.reindex(backends, typer.echo)
        finally:
            await backends.close()

    asyncio.run(run())
