"""Searches while photos upload: what users feel when a phone backup or a folder sync runs.

Image searches at 1 and 8 clients, alone and while 2 and then 8 clients upload without pause;
each search's `Server-Timing` stages say where a slower one waited. Ingest is timed alone and
under the searches too: putting searches first must not starve it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import psutil

from bench import uploads
from bench.common import Context, bars, figure, run_async, target, write_result
from bench.latency import Load, closed_loop, percentiles, server_timing, stage_percentiles
from bench.photos import distinct_photos

SEARCHERS = (1, 8)
UPLOADERS = (2, 8)
# Issue 29's targets: a search under two uploaders within twice its idle p99, Milvus' stage
# under 20 ms at p99, ingest at least half its idle rate while searches run.
P99_RATIO = 2.0
MILVUS_P99_MS = 20.0
INGEST_KEPT = 0.5
# A p99 of 300 is the 3rd-slowest search: one burst of stalls moved it from 82 to 218 ms
# between runs of one code (p90 unchanged); of 1,000 it is the 10th, and steadier.
SEARCHES_PER_CELL = 1000
# Pause before each cell: Milvus seals, flushes and indexes what the last phase inserted in
# the seconds after it, and a search that meets that work waited over 100 ms at p99 in an
# "idle" cell (p50 4 ms); the pause keeps one phase's aftermath out of the next cell.
SETTLE_S = 10.0
QS = (50, 90, 99)  # the percentiles of each search and of each of its stages
PATHS = {"upload": "/v1/images", "search": "/v1/search/image"}
Forms = list[uploads.Multipart]


def _load(
    http: uploads.Client, forms: Iterable[uploads.Multipart], clients: int, kind: str
) -> Load:
    """`clients` workers sending `forms` (uploads, or image searches) until stopped or done."""
    return Load(functools.partial(http.post, PATHS[kind]), forms, clients, kind)


@run_async
async def run(ctx: Context) -> dict[str, Any]:
    http = uploads.Client(ctx.stack.gateway_url)
    per_cell, ingest_s = (2, 3.0) if ctx.tiny else (SEARCHES_PER_CELL, 20.0)
    queries = distinct_photos(8, seed=f"mixed-queries-{ctx.run_id}")
    forms = [uploads.one_image("file", q, "q.jpg", top_k="10") for q in queries]
    per_phase = 30 if ctx.tiny else 1200  # more than a phase uploads (~50 s at ~15 photos/s)
    phases = len(UPLOADERS) * (1 + len(SEARCHERS))
    pool = distinct_photos(1 + per_phase * phases, seed=f"mixed-{ctx.run_id}")
    photos = iter([uploads.one_image("files", p, f"m{i}.jpg") for i, p in enumerate(pool)])
    results: dict[str, Any] = {"idle_ingest": {}, "cells": []}
    try:
        await http.post("/v1/images", next(photos))  # the collections exist; shapes warm
        for u in UPLOADERS:
            async with _load(http, list(itertools.islice(photos, per_phase)), u, "upload") as alone:
                await asyncio.sleep(ingest_s)
            results["idle_ingest"][str(u)] = alone.per_s
        for u in (0, *UPLOADERS):
            for c in SEARCHERS:
                ctx.log(f"mixed: image search, {c} clients, {u} uploading")
                await asyncio.sleep(0.0 if ctx.tiny else SETTLE_S)
                fresh = list(itertools.islice(photos, per_phase if u else 0))
                cell = await _cell(http, forms, c, max(per_cell, 2 * c), u, fresh)
                results["cells"].append(cell)
    finally:
        await http.close()
    write_result(ctx, "mixed", results, _targets(results), _plot(results))
    return results


async def _cell(
    http: uploads.Client, forms: Forms, searchers: int, n: int, uploaders: int, photos: Forms
) -> dict[str, Any]:
    timings: list[dict[str, float]] = []

    async def search(i: int) -> None:
        _, headers = await http.post_with_headers("/v1/search/image", forms[i % len(forms)])
        timings.append(server_timing(headers.get("server-timing", "")))

    load = _load(http, photos, uploaders, "upload") if uploaders else None
    async with load or contextlib.nullcontext():
        loop = await closed_loop(search, searchers, n, warmup=searchers)
    return {
        "searchers": searchers,
        "uploaders": uploaders,
        "upload_failures": load.failures if load else [],
        "searches_per_s": loop.per_s,
        "errors": len(loop.failures),
        "ingest_per_s": load.per_s if load else None,
        "client": percentiles(loop.latencies_s, QS),
        "stages": stage_percentiles(timings, QS),
    }


def _find(results: dict[str, Any], searchers: int, uploaders: int) -> dict[str, Any]:
    cells = {(c["searchers"], c["uploaders"]): c for c in results["cells"]}
    return cells[searchers, uploaders]


def _targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    idle, loaded = _find(results, 1, 0)["client"], _find(results, 1, 2)
    ratio = loaded["client"]["p99_ms"] / idle["p99_ms"]
    milvus = loaded["stages"].get("milvus", {}).get("p99_ms")
    kept = min(_find(results, s, u)["ingest_per_s"] / results["idle_ingest"][str(u)]
               for s in SEARCHERS for u in UPLOADERS)  # fmt: skip
    return [
        target("image search p99, 1 client, while 2 upload: / idle", f"<= {P99_RATIO}", ratio,
               ratio <= P99_RATIO, "Triton's CPU: ingest's model calls share the 2 cores",
               f"{loaded['client']['p99_ms']:.0f} vs {idle['p99_ms']:.0f} ms"),
        target("Milvus stage p99, 1 client searching while 2 upload",
               f"< {MILVUS_P99_MS:.0f} ms", milvus, milvus is not None and milvus < MILVUS_P99_MS,
               "Milvus' query node busy with the uploads' inserts",
               f"{milvus:.1f} ms" if milvus is not None else "no milvus stage"),
        target("ingest while searches run: / ingest alone (worst cell)", f">= {INGEST_KEPT}",
               kept, kept >= INGEST_KEPT, "searches and ingest share the 2 cores",
               f"{kept:.2f} of the idle rate"),
    ]  # fmt: skip


def _plot(results: dict[str, Any]) -> Any:
    fig, axes = figure(2, 1, width=9.0)
    for ax, searchers in zip(axes[0], SEARCHERS, strict=True):
        cells = [_find(results, searchers, u) for u in (0, *UPLOADERS)]
        names = [n for n in ("decode", "triton", "milvus") if n in cells[0]["stages"]]
        p99 = {
            f"{n} p99": [c["stages"].get(n, {}).get("p99_ms", 0.0) for c in cells] for n in names
        }
        x = bars(ax, [f"{c['uploaders']} uploading" for c in cells], p99)
        ax.plot(x, [c["client"]["p99_ms"] for c in cells], "ko-", label="search p99")
        ax.set(ylabel="ms", title=f"image search, {searchers} client(s)")
        ax.legend(fontsize=7)
    return fig


@run_async
async def run_soak(ctx: Context) -> dict[str, Any]:
    """Steady load for minutes: clients search by image back to back while 2 upload; zero
    errors, and the gateway's memory (sampled when this run started the gateway) flat."""
    clients, seconds = (4, 8) if ctx.tiny else (8, 180)
    ctx.log(f"soak: {clients} clients searching, 2 uploading, for {seconds} s")
    http = uploads.Client(ctx.stack.gateway_url)
    queries = distinct_photos(8, seed=f"soak-queries-{ctx.run_id}")
    forms = [uploads.one_image("file", q, "q.jpg", top_k="10") for q in queries]
    pool = distinct_photos(4 * seconds, seed=f"soak-{ctx.run_id}")  # more than 2 can send
    photos = [uploads.one_image("files", p, f"s{i}.jpg") for i, p in enumerate(pool)]
    gateway = psutil.Process(ctx.stack.gateway_pid) if ctx.stack.gateway_pid else None
    rss: list[tuple[float, float]] = []  # (s, gateway MiB)
    searching = _load(http, itertools.cycle(forms), clients, "search")
    start = time.monotonic()
    async with _load(http, photos, 2, "upload") as load, searching:
        while (elapsed := time.monotonic() - start) < seconds:
            if gateway is not None:
                rss.append((elapsed, gateway.memory_info().rss / 2**20))
            await asyncio.sleep(min(1.0 if ctx.tiny else 2.0, seconds - elapsed))
    await http.close()
    latencies, failures = searching.latencies_s, searching.failures + load.failures
    uploaded = len(load.latencies_s)
    fifth = max(1, len(rss) // 5)
    mib = [float(np.median([r for _, r in part])) for part in (rss[:fifth], rss[-fifth:]) if rss]
    requests = len(latencies) + uploaded + len(failures)
    said = f"{len(failures)} failures in {requests} requests" + (
        f"; gateway RSS {mib[0]:.0f} -> {mib[1]:.0f} MiB" if mib else "")  # fmt: skip
    results = {"clients": clients, "uploaders": 2, "seconds": seconds, "requests": requests,
               "uploads": uploaded, "search": percentiles(latencies, QS),
               "failures": len(failures), "failure_samples": failures[:10],
               "rss_mib": [[round(t, 1), round(r, 1)] for t, r in rss]}  # fmt: skip
    clean = requests > 0 and not failures
    zero = target(f"soak ({clients} clients, {seconds} s): zero errors", "0 failures",
                  len(failures), clean, "; ".join(failures[:3]), said)  # fmt: skip
    fig, [[ax]] = figure()
    ax.plot([t for t, _ in rss], [r for _, r in rss], color="#37a")
    ax.set(xlabel="s", ylabel="gateway RSS MiB", title=f"soak: {said}")
    write_result(ctx, "soak", results, [zero], fig)
    return results
