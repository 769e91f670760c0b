"""Shared by the `keras.applications` builders: ImageNet weights where reachable, else a
clear error (the exporter's `auto` then falls back to seeded random weights).

With real weights a network keeps its ImageNet classifier as the label head: one Keras
model with two outputs (the pooled features and the class probabilities), so Triton serves
both from one forward pass. Random weights, or a local file without the classifier (Keras'
`notop` files), give the features alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from gateway.export.networks import BuiltNetwork, normalise
from gateway.export.weights import WeightsSource, WeightsUnavailableError
from gateway.models.spec import SearchModel

Features = Callable[[keras.Model], Any]  # the full network -> its pooled features tensor


def weights_argument(source: WeightsSource) -> str | None:
    if source.kind == "random":
        keras.utils.set_random_seed(source.seed)
    return {"random": None, "pretrained": "imagenet"}.get(source.kind, str(source.path))


def unavailable(model: SearchModel, source: WeightsSource, exc: Exception, file: str) -> Exception:
    return WeightsUnavailableError(
        f"could not load {model.title} weights ({source.kind}): {exc}. Without internet, "
        f"pass a local weights file ({file}) with --weights {model.name}=PATH, or use "
        f"--weights {model.name}=random."
    )


def with_imagenet_head(
    constructor: Callable[..., Any],
    source: WeightsSource,
    size: int,
    features: Features,
    **options: Any,
) -> keras.Model | None:
    """`constructor`'s network with its classifier, as a model of two outputs (features,
    probabilities) at `size`; None when `source` holds no classifier (random, or a file
    without the top layers). Published weights are loaded at the network's own input size
    (Keras refuses another with its classifier) and copied into one at `size`: the
    convolutions do not depend on it, and the classifier follows global pooling."""
    weights = weights_argument(source)
    if weights is None:
        return None
    try:
        published = constructor(weights=weights, include_top=True, **options)
    except Exception:  # a download that failed, or a file of the features alone
        if source.kind == "pretrained":
            raise
        return None
    net = constructor(weights=None, include_top=True, input_shape=(size, size, 3), **options)
    net.set_weights(published.get_weights())
    return keras.Model(net.input, [features(net), net.output])


def build_application(
    model: SearchModel,
    constructor: Callable[..., Any],
    preprocess: Callable[[tf.Tensor], tf.Tensor],
    source: WeightsSource,
    features: Features = lambda net: net.get_layer("avg_pool").output,
    **options: Any,
) -> dict[str, BuiltNetwork]:
    """`constructor(include_top=False, pooling="avg")` with `source`'s weights, and with its
    classifier when they hold one; `preprocess` maps float 0..255 RGB to the network's input,
    inside the exported graph."""
    size = model.image_model.input.dims[0]
    provenance = source.provenance(model.pretrained.published)
    try:
        headed = with_imagenet_head(constructor, source, size, features, **options)
        net = headed or constructor(
            weights=weights_argument(source), include_top=False, pooling="avg",
            input_shape=(size, size, 3), **options,
        )  # fmt: skip
    except Exception as exc:  # Keras raises plain Exception for a failed download
        raise unavailable(model, source, exc, "a Keras .h5 weights file") from exc

    def inputs(images: tf.Tensor) -> tf.Tensor:
        return preprocess(tf.cast(images, tf.float32))

    if headed is None:
        return {
            model.image_model.name: BuiltNetwork(
                lambda x: normalise(net(inputs(x), training=False)), net, provenance
            )
        }
    return {model.image_model.name: headed_network(headed, inputs, provenance)}


def headed_network(
    headed: keras.Model, inputs: Callable[[tf.Tensor], tf.Tensor], provenance: str
) -> BuiltNetwork:
    """Embeddings and class probabilities from one pass of a two-output network."""

    def embed_with_labels(images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        pooled, probabilities = headed(inputs(images), training=False)
        return normalise(pooled), probabilities

    return BuiltNetwork(
        lambda images: embed_with_labels(images)[0], headed, provenance, embed_with_labels
    )
