"""Choosing `cutoff=auto`: a score threshold per model, on a labeled set of real photos.

Every image of the labeled set (`gateway.quality.labeled_set`: tiles of real photographs, and LFW
faces and non-faces) queries all the others; a result is relevant when it shares the query's
class. For each model the threshold that maximises F1 over the top 10 results is chosen on
half of the queries (even positions) and its precision and recall are reported on the other
half, beside the no-cutoff baseline: precision = relevant results kept / results kept,
recall = relevant results kept / relevant results in the top 10. Weights that are random
get no rule (their scores carry no meaning). The result file, bench/results/cutoff.json, is
the rules' source: `pic-search models build` writes each model's threshold into its Triton
config when the weights it builds have the fingerprint (Triton model @ weights provenance)
the threshold was chosen for (gateway/export/cutoff_rules.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common import Context, figure, target, write_result
from gateway.clients.triton import TritonClient
from gateway.config import LimitSettings, TritonSettings, get_settings
from gateway.models.registry import search_models
from gateway.models.spec import SearchModel, is_random
from gateway.quality.labeled import prepared_inputs
from gateway.quality.labeled_set import labeled_images

TOP_K = 10
GRID = np.round(np.arange(-1.0, 1.0001, 0.0025), 4)


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    kept: float  # mean results kept per query

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


async def _embed_all(
    url: str, classes: dict[str, dict[str, bytes]]
) -> tuple[dict[SearchModel, Any], list[str]]:
    """Every enabled model's vectors of the labeled photos with its weights provenance, and
    the photos' labels; prepared as `pic-search eval --labeled` prepares them."""
    models = search_models(get_settings().models.enabled)
    specs = [model.image_model for model in models]
    inputs, labels, _ = prepared_inputs(classes, specs, LimitSettings())
    triton = TritonClient(TritonSettings(url=url, timeout_s=600))
    try:
        embedded = {
            model: (
                await triton.embed(model.image_model, inputs[model.image_model.name]),
                await triton.provenance(model.image_model),
            )
            for model in models
        }
    finally:
        await triton.close()
    return embedded, labels


def _top_k(vectors: npt.NDArray[np.float32], labels: list[str]) -> tuple[Any, Any]:
    """Per query: the top-k scores (itself left out) and whether each is relevant."""
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, -np.inf)
    order = np.argsort(-scores, axis=1)[:, :TOP_K]
    top = np.take_along_axis(scores, order, axis=1)
    classes = np.asarray(labels)
    relevant = classes[order] == classes[:, None]
    return top, relevant


def _quality(top: Any, relevant: Any, threshold: float) -> Quality:
    kept = top >= threshold
    kept_n = kept.sum()
    precision = float((kept & relevant).sum() / kept_n) if kept_n else 1.0
    recall = float((kept & relevant).sum() / max(relevant.sum(), 1))
    return Quality(precision, recall, float(kept.sum(axis=1).mean()))


def _choose(top: Any, relevant: Any) -> tuple[float, Quality, Quality, Quality]:
    """The best-F1 threshold on even queries; its quality and the baseline on odd ones."""
    fit, held = slice(0, None, 2), slice(1, None, 2)
    best = max(GRID, key=lambda t: _quality(top[fit], relevant[fit], float(t)).f1)
    return (
        float(best),
        _quality(top[fit], relevant[fit], float(best)),
        _quality(top[held], relevant[held], float(best)),
        _quality(top[held], relevant[held], -1.0),
    )


def run(ctx: Context) -> dict[str, Any]:
    classes = labeled_images(per_class=3 if ctx.tiny else None)
    ctx.log(f"cutoff: {sum(map(len, classes.values()))} labeled photos in {len(classes)} classes")
    embedded, labels = asyncio.run(_embed_all(ctx.stack.triton_grpc, classes))
    per_model: dict[str, Any] = {}
    for model, (vectors, provenance) in embedded.items():
        top, relevant = _top_k(vectors, labels)
        threshold, fit, held, baseline = _choose(top, relevant)
        random = is_random(provenance)
        fingerprint = f"{model.image_model.name}@{provenance}"
        per_model[model.name] = {
            "fingerprint": fingerprint,
            "random_weights": random,
            "threshold": None if random else threshold,
            "best_threshold_found": threshold,
            "chosen_on": {"precision": fit.precision, "recall": fit.recall},
            "held_out": {"precision": held.precision, "recall": held.recall,
                         "kept_per_query": held.kept},
            "no_cutoff": {"precision": baseline.precision, "recall": baseline.recall},
            "note": "random weights: no meaningful cutoff exists" if random else "",
        }  # fmt: skip
    results = {"images": len(labels), "classes": len(classes), "top_k": TOP_K,
               "models": per_model}  # fmt: skip
    real = {n: m for n, m in per_model.items() if not m["random_weights"]}
    targets = [_target(name, m) for name, m in real.items()]
    fig, axes = figure(cols=1)
    ax = axes[0][0]
    names = list(per_model)
    xs = np.arange(len(names))
    ax.bar(xs - 0.2, [per_model[n]["held_out"]["precision"] for n in names], 0.4, label="precision")
    ax.bar(xs + 0.2, [per_model[n]["held_out"]["recall"] for n in names], 0.4, label="recall")
    ax.plot(xs, [per_model[n]["no_cutoff"]["precision"] for n in names], "k_", ms=30,
            label="precision, no cutoff")  # fmt: skip
    ax.set_xticks(xs, [n + (" (random)" if per_model[n]["random_weights"] else "") for n in names])
    ax.set(ylim=(0, 1.05), title=f"cutoff=auto on {len(labels)} labeled photos (top {TOP_K})")
    ax.legend(fontsize=7)
    write_result(ctx, "cutoff", results, targets, fig)
    return results


def _target(name: str, m: dict[str, Any]) -> dict[str, Any]:
    held, base = m["held_out"], m["no_cutoff"]
    return target(
        f"{name} cutoff precision",
        "above the no-cutoff precision",
        held["precision"],
        held["precision"] > base["precision"],
        limit="the labeled set's classes are tiles of one photograph and LFW faces vs "
        "non-faces: where the model's scores do not separate them, no threshold helps",
        display=f"P {held['precision']:.2f} R {held['recall']:.2f} at {m['threshold']:.3f} "
        f"(no cutoff: P {base['precision']:.2f})",
    )
