"""`pic-search models ...`: build the Triton model repository from the model registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.export.weights import WeightsSource
from gateway.models.registry import REGISTRY, triton_models
from gateway.models.spec import CpuRunner

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


CPU_RUNNER_HELP = (
    "NAME=RUNTIME:PRECISION for a Triton model's CPU runner instead of the registry's "
    "(repeatable), e.g. clip_image=openvino:bf16. RUNTIME: openvino, onnxruntime, tensorflow; "
    "PRECISION: fp32, bf16 (OpenVINO on a CPU with AVX512_BF16 or AMX), int8 (image models, "
    "OpenVINO or ONNX Runtime on a CPU with VNNI or AMX; the build quantizes model.onnx, "
    "calibrated on the sample photos); where the CPU lacks it, fp32 runs."
)


def parse_cpu_runners(values: list[str]) -> tuple[tuple[str, CpuRunner], ...]:
    """`["clip_image=openvino:bf16"]` -> (("clip_image", CpuRunner("openvino", "bf16")),)."""
    from gateway.export import cpu_runtimes

    specs = {spec.name: spec for spec in triton_models()}
    runners = []
    for value in values:
        name, _, choice = value.partition("=")
        runtime, _, precision = choice.partition(":")
        if name not in specs:
            raise typer.BadParameter(f"unknown Triton model {name!r}; known: {list(specs)}")
        try:
            runner = CpuRunner(
                cpu_runtimes.parse_runtime(runtime),
                cpu_runtimes.parse_precision(precision or "fp32"),
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        runners.append((name, runner))
    return tuple(runners)


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
    cpu_runner: Annotated[list[str] | None, typer.Option(help=CPU_RUNNER_HELP)] = None,
    tensorrt_fp16: Annotated[
        bool,
        typer.Option(help="TensorRT at fp16 in configs/onnx.pbtxt (GPU); check rankings first."),
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(min=1, help="Models built at once, a process each (each uses ~one core)."),
    ] = 2,
    choose_precision: Annotated[
        bool,
        typer.Option(
            "--choose-precision/--registry-precision",
            help="For models with no --cpu-runner: run each OpenVINO precision this CPU "
            "offers on the bundled photos and take the fastest that keeps the rankings within "
            "0.01 of fp32 (real weights: 10 nearest neighbours, P@5, copy R@1; random weights: "
            "copy R@1 alone; a text tower: its everyday queries' 10 best photos, or with random "
            "weights valid vectors); the trials go to provenance.json.",
        ),
    ] = True,
    cutoff_rules: Annotated[
        Path,
        typer.Option(
            help="The `cutoff=auto` thresholds `python -m bench --only cutoff` chose; a model "
            "whose weights have one gets it in its config (absent file: no rules)."
        ),
    ] = Path("bench/results/cutoff.json"),
) -> None:
    """Export the enabled models as SavedModels and ONNX files with their Triton configs."""
    from gateway.config import get_settings
    from gateway.export.cutoff_rules import thresholds
    from gateway.export.repository import build_repository
    from gateway.export.triton_config import ServingOptions
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
    options = ServingOptions(
        tensorrt_fp16,
        parse_cpu_runners(cpu_runner or []),
        choose_precision=choose_precision,
        cutoffs=thresholds(cutoff_rules),
    )
    try:
        per_model, default = parse_weights(weights or ["pretrained"], seed)
        build_repository(
            output, per_model, default, names, log=typer.echo, options=options, jobs=jobs
        )
    except WeightsUnavailableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command(name="list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    url: Annotated[
        str | None,
        typer.Option(help="Gateway URL (default: $PIC_SEARCH_URL or http://127.0.0.1:8080)."),
    ] = None,
    grpc: Annotated[
        str | None, typer.Option("--grpc", metavar="HOST:PORT", help="Ask over picsearch.v1.")
    ] = None,
) -> None:
    """Every registry model: dimension, text tower, weights, enabled, default (from the
    gateway; from the registry and local settings when no gateway answers)."""
    import httpx

    from gateway.cli import tables
    from gateway.cli.api import open_api
    from gateway.cli.client import gateway_url
    from gateway.cli.errors import Unreachable
    from gateway.cli.options import print_json, say

    served: dict[str, dict[str, object]] | None
    where = grpc or gateway_url(url)
    try:
        with open_api(url, grpc) as api:
            served = {m["name"]: m for m in api.models()}
    except (Unreachable, httpx.ConnectError, httpx.ConnectTimeout):
        served = None
    rows = model_rows(served, _locally_enabled() if served is None else [])
    if as_json:
        print_json(rows)
        return
    if served is None:
        say(
            f"no gateway answered at {where}: the registry's models; enabled as the local "
            "settings say (PIC_SEARCH_MODELS__ENABLED); weights unknown"
        )
    for line in tables.models_table(rows):
        say(line)


def _locally_enabled() -> list[str]:
    from pydantic import ValidationError

    from gateway.config import get_settings

    try:
        return list(get_settings().models.enabled)
    except ValidationError:
        return []


def model_rows(
    served: dict[str, dict[str, object]] | None, enabled: list[str]
) -> list[dict[str, object]]:
    """The registry's static columns, the gateway's answer where it serves the model."""
    rows = []
    for model in REGISTRY.values():
        answer = (served or {}).get(model.name)
        if answer is not None:
            weights = "random" if answer.get("random_weights") else "real"
        else:
            weights = "?" if served is None else "-"
        rows.append(
            {
                "name": model.name,
                "title": model.title,
                "dimension": model.dim,
                "text": model.text_model is not None,
                "weights": weights,
                "enabled": answer is not None if served is not None else model.name in enabled,
                "default": bool(answer and answer.get("default")),
            }
        )
    return rows
