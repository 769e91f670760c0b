"""`pic-search`: build models, run the stack, index folders, search, inspect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gateway.cli import admin, evaluate, models
from gateway.cli.client import ApiError, checked, connect
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


@app.command()
def gateway() -> None:
    """Run only the gateway HTTP server (what containers run); settings from PIC_SEARCH_*."""
    import uvicorn

    from gateway.api.app import create_app
    from gateway.config import get_settings

    settings = get_settings()
    configure_logging(settings.server.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        log_level=settings.server.log_level,
        access_log=False,  # ours (gateway.access) carries the request id and timing
        # In-flight requests get this long to finish on SIGTERM.
        timeout_graceful_shutdown=int(settings.limits.request_timeout_s),
    )


@app.command()
def serve(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where Milvus, images and logs live.")
    ] = None,
    samples: Annotated[bool, typer.Option(help="Index the bundled sample photos.")] = True,
) -> None:
    """Start Milvus, Triton and the gateway locally, index the samples; Ctrl-C stops all."""
    from gateway.cli.serve import run_stack
    from gateway.config import get_settings

    settings = get_settings()
    if data_dir is not None:
        settings.stack.data_dir = data_dir
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
    grpc: Grpc = None,
) -> None:
    """Index images; resumable, skips duplicates; exits 1 if any file was rejected."""
    from gateway.cli.index import default_journal, print_summary, run_index

    meta: dict[str, Any] = json.loads(metadata) if metadata else {}
    try:
        if grpc is not None:
            from gateway.cli import over_grpc

            summary = over_grpc.run_index(paths, grpc, meta, journal or default_journal(), console)
        else:
            summary = run_index(
                paths, url, batch_size, workers, meta, journal or default_journal(), console
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
    url: Url = None,
    grpc: Grpc = None,
) -> None:
    """Search by an image file or by text; prints a ranked table."""
    if (image is None) == (text is None):
        console.print("give an IMAGE or --text, not both")
        raise typer.Exit(2)
    try:
        if grpc is not None:
            from gateway.cli import over_grpc

            body = over_grpc.search(grpc, image, text, model, top_k)
        else:
            body = _search_http(url, image, text, model, top_k)
    except Exception as exc:
        raise _fail_known(exc) from exc
    random = " [random weights: near-duplicates only]" if body.get("random_weights") else ""
    table = Table(
        "rank", "score", "id", "metadata", title=f"{body['model']} ({body['took_ms']} ms){random}"
    )
    for rank, hit in enumerate(body["results"], start=1):
        table.add_row(str(rank), f"{hit['score']:.4f}", hit["id"], json.dumps(hit["metadata"]))
    console.print(table)


def _search_http(
    url: str | None, image: Path | None, text: str | None, model: str | None, top_k: int
) -> Any:
    with connect(url) as client:
        if text is not None:
            return checked(client.post("/v1/search/text", json={"q": text, "top_k": top_k}))
        assert image is not None
        files = {"file": (image.name, image.read_bytes(), "application/octet-stream")}
        form = {"top_k": str(top_k), **({"model": model} if model else {})}
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
    image_id: Annotated[str, typer.Argument(help="Image id (sha256).")],
    url: Url = None,
    grpc: Grpc = None,
) -> None:
    """Delete an image: its vectors and its stored bytes."""
    try:
        if grpc is not None:
            from gateway.cli import over_grpc

            over_grpc.delete(grpc, image_id)
        else:
            with connect(url) as client:
                checked(client.delete(f"/v1/images/{image_id}"))
    except Exception as exc:
        raise _fail_known(exc) from exc
    console.print(f"deleted {image_id}")
