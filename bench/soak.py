"""Steady load for minutes: zero errors, and the gateway's memory over time.

Clients do what a library's users do, back to back: image and text searches, the thumbnails
of their results, and now and then an upload of a new photo. The gateway's RSS is sampled
throughout (when this run started the gateway); a leak shows as a rising line.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any
from urllib.parse import quote

import numpy as np
import psutil

from bench import uploads
from bench.common import Context, figure, target, write_result
from bench.latency import percentiles
from bench.photos import distinct_photos

QUERIES = ("a cat", "coffee", "a rocket launch", "old coins", "a red flower", "a temple",
           "the moon", "printed text", "a clock on a wall", "grass")  # fmt: skip
# Per ten requests: what people do most is look at results.
MIX = ("image",) * 3 + ("text",) * 2 + ("thumbnails",) * 4 + ("upload",)


def run(ctx: Context) -> dict[str, Any]:
    return asyncio.run(_run(ctx))


async def _run(ctx: Context) -> dict[str, Any]:
    clients, seconds = (4, 8) if ctx.tiny else (8, 180)
    ctx.log(f"soak: {clients} clients for {seconds} s against {ctx.stack.gateway_url}")
    photos = iter(distinct_photos(2 if ctx.tiny else 400, seed=f"soak-{ctx.run_id}"))
    queries = [uploads.one_image("file", p, "q.jpg", top_k="12") for p in distinct_photos(8, "q")]
    latencies: dict[str, list[float]] = {kind: [] for kind in set(MIX)}
    failures: list[str] = []
    thumbnails: list[str] = []
    rng = random.Random(ctx.run_id)
    end = time.monotonic() + seconds

    async def request(http: uploads.Client, kind: str) -> None:
        if kind == "image":
            hits = await http.post("/v1/search/image", rng.choice(queries))
        elif kind == "text":
            hits = await http.get(f"/v1/search/text?top_k=12&q={quote(rng.choice(QUERIES))}")
        elif kind == "upload":
            photo = next(photos, None)
            if photo is None:
                return
            await http.post("/v1/images", uploads.one_image("files", photo, "new.jpg"))
            return
        else:  # a results page shows several thumbnails at once
            for url in rng.sample(thumbnails, min(4, len(thumbnails))):
                await http.get(url)
            return
        results = json.loads(hits)["results"]
        thumbnails[:0] = [hit["thumbnail_url"] for hit in results][:50]
        del thumbnails[200:]

    async def client() -> None:
        async with uploads.Client(ctx.stack.gateway_url) as http:
            while time.monotonic() < end:
                kind = rng.choice(MIX)
                start = time.perf_counter()
                try:
                    await request(http, kind)
                except Exception as exc:  # every failure is counted and a few are kept
                    failures.append(f"{kind}: {type(exc).__name__}: {str(exc)[:200]}")
                    continue
                latencies[kind].append(time.perf_counter() - start)

    started = time.monotonic()
    rss: list[tuple[float, float]] = []  # (s, gateway MiB)
    gateway = psutil.Process(ctx.stack.gateway_pid) if ctx.stack.gateway_pid else None
    load = asyncio.gather(*(client() for _ in range(clients)))
    while not load.done():
        if gateway is not None:
            rss.append((time.monotonic() - started, gateway.memory_info().rss / 2**20))
        await asyncio.wait([load], timeout=1.0 if ctx.tiny else 2.0)
    await load
    return _write(ctx, clients, seconds, latencies, failures, rss)


def _write(ctx: Context, clients: int, seconds: int, latencies: dict[str, list[float]],
           failures: list[str], rss: list[tuple[float, float]]) -> dict[str, Any]:  # fmt: skip
    requests = sum(map(len, latencies.values())) + len(failures)
    fifth = max(1, len(rss) // 5)
    start, end = (float(np.median([r for _, r in part])) if rss else None
                  for part in (rss[:fifth], rss[-fifth:]))  # fmt: skip
    memory = f"; gateway RSS {start:.0f} -> {end:.0f} MiB" if rss else ""
    summary = f"{len(failures)} failures in {requests} requests{memory}"
    results = {
        "clients": clients, "seconds": seconds, "requests": requests,
        "failures": len(failures), "failure_samples": failures[:10],
        "requests_by_kind": {k: percentiles(ts) | {"n": len(ts)} for k, ts in latencies.items()},
        "rss_mib": [[round(t, 1), round(r, 1)] for t, r in rss],
        "rss_start_mib": start, "rss_end_mib": end,
        "headline": f"{clients} clients, {seconds} s: {requests / seconds:.1f}/s, {summary}",
    }  # fmt: skip
    clean = requests > 0 and not failures
    limit = "" if clean else f"failures: {failures[:3]}"
    zero = target(f"soak ({clients} clients, {seconds} s): zero errors", "0 failures",
                  len(failures), clean, limit, summary)  # fmt: skip
    write_result(ctx, "soak", results, [zero], _plot(results, rss))
    return results


def _plot(results: dict[str, Any], rss: list[tuple[float, float]]) -> Any:
    fig, axes = figure(2, 1, width=10)
    kinds = results["requests_by_kind"]
    names = sorted(kinds)
    axes[0][0].barh(names, [kinds[n].get("p50_ms", 0.0) for n in names], label="p50")
    axes[0][0].barh(names, [kinds[n].get("p95_ms", 0.0) for n in names], label="p95", alpha=0.5)
    axes[0][0].set(xlabel="ms", title="soak: latency by request")
    axes[0][0].legend(fontsize=7)
    axes[0][1].plot([t for t, _ in rss], [r for _, r in rss], color="#37a")
    axes[0][1].set(xlabel="s", ylabel="gateway RSS MiB", title="gateway memory")
    return fig
