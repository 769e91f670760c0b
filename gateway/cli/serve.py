"""The local one-command stack: Milvus, then Triton, then the gateway; Ctrl-C stops all."""

from __future__ import annotations

import time

from rich.console import Console

from gateway.cli import admin
from gateway.cli.api import open_api
from gateway.cli.client import ApiError, checked, connect, interruptible
from gateway.config import Settings
from gateway.serving.gateway import gateway_ready
from gateway.serving.local import local_servers
from gateway.serving.process import ServerStartError
from gateway.serving.stack_settings import StackSettings
from gateway.serving.triton import TritonPorts, built_models


def gateway_env(stack: StackSettings) -> dict[str, str]:
    return {
        "PIC_SEARCH_TRITON__URL": f"127.0.0.1:{stack.triton_grpc_port}",
        "PIC_SEARCH_MILVUS__URI": (
            f"http://127.0.0.1:{stack.milvus_port}"
            if stack.milvus == "server"
            else str((stack.data_dir / "milvus-lite" / "pic-search.db").resolve())
        ),
        "PIC_SEARCH_STORE__PATH": str((stack.data_dir / "images").resolve()),
    }


def run_stack(settings: Settings, stack: StackSettings, console: Console) -> None:
    data = stack.data_dir.resolve()
    repository = stack.model_repository.resolve()
    enabled = settings.models.enabled
    missing = sorted(set(enabled) - set(built_models(repository)))
    if missing:
        console.print(
            f"[red]{', '.join(missing)} not built in {repository}[/red]: run `make models`"
        )
        raise SystemExit(2)
    url = f"http://{settings.server.host}:{settings.server.port}"
    interruptible()
    ports = TritonPorts(stack.triton_http_port, stack.triton_grpc_port, stack.triton_metrics_port)
    try:
        with local_servers(
            data,
            repository,
            enabled,
            nice=stack.nice_below_triton,
            say=console.print,
            milvus_port=stack.milvus_port if stack.milvus == "server" else None,
            triton=ports,
            gateway=(settings.server.port, gateway_env(stack)),
            reindexable=True,
        ) as gateway:
            assert gateway is not None
            reindex_if_needed(url, console)
            if stack.index_samples:
                index_samples(url, console)
            _banner(url, console)
            while gateway.running:
                time.sleep(1)
            console.print("[red]the gateway stopped[/red]; see " + str(data / "gateway.log"))
    except KeyboardInterrupt:
        console.print("stopping ...")
    except ServerStartError as exc:  # what failed, its log, and the log's last lines
        first, *tail = str(exc).splitlines()
        console.print(f"[red]could not start: {first}[/red]")
        if tail:  # log lines hold brackets that are not markup
            console.print("\n".join(tail[-8:]), markup=False, highlight=False)
        console.print("stopped Milvus, Triton and the gateway")
        raise SystemExit(1) from None
    console.print("stopped Milvus, Triton and the gateway")


def reindex_if_needed(url: str, console: Console) -> None:
    """Collections built with other weights or another precision (the models were rebuilt,
    and the build chose differently on this CPU): re-embed the stored originals before
    serving, as `pic-search reindex` does, instead of serving nothing from them."""
    if gateway_ready(url):
        return
    console.print("[yellow]the models changed since these photos were indexed[/yellow]")
    try:
        with open_api(url, None) as api:
            admin.reindex(api, console.print)
    except ApiError as exc:  # the gateway stays up, serving nothing stale: say what to do
        console.print(f"[red]reindex failed: {exc}[/red]; run `pic-search reindex` to retry")


def index_samples(url: str, console: Console) -> None:
    from gateway.quality.samples import sample_photos

    photos = sample_photos()
    files = [("files", (name, data, "image/jpeg")) for name, data in photos.items()]
    try:
        with connect(url) as client:
            body = checked(
                client.post("/v1/images", files=files, data={"metadata": '{"album": "samples"}'})
            )
    except ApiError as exc:
        console.print(f"[yellow]could not index the samples: {exc}[/yellow]")
        return
    console.print(f"sample photos: {body['created']} indexed, {body['duplicates']} already there")


def _banner(url: str, console: Console) -> None:
    with connect(url) as client:
        models = checked(client.get("/v1/models"))["models"]
    random = [m["name"] for m in models if m["random_weights"]]
    real = [m["name"] for m in models if not m["random_weights"]]
    if random:
        console.print(
            f"[bold yellow]RANDOM WEIGHTS[/bold yellow] in {', '.join(random)}: pretrained "
            "weights were not available, so these find near-duplicates only"
            + (" (and text search is not meaningful)" if "clip" in random else "")
            + ". Run `make models WEIGHTS=pretrained` where the internet is reachable."
        )
    if real:
        default = next((m["name"] for m in models if m["default"]), "")
        console.print(f"real pretrained weights: {', '.join(real)}; image search uses {default}")
    console.print(f"\n[bold green]Pic Search is running:[/bold green] {url}  (Ctrl-C stops it)\n")
