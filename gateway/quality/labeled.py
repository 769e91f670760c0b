"""Labeled retrieval quality: does a model rank pictures of the same class first?

Every image of a folder of class subfolders queries all the others (leave-one-out) by exact
cosine similarity; the relevant ones are those of its own class. Per model: precision@k
(the share of the k nearest that are of the query's class) and mAP (mean average precision
over the full ranking), averaged over all queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.config import LimitSettings
from gateway.errors import PicSearchError
from gateway.models.spec import TritonModelSpec
from gateway.preprocess import prepare_image
from gateway.quality.copy_detection import Embed

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


@dataclass(frozen=True)
class LabeledScore:
    model: str
    k: int
    precision_at_k: float
    mean_ap: float
    queries: int
    classes: int


def read_labeled_folder(folder: Path) -> dict[str, dict[str, bytes]]:
    """`folder/<class>/<image>` -> class -> {relative name: bytes}."""
    classes: dict[str, dict[str, bytes]] = {}
    for directory in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            classes[directory.name] = {str(p.relative_to(folder)): p.read_bytes() for p in files}
    if len(classes) < 2:
        raise ValueError(f"{folder} needs at least two class subfolders holding images")
    return classes


def retrieval_metrics(
    vectors: npt.NDArray[np.float32], labels: Sequence[str], k: int
) -> tuple[float, float]:
    """(precision@k, mAP), leave-one-out; a query with no other member of its class is
    left out. Ties rank in index order (numpy's stable sort)."""
    orders = neighbour_order(vectors)
    names = np.asarray(labels)
    precisions, aps = [], []
    for i in range(len(names)):
        relevant = names == names[i]
        relevant[i] = False
        if not relevant.any():
            continue
        hits = relevant[orders[i, : len(names) - 1]]
        precisions.append(hits[:k].mean())
        ranks = np.flatnonzero(hits) + 1
        aps.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)))
    return float(np.mean(precisions)), float(np.mean(aps))


def neighbour_order(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.intp]:
    """Each row's others by cosine similarity, most similar first (itself last); ties in
    index order (numpy's stable sort)."""
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")


def prepared_inputs(
    classes: dict[str, dict[str, bytes]], specs: Sequence[TritonModelSpec], limits: LimitSettings
) -> tuple[dict[str, npt.NDArray[np.uint8]], list[str], list[str]]:
    """Model inputs as the gateway prepares uploads, the labels, and the unusable files."""
    inputs: dict[str, list[npt.NDArray[np.uint8]]] = {s.name: [] for s in specs}
    labels, skipped = [], []
    for label, images in classes.items():
        for name, data in images.items():
            try:
                prepared = prepare_image(data, specs, limits)
            except PicSearchError as exc:
                skipped.append(f"{name}: {exc}")
                continue
            labels.append(label)
            for spec in specs:
                inputs[spec.name].append(prepared.inputs[spec.name])
    return {n: np.stack(rows) for n, rows in inputs.items()}, labels, skipped


async def evaluate_labeled(
    classes: dict[str, dict[str, bytes]],
    embed: Embed,
    specs: Sequence[TritonModelSpec],
    k: int = 5,
    limits: LimitSettings | None = None,
) -> list[LabeledScore]:
    inputs, labels, _ = prepared_inputs(classes, specs, limits or LimitSettings())
    scores = []
    for spec in specs:
        vectors = await embed(spec, inputs[spec.name])
        precision, mean_ap = retrieval_metrics(vectors, labels, k)
        scores.append(LabeledScore(spec.name, k, precision, mean_ap, len(labels), len(set(labels))))
    return scores


def scores_as_dict(scores: Sequence[LabeledScore]) -> dict[str, Any]:
    return {s.model: asdict(s) for s in scores}
