"""EfficientNetV2-S (keras.applications), global average pooling: 1280-d."""

from __future__ import annotations

import keras
import tensorflow as tf

from gateway.export.builders.keras_applications import build_application
from gateway.export.networks import BuiltNetwork
from gateway.export.weights import WeightsSource
from gateway.models.registry import EFFICIENTNETV2_S


def _identity(x: tf.Tensor) -> tf.Tensor:
    return x  # the network's own first layers rescale 0..255 and normalise


def build(source: WeightsSource) -> dict[str, BuiltNetwork]:
    return build_application(
        EFFICIENTNETV2_S,
        keras.applications.EfficientNetV2S,
        _identity,
        source,
        include_preprocessing=True,
    )
