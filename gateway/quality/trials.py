"""A precision trial: one CPU runner of a model on real photos, scored against fp32.

A reduced precision keeps the rankings when what users see stays: each labeled photo's 10
nearest neighbours are on average the reference's (fp32) to within `MAX_METRIC_CHANGE`, and
labeled P@5 and copy R@1 stay within it too. Random weights are judged on copy detection
alone, the one thing they are good for: their labeled rankings mean nothing. Each photo's
cosine to its reference embedding is reported, not judged: a few drifting photos that change
no ranking cost nothing. The exporter (export/runner_choice.py) runs trials at build to
choose a model's CPU runner; bench/precision.py runs them for every runtime.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.config import LimitSettings
from gateway.models.spec import CpuRunner, TritonModelSpec
from gateway.quality.copy_detection import TRANSFORMS, copy_detection_inputs, copy_recall_at_1
from gateway.quality.labeled import neighbour_order, prepared_inputs, retrieval_metrics
from gateway.quality.labeled_set import labeled_images
from gateway.quality.samples import sample_photos

MAX_METRIC_CHANGE = 0.01
NEIGHBOURS = 10  # the neighbour lists compared: a first screen of results
BATCH = 32
Embeddings = npt.NDArray[np.float32]
# A model loaded in one runtime at one precision: a batch of inputs in, embeddings out.
Run = Callable[[npt.NDArray[Any]], npt.NDArray[Any]]


@dataclass(frozen=True)
class Trial:
    """One runner on the retrieval photos, against the reference runner (fp32)."""

    runtime: str
    precision: str
    images_per_s: float
    min_cosine: float
    mean_cosine: float
    labeled_p5: float | None  # None: judged on copies alone (random weights)
    copy_r1: float
    keeps_rankings: bool
    # Mean share of each labeled photo's nearest neighbours that are the reference's.
    neighbour_overlap: float | None = 1.0

    @property
    def per_s(self) -> float:
        return self.images_per_s


@dataclass(frozen=True)
class RetrievalPhotos:
    """What a trial embeds: labeled photos and the copy-detection originals with their copies,
    prepared for one model as the gateway prepares uploads."""

    labeled: npt.NDArray[np.uint8]
    labels: list[str]  # none: copies alone (see `copy_photos`)
    copies: npt.NDArray[np.uint8]  # originals first, then one block per transform
    originals: int


def retrieval_photos(
    spec: TritonModelSpec,
    per_class: int | None = None,
    originals: int | None = None,
    transforms: tuple[str, ...] | None = None,
) -> RetrievalPhotos:
    """Every labeled photo and sample photo with every copy transform, unless fewer are asked
    for (`per_class` labeled photos per class, the first `originals` samples, `transforms` by
    name: the benchmarks' tiny mode)."""
    inputs, labels, _ = prepared_inputs(labeled_images(per_class), [spec], LimitSettings())
    samples = dict(list(sample_photos().items())[:originals])
    chosen = [t for t in TRANSFORMS if transforms is None or t.name in transforms]
    copies, count = copy_detection_inputs(samples, spec, chosen)
    return RetrievalPhotos(inputs[spec.name], labels, copies, count)


def copy_photos(spec: TritonModelSpec) -> RetrievalPhotos:
    """The copy-detection photos alone, for random weights."""
    copies, count = copy_detection_inputs(sample_photos(), spec, TRANSFORMS)
    return RetrievalPhotos(copies[:0], [], copies, count)


def embed_all(run: Run, inputs: npt.NDArray[Any]) -> Embeddings:
    rows = [run(inputs[i : i + BATCH]) for i in range(0, len(inputs), BATCH)]
    return np.concatenate(rows).astype(np.float32)


def trial(
    runner: CpuRunner,
    run: Run,
    photos: RetrievalPhotos,
    reference: tuple[Trial, Embeddings] | None = None,
) -> tuple[Trial, Embeddings]:
    """`run` scored on `photos`; with no `reference`, it is the reference (fp32). Its speed
    and cosines are taken on the labeled photos, or on the copies where there are none."""
    timed = photos.labeled if photos.labels else photos.copies
    run(timed[:BATCH])  # warm: kernel choice, first-batch shapes
    started = time.perf_counter()
    vectors = embed_all(run, timed)
    rate = len(vectors) / (time.perf_counter() - started)
    r1 = copy_recall_at_1(
        embed_all(run, photos.copies) if photos.labels else vectors, photos.originals
    )
    base, base_vectors = reference if reference else (None, vectors)
    cosines = np.sum(unit_rows(vectors) * unit_rows(base_vectors), axis=1)
    p5 = overlap = None
    if photos.labels:
        p5 = retrieval_metrics(vectors, photos.labels, 5)[0]
        overlap = neighbour_overlap(vectors, base_vectors)
    # A runtime that overflows at a precision returns NaN rows (EfficientNetV2-S at int8).
    keeps = bool(np.isfinite(vectors).all()) and (
        base is None
        or (
            _within(r1, base.copy_r1)
            and _within(p5, base.labeled_p5)
            and (overlap is None or overlap >= 1.0 - MAX_METRIC_CHANGE)
        )
    )
    result = Trial(
        runner.runtime,
        runner.precision,
        rate,
        float(cosines.min()),
        float(cosines.mean()),
        p5,
        r1,
        bool(keeps),
        overlap,
    )
    return result, vectors


def _within(value: float | None, reference: float | None) -> bool:
    """Within `MAX_METRIC_CHANGE` of the reference; a metric not measured holds."""
    if value is None or reference is None:
        return value is None and reference is None
    return abs(value - reference) <= MAX_METRIC_CHANGE


def neighbour_overlap(vectors: Embeddings, reference: Embeddings, k: int = NEIGHBOURS) -> float:
    """The mean share of each photo's `k` nearest others under `vectors` that are also among
    its `k` nearest under `reference` (1.0: every result list is the same set)."""
    k = min(k, len(vectors) - 1)
    if k < 1:
        return 1.0
    return shared_share(neighbour_order(vectors)[:, :k], neighbour_order(reference)[:, :k])


def shared_share(found: npt.NDArray[np.intp], expected: npt.NDArray[np.intp]) -> float:
    """The mean share of each row of `found` (ids, one list per row) that its row of
    `expected` holds too: 1.0 when every list is the same set."""
    shared = [len(set(a) & set(b)) for a, b in zip(found.tolist(), expected.tolist(), strict=True)]
    return float(np.mean(shared)) / found.shape[1]


def unit_rows(x: Embeddings) -> Embeddings:
    unit: Embeddings = x / np.linalg.norm(x, axis=1, keepdims=True)
    return unit
