"""Copy thresholds: measured on the copy-detection set at build, written into the model's
Triton configs, absent when no similarity tells copies from distinct photos."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gateway.export import triton_config
from gateway.export.copy_threshold import MARGIN, threshold_from
from gateway.models.registry import REGISTRY
from gateway.models.spec import COPY_PARAMETER

LITE0 = REGISTRY["efficientnet_lite0"].image_model


def rows(originals: npt.NDArray[np.float64], *copies: npt.NDArray[np.float64]) -> np.ndarray:
    return np.concatenate([originals, *copies]).astype(np.float32)


def test_the_threshold_lets_most_copies_group_and_no_distinct_photos() -> None:
    originals = np.eye(4)  # four unrelated photos: similarity 0 between them
    close = np.eye(4) + 0.1  # copies a little off their originals, a little towards the rest
    measured = threshold_from(rows(originals, close), 4)
    assert measured.min_similarity is not None
    unit_close = close / np.linalg.norm(close, axis=1, keepdims=True)
    copy_scores = np.diag(unit_close @ originals.T)
    assert measured.min_similarity <= float(copy_scores.min())
    assert measured.min_similarity >= measured.distinct_max + MARGIN - 1e-9
    assert measured.copy_recall == 1.0


def test_no_threshold_when_distinct_photos_are_as_close_as_copies() -> None:
    base = np.ones((4, 3)) + np.eye(4, 3) * 0.01  # random-weight style: everything alike
    copies = base + np.random.default_rng(0).normal(0, 0.05, base.shape)
    measured = threshold_from(rows(base, copies), 4)
    assert measured.min_similarity is None
    assert measured.distinct_max > 0.99


def test_the_measured_threshold_enters_both_configs_of_its_model_only() -> None:
    options = triton_config.ServingOptions(copy_thresholds=((LITE0.name, 0.8123),))
    for variant in triton_config.VARIANT_PATHS:
        text = triton_config.render(triton_config.build_config(LITE0, variant, "x", options))
        parsed = triton_config.parse(text).parameters[COPY_PARAMETER].string_value
        assert float(parsed) == 0.8123, variant
    vgg = REGISTRY["vgg16"].image_model
    assert COPY_PARAMETER not in triton_config.build_config(vgg, "cpu", "x", options).parameters
