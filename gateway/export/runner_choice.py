"""The CPU runner an image model with real weights gets: the fastest precision this CPU offers
that keeps retrieval as fp32 has it, measured when the repository is built.

Each OpenVINO precision the CPU offers runs the model's ONNX file (int8: quantized here, as the
exporter does) on the bundled labeled photos and the copy-detection photos; a reduced precision
keeps the rankings when labeled P@5 and copy R@1 stay within 0.01 of fp32 and no photo's
embedding drifts below cosine 0.999 from its fp32 one. Measured on the weights being built, so
a deployment with hub weights gets the speed its own weights allow. Seeded random weights
prove nothing about precision (their cosines are benign), so they keep the registry's runner;
so does a text model (its check would need real queries).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.config import LimitSettings
from gateway.export import cpu_runtimes
from gateway.models.spec import CpuRunner, TritonModelSpec

MIN_COSINE = 0.999
MAX_METRIC_CHANGE = 0.01
_BATCH = 32
Embeddings = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Trial:
    """One runner on the retrieval photos, against the reference runner (fp32)."""

    runtime: str
    precision: str
    images_per_s: float
    min_cosine: float
    mean_cosine: float
    labeled_p5: float
    copy_r1: float
    keeps_rankings: bool

    @property
    def runner(self) -> CpuRunner:
        return CpuRunner(
            cpu_runtimes.parse_runtime(self.runtime), cpu_runtimes.parse_precision(self.precision)
        )


@dataclass(frozen=True)
class RetrievalPhotos:
    """What a trial embeds: labeled photos and the copy-detection originals with their copies,
    prepared for one model as the gateway prepares uploads."""

    labeled: npt.NDArray[np.uint8]
    labels: list[str]
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
    from gateway.labeled_set import labeled_images
    from gateway.samples import sample_photos
    from gateway.services.evaluation import TRANSFORMS, copy_detection_inputs
    from gateway.services.labeled_eval import prepared_inputs

    inputs, labels, _ = prepared_inputs(labeled_images(per_class), [spec], LimitSettings())
    samples = dict(list(sample_photos().items())[:originals])
    chosen = [t for t in TRANSFORMS if transforms is None or t.name in transforms]
    copies, count = copy_detection_inputs(samples, spec, chosen)
    return RetrievalPhotos(inputs[spec.name], labels, copies, count)


def embed_all(run: cpu_runtimes.Runner, inputs: npt.NDArray[Any]) -> Embeddings:
    rows = [run(inputs[i : i + _BATCH]) for i in range(0, len(inputs), _BATCH)]
    return np.concatenate(rows).astype(np.float32)


def trial(
    runner: CpuRunner,
    run: cpu_runtimes.Runner,
    photos: RetrievalPhotos,
    reference: tuple[Trial, Embeddings] | None = None,
) -> tuple[Trial, Embeddings]:
    """`run` scored on `photos`; with no `reference`, it is the reference (fp32)."""
    from gateway.services.evaluation import copy_recall_at_1
    from gateway.services.labeled_eval import retrieval_metrics

    run(photos.labeled[:_BATCH])  # warm: kernel choice, first-batch shapes
    started = time.perf_counter()
    labeled = embed_all(run, photos.labeled)
    rate = len(labeled) / (time.perf_counter() - started)
    p5, _ = retrieval_metrics(labeled, photos.labels, 5)
    r1 = copy_recall_at_1(embed_all(run, photos.copies), photos.originals)
    base, base_labeled = reference if reference else (None, labeled)
    cosines = np.sum(_unit(labeled) * _unit(base_labeled), axis=1)
    keeps = base is None or (
        abs(p5 - base.labeled_p5) <= MAX_METRIC_CHANGE
        and abs(r1 - base.copy_r1) <= MAX_METRIC_CHANGE
        and float(cosines.min()) >= MIN_COSINE
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
    )
    return result, labeled


def fastest_keeping(trials: list[Trial]) -> CpuRunner:
    """The fastest runner that keeps the rankings (the reference always does)."""
    return max((t for t in trials if t.keeps_rankings), key=lambda t: t.images_per_s).runner


def choose_runner(
    spec: TritonModelSpec, version_dir: Path, flags: frozenset[str], log: Callable[[str], None]
) -> tuple[CpuRunner, list[dict[str, Any]]]:
    """Measure every OpenVINO precision this CPU offers `spec` on the ONNX file in
    `version_dir`; returns the choice and the trials (for provenance.json). The int8 trial
    quantizes into `version_dir` as the exporter does, so a chosen int8 file is not made twice
    (the caller removes it when int8 is not chosen)."""
    from gateway.export.int8_export import export_int8

    offered = [p for p in cpu_runtimes.offered_precisions("openvino", flags) if spec.can_run(p)]
    photos = retrieval_photos(spec)
    trials: list[Trial] = []
    reference: tuple[Trial, Embeddings] | None = None
    for precision in offered:  # fp32 first: the reference
        runner = CpuRunner("openvino", precision)
        if precision == "int8":
            export_int8(version_dir / "model.onnx", spec, version_dir)
        run = cpu_runtimes.load_runner(
            "openvino", precision, version_dir, spec.input.name, spec.output.name
        )
        result, embeddings = trial(runner, run, photos, reference)
        reference = reference or (result, embeddings)
        log(
            f"{spec.name} openvino:{precision}: {result.images_per_s:.1f} images/s, "
            f"min cosine {result.min_cosine:.4f}, P@5 {result.labeled_p5:.3f}, "
            f"R@1 {result.copy_r1:.2f}{'' if result.keeps_rankings else ' (changes rankings)'}"
        )
        trials.append(result)
    return fastest_keeping(trials), [asdict(t) for t in trials]


def _unit(x: Embeddings) -> Embeddings:
    unit: Embeddings = x / np.linalg.norm(x, axis=1, keepdims=True)
    return unit
