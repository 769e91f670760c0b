"""VGG16, ResNet50 and EfficientNetV2-S keep their ImageNet classifier as a label head when
their weights hold one (a local file here, as a download would: nothing downloads in tests),
and serve none with random weights or a file of the features alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from gateway.export import triton_config
from gateway.export.builders import efficientnetv2_s, resnet50, vgg16
from gateway.export.networks import BuiltNetwork
from gateway.export.repository import served_spec
from gateway.export.weights import WeightsSource
from gateway.models.registry import REGISTRY

# name -> (builder, Keras constructor, constructor options, the preprocessing Keras documents)
NETWORKS: dict[str, tuple[Callable[..., Any], Callable[..., Any], dict[str, Any], Any]] = {
    "vgg16": (vgg16.build, keras.applications.VGG16, {}, keras.applications.vgg16.preprocess_input),
    "resnet50": (
        resnet50.build,
        keras.applications.ResNet50,
        {},
        keras.applications.resnet50.preprocess_input,
    ),
    "efficientnetv2_s": (
        efficientnetv2_s.build,
        keras.applications.EfficientNetV2S,
        {"include_preprocessing": True},
        lambda x: x,
    ),
}
IMAGES = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_a_weights_file_with_the_classifier_gives_probabilities_from_the_same_pass(
    name: str, tmp_path: Path
) -> None:
    build, constructor, options, preprocess = NETWORKS[name]
    keras.utils.set_random_seed(3)
    donor = constructor(weights=None, include_top=True, input_shape=(224, 224, 3), **options)
    path = tmp_path / f"{name}.weights.h5"
    donor.save_weights(path)
    net = build(WeightsSource.parse(str(path)))[REGISTRY[name].image_model.name]
    assert net.embed_with_labels is not None
    embeddings, probabilities = (np.asarray(t) for t in net.embed_with_labels(IMAGES))
    # The donor's own classifier on the same pixels: the head is the published one.
    expected = np.asarray(donor(preprocess(IMAGES.astype("float32")), training=False))
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert probabilities.shape == (2, 1000)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(net.embed(IMAGES)), embeddings, atol=1e-6)
    assert embeddings.shape == (2, REGISTRY[name].dim)


@pytest.mark.parametrize("name", ["resnet50"])  # the others load alike (keras_applications)
def test_random_weights_or_a_file_without_the_classifier_serve_no_label_head(
    name: str, tmp_path: Path
) -> None:
    build, constructor, options, _ = NETWORKS[name]
    spec = REGISTRY[name].image_model
    random = build(WeightsSource("random"))[spec.name]
    donor = constructor(weights=None, include_top=False, pooling="avg", **options)
    path = tmp_path / f"{name}_notop.weights.h5"
    donor.save_weights(path)
    features_only = build(WeightsSource.parse(str(path)))[spec.name]
    for net in (random, features_only):
        assert net.embed_with_labels is None
        served = served_spec(spec, net)
        outputs = triton_config.build_config(served, "cpu", net.provenance).output
        assert [o.name for o in outputs] == ["embeddings"]
    # The features still load from the file.
    expected = np.asarray(donor(NETWORKS[name][3](IMAGES.astype("float32"))))
    expected = expected / np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(features_only.embed(IMAGES)), expected, atol=1e-5)


def test_a_served_label_head_is_the_configs_second_output() -> None:
    spec = REGISTRY["resnet50"].image_model
    headed = BuiltNetwork(lambda x: x, None, "file:w.h5", embed_with_labels=lambda x: (x, x))
    config = triton_config.build_config(served_spec(spec, headed), "cpu", "file:w.h5")
    assert [o.name for o in config.output] == ["embeddings", "probabilities"]
