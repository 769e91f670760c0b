"""Shared by the `keras.applications` builders: ImageNet weights where reachable, else a
clear error (the exporter's `auto` then falls back to seeded random weights)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from gateway.export.networks import BuiltNetwork, normalise
from gateway.export.weights import WeightsSource, WeightsUnavailableError
from gateway.models.spec import SearchModel


def build_application(
    model: SearchModel,
    constructor: Callable[..., Any],
    preprocess: Callable[[tf.Tensor], tf.Tensor],
    source: WeightsSource,
    **options: Any,
) -> dict[str, BuiltNetwork]:
    """`constructor(include_top=False, pooling="avg")` with `source`'s weights; `preprocess`
    maps float 0..255 RGB to the network's input, inside the exported graph."""
    if source.kind == "random":
        keras.utils.set_random_seed(source.seed)
    weights: str | None = {"random": None, "pretrained": "imagenet"}.get(
        source.kind, str(source.path)
    )
    size = model.image_model.input.dims[0]
    try:
        net = constructor(
            weights=weights, include_top=False, pooling="avg", input_shape=(size, size, 3),
            **options,
        )  # fmt: skip
    except Exception as exc:  # Keras raises plain Exception for a failed download
        raise WeightsUnavailableError(
            f"could not load {model.title} weights ({source.kind}): {exc}. Without internet, "
            f"pass a local weights file with --weights {model.name}=PATH, or use "
            f"--weights {model.name}=random."
        ) from exc

    def embed(images: tf.Tensor) -> tf.Tensor:
        return normalise(net(preprocess(tf.cast(images, tf.float32)), training=False))

    provenance = source.provenance(model.pretrained.published)
    return {model.image_model.name: BuiltNetwork(embed, net, provenance)}
