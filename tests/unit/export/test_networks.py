"""The exported networks are the published architectures, with preprocessing in the graph."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from gateway.export.builders import clip as networks
from gateway.export.builders.vgg16 import build_vgg16
from gateway.export.repository import load_signature
from gateway.export.weights import DEFAULT_SEED, WeightsSource, WeightsUnavailableError
from gateway.models.registry import triton_model

VGG16, CLIP_IMAGE, CLIP_TEXT = (triton_model(n) for n in ("vgg16", "clip_image", "clip_text"))


def test_vgg16_has_the_classic_block_shapes_and_parameter_counts() -> None:
    model = build_vgg16(WeightsSource("random")).keras_model
    pools = [model.get_layer(f"block{i}_pool").output.shape for i in range(1, 6)]
    assert [tuple(s[1:]) for s in pools] == [
        (112, 112, 64), (56, 56, 128), (28, 28, 256), (14, 14, 512), (7, 7, 512),
    ]  # fmt: skip
    assert model.get_layer("block1_conv1").count_params() == 1792
    assert model.count_params() == 14_714_688
    assert tuple(model.output.shape) == (None, 512)


def test_vgg16_layer_names_equal_keras_applications_so_official_weights_load() -> None:
    ours = build_vgg16(WeightsSource("random")).keras_model
    reference = keras.applications.VGG16(
        weights=None, include_top=False, pooling="max", input_shape=(224, 224, 3)
    )
    # Weight files load by the names of the layers that hold weights.
    named = [layer.name for layer in ours.layers if layer.weights]
    assert named == [layer.name for layer in reference.layers if layer.weights]
    assert len(named) == 13
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]


def test_vgg16_graph_applies_keras_caffe_preprocessing(test_models: Path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    reference_net = build_vgg16(WeightsSource("random", seed=DEFAULT_SEED)).keras_model
    x = keras.applications.vgg16.preprocess_input(images.astype("float32"))
    expected = tf.math.l2_normalize(reference_net(x), axis=-1).numpy()
    got = load_signature(test_models, VGG16)(images=tf.constant(images))["embeddings"].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_vgg16_weights_load_from_a_local_file(tmp_path: Path) -> None:
    donor = build_vgg16(WeightsSource("random", seed=7)).keras_model
    path = tmp_path / "vgg16.weights.h5"
    donor.save_weights(path)
    loaded = build_vgg16(WeightsSource.parse(str(path)))
    images = np.full((1, 224, 224, 3), 128, np.uint8)
    np.testing.assert_allclose(
        loaded.keras_model(images.astype("float32")), donor(images.astype("float32")), atol=1e-6
    )
    assert loaded.provenance.startswith("file:vgg16.weights.h5:sha256=")


def test_pretrained_vgg16_weights_that_cannot_be_fetched_fail_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Point Keras at a closed local port: the same failure as having no internet.
    from keras.src.applications import vgg16

    monkeypatch.setattr(vgg16, "WEIGHTS_PATH_NO_TOP", "http://127.0.0.1:9/vgg16_notop.h5")
    monkeypatch.setattr(vgg16, "WEIGHTS_PATH", "http://127.0.0.1:9/vgg16.h5")  # with the head
    monkeypatch.setenv("KERAS_HOME", "/nonexistent-keras-home")
    with pytest.raises(WeightsUnavailableError, match="--weights vgg16=PATH"):
        build_vgg16(WeightsSource("pretrained"))


# OpenAI's published CLIP preprocessing (openai/CLIP clip.py, `_transform`), written out here
# rather than read from the code under test.
OPENAI_CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
OPENAI_CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711])


@pytest.fixture(scope="module")
def clip_backbone() -> object:
    return networks.clip_vit_b32_random(DEFAULT_SEED)


def test_clip_has_openai_vit_b32_parameter_count(clip_backbone: keras.Model) -> None:
    assert clip_backbone.count_params() == 151_277_363


def test_exported_clip_image_tower_equals_keras_hub(
    clip_backbone: keras.Model, test_models: Path
) -> None:
    images = np.random.default_rng(1).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    normalised = (images / 255.0 - OPENAI_CLIP_MEAN) / OPENAI_CLIP_STD
    expected = clip_backbone.get_vision_embeddings(normalised.astype("float32"))
    expected = tf.math.l2_normalize(expected, axis=-1).numpy()
    got = load_signature(test_models, CLIP_IMAGE)(images=tf.constant(images))["embeddings"]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)


def test_exported_clip_text_tower_equals_keras_hub(
    clip_backbone: keras.Model, test_models: Path
) -> None:
    ids = np.zeros((2, 77), np.int32)
    ids[0, :4] = [49406, 320, 1125, 49407]
    ids[1, :3] = [49406, 2368, 49407]
    expected = tf.math.l2_normalize(clip_backbone.get_text_embeddings(ids), axis=-1).numpy()
    got = load_signature(test_models, CLIP_TEXT)(input_ids=tf.constant(ids))["embeddings"]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)


def test_exported_tokenizer_files_are_identical_to_the_gateways_copy(test_models: Path) -> None:
    from gateway.models import clip_tokenizer

    package = Path(clip_tokenizer.__file__).parent.parent / "assets"
    for name in (clip_tokenizer.BPE_FILENAME, clip_tokenizer.LICENSE_FILENAME):
        exported = test_models / "clip_text" / "tokenizer" / name
        assert exported.read_bytes() == (package / name).read_bytes()
