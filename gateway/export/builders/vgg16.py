"""VGG16, the classic Milvus demo network: the conv body with global max pooling."""

from __future__ import annotations

import keras
import tensorflow as tf

from gateway.export.networks import BuiltNetwork, normalise
from gateway.export.weights import WeightsSource, WeightsUnavailableError
from gateway.models.registry import VGG16


def build(source: WeightsSource) -> dict[str, BuiltNetwork]:
    return {VGG16.image_model.name: build_vgg16(source)}


def build_vgg16(source: WeightsSource) -> BuiltNetwork:
    if source.kind == "random":
        keras.utils.set_random_seed(source.seed)
    weights: str | None = {"random": None, "pretrained": "imagenet"}.get(
        source.kind, str(source.path)
    )
    try:
        model = keras.applications.VGG16(
            weights=weights, include_top=False, pooling="max", input_shape=(224, 224, 3)
        )
    except Exception as exc:  # Keras raises plain Exception for a failed download
        raise WeightsUnavailableError(
            f"could not load VGG16 weights ({source.kind}): {exc}. Without internet, pass a "
            "local `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5` with "
            "--weights vgg16=PATH, or use --weights vgg16=random."
        ) from exc

    def embed(images: tf.Tensor) -> tf.Tensor:
        # Keras' own "caffe" preprocessing: RGB->BGR and ImageNet mean subtraction.
        x = keras.applications.vgg16.preprocess_input(tf.cast(images, tf.float32))
        return normalise(model(x, training=False))

    return BuiltNetwork(embed, model, source.provenance(VGG16.pretrained.published))
