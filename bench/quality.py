"""Search quality per model, as `pic-search eval --labeled` measures it: copy detection on
the bundled photos (recall@1 and mAP per edit) and labeled retrieval (P@5, mAP) on the
labeled set assembled from installed packages; plus each model's images/s through Triton."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common import Context, figure, write_result
from gateway.clients.triton import TritonClient
from gateway.config import LimitSettings, TritonSettings, get_settings
from gateway.models.clip_tokenizer import ClipTokenizer
from gateway.models.registry import search_models
from gateway.models.spec import SearchModel, TritonModelSpec
from gateway.quality.copy_detection import TRANSFORMS, Report, Transform, evaluate_served
from gateway.quality.labeled import LabeledScore, evaluate_labeled, prepared_inputs, scores_as_dict
from gateway.quality.labeled_set import labeled_images
from gateway.quality.samples import sample_photos
from gateway.quality.tag_quality import EVERYDAY_WORDS, tag_search_quality


def run(ctx: Context) -> dict[str, Any]:
    photos = sample_photos()
    transforms = TRANSFORMS
    if ctx.tiny:
        photos = dict(list(photos.items())[:4])
        transforms = tuple(t for t in TRANSFORMS if t.name in ("crop_70", "jpeg_q20", "hflip"))
    ctx.log(f"quality: {len(photos)} originals x {len(transforms)} edits")
    settings = TritonSettings(url=ctx.stack.triton_grpc, timeout_s=600)
    models = search_models(get_settings().models.enabled)
    specs = [m.image_model for m in models]
    labeled = labeled_images(per_class=2 if ctx.tiny else None)
    ctx.log(f"quality: labeled set of {sum(len(v) for v in labeled.values())} photos")
    report, labeled_scores = asyncio.run(_evaluate(photos, transforms, labeled, settings, specs))
    results = report.as_dict()
    results["labeled"] = scores_as_dict(labeled_scores)
    tags = asyncio.run(_tag_search(labeled, settings, models))
    if tags is not None:
        results["tags"] = tags
    results["per_model"] = {
        m.name: {
            "triton_model": m.image_model.name,
            "dimension": m.dim,
            "images_per_s": report.images_per_s[m.image_model.name],
            "copy_detection_recall_at_1": float(
                np.mean([s.recall_at_1 for s in report.scores[m.image_model.name]])
            ),
            "labeled_precision_at_5": results["labeled"][m.image_model.name]["precision_at_k"],
            "labeled_map": results["labeled"][m.image_model.name]["mean_ap"],
            "weights": report.weights[m.image_model.name],
        }
        for m in models
    }
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
    results["headline"] += "; labeled P@5: " + ", ".join(
        f"{s.model} {s.precision_at_k:.2f}" for s in labeled_scores
    )
    if tags is not None:
        results["headline"] += (
            f"; tag search P@5 {tags['precision_at_5']:.2f} over {tags['queries']} words "
            f"({tags['with_tag']['precision_at_5']:.2f} for the "
            f"{tags['queries'] - len(tags['words_without_tag'])} with a tag)"
        )
        if "clip_text" in tags:
            results["headline"] += f", CLIP text P@5 {tags['clip_text']['precision_at_5']:.2f}"
    write_result(ctx, "quality", results, [], fig)
    return results


async def _tag_search(
    labeled: dict[str, dict[str, bytes]], settings: TritonSettings, models: list[SearchModel]
) -> dict[str, Any] | None:
    """Word search through auto-tags on the labeled set (gateway/quality/tag_quality.py),
    with CLIP's text tower on the same words for comparison."""
    heads = [m for m in models if m.label_head]
    if not heads:
        return None
    client = TritonClient(settings)
    try:
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
                vector = (await client.embed(text_spec, ids))[0]
                return np.asarray(images @ vector, np.float32)

        head = max(heads, key=lambda m: m.quality_rank)
        return await tag_search_quality(labeled, client.embed_with_labels, head.image_model, ranker)
    finally:
        await client.close()


async def _evaluate(
    photos: dict[str, bytes],
    transforms: tuple[Transform, ...],
    labeled: dict[str, dict[str, bytes]],
    settings: TritonSettings,
    specs: list[TritonModelSpec],
) -> tuple[Report, list[LabeledScore]]:
    client = TritonClient(settings)
    try:
        report = await evaluate_served(photos, client, specs, transforms)
        return report, await evaluate_labeled(labeled, client.embed, specs, k=5)
    finally:
        await client.close()
