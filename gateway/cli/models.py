"""`pic-search models ...`: build the Triton model repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Build and inspect the Triton model repository.", no_args_is_help=True)

WEIGHTS_HELP = "`pretrained` (published weights), `random` (seeded), or a local file/folder."


@app.command()
def build(
    output: Annotated[Path, typer.Option(help="Model repository to write.")] = Path(
        "model_repository"
    ),
    weights: Annotated[str, typer.Option(help=WEIGHTS_HELP)] = "pretrained",
    vgg16_weights: Annotated[str | None, typer.Option(help="Override --weights for VGG16.")] = None,
    clip_weights: Annotated[str | None, typer.Option(help="Override --weights for CLIP.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for random weights.")] = 20241127,
    model: Annotated[list[str] | None, typer.Option(help="Only these Triton models.")] = None,
) -> None:
    """Export vgg16, clip_image and clip_text as SavedModels with their Triton configs."""
    from gateway.export.repository import build_repository
    from gateway.export.weights import WeightsSource, WeightsUnavailableError

    try:
        build_repository(
            output,
            vgg16=WeightsSource.parse(vgg16_weights or weights, seed),
            clip=WeightsSource.parse(clip_weights or weights, seed),
            models=model,
            log=typer.echo,
        )
    except WeightsUnavailableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
