"""ResNet50 (keras.applications), global average pooling: 2048-d."""

from __future__ import annotations

import keras

from gateway.export.builders.keras_applications import build_application
from gateway.export.networks import BuiltNetwork
from gateway.export.weights import WeightsSource
from gateway.models.registry import RESNET50


def build(source: WeightsSource) -> dict[str, BuiltNetwork]:
    # Keras' "caffe" preprocessing for ResNet50: RGB->BGR and ImageNet mean subtraction.
    preprocess = keras.applications.resnet50.preprocess_input
    return build_application(RESNET50, keras.applications.ResNet50, preprocess, source)
