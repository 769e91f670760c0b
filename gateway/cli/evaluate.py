"""`pic-search eval [FOLDER]`: copy-detection quality of each model, straight from Triton."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def eval_command(
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="Folder of original photos (default: the bundled sample photos).",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    triton_url: Annotated[
        str | None, typer.Option(help="Triton gRPC HOST:PORT (default: PIC_SEARCH_TRITON__URL).")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the scores to this JSON file.")
    ] = None,
    max_images: Annotated[int, typer.Option(min=2, help="Use at most this many originals.")] = 200,
) -> None:
    """Copy detection: recall@1 and mAP per edit (crop, scale, JPEG, flip, ...) and model."""
    from gateway.config import get_settings
    from gateway.errors import PicSearchError
    from gateway.models.registry import search_models
    from gateway.services.evaluation import evaluate_with_triton

    originals = _originals(folder, max_images)
    specs = [m.image_model for m in search_models(get_settings().models.enabled)]
    settings = get_settings().triton.model_copy()
    if triton_url:
        settings.url = triton_url
    console.print(f"{len(originals)} originals, Triton at {settings.url}", markup=False)
    try:
        report = asyncio.run(evaluate_with_triton(originals, settings, specs))
    except (PicSearchError, ValueError) as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from exc

    models = list(report.scores)
    table = Table("edit", *(f"{m} {k}" for m in models for k in ("R@1", "mAP")),
                  title=f"copy detection over {report.images} originals")  # fmt: skip
    for row, score in enumerate(report.scores[models[0]]):
        cells = []
        for model in models:
            s = report.scores[model][row]
            cells += [f"{s.recall_at_1:.2f}", f"{s.mean_ap:.2f}"]
        table.add_row(score.transform, *cells)
    console.print(table)
    for line in report.skipped:
        console.print(f"  skipped {line}", markup=False, soft_wrap=True)
    weights = ", ".join(f"{m}: {w}" for m, w in report.weights.items())
    console.print(f"weights: {weights}", markup=False)
    if report.note:
        console.print(f"NOTE: {report.note}", markup=False)
    if json_path is not None:
        json_path.write_text(json.dumps(report.as_dict(), indent=2) + "\n")


def _originals(folder: Path | None, limit: int) -> dict[str, bytes]:
    if folder is None:
        from gateway.samples import sample_photos

        return dict(list(sample_photos().items())[:limit])
    from gateway.cli.discover import find_images

    paths = list(find_images([folder]))[:limit]
    return {str(p.relative_to(folder)): p.read_bytes() for p in paths}
