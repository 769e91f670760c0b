"""VGG16, the classic Milvus demo network: the conv body with global max pooling, and with
real weights its ImageNet classifier as the label head (keras_applications.py)."""

from __future__ import annotations

import keras
import tensorflow as tf

from gateway.export.builders.keras_applications import (
    headed_network,
    unavailable,
    weights_argument,
    with_imagenet_head,
)
from gateway.export.networks import BuiltNetwork, normalise
from gateway.export.weights import WeightsSource
from gateway.models.registry import VGG16

NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


def build(source: WeightsSource) -> dict[str, BuiltNetwork]:
    return {VGG16.image_model.name: build_vgg16(source)}


def _max_pooled(net: keras.Model) -> object:
    return keras.layers.GlobalMaxPooling2D()(net.get_layer("block5_pool").output)


def _caffe(images: tf.Tensor) -> tf.Tensor:
    # Keras' own "caffe" preprocessing: RGB->BGR and ImageNet mean subtraction.
    return keras.applications.vgg16.preprocess_input(tf.cast(images, tf.float32))


def build_vgg16(source: WeightsSource) -> BuiltNetwork:
    provenance = source.provenance(VGG16.pretrained.published)
    try:
        headed = with_imagenet_head(keras.applications.VGG16, source, 224, _max_pooled)
        if headed is not None:
            return headed_network(headed, _caffe, provenance)
        model = keras.applications.VGG16(
            weights=weights_argument(source),
            include_top=False,
            pooling="max",
            input_shape=(224, 224, 3),
        )
    except Exception as exc:  # Keras raises plain Exception for a failed download
        raise unavailable(VGG16, source, exc, f"`{NOTOP_FILE}` or the full one") from exc

    def embed(images: tf.Tensor) -> tf.Tensor:
        return normalise(model(_caffe(images), training=False))

    return BuiltNetwork(embed, model, provenance)
