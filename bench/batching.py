"""Triton's dynamic batching (the spec's `dynamic_batching` block, as served) against the
same model with batching off: a one-model repository copy whose config lacks the block."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from PIL import Image

from bench.common import Context, figure, write_result
from bench.latency import closed_loop, percentiles
from bench.photos import rgb_samples
from bench.probe import triton_delta, triton_stats
from gateway.clients.triton import TritonClient
from gateway.config import TritonSettings
from gateway.export.derived import derived_repository
from gateway.models.registry import triton_model
from gateway.preprocess import model_input
from gateway.serving.process import free_port
from gateway.serving.triton import TritonPorts, triton_process

SPEC = triton_model("clip_image")


def run(ctx: Context) -> dict[str, Any]:
    levels = (1, 4) if ctx.tiny else (1, 2, 4, 8, 16, 32)
    # The same model files, their cpu config without `dynamic_batching`: Triton then runs
    # every request on its own.
    repo = derived_repository(
        ctx.stack.repository,
        ctx.workdir / "unbatched-repo",
        [SPEC.name],
        lambda _, config: config.ClearField("dynamic_batching"),
    )
    ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    ctx.log("batching: starting a second Triton with batching off")
    with triton_process(repo, ctx.workdir / "triton-unbatched", ports, [SPEC.name]):
        variants = {
            "batching on (spec)": (ctx.stack.triton_grpc, ctx.stack.triton_http),
            "batching off": (f"127.0.0.1:{ports.grpc}", f"127.0.0.1:{ports.http}"),
        }
        curves = asyncio.run(_measure(ctx, variants, levels))
    on, off = curves["batching on (spec)"], curves["batching off"]
    top = str(levels[-1])
    gain = on[top]["throughput_per_s"] / off[top]["throughput_per_s"]

    def said(curve: dict[str, dict[str, Any]]) -> str:
        triton = curve[top].get("triton", {})
        return (f"{curve[top]['throughput_per_s']:.1f} images/s, mean batch "
                f"{triton.get('mean_batch_size', 0):.1f}, compute "
                f"{triton.get('compute_infer_ms_per_item', 0):.0f} ms per image, queue "
                f"{triton.get('queue_ms_per_request', 0):.0f} ms per request")  # fmt: skip

    results = {
        "model": SPEC.name,
        "dynamic_batching": asdict(SPEC.batching),
        "levels": list(levels),
        "curves": curves,
        "throughput_gain_at_max_concurrency": gain,
        "findings": [
            f"At {top} concurrent requests, batching on: {said(on)}; batching off: {said(off)}."
        ],
    }
    fig, axes = figure(2, 1, width=8)
    for name, curve in curves.items():
        style = "-" if "on" in name else "--"
        for col, key, marker, label in ((0, "throughput_per_s", "o", name),
                                        (1, "p50_ms", "o", f"{name} p50"),
                                        (1, "p99_ms", "x", f"{name} p99")):  # fmt: skip
            ys = [curve[str(c)][key] for c in levels]
            axes[0][col].plot(levels, ys, style, marker=marker, label=label)
    titles = (f"{SPEC.name}: throughput, x{gain:.2f} at {top}", "latency")
    for ax, label, title in zip(axes[0], ("images/s", "latency ms"), titles, strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(levels), [str(c) for c in levels])
        ax.set(xlabel="concurrent single-image requests", ylabel=label, title=title)
        ax.legend(fontsize=7)
    results["headline"] = (
        f"{SPEC.name} at {top} concurrent: {on[top]['throughput_per_s']:.1f} images/s batched "
        f"vs {off[top]['throughput_per_s']:.1f} unbatched (x{gain:.2f}); p50 "
        f"{on[top]['p50_ms']:.0f} vs {off[top]['p50_ms']:.0f} ms"
    )
    write_result(ctx, "batching", results, [], fig)
    return results


async def _measure(
    ctx: Context, variants: dict[str, tuple[str, str | None]], levels: tuple[int, ...]
) -> dict[str, dict[str, dict[str, Any]]]:
    image = model_input(Image.fromarray(rgb_samples()[0]), SPEC.preprocess)[None]  # type: ignore[arg-type]
    curves: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in variants}
    clients = {
        n: TritonClient(TritonSettings(url=g, timeout_s=600)) for n, (g, _) in variants.items()
    }
    try:
        for concurrency in levels:
            requests = 8 if ctx.tiny else max(60, 4 * concurrency)
            # Alternate variants level by level, so other load on the machine hits both.
            for name, (_, http) in variants.items():

                async def call(i: int, client: TritonClient = clients[name]) -> None:
                    await client.embed(SPEC, image)

                ctx.log(f"batching: {name} c={concurrency} x{requests}")
                await closed_loop(call, concurrency, concurrency)  # warm, not counted
                before = triton_stats(http, SPEC.name)
                result = await closed_loop(call, concurrency, requests)
                curves[name][str(concurrency)] = {
                    **percentiles(result.latencies_s),
                    "throughput_per_s": result.per_s,
                    "errors": len(result.failures),
                    "triton": triton_delta(before, triton_stats(http, SPEC.name)),
                }
    finally:
        for client in clients.values():
            await client.close()
    return curves
