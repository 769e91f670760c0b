"""Copy-detection quality on the bundled photos (`gateway.services.evaluation`, which
`pic-search eval` runs too): recall@1 and mAP per edit and per model."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from bench.common import Context, figure, write_result
from gateway.config import TritonSettings, get_settings
from gateway.models.registry import search_models
from gateway.samples import sample_photos
from gateway.services.evaluation import TRANSFORMS, evaluate_with_triton


def run(ctx: Context) -> dict[str, Any]:
    photos = sample_photos()
    transforms = TRANSFORMS
    if ctx.tiny:
        photos = dict(list(photos.items())[:4])
        transforms = tuple(t for t in TRANSFORMS if t.name in ("crop_70", "jpeg_q20", "hflip"))
    ctx.log(f"quality: {len(photos)} originals x {len(transforms)} edits")
    settings = TritonSettings(url=ctx.stack.triton_grpc, timeout_s=600)
    specs = [m.image_model for m in search_models(get_settings().models.enabled)]
    report = asyncio.run(evaluate_with_triton(photos, settings, specs, transforms))
    results = report.as_dict()
    results["mean_over_edits"] = {
        model: {
            "recall_at_1": float(np.mean([s.recall_at_1 for s in scores])),
            "mean_ap": float(np.mean([s.mean_ap for s in scores])),
        }
        for model, scores in report.scores.items()
    }
    if report.note:
        results["findings"] = [report.note]
    fig, axes = figure(1, 1, width=8, height=3.6)
    ax = axes[0][0]
    names = [t.name for t in transforms]
    width = 0.8 / max(len(report.scores), 1)
    for i, (model, scores) in enumerate(report.scores.items()):
        xs = np.arange(len(names)) + i * width
        ax.bar(xs, [s.mean_ap for s in scores], width, label=f"{model} mAP")
    ax.set_xticks(
        np.arange(len(names)) + width * (len(report.scores) - 1) / 2,
        names,
        rotation=45,
        ha="right",
        fontsize=7,
    )
    ax.set_ylim(0, 1.05)
    ax.set_title(
        f"copy detection, {report.images} originals"
        + (" (random weights)" if report.random_weights else "")
    )
    ax.legend(fontsize=7)
    results["headline"] = "; ".join(
        f"{m}: mean R@1 {v['recall_at_1']:.2f}, mAP {v['mean_ap']:.2f}"
        for m, v in results["mean_over_edits"].items()
    ) + (" (random weights)" if report.random_weights else "")
    write_result(ctx, "quality", results, [], fig)
    return results
