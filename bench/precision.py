"""CPU runtimes x precisions, per model: images/s, cosine to the TensorFlow fp32 SavedModel
on real photos (int8 from a `model.int8.onnx` quantized here as the exporter does, for image
models), and, where the weights are real (EfficientNet-Lite0), the change in labeled
P@5 and copy-detection R@1; then bulk ingest and concurrent one-image searches through the
local stack with the TensorFlow fp32 SavedModels (the path before ONNX) and with the defaults
the build serves, in one run."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench import uploads
from bench.common import Context, LoadResult, closed_loop, figure, target, write_result
from bench.photos import distinct_photos, write_folder
from gateway.config import get_settings
from gateway.export import cpu_runtimes, runner_choice
from gateway.export.derived import derived_repository, set_cpu_runner
from gateway.export.int8_export import export_int8
from gateway.export.runner_choice import RetrievalPhotos, retrieval_photos
from gateway.export.triton_config import built_cpu_runner
from gateway.models.registry import triton_models
from gateway.models.spec import CpuRunner, TritonModelSpec
from gateway.serving.gateway import gateway_process
from gateway.serving.process import free_port, venv_bin
from gateway.serving.triton import TritonPorts, triton_process

BATCH = 32  # the issue's measurements and the specs' largest preferred batch
SPEEDUP_TARGET = 1.8
SEARCH_CLIENTS = 8  # concurrent clients, one image per request: how the web page and apps call
# A reduced precision is a default only if it keeps retrieval as fp32 has it.
# The copy transforms of a tiny run: one crop, one heavy JPEG, one flip.
TINY_TRANSFORMS = ("crop_70", "jpeg_q20", "hflip")
REFERENCE = CpuRunner("tensorflow", "fp32")


def variants(flags: frozenset[str], spec: TritonModelSpec) -> list[CpuRunner]:
    """The reference first, then every runtime at every precision this CPU offers the model."""
    out = [REFERENCE]
    for runtime in ("onnxruntime", "openvino"):
        out += [
            CpuRunner(runtime, p)
            for p in cpu_runtimes.offered_precisions(runtime, flags)
            if spec.can_run(p)
        ]
    return out


def run(ctx: Context) -> dict[str, Any]:
    flags = cpu_runtimes.cpu_flags()
    enabled = ["efficientnet_lite0"] if ctx.tiny else get_settings().models.enabled
    specs = triton_models(enabled)
    speed_rows = BATCH * (1 if ctx.tiny else 2)
    table: dict[str, dict[str, Any]] = {}
    for spec in specs:
        photos = _photos(spec, ctx.tiny) if spec.is_image_model else None
        batch = photos.labeled[:speed_rows] if photos else _token_ids(speed_rows)
        real = ctx.weights.get(spec.name, "random").startswith("pretrained")
        table[spec.name] = _model_rows(ctx, spec, batch, flags, photos if real else None)
    choices = {name: _choice(rows) for name, rows in table.items()}
    # What the stack serves: the registry's runner, or the build's measured choice.
    defaults = {s.name: built_cpu_runner(ctx.stack.repository / s.name) for s in specs}

    ingest = _ingest_before_after(ctx, enabled, flags)
    speedup = ingest["after"]["images_per_s"] / ingest["before"]["images_per_s"]
    search_speedup = ingest["after"]["searches_per_s"] / ingest["before"]["searches_per_s"]
    reduced = {n: r for n, r in defaults.items() if r.precision != "fp32"}
    kept = all(table[n][_key(r)].get("keeps_rankings") is True for n, r in reduced.items())
    fp32_only = sorted(n for n, r in defaults.items() if r.precision == "fp32")
    results = {
        "cpu_flags_deciding": sorted(flags & (cpu_runtimes.BF16_FLAGS | cpu_runtimes.INT8_FLAGS)),
        "batch": BATCH,
        "rows_timed": speed_rows,
        "models": table,
        "measured_choice": {n: _key(c) for n, c in choices.items()},
        "build_default": {n: _key(r) for n, r in defaults.items()},
        "stay_fp32": fp32_only,
        "ingest": ingest,
        "speedup": speedup,
        "search_speedup": search_speedup,
        "headline": _headline(table, defaults),
    }
    limit = "" if speedup >= SPEEDUP_TARGET else _speedup_limit(table, fp32_only, ingest)
    targets = [
        target(
            "bulk ingest images/s, the build's defaults vs TensorFlow fp32 SavedModels",
            f">= {SPEEDUP_TARGET}x",
            speedup,
            speedup >= SPEEDUP_TARGET,
            limit,
            f"x{speedup:.2f} ({ingest['after']['images_per_s']:.2f} vs "
            f"{ingest['before']['images_per_s']:.2f} images/s, models {', '.join(enabled)})",
        ),
        target(
            f"image search, {SEARCH_CLIENTS} clients x 1 image, the build's defaults vs TensorFlow "
            "fp32 SavedModels",
            f">= {SPEEDUP_TARGET}x",
            search_speedup,
            search_speedup >= SPEEDUP_TARGET,
            "" if search_speedup >= SPEEDUP_TARGET else _search_limit(ingest),
            f"x{search_speedup:.2f} ({ingest['after']['searches_per_s']:.1f} vs "
            f"{ingest['before']['searches_per_s']:.1f} searches/s)",
        ),
        target(
            "reduced-precision defaults keep labeled P@5 and copy R@1 (real weights)",
            f"within {runner_choice.MAX_METRIC_CHANGE}, cosine >= {runner_choice.MIN_COSINE}",
            float(kept),
            kept,
            "" if kept else "a reduced-precision default changes the rankings",
            ", ".join(f"{n} {_key(r)}" for n, r in reduced.items()) or "none reduced",
        ),
    ]
    write_result(ctx, "precision", results, targets, _plot(table, ingest))
    return results


def _speedup_limit(
    table: dict[str, dict[str, Any]], fp32_only: list[str], ingest: dict[str, dict[str, Any]]
) -> str:
    """Why the defaults are not faster: which models cannot be judged, which failed."""
    judged = [n for n in fp32_only if any("keeps_rankings" in r for r in table[n].values())]
    failed = [
        f"{n} ({key}: min cosine {row['min_cosine']:.3f}, P@5 {row['labeled_p5']:.3f})"
        for n in judged
        for key, row in table[n].items()
        if row.get("keeps_rankings") is False
    ]
    unjudged = [n for n in fp32_only if n not in judged]
    parts = []
    if unjudged:
        parts.append(
            f"{', '.join(unjudged)} hold seeded random weights: no real-weight evidence that a "
            "reduced precision keeps their rankings, so they stay fp32"
        )
    if failed:
        parts.append(f"reduced precision changed the rankings of {', '.join(failed)}")
    if "all_bf16" in ingest:
        opt_in = ingest["all_bf16"]["images_per_s"] / ingest["before"]["images_per_s"]
        parts.append(f"with every model at bf16 (opt-in) bulk ingest is x{opt_in:.2f}")
    return "; ".join(parts)


def _search_limit(ingest: dict[str, dict[str, Any]]) -> str:
    """A search's work outside the model (HTTP, decode, Milvus) is the same before and after."""
    text = "the gateway's and Milvus' work per search does not shrink with the model's"
    if "all_bf16" in ingest:
        bf16 = ingest["all_bf16"]["searches_per_s"] / ingest["before"]["searches_per_s"]
        text += f"; with every model at bf16 search is x{bf16:.2f}"
    return text


def _key(runner: CpuRunner) -> str:
    return f"{runner.runtime}:{runner.precision}"


def _token_ids(rows: int) -> np.ndarray:
    """CLIP-like token rows: start token, a few ids, end token, zero padding."""
    rng = np.random.default_rng(0)
    ids = np.zeros((rows, 77), np.int32)
    for row in range(rows):
        length = int(rng.integers(3, 20))
        ids[row, 0], ids[row, length + 1] = 49406, 49407
        ids[row, 1 : length + 1] = rng.integers(1, 49000, length)
    return ids


def _photos(spec: TritonModelSpec, tiny: bool) -> RetrievalPhotos:
    if not tiny:
        return retrieval_photos(spec)
    return retrieval_photos(spec, per_class=2, originals=4, transforms=TINY_TRANSFORMS)


def _model_rows(
    ctx: Context,
    spec: TritonModelSpec,
    batch: np.ndarray,
    flags: frozenset[str],
    photos: RetrievalPhotos | None,
) -> dict[str, dict[str, Any]]:
    """Every variant's speed on `batch` and cosine to the reference on it; with `photos` (real
    weights) the build's retrieval trial too, whose worst cosine covers every labeled photo."""
    version_dir = ctx.stack.repository / spec.name / "1"
    # The run's own int8 file, so the repository the stack serves stays as it was built.
    int8_dir = ctx.workdir / "int8" / spec.name
    quantize_s: float | None = None
    rows: dict[str, dict[str, Any]] = {}
    reference: np.ndarray | None = None
    trial_reference: tuple[runner_choice.Trial, runner_choice.Embeddings] | None = None
    for runner in variants(flags, spec):
        ctx.log(f"precision: {spec.name} with {_key(runner)}")
        if runner.precision == "int8" and quantize_s is None:
            started = time.perf_counter()
            export_int8(version_dir / "model.onnx", spec, int8_dir)
            quantize_s = time.perf_counter() - started
        run = cpu_runtimes.load_runner(
            runner.runtime,
            runner.precision,
            int8_dir if runner.precision == "int8" else version_dir,
            spec.input.name,
            spec.output.name,
        )
        run(batch[:BATCH])  # warm: graph tracing, kernel choice
        started = time.perf_counter()
        out = runner_choice.embed_all(run, batch)
        row: dict[str, Any] = {"images_per_s": len(batch) / (time.perf_counter() - started)}
        reference = out if reference is None else reference
        cosines = np.sum(_unit(out) * _unit(reference), axis=1)
        row |= {"min_cosine": float(cosines.min()), "mean_cosine": float(cosines.mean())}
        if runner.precision == "int8":
            row["quantize_s"] = quantize_s
        if photos is not None:
            # The build's own check (runner_choice), against the TensorFlow fp32 reference.
            result, labeled = runner_choice.trial(runner, run, photos, trial_reference)
            trial_reference = trial_reference or (result, labeled)
            row |= {
                "labeled_p5": result.labeled_p5,
                "copy_r1": result.copy_r1,
                "min_cosine": result.min_cosine,
                "mean_cosine": result.mean_cosine,
                "cosine_photos": len(labeled),
                "keeps_rankings": result.keeps_rankings,
            }
        rows[_key(runner)] = row
    return rows


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _choice(rows: dict[str, dict[str, Any]]) -> CpuRunner:
    """The fastest variant that keeps the rankings; fp32 only where that cannot be judged."""
    judged = any("keeps_rankings" in row for row in rows.values())
    allowed = {
        key: row
        for key, row in rows.items()
        if (row.get("keeps_rankings") if judged else key.endswith(":fp32"))
    }
    best = max(allowed, key=lambda key: allowed[key]["images_per_s"])
    runtime, precision = best.split(":")
    return CpuRunner(cpu_runtimes.parse_runtime(runtime), cpu_runtimes.parse_precision(precision))


def _ingest_before_after(
    ctx: Context, enabled: list[str], flags: frozenset[str]
) -> dict[str, dict[str, Any]]:
    count = 8 if ctx.tiny else 48
    served = [spec.name for spec in triton_models(enabled)]
    photos = distinct_photos(3 * count + 2, seed=f"precision-{ctx.run_id}")
    setups = {
        "before": derived_repository(
            ctx.stack.repository,
            ctx.workdir / "precision-before",
            served,
            lambda _, config: set_cpu_runner(config, REFERENCE),
        ),
        "after": ctx.stack.repository,
    }
    if not ctx.tiny and "bf16" in cpu_runtimes.offered_precisions("openvino", flags):
        setups["all_bf16"] = derived_repository(
            ctx.stack.repository,
            ctx.workdir / "precision-all-bf16",
            served,
            lambda _, config: set_cpu_runner(config, CpuRunner("openvino", "bf16")),
        )
    out = {}
    for i, (label, repository) in enumerate(setups.items()):
        folder = ctx.workdir / f"precision-{label}"
        write_folder(folder, photos[i * count : (i + 1) * count])
        ctx.log(f"precision: bulk ingest of {count} images, {label}")
        with _stack(ctx, label, repository, served, enabled) as gateway_url:
            _index(gateway_url, [photos[-1]], ctx.workdir / f"precision-warm-{label}")
            started = time.perf_counter()
            _index(gateway_url, folder, ctx.workdir / f"journal-{label}")
            wall_s = time.perf_counter() - started
            searches = 2 * SEARCH_CLIENTS if ctx.tiny else 20 * SEARCH_CLIENTS
            ctx.log(f"precision: {searches} one-image searches, {SEARCH_CLIENTS} clients, {label}")
            searched = asyncio.run(_search(gateway_url, photos[:count], searches))
        out[label] = {
            "images": count,
            "wall_s": wall_s,
            "images_per_s": count / wall_s,
            "searches": searches,
            "searches_per_s": searched.throughput,
            "search_p50_ms": searched.summary()["p50_ms"],
        }
    return out


async def _search(gateway_url: str, queries: list[bytes], count: int) -> LoadResult:
    """`count` image searches by the default model, `SEARCH_CLIENTS` at a time, after a warm-up
    round (the first batch shapes in Triton); a failed search fails the run."""
    async with uploads.Client(gateway_url) as http:
        forms = [uploads.one_image("file", q, "q.jpg") for q in queries]

        async def search(i: int) -> None:
            await http.post("/v1/search/image", forms[i % len(forms)])

        result = await closed_loop(search, SEARCH_CLIENTS, count, warmup=SEARCH_CLIENTS)
    if result.errors:
        raise RuntimeError(f"{result.errors} of {count} image searches failed")
    return result


@contextmanager
def _stack(
    ctx: Context, label: str, repository: Path, served: list[str], enabled: list[str]
) -> Iterator[str]:
    """Triton on `repository` and a gateway of its own (own collections), on the run's Milvus."""
    workdir = ctx.workdir / f"precision-stack-{label}"
    ports = TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port())
    port = free_port()
    env = {
        "PIC_SEARCH_SERVER__LOG_LEVEL": "warning",
        "PIC_SEARCH_STORE__PATH": str(workdir / "images"),
        "PIC_SEARCH_TRITON__URL": f"127.0.0.1:{ports.grpc}",
        "PIC_SEARCH_MILVUS__URI": ctx.stack.milvus_uri,
        "PIC_SEARCH_MILVUS__COLLECTION_PREFIX": f"precision_{label}_{ctx.run_id}_",
        "PIC_SEARCH_GRPC__PORT": str(free_port()),
        "PIC_SEARCH_MODELS__ENABLED": ",".join(enabled),
    }
    with ExitStack() as servers:
        servers.enter_context(triton_process(repository, workdir / "triton", ports, served))
        servers.enter_context(gateway_process(port, env, workdir / "gateway.log"))
        yield f"http://127.0.0.1:{port}"


def _index(gateway_url: str, what: Path | list[bytes], journal: Path) -> None:
    """`pic-search index` as a user runs it (the CLI's default batch size and workers)."""
    if isinstance(what, list):
        write_folder(journal.with_suffix(".photos"), what)
        what = journal.with_suffix(".photos")
    argv = [str(venv_bin() / "pic-search"), "index", str(what), "--url", gateway_url]
    done = subprocess.run(
        [*argv, "--journal", str(journal.with_suffix(".jsonl"))],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pic-search index failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")


def _headline(table: dict[str, dict[str, Any]], defaults: dict[str, CpuRunner]) -> str:
    parts = []
    for name, rows in table.items():
        reference = rows[_key(REFERENCE)]["images_per_s"]
        chosen = rows[_key(defaults[name])]
        parts.append(
            f"{name} {_key(defaults[name])} x{chosen['images_per_s'] / reference:.2f} "
            f"(cosine >= {chosen['min_cosine']:.4f})"
        )
    return "; ".join(parts)


def _plot(table: dict[str, dict[str, Any]], ingest: dict[str, dict[str, Any]]) -> Any:
    fig, axes = figure(2, 1, width=10)
    ax = axes[0][0]
    keys = list(next(iter(table.values())))
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        xs = np.arange(len(table)) + i * width
        rates = [rows.get(key, {}).get("images_per_s", 0) for rows in table.values()]
        ax.bar(xs, rates, width, label=key)
    ax.set_xticks(np.arange(len(table)) + width * (len(keys) - 1) / 2, list(table), fontsize=7)
    ax.set_ylabel(f"images/s (batch {BATCH}, in-process)")
    ax.legend(fontsize=7)
    ax = axes[0][1]
    slots = np.arange(len(ingest))
    for shift, key, label in (
        (-0.2, "images_per_s", "ingest images/s"),
        (0.2, "searches_per_s", "searches/s"),
    ):
        ax.bar(slots + shift, [v[key] for v in ingest.values()], 0.4, label=label)
    ax.set_xticks(slots, list(ingest))
    ax.set_ylabel("through the local stack")
    ax.set_title(f"before (TensorFlow fp32) and after; search: {SEARCH_CLIENTS} clients")
    ax.legend(fontsize=7)
    return fig
