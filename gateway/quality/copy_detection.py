"""Copy detection: how reliably each model finds a picture's original from an edited copy.

Every original and every edited copy (crops, scales, JPEG quality, flips, brightness,
rotations) goes through the gateway's own `prepare_image` and is embedded by Triton; each
copy then ranks all originals by exact cosine similarity. Per edit and model we report
recall@1 (the original ranks first) and mAP (with one relevant original per query, the
mean of 1 / its rank).
"""

from __future__ import annotations

import io
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageEnhance, ImageOps

from gateway.clients.base import Embedder
from gateway.config import LimitSettings
from gateway.errors import PicSearchError
from gateway.models.spec import TritonModelSpec, is_random
from gateway.preprocess import prepare_image, to_rgb

Embed = Callable[[TritonModelSpec, npt.NDArray[np.uint8]], Awaitable[npt.NDArray[np.float32]]]
RANDOM_WEIGHTS_NOTE = (
    "These models hold seeded random weights: the numbers only measure near-duplicate "
    "robustness (how stable an embedding stays under each edit), not semantic quality."
)


@dataclass(frozen=True)
class Transform:
    name: str
    family: str
    apply: Callable[[Image.Image], Image.Image]
    jpeg_quality: int = 95  # how the copy is saved


def _crop(keep: float, anchor: float = 0.5) -> Callable[[Image.Image], Image.Image]:
    """Keeps `keep` of each side; `anchor` 0.5 centres the window, 0 puts it top-left."""

    def apply(img: Image.Image) -> Image.Image:
        w, h = img.size
        cw, ch = max(8, round(w * keep)), max(8, round(h * keep))
        left, top = round((w - cw) * anchor), round((h - ch) * anchor)
        return img.crop((left, top, left + cw, top + ch))

    return apply


def _scale(factor: float) -> Callable[[Image.Image], Image.Image]:
    def apply(img: Image.Image) -> Image.Image:
        size = (max(8, round(img.width * factor)), max(8, round(img.height * factor)))
        return img.resize(size, Image.Resampling.BICUBIC)

    return apply


def _brightness(factor: float) -> Callable[[Image.Image], Image.Image]:
    return lambda img: ImageEnhance.Brightness(img).enhance(factor)


def _rotate(degrees: float) -> Callable[[Image.Image], Image.Image]:
    # Expanded canvas, black corners: what a rotated scan or screenshot looks like.
    return lambda img: img.rotate(degrees, Image.Resampling.BICUBIC, expand=True)


TRANSFORMS: tuple[Transform, ...] = (
    Transform("crop_90", "crop", _crop(0.9)),
    Transform("crop_70", "crop", _crop(0.7)),
    Transform("crop_50_corner", "crop", _crop(0.5, anchor=0.0)),
    Transform("scale_50", "scale", _scale(0.5)),
    Transform("scale_25", "scale", _scale(0.25)),
    Transform("jpeg_q50", "jpeg", lambda img: img, jpeg_quality=50),
    Transform("jpeg_q20", "jpeg", lambda img: img, jpeg_quality=20),
    Transform("jpeg_q10", "jpeg", lambda img: img, jpeg_quality=10),
    Transform("hflip", "flip", ImageOps.mirror),
    Transform("brightness_70", "brightness", _brightness(0.7)),
    Transform("brightness_140", "brightness", _brightness(1.4)),
    Transform("rotate_5", "rotation", _rotate(5)),
    Transform("rotate_15", "rotation", _rotate(15)),
    Transform("rotate_90", "rotation", _rotate(90)),
)


@dataclass(frozen=True)
class Score:
    transform: str
    family: str
    recall_at_1: float
    mean_ap: float
    queries: int


@dataclass
class Report:
    images: int
    scores: dict[str, list[Score]]  # Triton model -> one score per transform
    weights: dict[str, str] = field(default_factory=dict)  # Triton model -> provenance
    skipped: list[str] = field(default_factory=list)  # originals that are not usable images
    # Triton model -> images embedded per second in the evaluation's one big batch.
    images_per_s: dict[str, float] = field(default_factory=dict)

    @property
    def random_weights(self) -> bool:
        return any(is_random(w) for w in self.weights.values())

    @property
    def note(self) -> str:
        return RANDOM_WEIGHTS_NOTE if self.random_weights else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "weights": self.weights,
            "random_weights": self.random_weights,
            "note": self.note,
            "skipped": self.skipped,
            "images_per_s": self.images_per_s,
            "scores": {m: [asdict(s) for s in scores] for m, scores in self.scores.items()},
        }


def transformed_copy(rgb: Image.Image, transform: Transform) -> bytes:
    buffer = io.BytesIO()
    transform.apply(rgb).convert("RGB").save(buffer, "JPEG", quality=transform.jpeg_quality)
    return buffer.getvalue()


def rank_metrics(
    queries: npt.NDArray[np.float32], originals: npt.NDArray[np.float32]
) -> tuple[float, float]:
    """Query i's only relevant item is original i. Returns (recall@1, mAP) under exact
    cosine similarity; ties count against the query (the original ranks after them)."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    o = originals / np.linalg.norm(originals, axis=1, keepdims=True)
    sims = q @ o.T
    own = np.diag(sims)
    others = sims.copy()
    np.fill_diagonal(others, -np.inf)
    ranks = 1 + (others >= own[:, None]).sum(axis=1)
    return float(np.mean(ranks == 1)), float(np.mean(1.0 / ranks))


async def evaluate(
    originals: dict[str, bytes],
    embed: Embed,
    specs: Sequence[TritonModelSpec],
    transforms: Sequence[Transform] = TRANSFORMS,
    limits: LimitSettings | None = None,
) -> Report:
    """Scores every model in `specs` on every transform; `embed` is Triton (or a stand-in)."""
    names, inputs, skipped = _copy_inputs(originals, specs, transforms, limits or LimitSettings())
    count = len(names)
    scores: dict[str, list[Score]] = {}
    rates: dict[str, float] = {}
    for spec in specs:
        started = time.perf_counter()
        vectors = await embed(spec, np.stack(inputs[spec.name]))
        rates[spec.name] = len(vectors) / (time.perf_counter() - started)
        base = vectors[:count]
        scores[spec.name] = []
        for t, transform in enumerate(transforms):
            queries = vectors[count * (t + 1) : count * (t + 2)]
            recall, mean_ap = rank_metrics(queries, base)
            scores[spec.name].append(
                Score(transform.name, transform.family, recall, mean_ap, count)
            )
    return Report(images=count, scores=scores, skipped=skipped, images_per_s=rates)


def copy_detection_inputs(
    originals: dict[str, bytes], spec: TritonModelSpec, transforms: Sequence[Transform] = TRANSFORMS
) -> tuple[npt.NDArray[np.uint8], int]:
    """One model's inputs for `evaluate`'s photos: the originals, then a block of copies per
    transform; and how many originals there are."""
    names, inputs, _ = _copy_inputs(originals, [spec], transforms, LimitSettings())
    return np.stack(inputs[spec.name]), len(names)


def copy_recall_at_1(vectors: npt.NDArray[np.float32], originals: int) -> float:
    """Mean over the transforms of copy-detection R@1, for `copy_detection_inputs`' rows."""
    base, blocks = vectors[:originals], len(vectors) // originals - 1
    copies = (vectors[originals * (b + 1) : originals * (b + 2)] for b in range(blocks))
    return float(np.mean([rank_metrics(queries, base)[0] for queries in copies]))


def _copy_inputs(
    originals: dict[str, bytes],
    specs: Sequence[TritonModelSpec],
    transforms: Sequence[Transform],
    limits: LimitSettings,
) -> tuple[list[str], dict[str, list[npt.NDArray[np.uint8]]], list[str]]:
    """The usable originals' names, every model's inputs (originals, then one block of copies
    per transform), and the originals that are not usable images."""
    names, pictures, skipped = [], [], []
    for name, data in originals.items():
        try:
            prepared = prepare_image(data, specs, limits)
            with Image.open(io.BytesIO(data)) as img:
                rgb = to_rgb(ImageOps.exif_transpose(img) or img)
        except (PicSearchError, OSError) as exc:
            skipped.append(f"{name}: {exc}")
            continue
        names.append(name)
        pictures.append((prepared, rgb))
    if len(names) < 2:
        raise ValueError("copy detection needs at least two usable originals")

    inputs: dict[str, list[npt.NDArray[np.uint8]]] = {s.name: [] for s in specs}
    for prepared, _ in pictures:
        for spec in specs:
            inputs[spec.name].append(prepared.inputs[spec.name])
    for transform in transforms:
        for _, rgb in pictures:
            # A copy is a query: prepared as search prepares it (no thumbnail to make).
            copy = prepare_image(transformed_copy(rgb, transform), specs, limits, thumbnail=False)
            for spec in specs:
                inputs[spec.name].append(copy.inputs[spec.name])

    return names, inputs, skipped


async def evaluate_served(
    originals: dict[str, bytes],
    embedder: Embedder,
    specs: Sequence[TritonModelSpec],
    transforms: Sequence[Transform] = TRANSFORMS,
) -> Report:
    """`evaluate` on a served model set, recording each model's weights provenance."""
    report = await evaluate(originals, embedder.embed, specs, transforms=transforms)
    report.weights = {spec.name: await embedder.provenance(spec) for spec in specs}
    return report
