"""`pic-search`: build models, run the stack, index folders, search, inspect."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from gateway.cli import commands, delete, evaluate, models
from gateway.cli.errors import ErrorBoundary
from gateway.cli.options import console
from gateway.config import Settings
from gateway.logs import configure_logging

T = TypeVar("T")
app = typer.Typer(
    cls=ErrorBoundary,
    help="Pic Search: reverse image and text-to-image search.",
    no_args_is_help=True,
)
app.add_typer(models.app, name="models")
for command in (commands.index, commands.search, commands.tags, commands.stats, delete.delete):
    app.command()(command)
app.command()(commands.edit)
app.command()(commands.check)
app.command()(commands.reindex)
app.command(name="eval")(evaluate.eval_command)
app.command(name="labeled-set")(evaluate.labeled_set_command)


def _version(show: bool) -> None:
    if show:
        try:
            typer.echo(f"pic-search {version('pic-search')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("pic-search (not installed)")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Pic Search: reverse image and text-to-image search."""
    ctx.obj = {"debug": debug}


def _settings() -> Settings:
    from gateway.config import get_settings

    return _validated(get_settings)


def _validated(read: Callable[[], T]) -> T:
    """Settings as `read` gives them, or exit 2 with pydantic's message naming each bad
    variable."""
    from pydantic import ValidationError

    try:
        return read()
    except ValidationError as exc:
        typer.echo(f"invalid settings: {exc}", err=True)  # unwrapped, whatever the width
        raise typer.Exit(2) from None


@app.command()
def gateway() -> None:
    """Run the gateway, HTTP and gRPC (what containers run); settings from PIC_SEARCH_*."""
    from gateway.server import run

    settings = _settings()
    configure_logging(settings.server.log_level)
    run(settings)


@app.command()
def serve(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where Milvus, images and logs live.")
    ] = None,
    samples: Annotated[
        bool | None,
        typer.Option(help="Index the bundled sample photos (default: the INDEX_SAMPLES setting)."),
    ] = None,
) -> None:
    """Start Milvus, Triton and the gateway locally, index the samples; Ctrl-C stops all."""
    from gateway.cli.serve import run_stack
    from gateway.serving.stack_settings import get_stack_settings

    settings = _settings()
    stack = _validated(get_stack_settings)
    if data_dir is not None:
        stack.data_dir = data_dir
    if samples is not None:  # the flag wins over the setting, which is read otherwise
        stack.index_samples = samples
    run_stack(settings, stack, console)
