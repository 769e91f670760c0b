"""Which CPU runtime and precision should a model run at? Per model, every runtime x precision
this CPU offers: images/s in-process, cosine to the TensorFlow fp32 SavedModel on real photos
(int8 quantized here as the exporter does), and the build's own trial (gateway/quality/
trials.py; random weights: copies alone); what the build chose beside what this run would."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import numpy as np

from bench.common import Context, bars, figure, target, write_result
from gateway.config import get_settings
from gateway.export import cpu_runtimes
from gateway.export.int8_export import export_int8
from gateway.export.runner_choice import image_tower, offered_runners, served_photos
from gateway.export.triton_config import built_cpu_runner
from gateway.models.registry import triton_models
from gateway.models.spec import CpuRunner, TritonModelSpec
from gateway.quality import trials
from gateway.quality.text_trials import TextTrial, everyday_queries, query_ids, text_trial
from gateway.quality.trials import RetrievalPhotos, copy_photos, retrieval_photos

BATCH = 32  # the issue's measurements and the specs' largest preferred batch
TINY_TRANSFORMS = ("crop_70", "jpeg_q20", "hflip")
REFERENCE = CpuRunner("tensorflow", "fp32")
TRIAL_OWN = ("runtime", "precision", "images_per_s")  # a row keeps its own speed on `batch`


def variants(flags: frozenset[str]) -> list[CpuRunner]:
    """The reference first, then every runtime at every precision this CPU offers."""
    return [REFERENCE, *offered_runners(("onnxruntime", "openvino"), flags)]


def run(ctx: Context) -> dict[str, Any]:
    flags = cpu_runtimes.cpu_flags()
    specs = triton_models(["efficientnet_lite0"] if ctx.tiny else get_settings().models.enabled)
    speed_rows = BATCH * (1 if ctx.tiny else 2)
    # A tiny run's photos: 2 labeled per class, 4 originals, TINY_TRANSFORMS of them.
    subset = (2, 4, TINY_TRANSFORMS) if ctx.tiny else (None, None, None)
    table: dict[str, dict[str, Any]] = {}
    for spec in specs:
        real = ctx.weights.get(spec.name, "random").startswith("pretrained")
        image = spec.is_image_model
        photos = (retrieval_photos(spec, *subset) if real else copy_photos(spec)) if image else None
        texts = (everyday_queries() * speed_rows)[:speed_rows]  # at the longest one's length
        batch = (photos.labeled if real else photos.copies) if photos else query_ids(texts)
        tower = image_tower(spec)  # a text tower's queries rank the photos as it serves them
        ranked = (served_photos(tower, ctx.stack.repository / tower.name), real) if tower else None
        table[spec.name] = _model_rows(ctx, spec, batch[:speed_rows], photos or ranked)
    choices = {name: _choice(rows) for name, rows in table.items()}
    # What the stack serves: the registry's runner, or the build's measured choice.
    defaults = {s.name: built_cpu_runner(ctx.stack.repository / s.name) for s in specs}
    reduced = {n: r for n, r in defaults.items() if r.precision != "fp32"}
    kept = all(table[n][_key(r)].get("keeps_rankings") is True for n, r in reduced.items())
    results = {
        "cpu_flags_deciding": sorted(flags & (cpu_runtimes.BF16_FLAGS | cpu_runtimes.INT8_FLAGS)),
        "batch": BATCH,
        "rows_timed": speed_rows,
        "models": table,
        "measured_choice": {n: _key(c) for n, c in choices.items()},
        "build_default": {n: _key(r) for n, r in defaults.items()},
        "stay_fp32": sorted(n for n, r in defaults.items() if r.precision == "fp32"),
    }
    name = "reduced-precision defaults keep the rankings (random weights: copy R@1 alone)"
    limit = "" if kept else "a reduced-precision default changes the rankings"
    shown = ", ".join(f"{n} {_key(r)}" for n, r in reduced.items()) or "none reduced"
    targets = [target(name, f"within {trials.MAX_METRIC_CHANGE}", float(kept), kept, limit, shown)]
    write_result(ctx, "precision", results, targets, _plot(table))
    return results


def _key(runner: CpuRunner) -> str:
    return f"{runner.runtime}:{runner.precision}"


def _model_rows(
    ctx: Context,
    spec: TritonModelSpec,
    batch: np.ndarray,
    photos: RetrievalPhotos | tuple[trials.Embeddings, bool] | None,
) -> dict[str, dict[str, Any]]:
    """Every variant's speed on `batch` and cosine to the reference on it, and the build's
    trial: an image model's on `photos` (its worst cosine covers them all), a text tower's
    queries ranking the photos its image tower serves (`photos`: those, real weights)."""
    version_dir = ctx.stack.repository / spec.name / "1"
    # The run's own int8 file, so the repository the stack serves stays as it was built.
    int8_dir = ctx.workdir / "int8" / spec.name
    quantize_s: float | None = None
    rows: dict[str, dict[str, Any]] = {}
    reference: np.ndarray | None = None
    trial_reference: tuple[trials.Trial, trials.Embeddings] | None = None
    text_ref: tuple[TextTrial, trials.Embeddings] | None = None
    for runner in variants(cpu_runtimes.cpu_flags()):
        ctx.log(f"precision: {spec.name} with {_key(runner)}")
        if runner.precision == "int8" and quantize_s is None:
            started = time.perf_counter()
            export_int8(version_dir / "model.onnx", spec, int8_dir)
            quantize_s = time.perf_counter() - started
        folder = int8_dir if runner.precision == "int8" else version_dir
        run = cpu_runtimes.load_runner(
            runner.runtime, runner.precision, folder, spec.input.name, spec.output.name
        )
        run(batch[:BATCH])  # warm: graph tracing, kernel choice
        started = time.perf_counter()
        out = trials.embed_all(run, batch)
        row: dict[str, Any] = {"images_per_s": len(batch) / (time.perf_counter() - started)}
        reference = out if reference is None else reference
        cosines = np.sum(trials.unit_rows(out) * trials.unit_rows(reference), axis=1)
        row |= {"min_cosine": float(cosines.min()), "mean_cosine": float(cosines.mean())}
        if runner.precision == "int8":
            row["quantize_s"] = quantize_s
        if isinstance(photos, RetrievalPhotos):
            # The build's own check (quality/trials.py), against the TensorFlow fp32 reference.
            result, labeled = trials.trial(runner, run, photos, trial_reference)
            trial_reference = trial_reference or (result, labeled)
            judged = {k: v for k, v in asdict(result).items() if k not in TRIAL_OWN}
            row |= judged | {"cosine_photos": len(labeled)}
        elif photos is not None:  # a text tower's (text_trials.py): the queries' results
            text, texts = text_trial(runner, run, query_ids(everyday_queries()), *photos, text_ref)
            text_ref = text_ref or (text, texts)
            kept = {"neighbour_overlap": text.query_overlap, "keeps_rankings": text.keeps_rankings}
            row |= kept | {"one_at_a_time_per_s": text.queries_per_s}  # as the build times it
        rows[_key(runner)] = row
    return rows


def _choice(rows: dict[str, dict[str, Any]]) -> CpuRunner:
    """The fastest variant that keeps the rankings (the reference always does)."""
    allowed = [key for key, row in rows.items() if row.get("keeps_rankings")]
    best = max(allowed, key=lambda k: rows[k].get("one_at_a_time_per_s", rows[k]["images_per_s"]))
    runtime, precision = best.split(":")
    return CpuRunner(cpu_runtimes.parse_runtime(runtime), cpu_runtimes.parse_precision(precision))


def _plot(table: dict[str, dict[str, Any]]) -> Any:
    fig, [[ax]] = figure(1, 1, width=9)
    keys = list(next(iter(table.values())))
    rates = {k: [rows.get(k, {}).get("images_per_s", 0) for rows in table.values()] for k in keys}
    bars(ax, list(table), rates, fontsize=7)
    ax.set(ylabel=f"images/s (batch {BATCH}, in-process)", title="CPU runtimes and precisions")
    return fig
