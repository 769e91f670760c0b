"""Beside a peer: Infinity (infinity-emb), the embedding server with dynamic batching that
many self-hosters run, serving the same CLIP ViT-B/32 on this machine in the same run.

Both sides hold random-initialised weights of one architecture, so the compute is the same:
the gateway searches (its Triton model, then Milvus), Infinity only embeds, from a Hugging
Face folder written here offline (the gateway's BPE vocabulary; its token ids are checked
equal). One image or one query per request at 1, 8 and 32 clients, in alternating halves
(`throughput.paired`). Infinity lives in its own environment (`make bench-peers`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench import uploads
from bench.common import ROOT, Context, bars, figure, target, write_result
from bench.latency import closed_loop
from bench.photos import distinct_photos
from bench.probe import Probe
from bench.throughput import paired
from gateway.clients.triton import TritonClient
from gateway.config import Settings
from gateway.export import cpu_runtimes
from gateway.export.triton_config import built_cpu_runner
from gateway.models.clip_tokenizer import ClipTokenizer
from gateway.models.registry import CLIP
from gateway.preprocess import prepare_image
from gateway.quality.text_trials import everyday_queries
from gateway.serving.process import ServerProcess, free_port

PEERS_VENV = ROOT / ".venv-peers"  # `make bench-peers` installs Infinity there
BATCH = 32  # Infinity's --batch-size, the gateway's largest preferred batch
RATIO_TARGET = 1.5  # the gateway at least 1.5x Infinity
RUNTIME_SHARE = 0.95  # image search at 32 clients: of the fastest in-process fp32 runtime
SERVERS = ("gateway", "triton", "milvus")  # the gateway's side of the CPU count
Forms = list[uploads.Multipart]
# A fixed seed: both sides' weights are random, their values change no timing.
WRITE_HF_CLIP = """
import json, sys, torch
from transformers import CLIPConfig, CLIPModel, CLIPImageProcessor, CLIPProcessor, CLIPTokenizer
out = sys.argv[1]
torch.manual_seed(0)
CLIPModel(CLIPConfig()).save_pretrained(out)  # CLIPConfig's defaults are ViT-B/32
tokenizer = CLIPTokenizer(f"{out}/vocab.json", f"{out}/merges.txt")
CLIPProcessor(image_processor=CLIPImageProcessor(), tokenizer=tokenizer).save_pretrained(out)
print(json.dumps([tokenizer(q)["input_ids"] for q in json.loads(sys.argv[2])]))
"""


def write_hf_clip(python: Path, folder: Path) -> None:
    """A random CLIP ViT-B/32 in Hugging Face form, its tokenizer from the gateway's BPE."""
    folder.mkdir(parents=True, exist_ok=True)
    ours = ClipTokenizer.from_package()
    (folder / "vocab.json").write_text(json.dumps(ours.vocabulary()))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(ours.merges()) + "\n")
    argv = [str(python), "-c", WRITE_HF_CLIP, str(folder), json.dumps(everyday_queries())]
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    theirs = json.loads(subprocess.run(argv, capture_output=True, check=True, env=env).stdout)
    if theirs != [ours.tokenize([q], trim=True)[0].tolist() for q in everyday_queries()]:
        raise RuntimeError("Infinity's tokenizer splits the queries unlike the gateway's")


@contextlib.contextmanager
def infinity(ctx: Context, folder: Path) -> Iterator[tuple[str, int]]:
    """Infinity serving `folder` as model `clip` (fp32, batch 32): its URL and pid."""
    port = free_port()
    options = f"--model-id {folder} --served-model-name clip --engine torch --device cpu "
    options += f"--dtype float32 --batch-size {BATCH} --port {port}"
    argv = [str(PEERS_VENV / "bin" / "infinity_emb"), "v2", *options.split()]
    quiet = {"HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"}
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)

    log, env = ctx.workdir / "infinity.log", os.environ | quiet
    with ServerProcess("infinity", argv, log, ready, env) as server:
        assert server.proc is not None
        # At Triton's CPU priority, above the load generator, as Triton is (root may raise it).
        with contextlib.suppress(psutil.Error):
            psutil.Process(server.proc.pid).nice(0)
        yield url, server.proc.pid


def run(ctx: Context) -> dict[str, Any]:
    if not (PEERS_VENV / "bin" / "infinity_emb").exists():
        raise SystemExit("Infinity is not installed: run `make bench-peers`")
    folder = ctx.workdir / "clip-vit-b32-hf"
    write_hf_clip(PEERS_VENV / "bin" / "python", folder)
    with infinity(ctx, folder) as (url, pid):
        cells = asyncio.run(_measure(ctx, url))
        infinity_nice = psutil.Process(pid).nice()
    spec, limits = CLIP.image_model, Settings().limits
    photos = distinct_photos(BATCH, seed="peers-in-process")
    batch = np.stack([prepare_image(p, [spec], limits, False).inputs[spec.name] for p in photos])
    runtimes, served = _in_process(ctx, batch), asyncio.run(_triton_alone(ctx, batch))
    image, text = (built_cpu_runner(ctx.stack.repository / n) for n in ("clip_image", "clip_text"))
    results = {
        "gateway": f"clip (Triton, as built: image {image.runtime} {image.precision}, "
        f"text {text.runtime} {text.precision}), then Milvus top 10",
        "infinity": f"infinity-emb, torch fp32 on CPU, --batch-size {BATCH}, nice {infinity_nice}",
        "in_process_images_per_s": runtimes,
        "triton_alone_images_per_s": served,
        "cells": cells,
    }
    targets = _targets(cells, runtimes, served if image.precision == "fp32" else None)
    # Both towers at fp32 (`make bench-peers-fp32`) answer the question with no reduced
    # precision on either side, beside the build's choice: a result of its own.
    fp32 = image.precision == text.precision == "fp32"
    write_result(ctx, "peers_fp32" if fp32 else "peers", results, targets, _plot(cells))
    return results


def _json(body: dict[str, Any]) -> uploads.Multipart:
    return uploads.Multipart(json.dumps(body).encode(), "application/json")


def _bodies(kind: str, photos: list[bytes]) -> tuple[str, Forms, Forms]:
    """The search path, and the same images or queries for the gateway and for Infinity."""
    if kind == "image":
        ours = [uploads.one_image("file", p, "q.jpg", model="clip", top_k="10") for p in photos]
        inputs = ["data:image/jpeg;base64," + base64.b64encode(p).decode() for p in photos]
    else:
        inputs = everyday_queries()
        ours = [_json({"q": q, "model": "clip", "top_k": 10}) for q in inputs]
    theirs = [_json({"model": "clip", "modality": kind, "input": [x]}) for x in inputs]
    return f"/v1/search/{kind}", ours, theirs


async def _measure(ctx: Context, infinity_url: str) -> dict[str, Any]:
    photos = distinct_photos(16, seed=f"peers-{ctx.run_id}")
    probe = Probe(ctx.stack, ["clip_image", "clip_text"])
    gateway, peer = uploads.Client(ctx.stack.gateway_url), uploads.Client(infinity_url)
    cells: dict[str, Any] = {}
    try:
        # Something to search: the photos in the gateway's collection.
        named = [(f"p{i}.jpg", p) for i, p in enumerate(photos)]
        await gateway.post("/v1/images", uploads.images_form("files", named))
        for kind in ("image", "text"):
            to, ours, theirs = _bodies(kind, photos)
            for c in (1, 8) if ctx.tiny else (1, 8, 32):
                n = 2 * c if ctx.tiny else {"image": 8, "text": 24}[kind] * max(c, 4)
                ctx.log(f"peers: {kind}, {c} clients, 2 x {n} per side")

                async def our_call(i: int, to: str = to, forms: Forms = ours) -> None:
                    await gateway.post(to, forms[i % len(forms)])

                async def their_call(i: int, forms: Forms = theirs) -> None:
                    await peer.post("/embeddings", forms[i % len(forms)])

                warm = (f(i) for f in (our_call, their_call) for i in range(c))
                await asyncio.gather(*warm)
                cell = await paired(probe, their_call, our_call, c, n, 1 if ctx.tiny else 2)
                for side, roles in (("gateway", SERVERS), ("direct", ("infinity",))):
                    busy = sum(cell[side]["cores_used"][r] for r in roles)
                    cell[side]["server_cpu_ms_per_request"] = 1000 * busy / cell[side]["per_s"]
                cells[f"{kind} {c}"] = cell
    finally:
        await gateway.close()
        await peer.close()
    return cells


def _in_process(ctx: Context, batch: np.ndarray) -> dict[str, float]:
    """CLIP's image tower in this process at fp32 on `batch` (32 prepared photos), per
    runtime: the runtimes' own limit, which bounds any server at 32 clients."""
    spec, reps = CLIP.image_model, 1 if ctx.tiny else 3
    folder, out = ctx.stack.repository / spec.name / "1", {}
    for runtime in ("tensorflow", "onnxruntime", "openvino"):
        run = cpu_runtimes.load_runner(runtime, "fp32", folder, spec.input.name, spec.output.name)
        run(batch)  # warm
        started = time.perf_counter()
        for _ in range(reps):
            run(batch)
        out[runtime] = reps * BATCH / (time.perf_counter() - started)
    return out


async def _triton_alone(ctx: Context, batch: np.ndarray) -> float:
    """The same photos straight to Triton over gRPC (the gateway's client), one a call from
    32 clients: the issue holds Triton, not the search, to the in-process runtimes."""
    triton = TritonClient(Settings().triton.model_copy(update={"url": ctx.stack.triton_grpc}))

    async def call(i: int) -> None:
        await triton.embed(CLIP.image_model, batch[i % BATCH][None])

    try:
        load = await closed_loop(call, BATCH, (1 if ctx.tiny else 8) * BATCH, warmup=BATCH)
    finally:
        await triton.close()
    return len(load.latencies_s) / load.wall_s


def _targets(cells: dict[str, Any], runtimes: dict[str, float], served: float | None) -> list[Any]:
    """Each cell at 1.5x Infinity; at fp32 (`served`: Triton alone, images/s), image at 32
    clients holds Triton to the fastest in-process runtime instead."""
    out = []
    for name, cell in cells.items():
        ours, theirs = cell["gateway"], cell["direct"]
        shown = (
            f"{ours['per_s']:.1f} vs Infinity {theirs['per_s']:.1f}/s, p99 {ours['p99_ms']:.0f} "
            f"vs {theirs['p99_ms']:.0f} ms"
        )
        kind, clients = name.split()
        label = f"{kind} search, {clients} clients: gateway / Infinity"
        value, goal = cell["ratio"], RATIO_TARGET
        if name == "image 32" and served is not None:  # the runtime itself is the limit
            fastest = max(runtimes, key=runtimes.__getitem__)
            label = f"CLIP image, 32 clients: Triton alone / in-process {fastest} at batch {BATCH}"
            value, goal = served / runtimes[fastest], RUNTIME_SHARE
            shown = f"Triton {served:.1f} vs {fastest} {runtimes[fastest]:.1f}/s; {shown}"
        out.append(target(label, f">= {goal}", value, value >= goal, "", f"{value:.2f} ({shown})"))
    return out


def _plot(cells: dict[str, Any]) -> Any:
    fig, axes = figure(2, 1, width=9)
    for ax, kind in zip(axes[0], ("image", "text"), strict=True):
        mine = {n.split()[1]: c for n, c in cells.items() if n.startswith(kind)}
        series = {
            "Infinity (embedding only)": [c["direct"]["per_s"] for c in mine.values()],
            "gateway (search)": [c["gateway"]["per_s"] for c in mine.values()],
        }
        bars(ax, [f"{c} clients" for c in mine], series)
        ax.set(ylabel="requests/s", title=f"CLIP ViT-B/32, {kind}, one per request")
    return fig
