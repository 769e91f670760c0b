"""gRPC vs HTTP on the same gateway: search latency (by image and by text) at 1 and 8
clients, and ingest images/s (HTTP multipart batches vs one IndexImages stream)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx

from bench.common import Context, LoadResult, closed_loop, figure, write_result
from bench.photos import distinct_photos
from bench.search_latency import QUERIES, TOP_K
from gateway.grpc.stubs import pb, pb_grpc

LEVELS = (1, 8)
INGEST_BATCH = 16


def run(ctx: Context) -> dict[str, Any]:
    return asyncio.run(_run(ctx))


async def _run(ctx: Context) -> dict[str, Any]:
    if not ctx.stack.gateway_grpc:
        raise SystemExit("grpc_vs_http needs the gateway's gRPC target (--gateway-grpc)")
    queries = distinct_photos(8, seed=f"grpc-queries-{ctx.run_id}")
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with (
        httpx.AsyncClient(base_url=ctx.stack.gateway_url, timeout=300, limits=limits) as http,
        grpc.aio.insecure_channel(ctx.stack.gateway_grpc) as channel,
    ):
        stub = pb_grpc.PicSearchStub(channel)  # type: ignore[no-untyped-call]
        ingest = await _ingest(ctx, http, stub)
        calls = _calls(http, stub, queries)
        cells: dict[str, dict[str, Any]] = {}
        for concurrency in LEVELS:
            requests = 4 if ctx.tiny else {1: 60, 8: 160}[concurrency]
            for kind in ("image", "text"):
                ctx.log(f"grpc_vs_http: {kind} c={concurrency} x{requests}")
                # Alternate the transports in halves, so drift (other load) hits both.
                halves: dict[str, list[LoadResult]] = {"http": [], "grpc": []}
                for order in (("http", "grpc"), ("grpc", "http")):
                    for transport in order:
                        call = calls[(transport, kind)]
                        halves[transport].append(
                            await closed_loop(call, concurrency, requests // 2, concurrency)
                        )
                cells[f"{kind}@{concurrency}"] = {
                    t: _merged(results).summary() for t, results in halves.items()
                }
    results = {
        "top_k": TOP_K,
        "levels": list(LEVELS),
        "cells": cells,
        "ingest": ingest,
        "headline": _headline(cells, ingest),
    }
    write_result(ctx, "grpc_vs_http", results, [], _plot(cells, ingest))
    return results


def _calls(http: httpx.AsyncClient, stub: Any, queries: list[bytes]) -> dict[tuple[str, str], Any]:
    async def http_image(i: int) -> None:
        files = {"file": ("q.jpg", queries[i % len(queries)], "image/jpeg")}
        form = {"top_k": str(TOP_K)}  # the default model, as on gRPC
        (await http.post("/v1/search/image", files=files, data=form)).raise_for_status()

    async def http_text(i: int) -> None:
        body = {"q": QUERIES[i % len(QUERIES)], "top_k": TOP_K}
        (await http.post("/v1/search/text", json=body)).raise_for_status()

    async def grpc_image(i: int) -> None:
        request = pb.SearchByImageRequest(
            image=queries[i % len(queries)], model="clip", top_k=TOP_K
        )
        await stub.SearchByImage(request, timeout=300)

    async def grpc_text(i: int) -> None:
        await stub.SearchByText(
            pb.SearchByTextRequest(query=QUERIES[i % len(QUERIES)], top_k=TOP_K), timeout=300
        )

    return {
        ("http", "image"): http_image,
        ("http", "text"): http_text,
        ("grpc", "image"): grpc_image,
        ("grpc", "text"): grpc_text,
    }


async def _ingest(ctx: Context, http: httpx.AsyncClient, stub: Any) -> dict[str, Any]:
    """New images each way (distinct ids): HTTP in multipart batches, gRPC as one stream per
    round; two rounds in alternating order, so drift (other load) hits both."""
    count = 8 if ctx.tiny else 32  # per transport and round
    seconds = {"http": 0.0, "grpc": 0.0}
    for round_, order in enumerate((("http", "grpc"), ("grpc", "http"))):
        for transport in order:
            photos = distinct_photos(count, seed=f"grpc-ingest-{transport}{round_}-{ctx.run_id}")
            ctx.log(f"grpc_vs_http: ingest {count} images over {transport}")
            started = time.perf_counter()
            await (
                _ingest_http(http, photos) if transport == "http" else _ingest_grpc(stub, photos)
            )
            seconds[transport] += time.perf_counter() - started
    return {
        "images": 2 * count,
        "http_images_per_s": 2 * count / seconds["http"],
        "grpc_images_per_s": 2 * count / seconds["grpc"],
        "http_batch": INGEST_BATCH,
    }


async def _ingest_http(http: httpx.AsyncClient, photos: list[bytes]) -> None:
    for start in range(0, len(photos), INGEST_BATCH):
        batch = photos[start : start + INGEST_BATCH]
        files = [("files", (f"{i}.jpg", d)) for i, d in enumerate(batch)]
        response = await http.post("/v1/images", files=files)
        response.raise_for_status()
        assert {r["status"] for r in response.json()["results"]} == {"created"}


async def _ingest_grpc(stub: Any, photos: list[bytes]) -> None:
    async def stream() -> AsyncIterator[Any]:
        for i, data in enumerate(photos):
            yield pb.IndexImagesRequest(filename=f"{i}.jpg", data=data)

    statuses = [r.status async for r in stub.IndexImages(stream(), timeout=600)]
    assert statuses == [pb.INDEX_STATUS_CREATED] * len(photos), statuses


def _merged(results: list[LoadResult]) -> LoadResult:
    latencies = [s for r in results for s in r.latencies_s]
    return LoadResult(latencies, sum(r.wall_s for r in results), sum(r.errors for r in results))


def _headline(cells: dict[str, dict[str, Any]], ingest: dict[str, Any]) -> str:
    parts = [
        f"{name} p50 gRPC {c['grpc']['p50_ms']:.0f} vs HTTP {c['http']['p50_ms']:.0f} ms"
        for name, c in cells.items()
    ]
    parts.append(
        f"ingest {ingest['grpc_images_per_s']:.2f} vs {ingest['http_images_per_s']:.2f} images/s"
    )
    return "; ".join(parts)


def _plot(cells: dict[str, dict[str, Any]], ingest: dict[str, Any]) -> Any:
    fig, axes = figure(cols=2, width=9)
    names = list(cells)
    for offset, transport in enumerate(("http", "grpc")):
        axes[0][0].bar(
            [i + 0.4 * offset for i in range(len(names))],
            [cells[n][transport]["p50_ms"] for n in names],
            width=0.4,
            label=transport,
        )
    axes[0][0].set_xticks([i + 0.2 for i in range(len(names))], names)
    axes[0][0].set_ylabel("p50 latency (ms)")
    axes[0][0].set_title("search")
    axes[0][0].legend()
    axes[0][1].bar(["http", "grpc"], [ingest["http_images_per_s"], ingest["grpc_images_per_s"]])
    axes[0][1].set_ylabel("images/s")
    axes[0][1].set_title("ingest")
    return fig
