"""`pic-search eval [FOLDER]`: copy-detection and labeled retrieval quality, straight from
Triton, for every enabled model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def eval_command(
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="Folder of original photos (default: the bundled sample photos); with "
            "--labeled, a folder of class subfolders (default: the assembled labeled set).",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    labeled: Annotated[
        bool, typer.Option(help="Also score retrieval of same-class images: P@k and mAP.")
    ] = False,
    k: Annotated[int, typer.Option(min=1, help="k of precision@k (labeled mode).")] = 5,
    triton_url: Annotated[
        str | None, typer.Option(help="Triton gRPC HOST:PORT (default: PIC_SEARCH_TRITON__URL).")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the scores to this JSON file.")
    ] = None,
    max_images: Annotated[int, typer.Option(min=2, help="Use at most this many originals.")] = 200,
) -> None:
    """Copy detection (recall@1, mAP per edit) and, with --labeled, P@k and mAP per model."""
    from gateway.config import get_settings
    from gateway.errors import PicSearchError
    from gateway.models.registry import search_models

    specs = [m.image_model for m in search_models(get_settings().models.enabled)]
    settings = get_settings().triton.model_copy()
    if triton_url:
        settings.url = triton_url
    classes = _labeled(folder) if labeled else None
    originals = _first_of_each(classes, max_images) if classes else _originals(folder, max_images)
    console.print(f"{len(originals)} originals, Triton at {settings.url}", markup=False)
    try:
        result = asyncio.run(_run(originals, classes, settings, specs, k))
    except (PicSearchError, ValueError) as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from exc
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2) + "\n")


async def _run(
    originals: dict[str, bytes],
    classes: dict[str, dict[str, bytes]] | None,
    settings: Any,
    specs: list[Any],
    k: int,
) -> dict[str, Any]:
    from gateway.clients.triton import TritonClient
    from gateway.quality.copy_detection import evaluate_served
    from gateway.quality.labeled import evaluate_labeled, scores_as_dict

    client = TritonClient(settings)
    try:
        report = await evaluate_served(originals, client, specs)
        _print_copy_detection(report)
        scores = None
        if classes is not None:
            scores = await evaluate_labeled(classes, client.embed, specs, k)
    finally:
        await client.close()
    result: dict[str, Any] = {"copy_detection": report.as_dict()}
    if scores is not None:
        table = Table("model", f"P@{k}", "mAP", "weights",
                      title=f"labeled retrieval: {scores[0].queries} images, "
                            f"{scores[0].classes} classes")  # fmt: skip
        for score in scores:
            weights = report.weights.get(score.model, "")
            table.add_row(
                score.model, f"{score.precision_at_k:.3f}", f"{score.mean_ap:.3f}", weights
            )
        console.print(table)
        result["labeled"] = scores_as_dict(scores)
    return result


def _print_copy_detection(report: Any) -> None:
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


def _labeled(folder: Path | None) -> dict[str, dict[str, bytes]]:
    if folder is None:
        from gateway.quality.labeled_set import labeled_images

        return labeled_images()
    from gateway.quality.labeled import read_labeled_folder

    return read_labeled_folder(folder)


def _first_of_each(classes: dict[str, dict[str, bytes]], limit: int) -> dict[str, bytes]:
    """Copy detection needs distinct pictures: one per class."""
    firsts = {next(iter(images)): next(iter(images.values())) for images in classes.values()}
    return dict(list(firsts.items())[:limit])


def _originals(folder: Path | None, limit: int) -> dict[str, bytes]:
    if folder is None:
        from gateway.quality.samples import sample_photos

        return dict(list(sample_photos().items())[:limit])
    from gateway.cli.discover import find_images

    paths = list(find_images([folder]))[:limit]
    return {str(p.relative_to(folder)): p.read_bytes() for p in paths}


def labeled_set_command(
    dest: Annotated[Path, typer.Argument(help="Folder to write <class>/<image>.jpg into.")],
) -> None:
    """Write the labeled set of real photos assembled from installed packages."""
    from gateway.quality.labeled_set import write_labeled_set

    count = write_labeled_set(dest)
    console.print(f"{count} images in {dest}", markup=False)
