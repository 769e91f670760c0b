"""The CPU runner an image model gets: the fastest precision this CPU offers that keeps
retrieval as fp32 has it, measured when the repository is built.

Each OpenVINO precision the CPU offers runs the model's ONNX file (int8: quantized here, as the
exporter does) on the bundled photos. With real weights, a reduced precision keeps the rankings
when each labeled photo's 10 nearest neighbours are on average fp32's to within 0.01 and
labeled P@5 and copy R@1 stay within 0.01 of fp32; seeded random weights find near-copies and
nothing else, so they are judged on copy R@1 alone (gateway/quality/trials.py; each photo's
cosine to fp32 is reported, not judged). Measured on the weights being built, so a deployment
with hub weights gets the speed its own weights allow. A text tower is judged by what its
everyday queries find among the labeled photos, as its image tower serves them, on both
ONNX runtimes, and timed one query at a time (gateway/quality/text_trials.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from gateway.config import LimitSettings
from gateway.export import cpu_runtimes, triton_config
from gateway.export.cpu_runtimes import Runner
from gateway.models.registry import REGISTRY
from gateway.models.spec import CpuRunner, TritonModelSpec
from gateway.quality.labeled import prepared_inputs
from gateway.quality.labeled_set import labeled_images
from gateway.quality.text_trials import TextTrial, everyday_queries, query_ids, text_trial
from gateway.quality.trials import (
    MAX_METRIC_CHANGE,
    Embeddings,
    RetrievalPhotos,
    Trial,
    copy_photos,
    embed_all,
    retrieval_photos,
    trial,
)

__all__ = [
    "MAX_METRIC_CHANGE",
    "Embeddings",
    "RetrievalPhotos",
    "Trial",
    "choose_runner",
    "choose_text_runner",
    "embed_all",
    "fastest_keeping",
    "image_tower",
    "offered_runners",
    "retrieval_photos",
    "served_photos",
    "trial",
]

AnyTrial = TypeVar("AnyTrial", Trial, TextTrial)


def offered_runners(
    runtimes: Sequence[cpu_runtimes.Runtime], flags: frozenset[str]
) -> list[CpuRunner]:
    """Each of `runtimes`, in that order, at every precision it offers a CPU with `flags`."""
    return [
        CpuRunner(runtime, precision)
        for runtime in runtimes
        for precision in cpu_runtimes.offered_precisions(runtime, flags)
    ]


def fastest_keeping(trials: Sequence[Trial | TextTrial]) -> CpuRunner:
    """The fastest runner that keeps the rankings (the reference always does)."""
    best = max((t for t in trials if t.keeps_rankings), key=lambda t: t.per_s)
    return CpuRunner(
        cpu_runtimes.parse_runtime(best.runtime), cpu_runtimes.parse_precision(best.precision)
    )


def choose_runner(
    spec: TritonModelSpec,
    version_dir: Path,
    flags: frozenset[str],
    log: Callable[[str], None],
    real_weights: bool = True,
) -> tuple[CpuRunner, list[dict[str, Any]]]:
    """Measure every OpenVINO precision this CPU offers `spec` on the ONNX file in
    `version_dir`; returns the choice and the trials (for provenance.json). The int8 trial
    quantizes into `version_dir` as the exporter does, so a chosen int8 file is not made twice
    (the caller removes it when int8 is not chosen). Without `real_weights`, copies alone."""
    photos = retrieval_photos(spec) if real_weights else copy_photos(spec)

    def judged(result: Trial) -> str:
        ranked = (
            f"neighbours kept {result.neighbour_overlap:.3f}, P@5 {result.labeled_p5:.3f}, "
            if result.labeled_p5 is not None and result.neighbour_overlap is not None
            else "copies alone (random weights), "
        )
        return (
            f"{result.images_per_s:.1f} images/s, {ranked}R@1 {result.copy_r1:.2f}, "
            f"min cosine {result.min_cosine:.4f}"
        )

    return _measure(
        spec,
        version_dir,
        offered_runners(("openvino",), flags),  # fp32 first: the reference
        lambda runner, run, reference: trial(runner, run, photos, reference),
        judged,
        log,
    )


def choose_text_runner(
    spec: TritonModelSpec,
    version_dir: Path,
    image: tuple[TritonModelSpec, Path],
    flags: frozenset[str],
    log: Callable[[str], None],
    real_weights: bool = True,
) -> tuple[CpuRunner, list[dict[str, Any]]]:
    """As `choose_runner`, for the text tower `spec` in `version_dir`: the everyday queries
    rank the labeled photos, embedded by the image tower (`image`: its spec and built model
    folder, whose config says the runner it is served with). Both ONNX runtimes compete:
    OpenVINO plans again for each new query length, which ONNX Runtime does not, and a
    query's own length is what one user's searches run at (text_trials.py)."""
    photos, ids = served_photos(*image), query_ids(everyday_queries())

    def judged(result: TextTrial) -> str:
        return (
            f"{result.queries_per_s:.1f} queries/s one at a time "
            f"({result.batch_queries_per_s:.1f} in a batch), results kept "
            f"{result.query_overlap:.3f}"
            f"{'' if real_weights else ' (random weights: reported, not judged)'}, "
            f"min cosine {result.min_cosine:.4f}"
        )

    return _measure(
        spec,
        version_dir,
        offered_runners(("openvino", "onnxruntime"), flags),  # OpenVINO's fp32 first
        lambda runner, run, reference: text_trial(
            runner, run, ids, photos, real_weights, reference
        ),
        judged,
        log,
    )


def _measure(
    spec: TritonModelSpec,
    version_dir: Path,
    runners: Sequence[CpuRunner],
    measure: Callable[
        [CpuRunner, Runner, tuple[AnyTrial, Embeddings] | None], tuple[AnyTrial, Embeddings]
    ],
    describe: Callable[[AnyTrial], str],
    log: Callable[[str], None],
) -> tuple[CpuRunner, list[dict[str, Any]]]:
    """Each of `runners` (the first is the fp32 reference) loaded on `version_dir`'s files,
    measured against the reference and logged; the fastest that keeps the rankings wins. An
    int8 runner's file is quantized first, into `version_dir`, as the exporter does."""
    from gateway.export.int8_export import export_int8

    if any(r.precision == "int8" for r in runners):
        export_int8(version_dir / "model.onnx", spec, version_dir)
    trials: list[AnyTrial] = []
    reference: tuple[AnyTrial, Embeddings] | None = None
    for runner in runners:
        run = cpu_runtimes.load_runner(
            runner.runtime, runner.precision, version_dir, spec.input.name, spec.output.name
        )
        result, vectors = measure(runner, run, reference)
        reference = reference or (result, vectors)
        log(
            f"{spec.name} {runner.runtime}:{runner.precision}: {describe(result)}"
            f"{'' if result.keeps_rankings else ' (changes rankings)'}"
        )
        trials.append(result)
    return fastest_keeping(trials), [asdict(t) for t in trials]


def served_photos(image_spec: TritonModelSpec, image_dir: Path) -> Embeddings:
    """The labeled photos as the built image tower in `image_dir` serves them (its config
    says the runner): what a text tower's queries are ranked against."""
    served = triton_config.built_cpu_runner(image_dir)
    embed = cpu_runtimes.load_runner(
        served.runtime, served.precision, image_dir / "1", image_spec.input.name,
        image_spec.output.name,
    )  # fmt: skip
    labeled, _, _ = prepared_inputs(labeled_images(), [image_spec], LimitSettings())
    return embed_all(embed, labeled[image_spec.name])


def image_tower(text_spec: TritonModelSpec) -> TritonModelSpec | None:
    """The registry's image tower beside a text tower (None for an image model)."""
    towers = [m.image_model for m in REGISTRY.values() if m.text_model == text_spec]
    return towers[0] if towers else None
