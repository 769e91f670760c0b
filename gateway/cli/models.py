"""`pic-search models ...`: build the Triton model repository from the model registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.export.weights import WeightsSource
from gateway.models.registry import REGISTRY

app = typer.Typer(help="Build and inspect the Triton model repository.", no_args_is_help=True)

WEIGHTS_HELP = (
    "SOURCE for every model, or NAME=SOURCE for one (repeatable; the last plain SOURCE is the "
    "default). SOURCE: `auto` (pretrained where reachable, else seeded random), `pretrained`, "
    f"`random` (seeded), or a local file/folder. NAME: one of {', '.join(REGISTRY)}."
)


def parse_weights(values: list[str], seed: int) -> tuple[dict[str, WeightsSource], WeightsSource]:
    """`["random", "efficientnet_lite0=pretrained"]` -> ({name: source}, default source)."""
    default = WeightsSource.parse("pretrained", seed)
    per_model: dict[str, WeightsSource] = {}
    for value in values:
        name, sep, source = value.partition("=")
        if not sep:
            default = WeightsSource.parse(value, seed)
        elif name not in REGISTRY:
            raise typer.BadParameter(f"unknown model {name!r}; the registry has {list(REGISTRY)}")
        else:
            per_model[name] = WeightsSource.parse(source, seed)
    return per_model, default


@app.command()
def build(
    output: Annotated[Path, typer.Option(help="Model repository to write.")] = Path(
        "model_repository"
    ),
    weights: Annotated[list[str] | None, typer.Option(help=WEIGHTS_HELP)] = None,
    seed: Annotated[int, typer.Option(help="Seed for random weights.")] = 20241127,
    model: Annotated[
        list[str] | None,
        typer.Option(help="Only these registry models (default: PIC_SEARCH_MODELS__ENABLED)."),
    ] = None,
    all_models: Annotated[
        bool, typer.Option("--all-models", help="Every model of the registry.")
    ] = False,
    missing_only: Annotated[
        bool, typer.Option(help="Skip models the repository already holds.")
    ] = False,
) -> None:
    """Export the enabled models as SavedModels with their generated Triton configs."""
    from gateway.config import get_settings
    from gateway.export.repository import build_repository
    from gateway.export.weights import WeightsUnavailableError
    from gateway.serving.triton import built_models

    names = list(REGISTRY) if all_models else (model or get_settings().models.enabled)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise typer.BadParameter(f"unknown models {unknown}; the registry has {list(REGISTRY)}")
    if missing_only:
        names = [n for n in names if n not in built_models(output)]
        if not names:
            typer.echo(f"{output} already holds every model asked for")
            return
    try:
        per_model, default = parse_weights(weights or ["pretrained"], seed)
        build_repository(output, per_model, default, names, log=typer.echo)
    except WeightsUnavailableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
