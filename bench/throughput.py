"""Many concurrent one-image requests, the way the web page, apps and services call.

Ingest and image search through the gateway at 1, 8 and 32 clients, beside the same work sent
straight to Triton (and Milvus) as DIRECT_MEANS says, in alternating halves so drift hits both:
the gateway's extra work must not slow it. Per-stage gateway time, Triton's batching and each
server's busy cores say where the time went."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np

from bench import uploads
from bench.common import Context, bars, figure, run_async, target, write_result
from bench.latency import Call, Load, closed_loop, percentiles
from bench.photos import distinct_photos
from bench.probe import Probe
from gateway.clients.milvus import VectorIndex
from gateway.clients.triton import TritonClient
from gateway.config import Settings
from gateway.models.registry import search_models
from gateway.models.spec import SearchModel, TritonModelSpec
from gateway.preprocess import PreparedImage, prepare_image
from gateway.serving.stack_settings import get_stack_settings

RATIO_TARGET = 0.90
# Rounds of each cell in full runs: one round's ratio swings with other load on shared cores.
SEARCH_ROUNDS, INGEST_ROUNDS = 5, 2
ADDED_P50_BUDGET_MS = 10.0
TOP_K = 10
DIRECT_MEANS = (
    "a client that decodes and resizes its image itself (prepare_image, in a pool the "
    "gateway's size), then calls every enabled image model at once (ingest) or one model "
    "and a Milvus search (search) through the gateway's own Triton and Milvus clients; it "
    "runs at the gateway's CPU priority, as the benchmark's other clients do"
)


class Direct:
    """The gateway's inference work without the gateway: its own clients and parameters."""

    def __init__(self, ctx: Context, settings: Settings) -> None:
        update = {"url": ctx.stack.triton_grpc, "timeout_s": 600.0}
        self.triton = TritonClient(settings.triton.model_copy(update=update))
        self.milvus = VectorIndex(settings.milvus.model_copy(update={"uri": ctx.stack.milvus_uri}))
        self.limits = settings.limits
        self.cpu = ThreadPoolExecutor(settings.preprocess_pool_size())
        self.models = search_models(settings.models.enabled)

    async def prepare(
        self, photos: list[bytes], specs: list[TritonModelSpec], thumbnail: bool
    ) -> list[PreparedImage]:
        """As the gateway prepares uploads (with a thumbnail) or queries (without)."""
        prepare = partial(prepare_image, specs=specs, limits=self.limits, thumbnail=thumbnail)
        loop = asyncio.get_running_loop()
        return await asyncio.gather(*(loop.run_in_executor(self.cpu, prepare, d) for d in photos))

    async def ingest(self, photos: list[bytes]) -> None:
        """Decode, then every enabled image model at once on the whole batch."""
        specs = [m.image_model for m in self.models]
        prepared = await self.prepare(photos, specs, thumbnail=True)
        await asyncio.gather(
            *(self.triton.embed(s, np.stack([p.inputs[s.name] for p in prepared])) for s in specs)
        )

    async def search_image(self, data: bytes, model: SearchModel, collection: str) -> None:
        (prepared,) = await self.prepare([data], [model.image_model], thumbnail=False)
        spec = model.image_model
        vector = await self.triton.embed(spec, prepared.inputs[spec.name][None])
        await self.milvus.search(collection, vector[0].tolist(), TOP_K)


async def paired(
    probe: Probe, direct: Call, gateway: Call, concurrency: int, requests: int, rounds: int = 1
) -> dict[str, Any]:
    """`rounds` times direct, gateway, gateway, direct, with `requests` per path per round:
    each path's runs merged; full runs repeat (see SEARCH_ROUNDS) and record every round."""
    half = max(requests // 2, 1)
    runs: dict[str, list[Load]] = {"direct": [], "gateway": []}
    evidence: dict[str, list[dict[str, Any]]] = {"direct": [], "gateway": []}
    round_ratios, calls = [], {"direct": direct, "gateway": gateway}
    for r in range(rounds):
        for name, offset in (("direct", 0), ("gateway", 0), ("gateway", half), ("direct", half)):
            before = probe.snapshot()
            # The second half of a path sends other photos.
            result = await closed_loop(calls[name], concurrency, half, first=r * requests + offset)
            if result.failures:
                failed = f"{len(result.failures)} {name} requests failed at {concurrency} clients"
                raise RuntimeError(failed)
            runs[name].append(result)
            evidence[name].append(probe.delta(before, half))
        round_ratios.append(_per_s(runs["gateway"][-2:]) / _per_s(runs["direct"][-2:]))
    out: dict[str, Any] = {"clients": concurrency, "rounds": rounds}
    for name, results in runs.items():
        latencies = [s for r in results for s in r.latencies_s]
        out[name] = {
            "per_s": _per_s(results),
            **percentiles(latencies),
            "errors": sum(len(r.failures) for r in results),
            # The last run of each path (its probe saw a warm path).
            **evidence[name][-1],
        }
    out["ratio"] = out["gateway"]["per_s"] / out["direct"]["per_s"]
    out["round_ratios"] = round_ratios
    out["added_p50_ms"] = out["gateway"]["p50_ms"] - out["direct"]["p50_ms"]
    return out


def _per_s(results: list[Load]) -> float:
    return sum(len(r.latencies_s) for r in results) / sum(r.wall_s for r in results)


@run_async
async def run(ctx: Context) -> dict[str, Any]:
    settings = Settings()
    levels = (1, 8) if ctx.tiny else (1, 8, 32)
    search_rounds, ingest_rounds = (1, 1) if ctx.tiny else (SEARCH_ROUNDS, INGEST_ROUNDS)
    models = search_models(settings.models.enabled)
    probe = Probe(ctx.stack, [m.image_model.name for m in models])
    direct = Direct(ctx, settings)
    http = uploads.Client(ctx.stack.gateway_url)
    ingest: dict[str, Any] = {}
    search: dict[str, Any] = {}
    try:
        # Warm both paths: first batch shapes in Triton, the gateway's collections.
        warm = distinct_photos(4, seed=f"throughput-warm-{ctx.run_id}")
        await direct.ingest(warm)
        await _upload(http, uploads.one_image("files", warm[0], "warm.jpg"))
        for c in levels:
            # Each half at least four rounds of every client: ramp-up and drain stay small.
            n = 2 * c if ctx.tiny else {1: 16, 8: 128}.get(c, 8 * c)
            ctx.log(f"throughput: ingest, {c} clients, {ingest_rounds} x {n} one-image requests")
            new = distinct_photos(n * ingest_rounds, seed=f"throughput-{ctx.run_id}-{c}")
            fresh = [uploads.one_image("files", p, f"t{i}.jpg") for i, p in enumerate(new)]
            same = distinct_photos(n, seed=f"throughput-direct-{ctx.run_id}-{c}")

            async def direct_ingest(i: int, same: list[bytes] = same) -> None:
                await direct.ingest([same[i % len(same)]])

            async def gateway_ingest(i: int, fresh: list[uploads.Multipart] = fresh) -> None:
                await _upload(http, fresh[i])

            ingest[str(c)] = await paired(probe, direct_ingest, gateway_ingest, c, n, ingest_rounds)

        default, collection = await _default(http, models)
        queries = distinct_photos(16, seed=f"throughput-queries-{ctx.run_id}")
        forms = [uploads.one_image("file", q, "q.jpg", top_k=str(TOP_K)) for q in queries]
        for c in levels:
            # About five seconds per half at 8 and 32 clients: shorter halves are noisier.
            n = 2 * c if ctx.tiny else {1: 80, 8: 800}.get(c, 32 * c)
            ctx.log(f"throughput: search ({default.name}), {c} clients, {search_rounds} x {n}")

            async def direct_search(i: int) -> None:
                await direct.search_image(queries[i % len(queries)], default, collection)

            async def gateway_search(i: int) -> None:
                await http.post("/v1/search/image", forms[i % len(forms)])

            search[str(c)] = await paired(probe, direct_search, gateway_search, c, n, search_rounds)
            search[str(c)]["model"] = default.name
    finally:
        await http.close()
        await direct.triton.close()
        await direct.milvus.close()
        direct.cpu.shutdown()
    results = {
        "direct_means": DIRECT_MEANS,
        # Niceness of the gateway, Milvus and this benchmark's clients; Triton runs at 0.
        "nice_below_triton": get_stack_settings().nice_below_triton,
        "ingest_one_image_per_request": ingest,
        "image_search": search,
    }
    write_result(ctx, "throughput", results, _targets(ingest, search), _plot(ingest, search))
    return results


async def _upload(http: uploads.Client, form: uploads.Multipart) -> None:
    status = json.loads(await http.post("/v1/images", form))["results"][0]["status"]
    if status != "created":  # every benchmark image is new: anything else is a broken run
        raise RuntimeError(f"ingest of a new image said {status!r}")


async def _default(http: uploads.Client, models: list[SearchModel]) -> tuple[SearchModel, str]:
    """The model image search uses when none is named, and its collection's name."""
    listed = json.loads(await http.get("/v1/models"))["models"]
    name = next(m["name"] for m in listed if m["default"])
    stats = json.loads(await http.get("/v1/stats"))["collections"]
    collection = next(c for c, facts in stats.items() if facts["model"] == name)
    return next(m for m in models if m.name == name), collection


def _targets(ingest: dict[str, Any], search: dict[str, Any]) -> list[dict[str, Any]]:
    ratios = [(f"ingest, {c} clients x 1 image: gateway / Triton alone", ingest.get(c), "images/s")
              for c in ("8", "32")]  # fmt: skip
    ratios.append(("image search, 8 clients: gateway / Triton + Milvus alone", search.get("8"),
                   "searches/s"))  # fmt: skip
    one = search["1"]
    added = target(
        "image search, 1 client: what the gateway adds at p50",
        f"<= {ADDED_P50_BUDGET_MS:.0f} ms",
        one["added_p50_ms"],
        one["added_p50_ms"] <= ADDED_P50_BUDGET_MS,
        _limit(one),
        f"{one['added_p50_ms']:+.1f} ms ({one['gateway']['p50_ms']:.1f} vs "
        f"{one['direct']['p50_ms']:.1f} ms)",
    )
    return [*(_ratio_target(name, cell, unit) for name, cell, unit in ratios), added]


def _ratio_target(name: str, cell: dict[str, Any] | None, unit: str) -> dict[str, Any]:
    goal = f">= {RATIO_TARGET}"
    if cell is None:
        return target(name, goal, None, None, "", "not run at this scale (tiny)")
    gateway, direct, rounds = cell["gateway"], cell["direct"], cell["round_ratios"]
    shown = (
        f"{cell['ratio']:.2f} ({gateway['per_s']:.1f} vs {direct['per_s']:.1f} {unit}; cores "
        f"{gateway['cores_used']['all']:.2f} vs {direct['cores_used']['all']:.2f}; rounds "
        + "/".join(f"{r:.2f}" for r in rounds) + ")"
    )  # fmt: skip
    return target(name, goal, cell["ratio"], cell["ratio"] >= RATIO_TARGET, _limit(cell), shown)


def _limit(cell: dict[str, Any]) -> str:
    """Where the gateway path's time went, from its own evidence."""
    gateway = cell["gateway"]
    stages = ", ".join(f"{k} {v:.0f}" for k, v in sorted(gateway["gateway_stage_ms"].items()))
    cores = gateway["cores_used"]
    batches = ", ".join(
        f"{m} {t.get('mean_batch_size', 0):.1f}" for m, t in gateway["triton"].items() if t
    )
    return (
        f"gateway stages (ms per request): {stages}; cores busy: triton "
        f"{cores['triton']:.2f}, gateway {cores['gateway']:.2f}, milvus {cores['milvus']:.2f}, "
        f"clients {cores['benchmark_clients']:.2f}; Triton mean batch: {batches}"
    )


def _plot(ingest: dict[str, Any], search: dict[str, Any]) -> Any:
    fig, axes = figure(2, 1, width=9)
    panels = (("ingest, 1 image per request", ingest, "images/s"), ("image search", search, "/s"))
    for ax, (title, cells, unit) in zip(axes[0], panels, strict=True):
        series = {p: [cell[p]["per_s"] for cell in cells.values()] for p in ("direct", "gateway")}
        x = bars(ax, [f"{c} clients" for c in cells], series)
        for i, cell in enumerate(cells.values()):
            ax.annotate(f"{cell['ratio']:.2f}", (x[i] + 0.2, cell["gateway"]["per_s"]))
        ax.set(ylabel=unit, title=f"{title} (ratio: gateway / direct)")
    return fig
