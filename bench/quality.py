"""Search quality per model, and where `cutoff=auto` should cut it; both on real photos.

`quality`, as `pic-search eval --labeled` measures it: copy detection on the bundled photos
(recall@1, mAP per edit), labeled retrieval (P@5, mAP), word search through auto-tags (CLIP's
text tower beside it), and each model's images/s through Triton.

`cutoff`: every labeled image queries the others; gateway/quality/cutoff.py chooses each model's
threshold (none for random weights). cutoff.json is the rules' source: `pic-search models build`
writes a threshold for weights of the fingerprint it was chosen for (export/cutoff_rules.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common import Context, bars, figure, run_async, target, write_result
from gateway.clients.triton import TritonClient
from gateway.config import LimitSettings, TritonSettings, get_settings
from gateway.models.clip_tokenizer import ClipTokenizer
from gateway.models.registry import search_models
from gateway.models.spec import SearchModel, is_random
from gateway.quality.copy_detection import TRANSFORMS, evaluate_served
from gateway.quality.cutoff import choose_cutoff
from gateway.quality.labeled import evaluate_labeled, prepared_inputs, scores_as_dict
from gateway.quality.labeled_set import labeled_images
from gateway.quality.samples import sample_photos
from gateway.quality.tag_quality import EVERYDAY_WORDS, tag_search_quality

Labeled = dict[str, dict[str, bytes]]
TOP_K = 10  # the cutoff's results per query


def _triton(ctx: Context) -> TritonClient:
    return TritonClient(TritonSettings(url=ctx.stack.triton_grpc, timeout_s=600))


@run_async
async def run_quality(ctx: Context) -> dict[str, Any]:
    photos, transforms = sample_photos(), TRANSFORMS
    if ctx.tiny:
        photos = dict(list(photos.items())[:4])
        transforms = tuple(t for t in TRANSFORMS if t.name in ("crop_70", "jpeg_q20", "hflip"))
    models = search_models(get_settings().models.enabled)
    specs = [m.image_model for m in models]
    labeled = labeled_images(per_class=2 if ctx.tiny else None)
    ctx.log(f"quality: {len(photos)} originals x {len(transforms)} edits; labeled set of "
            f"{sum(len(v) for v in labeled.values())} photos")  # fmt: skip
    client = _triton(ctx)
    try:
        report = await evaluate_served(photos, client, specs, transforms)
        labeled_scores = await evaluate_labeled(labeled, client.embed, specs)
        tags = await _tag_search(client, labeled, models)
    finally:
        await client.close()
    results = report.as_dict()
    results["labeled"] = scores_as_dict(labeled_scores)
    if tags is not None:
        results["tags"] = tags
    results["mean_over_edits"] = {
        m: {k: float(np.mean([getattr(s, k) for s in v])) for k in ("recall_at_1", "mean_ap")}
        for m, v in report.scores.items()
    }
    results["per_model"] = {
        m.name: {
            "triton_model": (tower := m.image_model.name),
            "dimension": m.dim,
            "images_per_s": report.images_per_s[tower],
            "copy_detection_recall_at_1": results["mean_over_edits"][tower]["recall_at_1"],
            "labeled_precision_at_5": results["labeled"][tower]["precision_at_k"],
            "labeled_map": results["labeled"][tower]["mean_ap"],
            "weights": report.weights[tower],
        }
        for m in models
    }
    if report.note:
        results["findings"] = [report.note]
    random = " (random weights)" if report.random_weights else ""
    results["headline"] = "; ".join(
        f"{m}: mean R@1 {v['recall_at_1']:.2f}, mAP {v['mean_ap']:.2f}"
        for m, v in results["mean_over_edits"].items()
    ) + random + "; labeled P@5: " + ", ".join(
        f"{s.model} {s.precision_at_k:.2f}" for s in labeled_scores
    )  # fmt: skip
    if tags is not None:
        results["headline"] += (
            f"; tag search P@5 {tags['precision_at_5']:.2f} over {tags['queries']} words "
            f"({tags['with_tag']['precision_at_5']:.2f} for the "
            f"{tags['queries'] - len(tags['words_without_tag'])} with a tag)"
        )
        if "clip_text" in tags:
            results["headline"] += f", CLIP text P@5 {tags['clip_text']['precision_at_5']:.2f}"
    fig, [[ax]] = figure(1, 1, width=8)
    series = {f"{m} mAP": [s.mean_ap for s in scores] for m, scores in report.scores.items()}
    bars(ax, [t.name for t in transforms], series, rotation=45, ha="right", fontsize=7)
    ax.set(ylim=(0, 1.05), title=f"copy detection, {report.images} originals{random}")
    write_result(ctx, "quality", results, [], fig)
    return results


async def _tag_search(
    client: TritonClient, labeled: Labeled, models: list[SearchModel]
) -> dict[str, Any] | None:
    """Word search through auto-tags on the labeled set, CLIP's text tower on the same words."""
    # Declared and served (a head is served only with a real classifier's weights).
    heads = [m for m in models if m.label_head and (await client.serving(m.image_model)).labels]
    if not heads:
        return None
    clip = next((m for m in models if m.text_model is not None), None)
    ranker = None
    if clip is not None and clip.text_model is not None:
        text_spec = clip.text_model
        wanted = {k: v for k, v in labeled.items() if k in EVERYDAY_WORDS}
        inputs, _, _ = prepared_inputs(wanted, [clip.image_model], LimitSettings())
        images = await client.embed(clip.image_model, inputs[clip.image_model.name])
        tokenizer = ClipTokenizer.from_package()

        async def ranker(word: str) -> npt.NDArray[np.float32]:
            ids = tokenizer.tokenize([f"a photo of {word}"], trim=True)
            return np.asarray(images @ (await client.embed(text_spec, ids))[0], np.float32)

    head = max(heads, key=lambda m: m.quality_rank)
    return await tag_search_quality(labeled, client.embed_with_labels, head.image_model, ranker)


@run_async
async def run_cutoff(ctx: Context) -> dict[str, Any]:
    classes = labeled_images(per_class=3 if ctx.tiny else None)
    ctx.log(f"cutoff: {sum(map(len, classes.values()))} labeled photos in {len(classes)} classes")
    models = search_models(get_settings().models.enabled)
    # Prepared as the gateway prepares uploads (as `pic-search eval --labeled` does).
    inputs, labels, _ = prepared_inputs(classes, [m.image_model for m in models], LimitSettings())
    client = _triton(ctx)
    try:
        vectors = {m: await client.embed(m.image_model, inputs[m.image_model.name]) for m in models}
        provenance = {m: await client.provenance(m.image_model) for m in models}
    finally:
        await client.close()
    per_model: dict[str, Any] = {}
    for model, v in vectors.items():
        rule, random = choose_cutoff(v, labels, TOP_K), is_random(provenance[model])
        per_model[model.name] = rule | {
            "fingerprint": f"{model.image_model.name}@{provenance[model]}",
            "random_weights": random,
            "threshold": None if random else rule["threshold"],
            "best_threshold_found": rule["threshold"],
            "note": "random weights: no meaningful cutoff exists" if random else "",
        }
    results = {"images": len(labels), "classes": len(classes), "top_k": TOP_K,
               "models": per_model}  # fmt: skip
    targets = [_cutoff_target(n, m) for n, m in per_model.items() if not m["random_weights"]]
    fig, [[ax]] = figure()
    names = list(per_model)
    shown = {k: [per_model[n]["held_out"][k] for n in names] for k in ("precision", "recall")}
    xs = bars(
        ax, [n + (" (random)" if per_model[n]["random_weights"] else "") for n in names], shown
    )
    ax.plot(xs, [per_model[n]["no_cutoff"]["precision"] for n in names], "k_", ms=30,
            label="precision, no cutoff")  # fmt: skip
    ax.set(ylim=(0, 1.05), title=f"cutoff=auto on {len(labels)} labeled photos (top {TOP_K})")
    ax.legend(fontsize=7)
    write_result(ctx, "cutoff", results, targets, fig)
    return results


def _cutoff_target(name: str, m: dict[str, Any]) -> dict[str, Any]:
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
