"""The build's precision check: a reduced precision is chosen only when it keeps the rankings
(for random weights: copy detection alone), and then only if it is the fastest that does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from gateway.export import cpu_runtimes, runner_choice, triton_config
from gateway.export.cpu_runtimes import Runner
from gateway.export.runner_choice import RetrievalPhotos, Trial
from gateway.models.spec import PRECISION_PARAMETER, RUNTIME_PARAMETER, CpuRunner
from gateway.quality.text_trials import RANDOM_MIN_COSINE, TextTrial

RNG = np.random.default_rng(7)
# Four classes of eight "photos" each: rows near their class centre, so fp32 ranks them well.
CENTRES = RNG.normal(size=(4, 16))
LABELED = np.concatenate([c + 0.3 * RNG.normal(size=(8, 16)) for c in CENTRES])
ORIGINALS = RNG.normal(size=(6, 16))
COPIES = np.concatenate([ORIGINALS, ORIGINALS + 0.05 * RNG.normal(size=ORIGINALS.shape)])
PHOTOS = RetrievalPhotos(
    LABELED.astype(np.float32), [str(i // 8) for i in range(32)], COPIES.astype(np.float32), 6
)
COPIES_ALONE = RetrievalPhotos(PHOTOS.copies[:0], [], PHOTOS.copies, 6)


def _runner(noise: float) -> Runner:
    """A model that returns its input plus `noise`, the way a lower precision perturbs."""
    rng = np.random.default_rng(1)

    def run(batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return batch + noise * rng.normal(size=batch.shape).astype(np.float32)

    return run


def _trials(noise: float, photos: RetrievalPhotos = PHOTOS) -> tuple[Trial, Trial]:
    reference = runner_choice.trial(CpuRunner("openvino", "fp32"), _runner(0.0), photos)
    reduced, _ = runner_choice.trial(
        CpuRunner("openvino", "bf16"), _runner(noise), photos, reference
    )
    return reference[0], reduced


def test_the_reference_keeps_its_own_rankings_with_cosine_one() -> None:
    reference, _ = _trials(0.0)
    assert reference.keeps_rankings and reference.min_cosine == pytest.approx(1.0)
    assert reference.neighbour_overlap == 1.0
    assert reference.labeled_p5 is not None and reference.labeled_p5 > 0.9
    assert reference.copy_r1 == 1.0


def test_a_precision_that_barely_moves_the_embeddings_keeps_the_rankings() -> None:
    _, reduced = _trials(1e-3)
    assert reduced.keeps_rankings and reduced.neighbour_overlap == 1.0


def test_reshuffled_neighbour_lists_do_not_keep_them_though_p5_and_r1_hold() -> None:
    # Enough noise to swap near-tied neighbours, too little to change P@5 or R@1: the
    # neighbour lists alone decide, as a user paging through results would see.
    reference, reduced = _trials(0.08)
    assert reduced.labeled_p5 is not None and reference.labeled_p5 is not None
    assert abs(reduced.labeled_p5 - reference.labeled_p5) <= runner_choice.MAX_METRIC_CHANGE
    assert reduced.copy_r1 == reference.copy_r1
    assert reduced.neighbour_overlap is not None
    assert reduced.neighbour_overlap < 1 - runner_choice.MAX_METRIC_CHANGE
    assert not reduced.keeps_rankings


def test_random_weights_are_judged_on_copy_detection_alone() -> None:
    """With no labeled photos (random weights: their rankings mean nothing) the noise that
    reshuffles neighbour lists above keeps every copy's original first, so it is kept; noise
    that loses copies is not."""
    reference, reduced = _trials(0.08, COPIES_ALONE)
    assert reduced.labeled_p5 is None and reduced.neighbour_overlap is None
    assert reduced.copy_r1 == reference.copy_r1 == 1.0 and reduced.keeps_rankings
    _, lossy = _trials(3.0, COPIES_ALONE)
    assert lossy.copy_r1 < 1 - runner_choice.MAX_METRIC_CHANGE and not lossy.keeps_rankings


def test_a_precision_that_returns_a_nan_row_is_never_kept() -> None:
    """NaN rows would reach Milvus: one is enough to reject, though here it costs copy R@1
    only 1/150, within what the rankings allow."""
    originals = RNG.normal(size=(150, 16))
    copies = np.concatenate([originals, originals + 0.01 * RNG.normal(size=originals.shape)])
    photos = RetrievalPhotos(copies[:0], [], copies.astype(np.float32), 150)

    def overflowing(batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = batch.astype(np.float32).copy()
        out[(out == photos.copies[0]).all(axis=1)] = np.nan  # the first original alone
        return out

    reference = runner_choice.trial(CpuRunner("openvino", "fp32"), _runner(0.0), photos)
    nan, _ = runner_choice.trial(CpuRunner("openvino", "int8"), overflowing, photos, reference)
    assert reference[0].copy_r1 - nan.copy_r1 <= runner_choice.MAX_METRIC_CHANGE
    assert not nan.keeps_rankings


def test_embeddings_far_from_fp32_that_rank_alike_keep_the_rankings() -> None:
    """The per-photo cosine is reported, not judged: a rotation moves every embedding far
    from its fp32 one and changes no ranking."""
    rotation, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(16, 16)))
    reference = runner_choice.trial(CpuRunner("openvino", "fp32"), _runner(0.0), PHOTOS)
    rotated, _ = runner_choice.trial(
        CpuRunner("openvino", "bf16"),
        lambda batch: (batch @ rotation).astype(np.float32),
        PHOTOS,
        reference,
    )
    assert rotated.min_cosine < 0.5 and rotated.neighbour_overlap == pytest.approx(1.0)
    assert rotated.keeps_rankings


def _trial(precision: str, rate: float, keeps: bool) -> Trial:
    return Trial("openvino", precision, rate, 1.0, 1.0, 0.9, 1.0, keeps)


def test_the_fastest_runner_that_keeps_the_rankings_is_chosen() -> None:
    fp32, bf16, int8 = (
        _trial("fp32", 100, True),
        _trial("bf16", 200, True),
        _trial("int8", 300, False),
    )
    assert runner_choice.fastest_keeping([fp32, bf16, int8]) == CpuRunner("openvino", "bf16")
    slower = _trial("bf16", 90, True)  # a reduced precision slower than fp32 is not chosen
    assert runner_choice.fastest_keeping([fp32, slower]) == CpuRunner("openvino", "fp32")


def test_the_build_measured_each_model_and_serves_its_choice(test_models: Path) -> None:
    """`make test-models` builds EfficientNet-Lite0 with its packaged ImageNet weights, the
    others with random ones: for each default model the build ran every OpenVINO precision
    this CPU offers, on the real photos (every ranking) or on the copies alone (random
    weights), and each config asks for the fastest that kept them; so does CLIP's text tower,
    judged by its queries. The zoo is served as asked."""
    flags = cpu_runtimes.cpu_flags()
    for model, real in (("efficientnet_lite0", True), ("vgg16", False), ("clip_image", False)):
        provenance = json.loads((test_models / model / "1/provenance.json").read_text())
        runner = provenance["cpu_runner"]
        assert runner["chosen_by"] == "measured"
        trials = [Trial(**t) for t in runner["trials"]]
        offered = list(cpu_runtimes.offered_precisions("openvino", flags))
        assert [t.precision for t in trials] == offered
        reference = trials[0]
        assert reference.precision == "fp32" and reference.min_cosine == pytest.approx(1.0)
        if real:
            assert reference.labeled_p5 is not None and reference.labeled_p5 > 0.85
            assert reference.copy_r1 > 0.95
        else:
            assert all(t.labeled_p5 is None and t.neighbour_overlap is None for t in trials)
        for t in trials[1:]:
            ranked = (
                t.neighbour_overlap >= 1 - runner_choice.MAX_METRIC_CHANGE
                and abs(t.labeled_p5 - reference.labeled_p5) <= runner_choice.MAX_METRIC_CHANGE
                if t.labeled_p5 is not None
                and reference.labeled_p5 is not None
                and t.neighbour_overlap is not None
                else True
            )
            copies = abs(t.copy_r1 - reference.copy_r1) <= runner_choice.MAX_METRIC_CHANGE
            assert t.keeps_rankings == (ranked and copies), t
        chosen = runner_choice.fastest_keeping(trials)
        assert (runner["runtime"], runner["precision"]) == (chosen.runtime, chosen.precision)
        config = triton_config.parse((test_models / model / "configs/cpu.pbtxt").read_text())
        assert config.parameters[RUNTIME_PARAMETER].string_value == chosen.runtime
        assert config.parameters[PRECISION_PARAMETER].string_value == chosen.precision
    _check_text_choice(test_models, flags)
    _check_asked_choice(test_models)


def _check_asked_choice(test_models: Path) -> None:
    """The zoo is asked for at fp32 (Makefile's ZOO_MODELS): no trials, and the config serves
    what was asked."""
    for model in ("resnet50", "efficientnetv2_s", "dinov2_small"):
        provenance = json.loads((test_models / model / "1/provenance.json").read_text())
        runner = provenance["cpu_runner"]
        assert runner["chosen_by"] == "asked" and "trials" not in runner, model
        assert (runner["runtime"], runner["precision"]) == ("openvino", "fp32")
        config = triton_config.parse((test_models / model / "configs/cpu.pbtxt").read_text())
        assert config.parameters[RUNTIME_PARAMETER].string_value == "openvino"
        assert config.parameters[PRECISION_PARAMETER].string_value == "fp32"


def _check_text_choice(test_models: Path, flags: frozenset[str]) -> None:
    """CLIP's text tower (random weights here) ran every precision the CPU offers on both
    ONNX runtimes (int8: dynamic); its results among the labeled photos are reported, and a
    reduced precision is kept on valid vectors alone (text_trials.py); the config serves
    the fastest kept one query at a time, and the int8 file stays only where int8 won."""
    runner = json.loads((test_models / "clip_text/1/provenance.json").read_text())["cpu_runner"]
    assert runner["chosen_by"] == "measured"
    trials = [TextTrial(**t) for t in runner["trials"]]
    offered = [
        (runtime, p)
        for runtime in ("openvino", "onnxruntime")
        for p in cpu_runtimes.offered_precisions(runtime, flags)
    ]
    assert [(t.runtime, t.precision) for t in trials] == offered
    int8_file = cpu_runtimes.onnx_path(test_models / "clip_text/1", "int8")
    assert int8_file.exists() == (runner["precision"] == "int8")
    assert trials[0].min_cosine == pytest.approx(1.0) and trials[0].query_overlap == 1.0
    for t in trials[1:]:
        assert t.query_overlap is not None and 0 <= t.query_overlap <= 1
        assert t.keeps_rankings == (t.min_cosine >= RANDOM_MIN_COSINE), t
    chosen = runner_choice.fastest_keeping(trials)
    assert (runner["runtime"], runner["precision"]) == (chosen.runtime, chosen.precision)
    config = triton_config.parse((test_models / "clip_text/configs/cpu.pbtxt").read_text())
    assert config.parameters[PRECISION_PARAMETER].string_value == chosen.precision
