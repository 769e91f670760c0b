"""`pic-search`: build models, run the stack, index folders, search, inspect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from gateway.cli import admin, evaluate, models
from gateway.cli.client import ApiError, checked, connect
from gateway.config import Settings
from gateway.logs import configure_logging

app = typer.Typer(help="Pic Search: reverse image and text-to-image search.", no_args_is_help=True)
app.add_typer(models.app, name="models")
app.command()(admin.check)
app.command(name="reindex")(admin.reindex_command)
app.command(name="eval")(evaluate.eval_command)
app.command(name="labeled-set")(evaluate.labeled_set_command)
console = Console()

Url = Annotated[
    str | None,
    typer.Option(help="Gateway URL (default: $PIC_SEARCH_URL or http://127.0.0.1:8080)."),
]


Grpc = Annotated[
    str | None,
    typer.Option("--grpc", metavar="HOST:PORT", help="Talk gRPC (picsearch.v1) instead of HTTP."),
]


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error[/red] {exc}")
    return typer.Exit(1)


def _fail_known(exc: Exception) -> Exception:
    """An API error (either transport) becomes exit 1 with its message; others propagate."""
    from gateway.grpc.client import GrpcApiError

    return _fail(exc) if isinstance(exc, ApiError | GrpcApiError) else exc


def _settings() -> Settings:
    """The settings, or exit 2 with pydantic's message naming each bad variable."""
    from pydantic import ValidationError

    from gateway.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        typer.echo(f"invalid settings: {exc}", err=True)  # unwrapped, whatever the width
        raise typer.Exit(2) from None


@app.command()
def gateway() -> None:
    """Run only the gateway HTTP server (what containers run); settings from PIC_SEARCH_*."""
    import uvicorn

    from gateway.api.app import create_app

    settings = _settings()
    configure_logging(settings.server.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        log_level=settings.server.log_level,
        timeout_keep_alive=settings.server.keep_alive_s,
        access_log=False,  # ours (gateway.access) carries the request id and timing
        # In-flight requests get this long to finish on SIGTERM.
        timeout_graceful_shutdown=int(settings.limits.request_timeout_s),
    )


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

    settings = _settings()
    if data_dir is not None:
        settings.stack.data_dir = data_dir
    if samples is not None:  # the flag wins over the setting, which is read otherwise
        settings.stack.index_samples = samples
    run_stack(settings, console)


@app.command()
def index(
    paths: Annotated[
        list[Path], typer.Argument(help="Files and folders (recursive).", exists=True)
    ],
    url: Url = None,
    batch_size: Annotated[int, typer.Option(min=1, max=64, help="Images per request.")] = 16,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Requests in flight.")] = 2,
    metadata: Annotated[
        str | None, typer.Option(help="JSON object stored with every image.")
    ] = None,
    journal: Annotated[Path | None, typer.Option(help="Resume journal file.")] = None,
    store_path: Annotated[
        bool, typer.Option(help="Store each file's absolute source path with it.")
    ] = True,
    grpc: Grpc = None,
) -> None:
    """Index images; resumable, skips duplicates; exits 1 if any file was rejected."""
    from gateway.cli.index import default_journal, print_summary, run_index

    meta: dict[str, Any] = json.loads(metadata) if metadata else {}
    try:
        if grpc is not None:
            from gateway.cli import over_grpc

            summary = over_grpc.run_index(
                paths, grpc, meta, journal or default_journal(), console, store_paths=store_path
            )
        else:
            summary = run_index(
                paths,
                url,
                batch_size,
                workers,
                meta,
                journal or default_journal(),
                console,
                store_paths=store_path,
            )
    except Exception as exc:
        raise _fail_known(exc) from exc
    print_summary(summary, console)
    if not summary.ok:
        raise typer.Exit(1)


@app.command()
def search(
    image: Annotated[Path | None, typer.Argument(help="Query image.", exists=True)] = None,
    text: Annotated[str | None, typer.Option("--text", "-t", help="Search by text (CLIP).")] = None,
    model: Annotated[
        str | None,
        typer.Option(help="An enabled model (`pic-search models list`); default: the gateway's."),
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, max=100)] = 10,
    filter: Annotated[
        str | None, typer.Option("--filter", help='JSON filter, e.g. {"album": "2024"}.')
    ] = None,
    sort: Annotated[str, typer.Option(help="score, or date (newest first).")] = "score",
    min_score: Annotated[float | None, typer.Option(help="Drop results below.")] = None,
    cutoff: Annotated[str | None, typer.Option(help="auto: the model's own cutoff.")] = None,
    url: Url = None,
    grpc: Grpc = None,
) -> None:
    """Search by an image file or by text; prints a ranked table of files."""
    if (image is None) == (text is None):
        console.print("give an IMAGE or --text, not both")
        raise typer.Exit(2)
    options: dict[str, Any] = {"top_k": top_k, "sort": sort}
    if min_score is not None:
        options["min_score"] = min_score
    if cutoff is not None:
        options["cutoff"] = cutoff
    try:
        filters = json.loads(filter) if filter else None
        if grpc is not None:
            from gateway.cli import over_grpc

            body = over_grpc.search(grpc, image, text, model, {**options, "filter": filters})
        else:
            body = _search_http(url, image, text, model, options, filters)
    except ValueError as exc:
        console.print(f"[red]error[/red] --filter is not JSON: {exc}")
        raise typer.Exit(2) from exc
    except Exception as exc:
        raise _fail_known(exc) from exc
    print_results(body)


def _file_label(hit: dict[str, Any]) -> str:
    return str(hit.get("path") or hit.get("filename") or "?")


def print_results(body: dict[str, Any]) -> None:
    """One line per result (grep-friendly, paths never cut): rank, score, file, facts."""
    random = " [random weights: near-duplicates only]" if body.get("random_weights") else ""
    console.print(
        f"{body['model']} ({body['took_ms']} ms), by {body.get('sort', 'score')}{random}",
        markup=False,
    )
    for rank, hit in enumerate(body["results"], start=1):
        facts = f"{hit['width']}x{hit['height']} {hit.get('format') or ''}".strip()
        line = (
            f"{rank:>3}  {hit['score']:.4f}  {_file_label(hit)}  "
            f"{facts if hit.get('width') else '-'}  {hit['id']}  {json.dumps(hit['metadata'])}"
        )
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    cutoff = body.get("cutoff") or {}
    if body.get("cut"):
        console.print(f"{body['cut']} results below {cutoff.get('min_score')} were cut")
    if cutoff.get("message"):
        console.print(cutoff["message"], markup=False)


def _search_http(
    url: str | None,
    image: Path | None,
    text: str | None,
    model: str | None,
    options: dict[str, Any],
    filters: Any,
) -> Any:
    with connect(url) as client:
        if text is not None:
            query = {"q": text, **options, "filter": filters}
            return checked(client.post("/v1/search/text", json=query))
        assert image is not None
        files = {"file": (image.name, image.read_bytes(), "application/octet-stream")}
        form = {**({"model": model} if model else {}), **{k: str(v) for k, v in options.items()}}
        if filters is not None:
            form["filter"] = json.dumps(filters)
        return checked(client.post("/v1/search/image", files=files, data=form))


@app.command()
def stats(url: Url = None, grpc: Grpc = None) -> None:
    """Counts per collection and the weights each model holds."""
    try:
        if grpc is not None:
            from gateway.cli import over_grpc

            body = over_grpc.stats(grpc)
        else:
            with connect(url) as client:
                body = checked(client.get("/v1/stats"))
    except Exception as exc:
        raise _fail_known(exc) from exc
    console.print_json(data=body)


@app.command()
def delete(
    image_ids: Annotated[
        list[str] | None, typer.Argument(help="Image ids (sha256), deleted one by one.")
    ] = None,
    ids: Annotated[
        str | None,
        typer.Option("--ids", help="Comma-separated ids, or @FILE with one id per line."),
    ] = None,
    filter: Annotated[
        str | None, typer.Option("--filter", help='JSON filter, e.g. {"album": "2023"}.')
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only count what would be deleted.")] = False,
    url: Url = None,
    grpc: Grpc = None,
) -> None:
    """Delete images (vectors and stored bytes): by id, or many at once by --ids or --filter."""
    if sum(x is not None for x in (image_ids or None, ids, filter)) != 1:
        console.print("give image ids, --ids or --filter (one of them)")
        raise typer.Exit(2)
    try:
        if image_ids and not dry_run:
            for image_id in image_ids:
                _delete_one(url, grpc, image_id)
                console.print(f"deleted {image_id}")
            return
        filters = json.loads(filter) if filter is not None else None
        chosen = None if filters is not None else (image_ids or _id_list(ids or ""))
        if grpc is not None:
            from gateway.cli import over_grpc

            report = over_grpc.delete_many(grpc, chosen, filters, dry_run)
        else:
            with connect(url) as client:
                body = {"ids": chosen, "filter": filters, "dry_run": dry_run}
                report = checked(client.post("/v1/images:delete", json=body))
    except (ValueError, OSError) as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from exc
    except Exception as exc:
        raise _fail_known(exc) from exc
    if report["dry_run"]:
        console.print(f"would delete {_images(report['matched'])} (dry run: nothing deleted)")
    else:
        console.print(f"deleted {_images(report['deleted'])}")


def _delete_one(url: str | None, grpc: str | None, image_id: str) -> None:
    if grpc is not None:
        from gateway.cli import over_grpc

        over_grpc.delete(grpc, image_id)
    else:
        with connect(url) as client:
            checked(client.delete(f"/v1/images/{image_id}"))


def _images(count: int) -> str:
    return f"{count} image{'' if count == 1 else 's'}"


def _id_list(spec: str) -> list[str]:
    text = Path(spec[1:]).read_text() if spec.startswith("@") else spec.replace(",", "\n")
    return [line.strip() for line in text.splitlines() if line.strip()]
